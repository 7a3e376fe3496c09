"""Escalation of flags nobody acted on: a reminder to the flag's recipients, then a message to the
leading agency (Sở Thông tin và Truyền thông), each queued once in the outbox.

A flag is an outbox message sent for an article rule; an officer action of any kind on its story
(`Store.actions`) stops the chain. Called by the scheduler; the clock is the caller's `now`.
Reminders and escalations keep the flag's rule and story but have their own keys
(`alerts.flag.follow_up_key`): `alerts.flag.is_flag_message` and `follow_up_of` tell them apart.
A resurfacing email (alerts.dispatch: a story acted on, back on a new outlet) starts no chain: its
story has a recorded action by definition, the officers who acted are told, and a new action on it
is theirs to record; it is not the flag's first email either, so it never moves a reminder's clock.
Nor does it get a chain of its own: the earlier response (a rebuttal) often answers the new copy
too, and no action kind says "already answered", so officers could only stop such a reminder by
recording an action they did not take (skewing the report's counts); the flag list marks such a
flag as awaiting a new response instead (haidang.web.flags.FlagEntry.awaiting).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from alerts.flag import flagged_article, follow_up_key, is_flag_message
from alerts.links import LinkSigner
from alerts.outbox import message_id_for
from alerts.render import capped_subject, environment, shorten
from alerts.routing import addressees
from alerts.rules import held_until
from haidang.evidence.capture import SYSTEM_ACTOR
from haidang.record import Article
from haidang.store.base import ACTION_NAMES, AuditEntry, OutboxMessage, Store

if TYPE_CHECKING:
    from haidang.settings import AlertRule, Settings

__all__ = ["EscalationReport", "Stage", "escalate_due", "escalation_recipients"]

_log = logging.getLogger(__name__)

Stage = Literal["reminder", "escalation"]

# The article title in a flag's Subject (alerts/templates/flag_subject.txt.j2 quotes it «like this»),
# and the bracketed tags a Subject starts with ("[Hải Đăng][khẩn]").
_QUOTED_TITLE = re.compile(r"«(.+)»")
_LEADING_TAGS = re.compile(r"^(?:\s*\[[^\]]*\])+\s*")


@dataclass(slots=True)
class EscalationReport:
    """Keys of the messages one `escalate_due` pass queued."""

    reminded: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)


def escalation_recipients(settings: Settings) -> list[tuple[str, str]]:
    """(name, address) pairs unanswered flags escalate to: `escalation.escalate_to`, else the leading agency."""
    return [(name, address) for address, name in addressees(settings.agencies, settings.escalation.escalate_to)]


def escalate_due(store: Store, settings: Settings, now: datetime, *,
                 signer: LinkSigner | None = None) -> EscalationReport:
    """Queue the reminders and escalations due at `now`; idempotent, so it may run as often as wanted.

    A flag is due for a reminder `remind_after_hours` after it was first sent (to any recipient)
    and for escalation `escalate_after_hours` after; flags sent more than `look_back_days` ago
    are left alone, so turning this on does not flood anyone with old flags.

    With a `signer`, each reminder carries its recipient's own action links, re-signed with a new
    expiry for the flag's key (a link used from either email is used in both); an escalation
    carries them only to an addressee the flag itself went to.
    """
    report = EscalationReport()
    config = settings.escalation
    if not config.enabled:
        return report
    rules = {r.name: r for r in settings.alert_rules if r.spike is None and r.silence is None}
    oldest = now - timedelta(days=config.look_back_days)
    flags: dict[tuple[str, str], list[OutboxMessage]] = {}
    for msg in store.outbox("sent", sent_since=oldest, bodies=False):
        # The flag's first emails only: not its reminders, escalations or resurfacings.
        if msg.flag_rule in rules and is_flag_message(msg):
            flags.setdefault((msg.flag_rule, msg.story_id), []).append(msg)
    remind_after = timedelta(hours=config.remind_after_hours)
    escalate_after = timedelta(hours=config.escalate_after_hours)
    lead = escalation_recipients(settings)
    for (rule_name, story_id), messages in sorted(flags.items()):
        sent_at = min(m.sent_at for m in messages if m.sent_at is not None)
        if now - sent_at < remind_after or store.actions(story_id=story_id):
            continue
        rule = rules[rule_name]
        article = flagged_article(store, story_id, (m.article_id for m in messages))
        context = _context(article, settings, rule, story_id, messages, sent_at, now)
        # Quiet hours per addressee: the rule's, and its agency's for an address agencies.yaml lists.
        held = held_until(rule, settings.agencies, [*(m.recipient for m in messages), *(a for _, a in lead)], now,
                          settings.app.timezone)
        notified = {m.recipient.lower(): m.recipient for m in messages}
        for msg in messages:
            key = follow_up_key("reminder", rule_name, story_id, msg.recipient)
            links = _links(signer, rule_name, story_id, msg.recipient, article, now)
            if _queue(store, "reminder", key, rule, story_id, msg.recipient, {**context, **links}, now,
                      held.get(msg.recipient.lower())):
                report.reminded.append(key)
        if now - sent_at < escalate_after:
            continue
        if not lead:
            _log.warning("flag %s/%s is unanswered after %s h but no agency leads: set leads: true in "
                         "agencies.yaml or escalation.escalate_to in alerts.yaml", rule_name, story_id,
                         config.escalate_after_hours)
            continue
        for name, address in lead:
            key = follow_up_key("escalation", rule_name, story_id, address)
            original = notified.get(address.lower())
            links = (_links(signer, rule_name, story_id, original, article, now) if original
                     else {"action_links": [], "links_missing": "not_recipient"})
            if _queue(store, "escalation", key, rule, story_id, address, {**context, **links, "addressee": name},
                      now, held.get(address.lower())):
                report.escalated.append(key)
    return report


def _links(signer: LinkSigner | None, rule: str, story_id: str, recipient: str, article: Article | None,
           now: datetime) -> dict[str, Any]:
    """The recipient's re-signed action links for the reminder templates, or why there are none:
    no signer (no secret configured) or no stored article for the links to open."""
    if signer is None:
        return {"action_links": [], "links_missing": "no_signer"}
    if article is None:
        return {"action_links": [], "links_missing": "no_article"}
    links = signer.story_links(rule, story_id, recipient, article.id, now=now)
    return {"action_links": [{"id": a, "name": name, "url": links[a]} for a, name in ACTION_NAMES.items()
                             if a in links], "links_missing": None}


def _elapsed_hours(delta: timedelta) -> float:
    """Hours since the flag for the wording: whole hours from one on ("sau 24 giờ"), hundredths
    below (a test deployment reminding after minutes)."""
    hours = delta.total_seconds() / 3600
    return float(int(hours)) if hours >= 1 else round(hours, 2)


def _flag_title(subject: str) -> str:
    """The article title a flag's Subject names: the part it quotes «like this», else the Subject
    without its leading tags. Once the article is deleted from the store (Elasticsearch's ILM, an
    operator) the flag's Subject is the only record of its title left, cut with "…" as it was sent."""
    quoted = _QUOTED_TITLE.search(subject)
    if quoted and quoted.group(1).strip():
        return quoted.group(1).strip()
    return _LEADING_TAGS.sub("", subject).strip() or subject


def _context(article: Article | None, settings: Settings, rule: AlertRule, story_id: str,
             messages: list[OutboxMessage], sent_at: datetime, now: datetime) -> dict[str, Any]:
    """What the reminder templates show: the story's stored article if there is one, else the
    title the flag's Subject named and the fact that the article is gone; the agencies and
    addresses the flag went to.

    A flag whose article has left the store is still reminded of and escalated: the store dropping
    it says nothing of whether the post is still online, and the chain exists so that no flag goes
    unanswered unseen. The email says the article is gone and points to the flag's own email."""
    by_address = {address.lower(): agency.name for agency in settings.agencies for address in agency.emails}
    lead_names = [a.name for a in settings.agencies if a.leads]
    original = messages[0].subject
    return {
        "severity": rule.severity,
        "rule": rule.name,
        "rule_description": rule.description,
        "flag": {"rule": rule.name, "description": rule.description},     # for the rule() macro
        "title": article.content.title if article and article.content.title else _flag_title(original),
        "article_gone": article is None,
        "url": (article.fetched.canonical_url or article.fetched.url) if article else "",
        "record_id": story_id,
        "original_subject": original,
        "sent_at": sent_at.astimezone(ZoneInfo(settings.app.timezone)),
        "hours": _elapsed_hours(now - sent_at),
        "escalate_after_hours": settings.escalation.escalate_after_hours,
        "escalation_pending": now - sent_at < timedelta(hours=settings.escalation.escalate_after_hours),
        "lead_name": lead_names[0] if lead_names else "cơ quan chủ trì",
        "notified": [{"name": by_address.get(m.recipient.lower(), m.recipient), "address": m.recipient}
                     for m in sorted(messages, key=lambda m: m.recipient.lower())],
        "addressee": "",
    }


def _queue(store: Store, stage: Stage, key: str, rule: AlertRule, story_id: str, recipient: str,
           context: dict[str, Any], now: datetime, send_after: datetime | None) -> bool:
    """Render and enqueue one message; audit it when it is new. False when it was queued before."""
    env = environment()
    values = {**context, "stage": stage}
    # Kept within SUBJECT_CHARS as a flag's Subject is: the fixed words whole, the title cut with "…".
    subject = capped_subject(env, "reminder_subject.txt.j2", {**values, "subject": {"title": shorten(context["title"])}})
    added = store.enqueue(OutboxMessage(
        key=key, flag_rule=rule.name, story_id=story_id, recipient=recipient, message_id=message_id_for(key),
        subject=subject, text=env.get_template("reminder.txt.j2").render(values),
        html=env.get_template("reminder.html.j2").render(values), created_at=now,
        next_attempt_at=max(now, send_after) if send_after else now,
    ))
    if added:
        store.append_audit(AuditEntry(
            at=now, actor=SYSTEM_ACTOR, kind="escalation", target=story_id,
            detail={"stage": stage, "rule": rule.name, "story_id": story_id, "recipient": recipient, "key": key,
                    "flag_sent_at": context["sent_at"].isoformat(), "hours": context["hours"]},
        ))
        _log.info("queued %s for unanswered flag %s/%s to %s%s", stage, rule.name, story_id, recipient,
                  "; its article is no longer in the store, so it names the flag's Subject and says so"
                  if context["article_gone"] else "")
    return added
