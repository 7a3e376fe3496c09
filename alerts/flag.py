"""The Flag record: what a rule decided about one story, for whom. The only type passed from
rules and routing to the outbox and the digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from haidang.store.base import OutboxMessage

__all__ = ["SEVERITIES", "Flag", "Severity", "flag_key", "is_flag_message"]

Severity = Literal["khẩn", "cao", "trung bình", "thấp"]
SEVERITIES: tuple[str, ...] = ("khẩn", "cao", "trung bình", "thấp")   # most urgent first


def flag_key(rule: str, story_id: str, recipient: str) -> str:
    """Idempotency key per flag and recipient: one story is flagged once per rule and recipient,
    however many outlets carry it and however often the rule runs."""
    return hashlib.sha256(f"{rule}\x1f{story_id}\x1f{recipient.lower()}".encode()).hexdigest()[:32]


def is_flag_message(msg: OutboxMessage) -> bool:
    """Whether an outbox message is a flag's own email. Reminders and escalations of a flag carry its
    rule and story but their own key (alerts.escalate.escalation_key), so only the key tells them
    apart: a flag's delivery state counts these messages alone. (Digests and reports pass too: their
    rule names, NON_FLAG_RULES in haidang.reports.report, tell them apart.)"""
    return msg.key == flag_key(msg.flag_rule, msg.story_id, msg.recipient)


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
