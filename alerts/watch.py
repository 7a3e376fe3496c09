"""Runs the spike and silence rules over the store on a schedule, remembering what they flagged.

`alerts.rules` decides (pure functions); this module counts through the Store, keeps each rule's
memory in the store's alert state (so a restart neither repeats a flag nor forgets a silence,
on every backend), routes the flags and queues the immediate ones in the outbox. Every flag
raised, immediate or not, is also kept in a short log for the daily digest (`raised_flags`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateNotFound

from alerts.flag import Flag
from alerts.outbox import message_id_for, queue_flag
from alerts.render import CONDITION_NAMES
from alerts.routing import route
from alerts.rules import RuleMatch, held_until, silent_sources, spike_flags
from haidang import wording
from haidang.record import Article, Fetched
from haidang.settings import AlertRule, Settings
from haidang.store.base import OutboxMessage, SearchFilters, Store
from haidang.wording import vn_amount

__all__ = ["RAISED_KEY", "WatchReport", "Watcher", "raised_flags"]

_log = logging.getLogger(__name__)

RAISED_KEY = "watch:raised"          # alert-state key of the log of raised watch flags
_RAISED_DAYS = 35                    # log entries kept: a month of digests, weekends included
_SPIKE_ARTICLES = 10                 # newest articles of the window shown in a spike email


@dataclass(slots=True)
class WatchReport:
    """What one pass raised: flags (immediate or digest-only) and outbox messages queued."""

    flags: list[Flag] = field(default_factory=list)
    queued: int = 0


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Watcher:
    """The spike and silence rules of one deployment over one store.

    `province_code` is the deployment's province: a spike counts the articles kept for it.
    Sources watched for silence are the enabled ones in config/sources.yaml.
    """

    def __init__(self, settings: Settings, store: Store, province_code: str):
        self._rules = [r for r in settings.alert_rules if r.enabled and (r.spike or r.silence)]
        self._agencies = settings.agencies
        self._sources = {s.id: s for s in settings.sources}
        self._watched = [s.id for s in settings.sources if s.enabled]
        self._tz = settings.app.timezone
        self._province = province_code
        self._store = store
        self._fired: dict[str, dict[str, Any]] = {}     # rule state to keep once its flags are queued

    @property
    def rules(self) -> list[AlertRule]:
        return list(self._rules)

    def run(self, now: datetime | None = None) -> WatchReport:
        """Evaluate every spike and silence rule once at `now`, queue the immediate flags, then keep
        each rule's state (`check_*` only decide). One bad rule never stops the others; a rule that
        failed keeps its old state, so the next pass decides again."""
        now = now or datetime.now(UTC)
        report = WatchReport()
        for rule in self._rules:
            try:
                flags = [f for f in [self.check_spike(rule, now)] if f] if rule.spike else self.check_silence(rule, now)
                queued = sum(self._dispatch(rule, flag, now) for flag in flags)
                for key, value in self._fired.items():
                    self._store.set_alert_state(key, value)
                report.queued += queued
                report.flags.extend(flags)
            except Exception:  # noqa: BLE001 - logged with its rule; the next pass tries again
                _log.exception("watch rule %s failed", rule.name)
            finally:
                self._fired.clear()
        if report.flags:
            self._log_raised(report.flags, now)
        return report

    # -- spike ------------------------------------------------------------------------------

    def counts(self, rule: AlertRule, now: datetime) -> tuple[int, float]:
        """(mentions in the window ending at `now`, mean of the same window on each of the
        previous `baseline_days` days): the same hour of day, so a busy morning is compared
        with other mornings and not with the night."""
        assert rule.spike is not None
        window = timedelta(minutes=rule.spike.window_minutes)
        current = self._store.count(self._filters(now - window, now))
        past = [self._store.count(self._filters(now - timedelta(days=d) - window, now - timedelta(days=d)))
                for d in range(1, rule.spike.baseline_days + 1)]
        return current, sum(past) / len(past)

    def check_spike(self, rule: AlertRule, now: datetime) -> Flag | None:
        """The flag of a spike rule at `now`, or None (below the level, or cooling down)."""
        assert rule.spike is not None
        key = f"spike:{rule.name}"
        state = self._store.get_alert_state(key) or {}
        last = _parse(state["last_fired"]) if state.get("last_fired") else None
        count, baseline = self.counts(rule, now)
        if not spike_flags(count, baseline, rule, now, last):
            return None
        articles = self._window_articles(rule, now)
        story = f"spike:{rule.name}:{now.astimezone(UTC).strftime('%Y%m%dT%H%M')}"
        reasons = [{"condition": "spike", "evidence": [
            f"{wording.vn_number(count)} bài trong {wording.vn_number(rule.spike.window_minutes)} phút",
            f"mức thường {wording.vn_number(float(baseline))} bài (trung bình {rule.spike.baseline_days} ngày)",
            f"ngưỡng: {vn_amount(rule.spike.factor)} × mức thường, tối thiểu {rule.spike.min_count} bài"]}]
        newest = articles[0] if articles else _placeholder("", story)
        flag = route(RuleMatch(rule=rule, article_id=newest.id, story_id=story,
                               source_id=newest.fetched.source_id, reasons=reasons, at=now),
                     self._agencies, newest)
        flag.article_ids = [a.id for a in articles]
        flag.created_at = now
        # The cool-down starts once the flag is queued (`run`): a failure in between retries next pass.
        self._fired[key] = {"last_fired": _iso(now), "count": count, "baseline": baseline}
        _log.info("spike rule %s fired: %d mentions against a usual %.1f", rule.name, count, baseline)
        return flag

    def _filters(self, since: datetime, until: datetime) -> SearchFilters:
        return SearchFilters(province=self._province, relevant_only=True, since=since, until=until)

    def _window_articles(self, rule: AlertRule, now: datetime) -> list[Article]:
        assert rule.spike is not None
        found = list(self._store.iter_articles(self._filters(now - timedelta(minutes=rule.spike.window_minutes), now), html=False))
        found.sort(key=lambda a: a.content.published or a.content.first_seen or now, reverse=True)
        return found[:_SPIKE_ARTICLES]

    # -- silence ----------------------------------------------------------------------------

    def check_silence(self, rule: AlertRule, now: datetime) -> list[Flag]:
        """One flag per source that went silent, raised once until the source speaks again.

        A source counts as speaking when it has an item dated within the rule's hours. A source
        first seen by this rule gets the full grace period from that moment.
        """
        assert rule.silence is not None
        key = f"silence:{rule.name}"
        state = self._store.get_alert_state(key) or {}
        since: dict[str, str] = {sid: v for sid, v in (state.get("watching_since") or {}).items()
                                 if sid in self._watched}
        silent: dict[str, str] = {sid: v for sid, v in (state.get("silent") or {}).items() if sid in self._watched}
        window = timedelta(hours=rule.silence.hours)
        last_seen: dict[str, datetime] = {}
        for sid in self._watched:
            since.setdefault(sid, _iso(now))
            if self._store.count(SearchFilters(source=sid, since=now - window)) > 0:
                last_seen[sid] = now
                if silent.pop(sid, None) is not None:
                    _log.info("source %s speaks again (rule %s)", sid, rule.name)
            else:
                last_seen[sid] = _parse(since[sid])
        flags: list[Flag] = []
        for sid in silent_sources(last_seen, rule, now):
            if sid in silent:
                continue                              # already flagged for this silence
            silent[sid] = _iso(now)
            story = f"silence:{sid}:{now.astimezone(UTC).strftime('%Y%m%dT%H%M')}"
            source = self._sources.get(sid)
            reasons = [{"condition": "silence", "evidence": [
                f"{source.name if source else sid} không có bài mới trong {vn_amount(rule.silence.hours)} giờ"]}]
            flag = route(RuleMatch(rule=rule, article_id="", story_id=story, source_id=sid, reasons=reasons, at=now),
                         self._agencies, _placeholder(sid, story))
            flag.article_ids = []
            flag.created_at = now
            flags.append(flag)
            _log.info("source %s is silent (rule %s, %g h)", sid, rule.name, rule.silence.hours)
        self._fired[key] = {"watching_since": since, "silent": silent}    # kept by `run` once queued
        return flags

    # -- delivery and the digest log --------------------------------------------------------

    def _dispatch(self, rule: AlertRule, flag: Flag, now: datetime) -> int:
        """Queue an immediate flag for each recipient (after its quiet hours: the rule's and its
        agency's); digest-only flags wait in the raised log. Returns messages queued."""
        if not flag.immediate or not flag.recipients:
            return 0
        held = held_until(rule, self._agencies, flag.recipients, now, self._tz)
        if rule.spike:
            articles = [a for a in (self._store.get(i) for i in flag.article_ids) if a is not None]
            if not articles:
                return 0
            return queue_flag(self._store, flag, articles, now=now, held_until=held, tz=self._tz,
                              sources=self._sources)
        return self._queue_silence(flag, now, held)

    def _queue_silence(self, flag: Flag, now: datetime, held: dict[str, datetime]) -> int:
        """A silence email has no article to describe: it needs its own templates
        (silence_subject.txt.j2, silence.txt.j2, silence.html.j2). Until they exist the flag
        stays in the digest log only, and the log says so."""
        from alerts.flag import flag_key
        from alerts.render import environment

        env = environment()
        source = self._sources.get(flag.story_id.split(":")[1])     # "silence:<source id>:<time>"
        rule = next((r for r in self._rules if r.name == flag.rule), None)
        reasons = [{"name": CONDITION_NAMES.get(str(r.get("condition")), str(r.get("condition") or "?")),
                    "evidence": [r["evidence"]] if isinstance(r.get("evidence"), str) else list(r.get("evidence") or [])}
                   for r in flag.reasons]
        context = {"flag": flag, "source": source, "source_id": flag.story_id.split(":")[1],
                   "at": now.astimezone(ZoneInfo(self._tz)), "reasons": reasons,
                   "hours": rule.silence.hours if rule is not None and rule.silence else None}
        try:
            subject = " ".join(env.get_template("silence_subject.txt.j2").render(context).split())
            text = env.get_template("silence.txt.j2").render(context)
            html = env.get_template("silence.html.j2").render(context)
        except TemplateNotFound as exc:
            _log.warning("no template %s for an immediate silence flag: %s is kept for the digest only",
                         exc.name, flag.story_id)
            return 0
        added = 0
        for recipient in dict.fromkeys(r.lower() for r in flag.recipients):
            key = flag_key(flag.rule, flag.story_id, recipient)
            added += self._store.enqueue(OutboxMessage(
                key=key, flag_rule=flag.rule, story_id=flag.story_id, recipient=recipient,
                message_id=message_id_for(key), subject=subject, text=text, html=html, created_at=now,
                next_attempt_at=max(now, held.get(recipient, now))))
        return added

    def _log_raised(self, flags: list[Flag], now: datetime) -> None:
        state = self._store.get_alert_state(RAISED_KEY) or {}
        keep_after = now - timedelta(days=_RAISED_DAYS)
        entries = [e for e in state.get("flags") or [] if _parse(e["at"]) >= keep_after]
        for f in flags:
            entries.append({"rule": f.rule, "story_id": f.story_id, "severity": f.severity,
                             "immediate": f.immediate, "recipients": f.recipients, "agencies": f.agencies,
                             "article_ids": f.article_ids, "reasons": f.reasons, "at": _iso(now)})
        self._store.set_alert_state(RAISED_KEY, {"flags": entries})


def raised_flags(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Spike and silence flags raised in [since, until), oldest first, for the daily digest.

    Each is a dict: rule, story_id, severity, immediate, recipients, agencies, article_ids,
    reasons ({condition, evidence}), at (ISO 8601 UTC).
    """
    state = store.get_alert_state(RAISED_KEY) or {}
    return [e for e in state.get("flags") or [] if since <= _parse(e["at"]) < until]


def _placeholder(source_id: str, story_id: str) -> Article:
    """An empty article for routing a flag that describes no article (a silent source):
    `route` only reads its topics, and it has none."""
    return Article(id="", fetched=Fetched(source_id=source_id, url=""), story_id=story_id)
