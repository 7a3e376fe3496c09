"""Alert rules: which rules one stored article meets, and why; spikes, silent sources, quiet hours.

Pure functions over the stored record and the rules of config/alerts.yaml: no store, no clock, no
email. The caller passes `now`, the counts and the last-seen times, so the service, `haidang alerts
test` (a replay) and the tests all decide the same way. Every condition met becomes a reason with
its evidence, because a person receiving a flag has to see why before acting on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from haidang import wording
from haidang.record import Article
from haidang.settings import RISK_LEVELS, Agency, AlertRule, QuietHours, Source

__all__ = ["QueryMatcher", "RuleMatch", "article_topics", "evaluate_rules", "held_until", "in_quiet_hours",
           "silent_sources", "spike_flags"]

QueryMatcher = Callable[[Article, str], bool]


@dataclass(kw_only=True, slots=True)
class RuleMatch:
    """One rule met by one article; alerts.routing turns it into a Flag."""

    rule: AlertRule
    article_id: str
    story_id: str                                   # the article's own id when dedup gave none
    source_id: str
    reasons: list[dict[str, Any]] = field(default_factory=list)   # {condition|signal, evidence, weight?}
    at: datetime | None = None


def article_topics(article: Article) -> list[str]:
    """Plan topic ids assigned to the article, in the order the enricher stored them."""
    return [t["id"] for t in article.labels.get("topics") or [] if isinstance(t, dict) and "id" in t]


def evaluate_rules(article: Article, rules: list[AlertRule], *, source: Source | None,
                   query_matches: QueryMatcher | None = None, now: datetime) -> list[RuleMatch]:
    """The enabled article rules (not spike or silence ones) that `article` meets, in rule order.

    `source` is the article's source from config/sources.yaml (kind, language); without it a
    source-kind condition cannot hold. `query_matches(article, query)` evaluates a rule's query
    in the store's language; it is required only when a rule has a query, and a missing one is an
    error rather than a silent "no match" that would hide flags.
    """
    matches: list[RuleMatch] = []
    for rule in rules:
        if not rule.enabled or rule.spike or rule.silence:
            continue
        reasons = _reasons(article, rule, source, query_matches)
        if reasons is not None:
            matches.append(RuleMatch(rule=rule, article_id=article.id, story_id=article.story_id or article.id,
                                     source_id=article.fetched.source_id, reasons=reasons, at=now))
    return matches


def _reasons(article: Article, rule: AlertRule, source: Source | None,
             query_matches: QueryMatcher | None) -> list[dict[str, Any]] | None:
    """Reasons for every condition of `rule`, or None as soon as one does not hold."""
    reasons: list[dict[str, Any]] = []
    labels = article.labels
    if rule.relevant is not None:
        if article.relevant != rule.relevant:
            return None
        names = sorted({a for m in article.matches if m.province_code == article.province_code for a in m.aliases})
        reasons.append({"condition": "relevant", "evidence": ", ".join(names) or str(article.relevant)})
    if rule.topics:
        hits = [t for t in labels.get("topics") or [] if isinstance(t, dict) and t.get("id") in rule.topics]
        if not hits:
            return None
        reasons.append({"condition": "topics", "evidence": [
            {"id": t["id"], "score": t.get("score"), "evidence": t.get("evidence")} for t in hits]})
    if rule.min_risk_level is not None or rule.min_risk_score is not None:
        risk = labels.get("risk")
        if not isinstance(risk, dict) or not _risk_meets(risk, rule):
            return None
        condition = "min_risk_level" if rule.min_risk_level is not None else "min_risk_score"
        score = wording.vn_decimal(float(risk.get("score", 0)))      # "0,96": as the risk section writes it
        reasons.append({"condition": condition, "evidence": f"{risk.get('level')} ({score})"})
        reasons.extend(dict(r) for r in risk.get("reasons") or [])   # each signal behind the score
    if rule.tone:
        tone = (labels.get("tone") or {}).get("label")
        if tone not in rule.tone:
            return None
        reasons.append({"condition": "tone", "evidence": tone})
    if rule.source_kinds:
        if source is None or source.kind not in rule.source_kinds:
            return None
        reasons.append({"condition": "source_kinds", "evidence": f"{source.id}: {source.kind}"})
    if rule.languages:
        language = article.content.language or (source.language if source else None)
        if language not in rule.languages:
            return None
        reasons.append({"condition": "languages", "evidence": language})
    if rule.debunk is not None:
        debunk = (labels.get("risk") or {}).get("debunk")
        if bool(debunk) != rule.debunk:
            return None
        if debunk:          # what the article refutes; "not a debunk" needs no evidence
            reasons.append({"condition": "debunk", "evidence": [str(debunk.get("claim") or "")]})
    if rule.query is not None:
        if query_matches is None:
            raise ValueError(f"rule {rule.name!r} has a query: pass query_matches to evaluate it")
        if not query_matches(article, rule.query):
            return None
        reasons.append({"condition": "query", "evidence": rule.query})
    return reasons


def _risk_meets(risk: dict[str, Any], rule: AlertRule) -> bool:
    if rule.min_risk_score is not None:
        return float(risk.get("score", 0.0)) >= rule.min_risk_score
    level = risk.get("level")
    return level in RISK_LEVELS and RISK_LEVELS.index(level) >= RISK_LEVELS.index(rule.min_risk_level or "")


def spike_flags(counts_now: int, baseline: float, rule: AlertRule, now: datetime,
                last_fired: datetime | None) -> bool:
    """Whether a spike rule flags now: `counts_now` mentions in the rule's window against
    `baseline`, the usual count for that window (both counted by the store).

    The cool-down is what makes a surge one flag: while it runs, the rule stays silent however
    high the count stays, so polling every few minutes does not repeat the flag.
    """
    if rule.spike is None:
        raise ValueError(f"rule {rule.name!r} is not a spike rule")
    spike = rule.spike
    if counts_now < spike.min_count or counts_now < spike.factor * baseline:
        return False
    return last_fired is None or now - last_fired >= timedelta(minutes=spike.cooldown_minutes)


def silent_sources(last_seen: dict[str, datetime], rule: AlertRule, now: datetime) -> list[str]:
    """Source ids with no new item for the rule's `silence.hours`, sorted.

    `last_seen` maps each enabled source to its newest stored item; for a source that never
    produced one, the caller gives the time it started watching it, so a new source gets the same
    grace period instead of flagging at once.
    """
    if rule.silence is None:
        raise ValueError(f"rule {rule.name!r} is not a silence rule")
    limit = timedelta(hours=rule.silence.hours)
    return sorted(sid for sid, seen in last_seen.items() if now - seen >= limit)


def in_quiet_hours(rule_or_window: AlertRule | Agency | QuietHours | None, when: datetime,
                   tz: tzinfo | str) -> datetime | None:
    """When the quiet hours holding `when` end (in `tz`), or None if the flag may go now.

    A deferred flag is sent at that time, never dropped. A rule of severity "khẩn" has no quiet
    hours: urgent flags go at once. `when` must carry its offset; the window is local time.
    """
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware")
    if isinstance(rule_or_window, AlertRule):
        if rule_or_window.severity == "khẩn":
            return None
        window = rule_or_window.quiet_hours
    elif isinstance(rule_or_window, Agency):
        window = rule_or_window.quiet_hours
    else:
        window = rule_or_window
    if window is None:
        return None
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = when.astimezone(zone)
    start, end = _hhmm(window.start), _hhmm(window.end)
    now_t = local.time().replace(tzinfo=None)
    inside = start <= now_t < end if start < end else (now_t >= start or now_t < end)
    if not inside:
        return None
    end_day = local.date() if now_t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone)


def held_until(rule: AlertRule | None, agencies: Iterable[Agency], recipients: Iterable[str], when: datetime,
               tz: tzinfo | str) -> dict[str, datetime]:
    """Lower-cased address -> when its email of a flag of `rule` raised at `when` may go, for each of
    `recipients` that quiet hours hold back (absent: at once). Quiet hours are per recipient: the
    rule's, and those of each agency whose `emails` hold the address; the mail waits until none of
    them holds it (the later end wins, and a window still open then is waited out too: 22:00-06:00
    then 05:00-08:00 is 08:00), so one agency's night never holds another's mail. Windows that
    together cover the whole day end at the latest end seen from `when`, so the mail still goes.
    Severity "khẩn" ignores them all, as for the rule (`in_quiet_hours`); an address no agency lists
    (an escalate_to address) keeps the rule's alone."""
    if rule is not None and rule.severity == "khẩn":
        return {}
    agencies = list(agencies)
    held: dict[str, datetime] = {}
    for recipient in recipients:
        address = recipient.lower()
        windows = [rule, *(a for a in agencies if address in {e.lower() for e in a.emails})]
        first = end = _latest_end(windows, when, tz)
        for _ in windows:               # each step leaves at least one more window behind
            if end is None or (later := _latest_end(windows, end, tz)) is None:
                break
            end = later
        else:                           # still held after leaving every window: they cover the day
            end = first
        if end is not None:
            held[address] = end
    return held


def _latest_end(windows: list[AlertRule | Agency | None], when: datetime, tz: tzinfo | str) -> datetime | None:
    return max((e for w in windows if (e := in_quiet_hours(w, when, tz)) is not None), default=None)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
