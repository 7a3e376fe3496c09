"""The flags an officer can act on after logging in: outbox flag messages by rule and story, with
their actions, found the way the deadline report finds them (haidang.reports.report).

A flag is one rule raised on one story, all its recipients together: its address in the web app
is the outbox key of its first message, and any of its messages' keys (the one an expired signed
link names, say) finds it too. It is handled when an action is recorded on its rule and story or,
as the report counts it, on its story under another rule. Its resurfacing emails (alerts.dispatch:
the story, handled, back on a new outlet) are kept with it, not listed as flags of their own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from alerts.flag import RESURFACING, flag_key, follow_up_of, is_flag_message
from haidang.store.base import OutboxMessage, ResponseAction, Store

__all__ = ["FlagEntry", "find_flag", "list_flags", "officer_flag_key"]


@dataclass(frozen=True, slots=True)
class FlagEntry:
    """One flag (rule and story) with its messages and the actions recorded on it."""

    key: str                              # outbox key of its first message: the page's address
    rule: str
    story_id: str
    flagged_at: datetime                  # its first message queued (aware, UTC as stored)
    recipients: list[str]
    keys: frozenset[str]                  # every message key of the flag (one per recipient)
    actions: list[ResponseAction] = field(default_factory=list)     # oldest first
    # Its "Tái xuất hiện sau khi đã xử lý" emails, oldest first (alerts.dispatch.reappearances describes them).
    resurfacings: list[OutboxMessage] = field(default_factory=list)
    # The story resurfaced after its last recorded action (on any rule): a new response is awaited.
    awaiting: bool = False
    # The stored copy its emails described (OutboxMessage.article_id); None for flags queued before
    # messages recorded it (alerts.flag.flagged_article then falls back to the story's founder).
    article_id: str | None = None

    @property
    def handled(self) -> bool:
        return bool(self.actions)


def _group(messages: list[OutboxMessage], skip_rules: Collection[str]) -> dict[tuple[str, str], list[OutboxMessage]]:
    groups: dict[tuple[str, str], list[OutboxMessage]] = {}
    for m in messages:
        if m.flag_rule in skip_rules or not is_flag_message(m) or m.created_at is None:
            continue
        groups.setdefault((m.flag_rule, m.story_id), []).append(m)
    return groups


def _resurfacings(messages: list[OutboxMessage]) -> dict[tuple[str, str], list[OutboxMessage]]:
    found: dict[tuple[str, str], list[OutboxMessage]] = {}
    for m in sorted((m for m in messages if m.created_at is not None and follow_up_of(m) == RESURFACING),
                    key=lambda m: (m.created_at, m.key)):
        found.setdefault((m.flag_rule, m.story_id), []).append(m)
    return found


def _entry(rule: str, story_id: str, group: list[OutboxMessage], actions: list[ResponseAction],
           resurfacings: list[OutboxMessage]) -> FlagEntry:
    first = min(group, key=lambda m: (m.created_at, m.key))
    assert first.created_at is not None          # _group keeps only messages with one
    on_rule = [a for a in actions if a.rule == rule and a.story_id == story_id]
    on_story = [a for a in actions if a.story_id == story_id]
    last_back = max((m.created_at for m in resurfacings if m.created_at is not None), default=None)
    return FlagEntry(key=first.key, rule=rule, story_id=story_id, flagged_at=first.created_at,
                     recipients=sorted({m.recipient for m in group}, key=str.lower),
                     keys=frozenset(m.key for m in group), actions=on_rule or on_story, resurfacings=resurfacings,
                     awaiting=last_back is not None and all(a.at < last_back for a in on_story),
                     article_id=next((m.article_id for m in sorted(group, key=lambda m: (m.created_at, m.key))
                                      if m.article_id), None))


def list_flags(store: Store, skip_rules: Collection[str]) -> list[FlagEntry]:
    """Every flag in the outbox, open ones first (and, among them, handled ones whose story
    resurfaced since: they await a new response), then newest first. `skip_rules` are rules whose
    messages are not flags about content (the digest, the deadline reports, silence rules).

    Reads the whole outbox and every action: what the report does too, and a province's outbox
    holds thousands of messages, not millions."""
    by_story: dict[str, list[ResponseAction]] = {}
    for action in store.actions():
        by_story.setdefault(action.story_id, []).append(action)
    outbox = store.outbox(bodies=False)      # the page shows no email body
    again = _resurfacings(outbox)
    entries = [_entry(rule, story_id, group, by_story.get(story_id, []), again.get((rule, story_id), []))
               for (rule, story_id), group in _group(outbox, skip_rules).items()]
    entries.sort(key=lambda e: (e.handled and not e.awaiting, -e.flagged_at.timestamp(), e.rule, e.story_id))
    return entries


def find_flag(store: Store, key: str, skip_rules: Collection[str]) -> FlagEntry | None:
    """The flag one of whose messages has outbox key `key`: its first emails, or a reminder,
    escalation or resurfacing of it (an expired link of a resurfacing email names the resurfacing's
    key, alerts.flag.resurfacing_key). None when no message has it, or it is no flag's."""
    found = [m for m in store.outbox(keys=[key]) if m.flag_rule not in skip_rules]
    if not found:
        return None
    rule, story_id = found[0].flag_rule, found[0].story_id
    group = [m for m in store.outbox(bodies=False) if m.flag_rule == rule and m.story_id == story_id]
    flags = _group(group, skip_rules)
    if (rule, story_id) not in flags:
        return None
    return _entry(rule, story_id, flags[(rule, story_id)], store.actions(story_id=story_id),
                  _resurfacings(group).get((rule, story_id), []))


def officer_flag_key(entry: FlagEntry, user: str) -> str:
    """The flag key an action recorded by a logged-in `user` carries: the key the flag's message to
    that address has, or would have (alerts.flag.flag_key). A user whose name is a recipient's
    address thus uses up that recipient's signed link for the same action, as if they had clicked
    it; any other user's action leaves every recipient's links as they were."""
    return flag_key(entry.rule, entry.story_id, user)
