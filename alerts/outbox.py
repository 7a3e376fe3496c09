"""The email outbox: queueing flags once per recipient, and delivering due messages with backoff.

State lives in the Store (`enqueue`, `due_messages`, `claim`, `mark_*`), so the outbox survives
restarts and works on every backend. Chain per recipient: queue (idempotent by flag_key) → claim
the delivery lease (one process of many wins) → send → mark sent only after the server accepted;
transient failure → retry later, until `max_age` without delivery → failed; permanent → failed.
A message the server took whole without answering is sent once more, never a third time.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alerts.flag import Flag, Resurfacing, flag_key, resurfacing_key
from alerts.links import FlagLink, LinkSigner
from alerts.render import render_flag
from haidang.errors import (
    DeliveryUncertain,
    PermanentSendError,
    ServerUnavailable,
    StoreError,
    TransientSendError,
)
from haidang.record import Article
from haidang.store.base import ACTION_NAMES, OutboxMessage, Store

if TYPE_CHECKING:
    from haidang.settings import OutboxSettings, Source

__all__ = ["Backoff", "DeliveryPolicy", "DeliveryReport", "Notifier", "deliver_due", "delivery_owner",
           "message_id_for", "queue_flag"]

_log = logging.getLogger(__name__)

# Consecutive sends that could not reach the server (refused, timed out) before a pass stops:
# with a 30 s timeout, a mute server would otherwise hold a pass of 100 messages for 50 minutes.
_GIVE_UP_PASS_AFTER = 3


class Notifier(Protocol):
    """Delivers one message; raises TransientSendError or PermanentSendError when it could not."""

    def send(self, msg: OutboxMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential retry delays: first, first*factor, ... capped, so a long outage is polled
    every `cap` rather than ever more rarely, and a short one costs about a minute."""

    first: timedelta = timedelta(minutes=1)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=60)

    def delay(self, attempts: int) -> timedelta:
        """Wait after the `attempts`-th failed attempt (1 → first). Grown step by step and stopped at
        the cap: first * factor ** attempts overflows timedelta after about 40 attempts of a long outage."""
        delay = self.first
        for _ in range(max(0, attempts - 1)):
            if delay >= self.cap:
                break
            delay = delay * self.factor
        return min(self.cap, delay)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How `deliver_due` treats each message: retry delays, how long a claim holds, when to give up.

    `lease` must outlast one send (SMTP timeouts included): a process still sending when its
    lease runs out could see another process send the same message too. A crashed process's
    lease lapses after it, so nothing stays stuck. `max_age`: a message still not accepted this
    long after it became pending is marked failed at its next transient failure (kept, visible).
    """

    backoff: Backoff = Backoff()
    lease: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(hours=72)

    @classmethod
    def from_settings(cls, settings: OutboxSettings) -> DeliveryPolicy:
        return cls(lease=timedelta(minutes=settings.lease_minutes), max_age=timedelta(hours=settings.max_age_hours))


@dataclass(slots=True)
class DeliveryReport:
    """Keys of the messages one `deliver_due` pass sent, postponed, gave up on, and left to
    another process that held their lease."""

    sent: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _process_space() -> str | None:
    """Where a pid names one process: this boot of this machine, in this pid namespace (a container
    has its own). None where /proc cannot say (not Linux): then no lease is ever taken over."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip().replace("-", "")
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot[:12]}.{namespace}" if boot else None


_PROCESS_SPACE = _process_space()
# A lease taken over from a dead holder is claimed as at this long after the old lease's end.
_TICK = timedelta(microseconds=1)


def delivery_owner() -> str:
    """A lease owner id unique to this host, process and pass: says who holds a message, and (after
    "@") where its pid can be checked, so a later process can tell the holder was killed."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return f"{owner}@{_PROCESS_SPACE}" if _PROCESS_SPACE else owner


def _holder_is_gone(owner: str) -> bool:
    """The lease holder was a process of this machine and pid namespace that no longer runs (killed
    mid-send, OOM): its lease can only hold the message back until it lapses. A holder elsewhere,
    or one whose pid now names another live process, counts as alive: its lease is waited out."""
    head, _, space = owner.rpartition("@")
    if not head or _PROCESS_SPACE is None or space != _PROCESS_SPACE:
        return False
    try:
        pid = int(head.split(":")[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:                     # it runs, as another user
        return False
    try:                                # killed but not yet reaped by its parent: a zombie sends nothing
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _orphaned(store: Store, now: datetime) -> list[OutboxMessage]:
    """Due pending messages whose lease is still running but whose holder is gone. Every pass asks
    this of all pending messages, so they are listed without bodies; only the orphans, few and
    about to be sent, are read whole."""
    def orphan(m: OutboxMessage) -> bool:
        return bool(m.lease_owner and m.lease_until is not None and m.lease_until >= now
                    and (m.next_attempt_at or m.created_at or now) <= now and _holder_is_gone(m.lease_owner))

    keys = [m.key for m in store.outbox("pending", bodies=False) if orphan(m)]
    # Checked again as read whole: the lease a takeover claims against must be the one found gone.
    return [m for m in store.outbox("pending", keys=keys) if orphan(m)] if keys else []


def message_id_for(key: str, domain: str = "haidang.local") -> str:
    """The Message-ID of a queued message: derived from its key, so it is the same on a resend."""
    return f"<{key}@{domain}>"


def queue_flag(store: Store, flag: Flag, articles: list[Article], *, now: datetime | None = None,
               send_after: datetime | None = None, tz: str = "Asia/Ho_Chi_Minh",
               sources: dict[str, Source] | None = None, explain_hint: bool = True,
               signer: LinkSigner | None = None, kit: Any = None,
               topic_names: dict[str, str] | None = None, record_url: str | None = None,
               resurfacing: Resurfacing | None = None, held_until: Mapping[str, datetime] | None = None) -> int:
    """Queue one email per recipient of `flag`; return how many were new.

    Recipients already queued for this rule and story (whatever their state) are skipped, so
    running a rule again, or over another copy of the story, adds nothing. `send_after` defers
    delivery (quiet hours) without dropping anything; `held_until` (lower-cased address -> time,
    `alerts.rules.held_until`) defers one recipient's alone, so an agency's quiet hours hold its
    own copy while the others go at once. With a `signer`, each recipient's message
    carries that recipient's own signed action links, so it is rendered per recipient.

    With `resurfacing` (alerts.dispatch: a story already acted on reappeared on a new outlet) the
    emails say so and are keyed by `resurfacing_key` (rule, story, recipient, the last action and the
    new outlet): once per action and new outlet however often this runs. Their links are signed for that key, so an officer can
    record a new response from them even one already recorded from the first flag's email.
    """
    created = now or datetime.now(UTC)
    # The rebuttal kit, topic display names and, with Elasticsearch, the record's link in Kibana.
    extra: dict[str, Any] = {"kit": kit, "topic_names": topic_names, "record_url": record_url,
                             "resurfacing": resurfacing}
    subject, text, html = render_flag(flag, articles, tz=tz, sources=sources, explain_hint=explain_hint, **extra)
    held = held_until or {}
    added = 0
    seen: set[str] = set()
    for recipient in flag.recipients:
        if recipient.lower() in seen:
            continue
        seen.add(recipient.lower())
        if resurfacing is None:
            key = flag_key(flag.rule, flag.story_id, recipient)
        else:
            key = resurfacing_key(flag.rule, flag.story_id, recipient, resurfacing.action_ref,
                                  resurfacing.source_id)
        if signer is not None:
            if resurfacing is None:
                links = signer.links_for(flag, recipient, articles[0].id, now=created)
            else:       # the same links as a flag's, for this email's own key (one use each)
                expires = int((created + timedelta(days=signer.link_days)).timestamp())
                links = {action: signer.url(signer.sign(FlagLink(
                    flag_key=key, rule=flag.rule, story_id=flag.story_id, article_id=articles[0].id,
                    recipient=recipient, action=action, expires=expires))) for action in ACTION_NAMES}
            subject, text, html = render_flag(flag, articles, tz=tz, sources=sources, explain_hint=explain_hint,
                                              links=links, **extra)
        added += store.enqueue(OutboxMessage(
            key=key, flag_rule=flag.rule, story_id=flag.story_id, recipient=recipient,
            message_id=message_id_for(key), subject=subject, text=text, html=html,
            created_at=created, article_id=articles[0].id,
            next_attempt_at=max(t for t in (created, send_after, held.get(recipient.lower())) if t is not None),
        ))
    _log.info("queued %s %s for story %s: %d new of %d recipients", "flag" if resurfacing is None else "resurfacing",
              flag.rule, flag.story_id, added, len(seen))
    return added


def deliver_due(store: Store, notifier: Notifier, now: datetime, *, backoff: Backoff | None = None,
                limit: int = 100, policy: DeliveryPolicy | None = None, owner: str | None = None) -> DeliveryReport:
    """Try every message due at `now` once; one bad message never stops the others.

    Each message is claimed first (`Store.claim`), so when several processes deliver the same
    outbox at once (`haidang run`, `demo`, `serve`, another host on one Elasticsearch) only the
    winner sends it. It is marked sent only after `notifier.send` returned (the server accepted
    it). If the process dies between the two, its lease expires and a later pass resends the
    message with the same Message-ID (at least once, never silently lost); when the dead process
    ran on this machine, the next pass takes the message over at once instead of waiting.
    """
    policy = policy or DeliveryPolicy()
    backoff = backoff or policy.backoff
    owner = owner or delivery_owner()
    report = DeliveryReport()
    began = time.monotonic()

    def clock() -> datetime:
        """`now` moved on by the time this pass has taken: each lease is counted from its own claim,
        not from the start of a pass that slow sends may have made longer than a lease. (Times
        recorded on messages stay `now`: the schedule needs no second's precision, a lease does.)"""
        return now + timedelta(seconds=time.monotonic() - began)

    unreachable = 0
    try:
        orphans = _orphaned(store, now)
    except StoreError as exc:
        _log.warning("outbox: could not look for messages held by a process that died: %s", exc)
        orphans = []
    taken_over = {m.key for m in orphans}
    for msg in [*store.due_messages(now, limit), *orphans]:
        if unreachable >= _GIVE_UP_PASS_AFTER:
            # The server is down or mute: each further try would wait out its timeout in turn.
            # The rest stay due, unclaimed and with no attempt counted, for the next pass.
            _log.warning("outbox: %d sends in a row could not reach the server; leaving the rest for the next pass",
                         unreachable)
            break
        at = clock()
        try:
            if msg.key in taken_over and msg.lease_until is not None:
                # A killed process's lease would keep the message back until it lapses (a `haidang
                # run` from cron would leave it to the next run): claim it as at the instant that
                # lease ends. The claim stays one conditional write, and the new lease ends after the
                # old one, so of several processes taking it over only one wins.
                _log.warning("outbox %s: the process sending it (%s) is gone; sending it now (same Message-ID)",
                             msg.key, msg.lease_owner)
                won = store.claim(msg.key, owner, max(at, msg.lease_until) + policy.lease,
                                  now=msg.lease_until + _TICK)
            else:
                won = store.claim(msg.key, owner, at + policy.lease, now=at)
        except StoreError as exc:       # e.g. the database stayed locked: the next pass tries again
            _log.warning("outbox %s: could not claim it for delivery: %s", msg.key, exc)
            won = False
        if not won:
            report.skipped.append(msg.key)
            continue
        try:
            notifier.send(msg)
        except PermanentSendError as exc:
            unreachable = 0
            store.mark_failed(msg.key, str(exc), now)
            report.failed.append(msg.key)
            _log.warning("outbox %s to %s failed for good: %s", msg.key, msg.recipient, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - transient, or a notifier bug: never drop, retry later
            unreachable = unreachable + 1 if isinstance(exc, ServerUnavailable) else 0
            retry_at = now + backoff.delay(msg.attempts + 1)
            error = str(exc) if isinstance(exc, TransientSendError) else f"{type(exc).__name__}: {exc}"
            # A copy may already be in the mailbox (the store counts such attempts across restarts):
            # after a second silence it stops instead of sending again.
            handed_over = isinstance(exc, DeliveryUncertain)
            if handed_over and msg.handed_over > 0:
                store.mark_failed(msg.key, f"the server took the whole message twice without "
                                           f"answering, so it may have arrived twice: not sent again "
                                           f"automatically. Ask {msg.recipient} whether it came; `haidang outbox "
                                           f"retry {msg.key}` sends it once more. Last error: {error}", now,
                                  handed_over=True)
                report.failed.append(msg.key)
                _log.warning("outbox %s to %s: handed over twice without an answer; stopped", msg.key,
                             msg.recipient)
                continue
            since = msg.pending_since or msg.created_at or now
            if now - since >= policy.max_age:
                hours = policy.max_age.total_seconds() / 3600
                store.mark_failed(msg.key, f"not delivered within {hours:g} h (outbox.max_age_hours), "
                                           f"{msg.attempts + 1} attempt(s); last error: {error}", now,
                                  handed_over=handed_over)
                report.failed.append(msg.key)
                _log.warning("outbox %s to %s given up after %g h: %s", msg.key, msg.recipient, hours, error)
                continue
            store.mark_retry(msg.key, error, retry_at, handed_over=handed_over)
            report.retried.append(msg.key)
            _log.warning("outbox %s to %s postponed to %s (attempt %d): %s", msg.key, msg.recipient,
                         retry_at.isoformat(), msg.attempts + 1, error)
            continue
        unreachable = 0
        store.mark_sent(msg.key, now)
        report.sent.append(msg.key)
        _log.info("outbox %s sent to %s", msg.key, msg.recipient)
    return report
