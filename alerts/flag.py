"""The Flag record: what a rule decided about one story, for whom. The only type passed from
rules and routing to the outbox and the digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from haidang.store.base import OutboxMessage

__all__ = ["FOLLOW_UP_STAGES", "SEVERITIES", "Flag", "Severity", "flag_key", "follow_up_key", "follow_up_of",
           "is_flag_message"]

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


def follow_up_of(msg: OutboxMessage) -> str | None:
    """"reminder" or "escalation" when `msg` follows up a flag, else None."""
    for stage in FOLLOW_UP_STAGES:
        if msg.key == follow_up_key(stage, msg.flag_rule, msg.story_id, msg.recipient):
            return stage
    return None


def is_flag_message(msg: OutboxMessage) -> bool:
    """Whether an outbox message is a flag's own email, not a reminder or escalation of it (those
    carry its rule and story, and their own keys): a flag's delivery state counts these alone.
    Digests and reports pass too; their rule names tell them apart."""
    return follow_up_of(msg) is None


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
