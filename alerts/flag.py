"""The Flag record: what a rule decided about one story, for whom. The only type passed from
rules and routing to the outbox and the digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

    from haidang.record import Article
    from haidang.store.base import OutboxMessage, Store

__all__ = ["FOLLOW_UP_STAGES", "RESURFACING", "SEVERITIES", "EarlierAction", "Flag", "Resurfacing", "Severity",
           "flag_key", "flagged_article", "follow_up_key", "follow_up_of", "is_flag_message", "resurfacing_key",
           "resurfacing_ref", "resurfacing_ref_of"]

Severity = Literal["khẩn", "cao", "trung bình", "thấp"]
SEVERITIES: tuple[str, ...] = ("khẩn", "cao", "trung bình", "thấp")   # most urgent first


def flag_key(rule: str, story_id: str, recipient: str) -> str:
    """Idempotency key per flag and recipient: one story is flagged once per rule and recipient,
    however many outlets carry it and however often the rule runs."""
    return hashlib.sha256(f"{rule}\x1f{story_id}\x1f{recipient.lower()}".encode()).hexdigest()[:32]


FOLLOW_UP_STAGES = ("reminder", "escalation")


def follow_up_key(stage: str, rule: str, story_id: str, recipient: str) -> str:
    """Idempotency key of a flag's reminder or escalation (alerts.escalate): never a flag's own key."""
    raw = f"{stage}\x1f{rule}\x1f{story_id}\x1f{recipient.lower()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


RESURFACING = "resurfacing"
_HALF = 16      # hex characters of each half of a resurfacing key (64 bits each)


def resurfacing_ref(action_ref: str, source_id: str = "") -> str:
    """The second half of a resurfacing key: the last action and the new outlet (source id), whatever
    the rule and recipient, so the emails of one resurfacing share it (alerts.dispatch.reappearances
    finds the outlet and action of a queued email by it). Without `source_id`: the form keys had
    before they named the outlet."""
    raw = f"{RESURFACING}\x1f{action_ref}" + (f"\x1f{source_id}" if source_id else "")
    return hashlib.sha256(raw.encode()).hexdigest()[:_HALF]


def resurfacing_key(rule: str, story_id: str, recipient: str, action_ref: str, source_id: str = "") -> str:
    """Idempotency key of a resurfacing email (alerts.dispatch): a story acted on by officers whose
    claim reappears on a new outlet is re-flagged once per rule, recipient, last action and new outlet.

    Its first half depends on rule, story and recipient alone, so `follow_up_of` recognises it from
    the outbox message; its second half is the action's and the outlet's (`resurfacing_ref`), so a
    further action re-arms it and a second new outlet is told too, while reruns and further copies
    from an outlet already told find the key taken."""
    head = follow_up_key(RESURFACING, rule, story_id, recipient)[:_HALF]
    return head + resurfacing_ref(action_ref, source_id)


def resurfacing_ref_of(msg: OutboxMessage) -> str | None:
    """The `resurfacing_ref` part of a resurfacing email's key; None for any other message."""
    return msg.key[_HALF:] if follow_up_of(msg) == RESURFACING else None


def follow_up_of(msg: OutboxMessage) -> str | None:
    """"reminder" or "escalation" when `msg` follows up a flag, "resurfacing" when it re-flags a
    story acted on that reappeared on a new outlet, else None."""
    for stage in FOLLOW_UP_STAGES:
        if msg.key == follow_up_key(stage, msg.flag_rule, msg.story_id, msg.recipient):
            return stage
    if len(msg.key) == 2 * _HALF and msg.key[:_HALF] == follow_up_key(RESURFACING, msg.flag_rule, msg.story_id,
                                                                      msg.recipient)[:_HALF]:
        return RESURFACING
    return None


def is_flag_message(msg: OutboxMessage) -> bool:
    """Whether an outbox message is a flag's own (first) email, not a reminder, escalation or
    resurfacing of it (those carry its rule and story, and their own keys): a flag's delivery state,
    and the count of flags, use these alone, so a story re-flagged after it was handled is still
    one flag. Digests and reports pass too; their rule names tell them apart."""
    return follow_up_of(msg) is None


def flagged_article(store: Store, story_id: str, article_ids: Iterable[str | None]) -> Article | None:
    """The stored article a flag's emails described: the copy that matched its rule (its messages'
    `article_id`: maybe a later outlet's copy, not the story's founder), else the story's founding
    article (the story id is its id) for messages queued before they recorded one, or once that
    copy has left the store."""
    for article_id in dict.fromkeys(a for a in article_ids if a):
        if (article := store.get(article_id)) is not None:
            return article
    return store.get(story_id)


@dataclass(kw_only=True, slots=True)
class Flag:
    rule: str                                  # rule name from config/alerts.yaml
    severity: str                              # one of SEVERITIES
    story_id: str                              # syndicated copies share one story id
    article_ids: list[str]                     # stored articles of the story that matched (each outlet)
    agencies: list[str]                        # agency ids from config/agencies.yaml
    recipients: list[str]                      # email addresses, resolved from the agencies
    immediate: bool                            # send now (else digest only)
    reasons: list[dict[str, Any]] = field(default_factory=list)   # {signal|condition, evidence, weight?}
    topics: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    description: str | None = None             # the rule's Vietnamese description, shown to the reader


@dataclass(frozen=True, slots=True)
class EarlierAction:
    """An officer action recorded on a story, as a resurfacing email cites it (names, not ids)."""

    action: str                                # ActionKind id (store.base.ACTION_NAMES)
    agency: str | None                         # the agency's name from config/agencies.yaml
    at: datetime                               # aware
    rebuttal_url: str | None = None


@dataclass(frozen=True, slots=True)
class Resurfacing:
    """Why a story already acted on is flagged again: a new outlet carries it (alerts.dispatch).

    One email per new outlet (and rule, recipient, last action), not one per action naming the first
    outlet only: each new outlet is a new place to answer (a takedown request, a correction), the
    email's links record the response against that outlet's article, and it goes out as soon as the
    outlet is found, so an outlet found after an earlier resurfacing email was sent is never dropped.
    `earlier_outlets` names the outlets already found carrying it since that action, so the latest
    email gives the whole picture.

    `action_ref` identifies the last recorded action (its store id) and, with `source_id`, makes the
    email's key; `actions` are the story's recorded actions, oldest first, the last one being that action."""

    action_ref: str
    source_name: str                           # the new outlet
    actions: tuple[EarlierAction, ...]
    source_id: str = ""                        # the new outlet's id (config/sources.yaml), for the key
    earlier_outlets: tuple[str, ...] = ()      # names of other new outlets since that action, found earlier
