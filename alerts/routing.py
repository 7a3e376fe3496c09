"""Routing: from a rule match to a Flag with its agencies and addresses; one flag per story.

Who acts follows the plans (item 6): each topic has owning agencies, the leading agency
(Sở Thông tin và Truyền thông) sees everything serious, and a topic nobody owns still reaches
someone. Orders follow config/agencies.yaml, so the same input always gives the same Flag and
the same idempotency keys downstream.
"""

from __future__ import annotations

from collections.abc import Iterable

from alerts.flag import SEVERITIES, Flag
from alerts.rules import RuleMatch, article_topics
from haidang.record import Article
from haidang.settings import RECIPIENT_ADMINS, RECIPIENT_BY_TOPIC, Agency

__all__ = ["LEAD_SEVERITIES", "addressees", "group_by_story", "route"]

LEAD_SEVERITIES: frozenset[str] = frozenset({"khẩn", "cao"})   # the leading agency receives these always


def route(rule_match: RuleMatch, agencies: list[Agency], article: Article) -> Flag:
    """The Flag for one rule match: agencies from the rule's recipients, resolved to addresses.

    `route_by_topic` gives each assigned topic's owners, or the leading agency when no topic is
    owned (nothing is routed nowhere); `admins` gives the agencies with receives_admin.
    Addresses are de-duplicated case-insensitively, in the order of agencies.yaml.
    """
    rule = rule_match.rule
    by_id = {a.id: a for a in agencies}
    topics = article_topics(article)
    chosen: set[str] = set()
    for name in rule.recipients:
        if name == RECIPIENT_BY_TOPIC:
            owners = {a.id for a in agencies if set(a.topics) & set(topics)}
            chosen |= owners or {a.id for a in agencies if a.leads}
        elif name == RECIPIENT_ADMINS:
            chosen |= {a.id for a in agencies if a.receives_admin}
        elif name in by_id:
            chosen.add(name)
        else:
            raise KeyError(f"rule {rule.name!r} names unknown agency {name!r}")
    if rule.severity in LEAD_SEVERITIES:
        chosen |= {a.id for a in agencies if a.leads}
    ordered = [a for a in agencies if a.id in chosen]
    return Flag(rule=rule.name, severity=rule.severity, story_id=rule_match.story_id,
                article_ids=[rule_match.article_id], agencies=[a.id for a in ordered],
                recipients=_unique(e for a in ordered for e in a.emails), immediate=rule.immediate,
                reasons=list(rule_match.reasons), topics=topics, created_at=rule_match.at,
                description=rule.description)


def addressees(agencies: list[Agency], names: list[str]) -> list[tuple[str, str]]:
    """(address, display name) for a recipients list of config (digest, reports, escalation): agency
    ids expand to their emails, anything else is an address; an empty list means the leading agency.
    Each address once, in the order given."""
    by_id = {a.id: a for a in agencies}
    out: dict[str, str] = {}
    for name in names or [a.id for a in agencies if a.leads]:
        if name in by_id:
            for address in by_id[name].emails:
                out.setdefault(address, by_id[name].name)
        else:
            out.setdefault(name, name)
    return list(out.items())


def group_by_story(flags: list[Flag]) -> list[Flag]:
    """One Flag per (rule, story): syndicated copies become one flag listing every outlet's
    article, with the union of agencies, addresses, reasons and topics, the most urgent severity
    and the earliest creation time. Input flags are not modified; output keeps first-seen order.
    """
    groups: dict[tuple[str, str], list[Flag]] = {}
    for flag in flags:
        groups.setdefault((flag.rule, flag.story_id), []).append(flag)
    merged: list[Flag] = []
    for (rule, story_id), group in groups.items():
        times = [f.created_at for f in group if f.created_at is not None]
        reasons: list[dict] = []
        for f in group:
            reasons.extend(r for r in f.reasons if r not in reasons)
        merged.append(Flag(
            rule=rule, story_id=story_id,
            severity=min((f.severity for f in group), key=SEVERITIES.index),
            article_ids=_unique(a for f in group for a in f.article_ids),
            agencies=_unique(a for f in group for a in f.agencies),
            recipients=_unique(r for f in group for r in f.recipients),
            immediate=any(f.immediate for f in group), reasons=reasons,
            topics=_unique(t for f in group for t in f.topics),
            created_at=min(times) if times else None,
            description=next((f.description for f in group if f.description), None)))
    return merged


def _unique(items: Iterable[str]) -> list[str]:
    """First occurrences, compared case-insensitively (email addresses)."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out
