"""The deadline report as plain data: volumes over time, the foreign press, flags, items of the
digest-only rules, actions, stories that resurfaced after being handled, response times and open
items, counted from the store for one period.

Writers (document.py, workbook.py) only lay this out. A day is a local day (the deployment's
time zone); articles are dated by publication, else first seen, as every store filter is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import numpy as np

from alerts.digest import reported_at
from alerts.dispatch import AlertDispatcher, first_article, reappearances
from alerts.flag import RESURFACING, follow_up_of, is_flag_message
from crawlers.dedup import band_keys, signature
from haidang.record import Article, Content, Fetched
from haidang.reports import wording
from haidang.store.base import (
    ACTION_NAMES,
    NO_VALUE,
    Facets,
    OutboxMessage,
    ResponseAction,
    SearchFilters,
    Store,
)
from haidang.wording import rule_name

if TYPE_CHECKING:
    from haidang.settings import AlertRule, Settings

__all__ = ["DELIVERY_STATES", "NON_FLAG_RULES", "REPORT_RULE", "CountRow", "Delivery", "Durations", "Report",
           "ReportAction", "ReportArticle", "ReportDigestItem", "ReportFlag", "ReportResurfacing", "Series", "build_report",
           "period_bounds", "report_file_name"]

REPORT_RULE = "bao-cao-dinh-ky"      # the outbox's rule name for deadline reports
# Outbox rows that are not flags: the daily digest and these reports.
NON_FLAG_RULES = frozenset({"ban-tin-hang-ngay", REPORT_RULE})
# Periods up to this many days are counted per week, longer ones per month (a half-year by
# week would be 26 columns: too wide for a page).
_WEEKLY_MAX_DAYS = 92
# Articles of one flagged story read to find its first one: a story's id is its founding article's
# id, and its copies are found by their near-duplicate keys; beyond this many copies the earliest
# is almost surely among those read (the founder is always read).
_STORY_COPIES_READ = 200
Bucket = Literal["week", "month"]
Delivery = Literal["sent", "pending", "failed"]
DELIVERY_STATES: tuple[Delivery, ...] = ("sent", "pending", "failed")


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    label: str
    counts: tuple[int, ...]          # one per bucket

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class CountRow:
    key: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class ReportArticle:
    id: str
    title: str
    url: str
    source_name: str
    language: str
    tone: str                        # Vietnamese label
    published: datetime | None       # local time


@dataclass(frozen=True, slots=True)
class ReportAction:
    at: datetime                     # local time
    action: str                      # ActionKind
    action_name: str
    agency_id: str | None
    agency_name: str
    actor: str
    rule: str
    story_id: str
    note: str
    rule_name: str = ""              # the rule as readers see it (wording.rule_name)
    title: str = ""                  # the flagged story's first article: what was acted on
    rebuttal_url: str = ""           # the rebuttal's address, for "đã phản bác"


@dataclass(slots=True)
class ReportFlag:
    """One flag: a rule raised on a story (all its recipients together)."""

    rule: str
    story_id: str
    title: str
    url: str
    source_name: str
    flagged_at: datetime             # first message queued, local time
    published: datetime | None       # the story's first article, local time
    recipients: list[str]
    statuses: dict[str, int]         # outbox status -> messages
    actions: list[ReportAction] = field(default_factory=list)   # up to the period's end, first first
    rule_name: str = ""              # the rule as readers see it (wording.rule_name)

    @property
    def handled(self) -> bool:
        return bool(self.actions)

    @property
    def delivery(self) -> Delivery:
        return _delivery(self.statuses)

    @property
    def publication_to_flag(self) -> timedelta | None:
        return max(timedelta(0), self.flagged_at - self.published) if self.published else None

    @property
    def flag_to_action(self) -> timedelta | None:
        return max(timedelta(0), self.actions[0].at - self.flagged_at) if self.actions else None


def _delivery(statuses: Mapping[str, int]) -> Delivery:
    """"sent" once any recipient's server accepted a message, else "pending" while one waits
    (quiet hours, retries), else "failed": a flag held back has not reached anyone yet."""
    if statuses.get("sent"):
        return "sent"
    return "pending" if statuses.get("pending") else "failed"


@dataclass(frozen=True, slots=True)
class ReportResurfacing:
    """A story officers had acted on, carried again by an outlet that had not carried it then: the
    "Tái xuất hiện sau khi đã xử lý" emails (alerts.dispatch) said so. One per story, action and new
    outlet. Not a new flag: never in the flags, response times or open items."""

    story_id: str
    title: str                       # the story's first article, as the flag lists show it
    source_name: str                 # the new outlet
    url: str                         # its article ("" when no longer stored)
    reappeared_at: datetime          # that article first found, else its first email queued; local
    earlier: list[ReportAction]      # the actions it came back after, oldest first
    statuses: dict[str, int]         # outbox status -> its emails (one per rule and recipient)
    rule_names: list[str] = field(default_factory=list)

    @property
    def delivery(self) -> Delivery:
        return _delivery(self.statuses)


@dataclass(frozen=True, slots=True)
class ReportDigestItem:
    """A story a digest-only rule (`immediate: false`) raised: the daily digest listed it, no email
    went out, so it has no response time and is never an open item."""

    rule: str
    story_id: str
    title: str                       # the story's first matching article in the period
    url: str
    source_name: str
    listed_at: datetime              # when that article reached a digest (alerts.digest.reported_at), local
    rule_name: str = ""              # the rule as readers see it (wording.rule_name)


@dataclass(frozen=True, slots=True)
class Durations:
    """Median and 90th percentile (linear interpolation, numpy's default) of some time spans."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, spans: list[timedelta]) -> Durations:
        if not spans:
            return cls(0, None, None)
        seconds = np.array([s.total_seconds() for s in spans])
        median, p90 = np.percentile(seconds, [50, 90])
        return cls(len(spans), timedelta(seconds=float(median)), timedelta(seconds=float(p90)))


@dataclass(slots=True)
class Report:
    province: str
    timezone: str
    start: date                      # first day, included
    end: date                        # last day, included
    generated_at: datetime           # local time
    bucket: Bucket
    buckets: list[date]              # first day of each week or month
    bucket_labels: list[str]
    total: int
    volumes: dict[str, list[Series]]  # "topic" | "tone" | "kind" | "language" -> series, largest first
    foreign: list[ReportArticle]
    flags: list[ReportFlag]          # raised within the period, earliest first
    flags_by_rule: list[CountRow]
    actions: list[ReportAction]      # taken within the period, earliest first
    actions_by_type: list[CountRow]
    actions_by_agency: list[CountRow]
    publication_to_flag: Durations
    flag_to_action: Durations
    open_items: list[ReportFlag]     # flags raised up to the period's end with no action by then
    # Stories the digest-only rules raised in the period, earliest first: one per (rule, story).
    digest_items: list[ReportDigestItem] = field(default_factory=list)
    digest_items_by_rule: list[CountRow] = field(default_factory=list)
    # Stories back on a new outlet after being handled, whose emails were queued in the period.
    resurfaced: list[ReportResurfacing] = field(default_factory=list)

    @property
    def flagged_stories(self) -> int:
        """Distinct stories among the flags (a flag is one rule on one story)."""
        return len({f.story_id for f in self.flags})

    @property
    def resurfaced_stories(self) -> int:
        return len({r.story_id for r in self.resurfaced})

    @property
    def resurfacing_emails(self) -> int:
        return sum(sum(r.statuses.values()) for r in self.resurfaced)

    @property
    def as_of(self) -> datetime:
        """The instant open items are aged at: the period's end, or when the report was made if
        earlier. A flag handled after the period is still open in it, but not open since then."""
        return min(self.generated_at, period_bounds(self.start, self.end, self.timezone)[1])


def period_bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """[first instant, instant after the last day) of a period of whole local days."""
    zone = ZoneInfo(tz)
    return (datetime.combine(start, time(0), tzinfo=zone),
            datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone))


def report_file_name(report: Report, fmt: str) -> str:
    return f"bao-cao-{report.start.isoformat()}-{report.end.isoformat()}.{fmt}"


def _buckets(start: date, end: date) -> tuple[Bucket, list[date]]:
    if (end - start).days + 1 <= _WEEKLY_MAX_DAYS:
        first = start - timedelta(days=start.weekday())
        return "week", [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]
    out, day = [], start.replace(day=1)
    while day <= end:
        out.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return "month", out


def _label(day: date, kind: Bucket) -> str:
    return day.strftime("%d/%m") if kind == "week" else day.strftime("%m/%Y")


def _when(article: Article) -> datetime | None:
    return article.content.published or article.content.first_seen


def _headline(article: Article) -> Article:
    """A copy with only what naming and listing a story read (alerts.dispatch.first_article, the
    report's rows): id, outlet, addresses, title, language, dates. A stored article also holds its
    text and decoded page (tens of KB): kept whole for every story of the period, a two-year report
    over 20,000 articles peaked at 950 MB (`python -m bench.reports`)."""
    f, c = article.fetched, article.content
    return Article(id=article.id, story_id=article.story_id, relevant=article.relevant,
                   province_code=article.province_code,
                   fetched=Fetched(source_id=f.source_id, url=f.url, final_url=f.final_url,
                                   canonical_url=f.canonical_url),
                   content=Content(title=c.title, language=c.language, published=c.published,
                                   first_seen=c.first_seen))


def _series(per_key: dict[str, list[int]], labels: dict[str, str]) -> list[Series]:
    rows = [Series(k, labels.get(k, k), tuple(v)) for k, v in per_key.items()]
    return sorted(rows, key=lambda s: (-s.total, s.label, s.key))


def _volumes(counted: Facets, buckets: list[date], kinds: Mapping[str, str]) -> dict[str, dict[str, list[int]]]:
    """Per dimension and key, the articles in each bucket, from the store's facet counts; what has
    no label counts under the report's words for unknown (no topic, unknown tone, kind, language)."""
    position = {b.isoformat(): i for i, b in enumerate(buckets)}
    per: dict[str, dict[str, list[int]]] = {"topic": {}, "tone": {}, "kind": {}, "language": {}}
    for start, counts in counted.buckets.items():
        i = position[start]
        keyed = {
            "topic": ((wording.NO_TOPIC if k == NO_VALUE else k, n) for k, n in counts.values["topic"].items()),
            "tone": ((wording.UNKNOWN if k == NO_VALUE else k, n) for k, n in counts.values["tone"].items()),
            "kind": ((kinds.get(k, wording.UNKNOWN), n) for k, n in counts.values["source"].items()),
            "language": (((k or wording.UNKNOWN).lower(), n) for k, n in counts.values["lang"].items()),
        }
        for dim, pairs in keyed.items():
            for key, n in pairs:
                per[dim].setdefault(key, [0] * len(buckets))[i] += n
    return per


def _rows(counter: Counter[str], labels: dict[str, str]) -> list[CountRow]:
    return [CountRow(k, labels.get(k, k), n) for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def _action(a: ResponseAction, tz: ZoneInfo, agency_names: dict[str, str], rule_names: dict[str, str]) -> ReportAction:
    return ReportAction(at=a.at.astimezone(tz), action=a.action, action_name=ACTION_NAMES.get(a.action, a.action),
                        agency_id=a.agency_id,
                        agency_name=agency_names.get(a.agency_id, a.agency_id) if a.agency_id else wording.UNKNOWN,
                        actor=a.actor, rule=a.rule, story_id=a.story_id, note=a.note or "",
                        rule_name=rule_names.get(a.rule, a.rule), rebuttal_url=a.rebuttal_url or "")


def _rule_names(settings: Settings) -> dict[str, str]:
    """Alert rule name -> "its Vietnamese description (name)", as the tables show a rule; a rule
    without a description (or no longer configured) is shown by its name alone."""
    return {r.name: rule_name(r.name, r.description) for r in settings.alert_rules if r.description}


def _first_article(store: Store, story_id: str, in_period: Article | None,
                   kinds: Mapping[str, str] | None = None) -> Article | None:
    """A flagged story's first article, as the daily digest names it (alerts.dispatch.first_article:
    published, else first seen, earliest), however long before the report period it appeared: the
    story id is its founding article's id (crawlers.dedup), and the story's other stored copies
    share the founder's near-duplicate keys. `in_period` is the story's earliest article within the
    period, if any. None when the store holds none of them; else a headline (`_headline`), as the
    report keeps it."""
    found = [in_period] if in_period is not None else []
    founder = store.get(story_id)
    if founder is not None:
        found.append(founder)
        text = founder.content.text or founder.content.title
        ids = sorted({c.article_id for c in store.story_candidates(band_keys(signature(text)))
                      if c.story_id == story_id and c.article_id != founder.id}) if text else []
        found += [a for a in (store.get(i) for i in ids[:_STORY_COPIES_READ]) if a is not None]
    first = first_article(found, kinds)
    return _headline(first) if first is not None else None


def _flag_rules_to_skip(settings: Settings) -> set[str]:
    """Digests, reports and source-health (silence) messages are not flags about content."""
    return set(NON_FLAG_RULES) | {r.name for r in settings.alert_rules if r.silence is not None}


def _digest_only_rules(settings: Settings) -> list[AlertRule]:
    """The enabled article rules that only put a story in the daily digest (`immediate: false`):
    they queue no outbox message, so the report runs them itself, as the digest does."""
    return [r for r in settings.alert_rules
            if r.enabled and not r.immediate and r.spike is None and r.silence is None]


@dataclass(slots=True)
class _PeriodScan:
    """What the one pass over the period's articles finds (`_scan_period`)."""

    first: dict[str, Article] = field(default_factory=dict)     # story -> its earliest article in the period
    foreign: list[ReportArticle] = field(default_factory=list)
    # (rule, story) -> (when it reached a digest, article id, that article) for the digest-only rules
    listed: dict[tuple[str, str], tuple[datetime, str, Article]] = field(default_factory=dict)


def _scan_period(store: Store, settings: Settings, since: datetime, until: datetime, stories: set[str],
                 kinds: Mapping[str, str]) -> _PeriodScan:
    """Read the period's articles once, keeping only headlines (`_headline`): the earliest article of
    each story in `stories` (those the report names: flagged, acted on, resurfaced), the foreign
    press, and the stories the digest-only rules raised.

    Digest-only rules run as the digest runs them. An article counts when it reached a digest
    (alerts.digest.reported_at: published, or first found when later): so one found after the
    period belongs to a later report, and one found in it, published before, here."""
    tz = ZoneInfo(settings.app.timezone)
    source_names = {s.id: s.name for s in settings.sources}
    digest_rules = _digest_only_rules(settings)
    dispatcher = AlertDispatcher(settings, store) if digest_rules else None
    scan = _PeriodScan()

    def list_digest_flags(article: Article) -> None:
        seen = reported_at(article)
        if dispatcher is None or seen is None or not since <= seen < until:
            return
        for flag in dispatcher.flags_for(article, digest_rules, now=until):
            key = (flag.rule, flag.story_id)
            if key not in scan.listed or (seen, article.id) < scan.listed[key][:2]:
                scan.listed[key] = (seen, article.id, _headline(article))

    for article in store.iter_articles(SearchFilters(since=since, until=until), html=False):
        when = _when(article)
        sid = article.story_id or article.id
        if when is not None and sid in stories and (
                sid not in scan.first or first_article([scan.first[sid], article], kinds) is article):
            scan.first[sid] = _headline(article)
        if when is None or not since <= when < until or not article.relevant:
            continue
        list_digest_flags(article)
        if kinds.get(article.fetched.source_id) == "foreign_press":
            lang = (article.content.language or "").lower()
            scan.foreign.append(ReportArticle(
                id=article.id, title=article.content.title, url=article.fetched.canonical_url or article.fetched.url,
                source_name=source_names.get(article.fetched.source_id, article.fetched.source_id),
                language=wording.LANGUAGES.get(lang, lang or wording.UNKNOWN),
                tone=wording.TONES.get(article.tone_label or "", wording.UNKNOWN), published=when.astimezone(tz)))
    scan.foreign.sort(key=lambda a: (a.published or until, a.id))
    if dispatcher is not None:
        # Published before the period, first found in it: few, and found through the first-seen index.
        # Oldest first by first_seen: those found after the period reached a later report's digests.
        for article in store.iter_articles(SearchFilters(until=since, first_seen_since=since, relevant_only=True), html=False):
            if article.content.first_seen is not None and article.content.first_seen >= until:
                break
            list_digest_flags(article)
    return scan


def _flag_messages(store: Store, settings: Settings, since: datetime,
                   until: datetime) -> tuple[dict[tuple[str, str], list[OutboxMessage]], list[OutboxMessage]]:
    """Flag emails queued before the period's end, by (rule, story), and the resurfacing emails
    queued within it (not flags: alerts.flag.is_flag_message); the rest of the outbox is left out."""
    skip = _flag_rules_to_skip(settings)
    messages: dict[tuple[str, str], list[OutboxMessage]] = {}
    resurfacing: list[OutboxMessage] = []
    for m in store.outbox(bodies=False):
        if m.flag_rule in skip or m.created_at is None or m.created_at >= until:
            continue
        if is_flag_message(m):
            messages.setdefault((m.flag_rule, m.story_id), []).append(m)
        elif m.created_at >= since and follow_up_of(m) == RESURFACING:
            resurfacing.append(m)
    return messages, resurfacing


def build_report(store: Store, settings: Settings, start: date, end: date, *,
                 now: datetime | None = None) -> Report:
    """Everything the report for [start, end] (local days, both included) shows."""
    tz_name = settings.app.timezone
    tz = ZoneInfo(tz_name)
    since, until = period_bounds(start, end, tz_name)
    kinds = {s.id: s.kind for s in settings.sources}
    source_names = {s.id: s.name for s in settings.sources}
    topic_names = {t: str(v.get("name") or t) for t, v in settings.topics.items()}
    agency_names = {a.id: a.name for a in settings.agencies}
    rule_names = _rule_names(settings)
    bucket, buckets = _buckets(start, end)

    dims = ("topic", "tone", "kind", "language")
    # Volumes are counted by the store; the pass over the articles only finds stories' first
    # articles, the foreign press and the digest-only rules' stories.
    counted = store.facets(SearchFilters(since=since, until=until, relevant_only=True),
                           ("topic", "tone", "source", "lang"), interval=bucket, tz=tz_name)
    per = _volumes(counted, buckets, kinds)
    total = counted.total

    # Actions up to the period's end: those inside it are listed; all of them close flags.
    all_actions = [_action(a, tz, agency_names, rule_names) for a in store.actions(until=until)]
    actions = [a for a in all_actions if a.at >= since]
    by_flag: dict[tuple[str, str], list[ReportAction]] = {}
    by_story: dict[str, list[ReportAction]] = {}
    for a in all_actions:
        by_flag.setdefault((a.rule, a.story_id), []).append(a)
        by_story.setdefault(a.story_id, []).append(a)
    messages, resurfacing = _flag_messages(store, settings, since, until)
    # Read before the articles, so the pass over them keeps the first article of these stories only.
    named = {sid for _, sid in messages} | {m.story_id for m in resurfacing} | {a.story_id for a in actions}
    scan = _scan_period(store, settings, since, until, named, kinds)
    period_first, foreign, listed = scan.first, scan.foreign, scan.listed
    labels = {"topic": topic_names, "tone": wording.TONES, "kind": wording.KINDS, "language": wording.LANGUAGES}
    volumes = {d: _series(per[d], labels[d]) for d in dims}

    all_flags: list[ReportFlag] = []
    story_first: dict[str, Article | None] = {}
    for (rule, story_id), group in messages.items():
        flagged_at = min(m.created_at for m in group if m.created_at).astimezone(tz)
        done = by_flag.get((rule, story_id)) or by_story.get(story_id) or []
        if done and flagged_at < since:
            continue        # neither in the period nor open: its first article need not be looked for
        if story_id not in story_first:
            story_first[story_id] = _first_article(store, story_id, period_first.get(story_id), kinds)
        first = story_first[story_id]
        when = _when(first) if first else None
        all_flags.append(ReportFlag(
            rule=rule, story_id=story_id, rule_name=rule_names.get(rule, rule),
            title=first.content.title if first else wording.MISSING_ARTICLE,
            url=(first.fetched.canonical_url or first.fetched.url) if first else "",
            source_name=source_names.get(first.fetched.source_id, first.fetched.source_id) if first else wording.UNKNOWN,
            flagged_at=flagged_at, published=when.astimezone(tz) if when else None,
            recipients=sorted({m.recipient for m in group}), statuses=dict(Counter(m.status for m in group)),
            actions=[a for a in done if a.at >= flagged_at] or list(done)))
    all_flags.sort(key=lambda f: (f.flagged_at, f.rule, f.story_id))
    flags = [f for f in all_flags if f.flagged_at >= since]
    # A (rule, story) with flag emails was a flag (the rule was immediate then): counted above only.
    digest_items = sorted(
        (ReportDigestItem(rule=rule, story_id=story_id, rule_name=rule_names.get(rule, rule), title=a.content.title,
                          url=a.fetched.canonical_url or a.fetched.url,
                          source_name=source_names.get(a.fetched.source_id, a.fetched.source_id),
                          listed_at=seen.astimezone(tz))
         for (rule, story_id), (seen, _, a) in listed.items() if (rule, story_id) not in messages),
        key=lambda i: (i.listed_at, i.rule, i.story_id))
    found_again = reappearances(store, resurfacing)
    # Each action and resurfacing says what it was about: the story's first article, as the flag lists show it.
    for story_id in ({a.story_id for a in actions} | {r.story_id for r in found_again}) - set(story_first):
        story_first[story_id] = _first_article(store, story_id, period_first.get(story_id), kinds)
    titles = {sid: a.content.title if a is not None else wording.MISSING_ARTICLE for sid, a in story_first.items()}
    actions = [replace(a, title=titles.get(a.story_id, wording.MISSING_ARTICLE)) for a in actions]
    resurfaced = [ReportResurfacing(
        story_id=r.story_id, title=titles.get(r.story_id, wording.MISSING_ARTICLE),
        source_name=source_names.get(r.source_id, r.source_id) if r.source_id else wording.UNKNOWN,
        url=(r.article.fetched.canonical_url or r.article.fetched.url) if r.article else "",
        reappeared_at=r.at.astimezone(tz), earlier=[_action(a, tz, agency_names, rule_names) for a in r.actions],
        statuses=r.statuses, rule_names=[rule_names.get(x, x) for x in r.rules]) for r in found_again]

    return Report(
        province=_province_name(settings), timezone=tz_name, start=start, end=end,
        generated_at=(now or datetime.now(UTC)).astimezone(tz), bucket=bucket, buckets=buckets,
        bucket_labels=[_label(b, bucket) for b in buckets], total=total, volumes=volumes, foreign=foreign,
        flags=flags, flags_by_rule=_rows(Counter(f.rule for f in flags), rule_names),
        actions=actions, actions_by_type=_rows(Counter(a.action for a in actions), ACTION_NAMES),
        actions_by_agency=_rows(Counter(a.agency_id or wording.UNKNOWN for a in actions), agency_names),
        publication_to_flag=Durations.of([d for f in flags if (d := f.publication_to_flag) is not None]),
        flag_to_action=Durations.of([d for f in flags if (d := f.flag_to_action) is not None]),
        open_items=[f for f in all_flags if not f.handled], digest_items=digest_items,
        digest_items_by_rule=_rows(Counter(i.rule for i in digest_items), rule_names), resurfaced=resurfaced)


def _province_name(settings: Settings) -> str:
    from nlp.gazetteer import Gazetteer

    try:
        gazetteer = Gazetteer.load()
        return gazetteer.province_name(gazetteer.resolve_province(settings.app.province))
    except (KeyError, ValueError):
        return settings.app.province
