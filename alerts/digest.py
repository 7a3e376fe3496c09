"""The daily digest: what the past day (on Mondays, the weekend too) brought, for the monitoring team.

`build_digest` gathers plain data from the store (counts with their change against the window
before and the stories their articles belong to, the flags the rules raise and their outbox state,
failed messages, the foreign press, top stories); each story once per section, under one title
(alerts.dispatch.first_article), also when the store left it under two ids; `render_digest` turns it into (subject, text, html) through the
shared Jinja2 environment, so article text is escaped in HTML and never becomes markup.
The bar chart is drawn with table cells beside the numbers it shows: Gmail and Outlook display
neither SVG nor data: images, and every mail client renders a table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from alerts.dispatch import AlertDispatcher, first_article, story_articles
from alerts.flag import RESURFACING, SEVERITIES, flag_key, follow_up_of, is_flag_message
from alerts.outbox import message_id_for
from alerts.render import LINE_CHARS, environment, local_time, one_line, shorten
from alerts.routing import addressees
from crawlers.dedup import linked_stories
from haidang.record import Article, engagement_line
from haidang.store.base import NO_VALUE, FacetField, Facets, OutboxMessage, SearchFilters, Store
from haidang.wording import NO_TOPIC, action_name, rule_name, vn_amount

if TYPE_CHECKING:
    from haidang.settings import Settings

__all__ = [
    "DIGEST_HOUR",
    "DIGEST_RULE",
    "TOP_STORIES",
    "CountRow",
    "Digest",
    "DigestAction",
    "DigestArticle",
    "DigestFlag",
    "DigestStory",
    "FailedMessage",
    "bar_widths",
    "build_digest",
    "digest_recipients",
    "digest_window",
    "queue_digest",
    "render_digest",
]

DIGEST_RULE = "ban-tin-hang-ngay"   # the outbox's rule name for digests (their key: rule, day, recipient)
DIGEST_HOUR = 7          # the window ends at 07:00 local time on the digest's day
TOP_STORIES = 10         # story clusters listed, most outlets first
CLAIMS_SHOWN = 5         # texts of claims waiting for a decision listed; the rest are counted
FOREIGN_PRESS = "foreign_press"
WEEKEND = (5, 6)          # Saturday, Sunday (date.weekday): no digest; read in Monday's
UNKNOWN = "(không rõ)"   # key for articles without that label


@dataclass(frozen=True, slots=True)
class CountRow:
    key: str             # topic id, tone label or source kind
    label: str           # what a reader sees (topic name; tone/kind are worded by the template)
    count: int           # articles, as `previous`
    previous: int
    # Stories with an article in the row this window (syndicated copies count once); None when not
    # counted. Rows do not add up to the digest's stories: a story's copies may differ in tone or outlet.
    stories: int | None = None

    @property
    def delta(self) -> int:
        return self.count - self.previous


@dataclass(slots=True)
class DigestArticle:
    id: str
    title: str
    url: str
    source_id: str
    source_name: str
    source_kind: str | None
    published: datetime | None   # local time
    tone: str | None = None
    engagement: str | None = None  # "1.520 lượt thích · 87 bình luận" when the page stated counts
    found_late: bool = False       # published before the window, first found by the system in it


@dataclass(slots=True)
class DigestStory:
    story_id: str
    title: str                    # its first article's (alerts.dispatch.first_article), as in the flag lists
    outlets: list[DigestArticle]  # one article per outlet, earliest first
    topics: list[str] = field(default_factory=list)   # topic names
    article_count: int = 0        # the story's articles counted in the window (an outlet may have several)
    first: DigestArticle | None = None   # the article its title is from; may be from before the window

    @property
    def first_listed(self) -> bool:
        """Whether the title's article is one of `outlets` (else the digest says where it came from)."""
        return self.first is None or any(o.id == self.first.id for o in self.outlets)


@dataclass(slots=True)
class DigestAction:
    """An officer action recorded on a flagged story, as the digest cites it."""

    name: str                     # mid-sentence: "đã phản bác" (wording.action_name)
    agency: str | None            # the agency's name; None when the action names none
    at: datetime                  # local time
    rebuttal_url: str | None = None


@dataclass(slots=True)
class DigestFlag:
    """All rules that flagged one story, and what became of their messages."""

    story_id: str
    title: str
    url: str
    severity: str                 # most urgent of the rules
    rules: list[str]
    immediate: bool               # some rule sends at once (else: digest only)
    recipients: list[str]
    article_count: int
    states: dict[str, int] = field(default_factory=dict)   # outbox status -> messages; {} when none queued
    # What was flagged: an article's story, a surge of articles, or a source gone silent. Reminders
    # and escalations of a flag are not counted in `states`: those are the flag's own emails only.
    kind: Literal["article", "spike", "silence"] = "article"
    rule_labels: list[str] = field(default_factory=list)   # per rule, its description (wording.rule_name)
    # When the story was first flagged (its rules' first emails queued, or for a digest-only rule the
    # story's first article that raised it), local time; None when that cannot be told.
    first_flagged: datetime | None = None
    # First flagged before the window: a story the digest listed before, back with new articles. It
    # is listed apart and not counted among the window's flags.
    earlier: bool = False
    actions: list[DigestAction] = field(default_factory=list)   # recorded on the story by the window's end
    new_outlets: list[str] = field(default_factory=list)        # outlets of the window's flagged articles
    # Outbox status -> resurfacing emails (alerts.dispatch) of the story queued in the window.
    resurfaced: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class FailedMessage:
    rule: str
    story_id: str
    recipient: str
    subject: str
    error: str
    attempts: int
    created_at: datetime | None   # local time


def failure_words(msg: OutboxMessage) -> str:
    """Why a message was not delivered, as the team reads it: the mail server's own words stay
    (the administrator needs them), after a Vietnamese line where the case asks a person to act."""
    error = one_line(msg.last_error or "")
    if msg.handed_over >= 2:            # alerts.outbox stopped it after the second silence
        return ("có thể đã đến nơi, có khi hai lần: máy chủ thư hai lần nhận trọn thư mà không trả lời, nên "
                f"không tự gửi lại. Hỏi người nhận; nếu chưa có, gửi lại bằng `haidang outbox retry {msg.key}`. "
                f"({error})")
    return error


@dataclass(slots=True)
class Digest:
    day: date
    timezone: str
    start: datetime               # window, local time, [start, end)
    end: datetime
    previous_start: datetime      # the window before, same length: [previous_start, start)
    total: int
    previous_total: int
    by_topic: list[CountRow]
    by_tone: list[CountRow]
    by_kind: list[CountRow]
    flags: list[DigestFlag]
    failed: list[FailedMessage]
    foreign: list[DigestArticle]
    stories: list[DigestStory]
    # Of `total`, articles published before the window and first found in it (counted here, once).
    found_late: int = 0
    # The stories `total`'s articles belong to (syndicated copies and linked near-duplicates once).
    story_count: int = 0
    # Claims proposed from debunk reports that no person has decided yet (all of them, not only the
    # window's: one left waiting flags none of its copies), and the newest few of their texts.
    claims_waiting: int = 0
    claims_waiting_texts: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.total == 0 and not self.flags and not self.failed

    @property
    def article_flags(self) -> list[DigestFlag]:
        """Flags on stories (news items) raised in the window, as opposed to the watch's alerts about
        volume and sources, and to stories flagged before the window (`earlier_flags`)."""
        return [f for f in self.flags if f.kind == "article" and not f.earlier]

    @property
    def earlier_flags(self) -> list[DigestFlag]:
        """Stories first flagged before the window that have new articles in it: not new flags."""
        return [f for f in self.flags if f.kind == "article" and f.earlier]

    @property
    def spike_flags(self) -> list[DigestFlag]:
        return [f for f in self.flags if f.kind == "spike"]

    @property
    def silence_flags(self) -> list[DigestFlag]:
        return [f for f in self.flags if f.kind == "silence"]

    @property
    def weekend(self) -> bool:
        return self.end - self.start > timedelta(hours=24)


def digest_window(day: date, tz: str = "Asia/Ho_Chi_Minh", at: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the digest for `day`: the 24 hours before 07:00 (or `at`, "HH:MM"), from Friday
    on Mondays, so the weekend is read on the first working day."""
    hh, mm = (int(x) for x in at.split(":")) if at else (DIGEST_HOUR, 0)
    end = datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(tz))
    return end - timedelta(days=3 if day.weekday() == 0 else 1), end


def _when(article: Article, tz: ZoneInfo) -> datetime | None:
    return local_time(article.content.published or article.content.first_seen, tz)




def _rows(now: Counter[str], before: Counter[str], label: dict[str, str] | None = None,
          stories: Mapping[str, int] | None = None) -> list[CountRow]:
    keys = sorted(set(now) | set(before), key=lambda k: (-now[k], -before[k], k))
    return [CountRow(k, one_line((label or {}).get(k, k)), now[k], before[k],
                     None if stories is None else stories.get(k, 0)) for k in keys]


_COUNTED: tuple[FacetField, ...] = ("topic", "tone", "source")


def _counts(facets: Facets, kinds: Mapping[str, str]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Per topic (an article once per assigned topic), tone and source kind, from the store's counts;
    articles without the label, and sources not in the configuration, count under UNKNOWN."""
    topics: Counter[str] = Counter()
    tones: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    for key, n in facets.values["topic"].items():
        topics[UNKNOWN if key == NO_VALUE else key] += n
    for key, n in facets.values["tone"].items():
        tones[UNKNOWN if key == NO_VALUE else key] += n
    for key, n in facets.values["source"].items():
        by_kind[kinds.get(key, UNKNOWN)] += n
    return topics, tones, by_kind


def reported_at(article: Article) -> datetime | None:
    """When the article reaches a digest: its publication, or when the system first found it if that
    was later (a feed that lists an item days late, an outage caught up). Each article thus falls in
    exactly one window, the first whose digest could have seen it."""
    published, seen = article.content.published, article.content.first_seen
    if published is None or seen is None:
        return published or seen
    return max(published, seen)


def _adjust(counts: tuple[Counter[str], Counter[str], Counter[str]], articles: list[Article],
            kinds: Mapping[str, str], sign: int) -> int:
    """Add (sign 1) or take away (sign -1) `articles` from the store's counts, as `Store.facets`
    counts them (each assigned topic once, NO_VALUE without one); returns the change in the total."""
    topics, tones, by_kind = counts
    for a in articles:
        for t in a.topic_ids or [UNKNOWN]:
            topics[t] += sign
        tones[a.tone_label or UNKNOWN] += sign
        by_kind[kinds.get(a.fetched.source_id, UNKNOWN)] += sign
    for counter in counts:
        for key in [k for k, n in counter.items() if n <= 0]:
            del counter[key]
    return sign * len(articles)


def _seen_before(articles: Iterable[Article], end: datetime) -> Iterator[Article]:
    """`articles` (as Store.iter_articles yields them: oldest first by first_seen) up to the first one
    found at or after `end`: reading stops there, so a window a year back does not read the year since."""
    for a in articles:
        if a.content.first_seen is not None and a.content.first_seen >= end:
            return
        yield a


def _found_late(store: Store, start: datetime, end: datetime) -> list[Article]:
    """Articles published before `start` but first found in [start, end): they belong to this window."""
    found = store.iter_articles(SearchFilters(until=start, first_seen_since=start, relevant_only=True), html=False)
    return [a for a in _seen_before(found, end) if (when := reported_at(a)) is not None and start <= when < end]


def _seen_after(store: Store, start: datetime, end: datetime) -> list[Article]:
    """Articles published in [start, end) but first found at or after `end`: a later window's."""
    return [a for a in store.iter_articles(SearchFilters(since=start, until=end, first_seen_since=end,
                                                         relevant_only=True), html=False)
            if (when := reported_at(a)) is not None and when >= end]


def build_digest(store: Store, settings: Settings, day: date, *,
                 dispatcher: AlertDispatcher | None = None) -> Digest:
    """Everything the digest for `day` shows, as plain data (no rendering, no sending)."""
    tz_name = settings.app.timezone
    tz = ZoneInfo(tz_name)
    start, end = digest_window(day, tz_name, settings.digest.time)
    previous_start = start - (end - start)
    sources = {s.id: s for s in settings.sources}
    kinds = {s.id: s.kind for s in settings.sources}
    topic_names = {t: str(v.get("name") or t) for t, v in settings.topics.items()}
    rules_by_name = {r.name: r for r in settings.alert_rules}

    def rule_label(name: str, description: str | None = None) -> str:
        """The rule as agencies read it (wording.rule_name): its description; the name only without one."""
        rule = rules_by_name.get(name)
        return one_line(rule_name(name, description or (rule.description if rule else None)))

    # Only articles kept for the province, as the reports count them (match.store_irrelevant keeps
    # others in the store). An article counts in the window it was published in, unless the system
    # found it only later: then in the window it was found in (else no digest would ever count it).
    window = SearchFilters(since=start, until=end, relevant_only=True)
    later = {a.id for a in _seen_after(store, start, end)}
    found_late = _found_late(store, start, end)
    articles: list[Article] = []
    seen_later: list[Article] = []          # the window's articles a later digest counts (read once)
    for a in store.iter_articles(window, html=False):
        (seen_later if a.id in later else articles).append(a)
    # Counted by the store: the window before is never read article by article, only its late finds.
    now_facets = store.facets(window, _COUNTED, tz=tz_name)
    now_counts = _counts(now_facets, kinds)
    total = (now_facets.total + _adjust(now_counts, found_late, kinds, 1)
             + _adjust(now_counts, seen_later, kinds, -1))
    previous = store.facets(SearchFilters(since=previous_start, until=start, relevant_only=True), _COUNTED,
                            tz=tz_name)
    prev_counts = _counts(previous, kinds)
    previous_total = (previous.total + _adjust(prev_counts, _found_late(store, previous_start, start), kinds, 1)
                      + _adjust(prev_counts, _seen_after(store, previous_start, start), kinds, -1))
    now_t, now_tone, now_kind = now_counts
    prev_t, prev_tone, prev_kind = prev_counts

    def entry(a: Article) -> DigestArticle:
        src = sources.get(a.fetched.source_id)
        return DigestArticle(id=a.id, title=shorten(a.content.title, LINE_CHARS) or "(không có tiêu đề)",
                             url=a.fetched.canonical_url or a.fetched.url, source_id=a.fetched.source_id,
                             source_name=one_line(src.name if src else a.fetched.source_id),
                             source_kind=src.kind if src else None, published=_when(a, tz), tone=a.tone_label,
                             engagement=engagement_line(a.content.engagement))

    by_id = {a.id: a for a in articles}
    # Also the articles found in the window but published before it (a backlog, a new source, an
    # outage caught up): their flags went out in this window and belong in this digest.
    late = [a for a in _seen_before(store.iter_articles(SearchFilters(first_seen_since=start), html=False), end)
            if a.id not in by_id and a.content.first_seen is not None and a.content.first_seen < end]
    by_id.update((a.id, a) for a in late)

    # One entry per story in every section: the store's story ids, joined where near-duplicate copies
    # link two of them (crawlers.dedup.linked_stories), each listed under its first article.
    listed_under = linked_stories([*articles, *late], store)
    merged: dict[str, list[str]] = {}          # the key a story is listed under -> its store story ids
    for sid, key in listed_under.items():
        merged.setdefault(key, []).append(sid)

    def story_of(a: Article) -> str:
        sid = a.story_id or a.id
        return listed_under.get(sid, sid)

    in_digest: dict[str, list[Article]] = {}
    for a in [*articles, *late]:
        in_digest.setdefault(story_of(a), []).append(a)
    headlines: dict[str, Article | None] = {}

    def headline(key: str) -> Article | None:
        """The story's first article (alerts.dispatch.first_article) however long before the window,
        among its articles here and each of its ids' founder and stored copies, as the report reads them."""
        if key not in headlines:
            found = {a.id: a for a in in_digest.get(key, [])}
            for sid in merged.get(key, [key]):
                for a in story_articles(store, sid):
                    found.setdefault(a.id, a)
            headlines[key] = first_article(found.values(), kinds)
        return headlines[key]

    # The counted articles by story: the highlights (most outlets first, then the latest) and the
    # number of stories beside each count of articles.
    counted = [*articles, *found_late]
    found_late_ids = {a.id for a in found_late}
    clusters: dict[str, list[Article]] = {}
    row_stories: tuple[dict[str, set[str]], ...] = ({}, {}, {})     # topic, tone, source kind -> stories
    for a in counted:
        key = story_of(a)
        clusters.setdefault(key, []).append(a)
        for t in a.topic_ids or [UNKNOWN]:
            row_stories[0].setdefault(t, set()).add(key)
        row_stories[1].setdefault(a.tone_label or UNKNOWN, set()).add(key)
        row_stories[2].setdefault(kinds.get(a.fetched.source_id, UNKNOWN), set()).add(key)
    topic_stories, tone_stories, kind_stories = ({k: len(v) for k, v in d.items()} for d in row_stories)
    latest = {key: max((_when(a, tz) or start) for a in group) for key, group in clusters.items()}
    width = {key: len({a.fetched.source_id for a in group}) for key, group in clusters.items()}

    def story(key: str) -> DigestStory:
        group = sorted(clusters[key], key=lambda a: (_when(a, tz) or end, a.id))
        per_outlet: dict[str, Article] = {}
        for a in group:
            per_outlet.setdefault(a.fetched.source_id, a)
        outlets = [entry(a) for a in per_outlet.values()]
        for outlet in outlets:
            outlet.found_late = outlet.id in found_late_ids
        first = headline(key) or group[0]
        topics = list(dict.fromkeys(t for a in group for t in a.topic_ids))
        return DigestStory(story_id=first.story_id or first.id, title=entry(first).title, outlets=outlets,
                           topics=[one_line(topic_names.get(t, t)) for t in topics], article_count=len(group),
                           first=entry(first))

    top = sorted(clusters, key=lambda k: (-width[k], -latest[k].timestamp(), k))[:TOP_STORIES]
    stories = [story(key) for key in top]

    # Flags the rules raise on the window's articles, one entry per story.
    if dispatcher is None:
        dispatcher = AlertDispatcher(settings, store)
    raised: dict[str, list[Any]] = {}
    for a in [*articles, *late]:
        for flag in dispatcher.flags_for(a, now=end):
            raised.setdefault(listed_under.get(flag.story_id, flag.story_id), []).append(flag)
    by_story: dict[str, list[OutboxMessage]] = {}
    for m in store.outbox(bodies=False):       # read once, grouped: the loops below look up by story
        by_story.setdefault(m.story_id, []).append(m)
    agency_names = {a.id: a.name for a in settings.agencies}
    story_actions: dict[str, list[DigestAction]] = {}
    for action in store.actions(until=end):
        story_actions.setdefault(action.story_id, []).append(DigestAction(
            name=action_name(action.action), agency=agency_names.get(action.agency_id or ""),
            at=action.at.astimezone(tz), rebuttal_url=action.rebuttal_url))

    def first_qualified(story_ids: list[str], in_window: list[Article],
                        rules: set[str]) -> dict[str, datetime]:
        """Rule -> when the story's earliest article reported before the window raised it: when a
        digest-only rule (no email to date it) first put the story in a digest."""
        copies: dict[str, Article] = {}
        for sid in story_ids:
            like = [x for x in in_window if (x.story_id or x.id) == sid]
            copies.update((a.id, a) for a in story_articles(store, sid, like=like))
        earlier = sorted(((when, a.id, a) for a in copies.values()
                          if (when := reported_at(a)) is not None and when < start), key=lambda t: t[:2])
        found: dict[str, datetime] = {}
        for when, _, a in earlier:
            for flag in dispatcher.flags_for(a, now=end):
                if flag.rule in rules and flag.story_id in story_ids:
                    found.setdefault(flag.rule, when)
            if rules <= set(found):
                break
        return found

    flags: list[DigestFlag] = []
    for key, story_flags in raised.items():
        story_ids = merged.get(key, [key])     # the store's ids of it: its emails and actions are keyed by them
        rules = list(dict.fromkeys(f.rule for f in story_flags))
        ids = list(dict.fromkeys(i for f in story_flags for i in f.article_ids))
        in_window = [by_id[i] for i in ids if i in by_id]
        # Listed under the story's first article, as in the highlights, not whichever copy the window brought.
        first = headline(key)
        # The flag's own messages: its reminders, escalations and resurfacings share rule and story, not the key.
        mail = [m for sid in story_ids for m in by_story.get(sid, [])]
        own = [m for m in mail if m.flag_rule in rules and is_flag_message(m)]
        states: Counter[str] = Counter(m.status for m in own)
        # When each rule first flagged the story: its first email, or (digest-only) its first article.
        since: dict[str, datetime] = {}
        for m in own:
            if m.created_at is not None and (m.flag_rule not in since or m.created_at < since[m.flag_rule]):
                since[m.flag_rule] = m.created_at
        undated = {f.rule for f in story_flags if not f.immediate and f.rule not in since}
        if undated:
            since.update(first_qualified(story_ids, in_window, undated))
        earlier = all(r in since and since[r] < start for r in rules)
        resurfaced: Counter[str] = Counter(m.status for m in mail if m.flag_rule in rules
                                           and m.created_at is not None and start <= m.created_at < end
                                           and follow_up_of(m) == RESURFACING)
        descriptions = {f.rule: f.description for f in story_flags}
        flags.append(DigestFlag(
            story_id=(first.story_id or first.id) if first else key,
            title=entry(first).title if first else key,
            url=(first.fetched.canonical_url or first.fetched.url) if first else "",
            severity=min((f.severity for f in story_flags), key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else 99),
            rules=rules, immediate=any(f.immediate for f in story_flags),
            recipients=list(dict.fromkeys(r for f in story_flags for r in f.recipients)),
            article_count=len(ids), states=dict(states),
            rule_labels=[rule_label(r, descriptions.get(r)) for r in rules],
            first_flagged=min(since.values()).astimezone(tz) if since else None, earlier=earlier,
            actions=sorted((a for sid in story_ids for a in story_actions.get(sid, [])), key=lambda a: a.at),
            new_outlets=list(dict.fromkeys(entry(a).source_name for a in in_window)),
            resurfaced=dict(resurfaced)))
    # Spike and silence flags describe no single article: the watch job keeps a log of them.
    from alerts.watch import raised_flags
    for entry_ in raised_flags(store, start, end):
        evidence = [e for r in entry_.get("reasons") or [] for e in
                    ([r["evidence"]] if isinstance(r.get("evidence"), str) else r.get("evidence") or [])]
        silent = str(entry_["story_id"]).startswith("silence:")
        if silent:
            title = _silence_title(str(entry_["story_id"]), rules_by_name.get(entry_["rule"]), sources)
        else:
            title = one_line(f"Số tin tăng đột biến: {'; '.join(map(str, evidence))}")
        states = Counter[str](m.status for m in by_story.get(entry_["story_id"], []) if is_flag_message(m))
        flags.append(DigestFlag(
            story_id=entry_["story_id"], title=title, url="",
            severity=entry_.get("severity") or "thấp", rules=[entry_["rule"]],
            immediate=bool(entry_.get("immediate")), recipients=list(entry_.get("recipients") or []),
            article_count=len(entry_.get("article_ids") or []), states=dict(states),
            kind="silence" if silent else "spike", rule_labels=[rule_label(entry_["rule"])]))
    flags.sort(key=lambda f: (SEVERITIES.index(f.severity) if f.severity in SEVERITIES else 99, f.story_id))

    # Messages refused for good, queued or given up on in this window or the one before (so none
    # goes unseen: a message given up after outbox.max_age_hours was queued days before the window).
    failed = [FailedMessage(rule=m.flag_rule, story_id=m.story_id, recipient=m.recipient,
                            subject=one_line(m.subject), error=failure_words(m),
                            attempts=m.attempts, created_at=m.created_at.astimezone(tz) if m.created_at else None)
              for m in store.outbox("failed", bodies=False)
              if m.created_at is None or previous_start <= m.created_at < end
              or (m.failed_at is not None and previous_start <= m.failed_at < end)]

    # Published in the window, and (as with the flags above) published earlier but found in it: a
    # foreign article flagged today is listed here too, marked as found late.
    foreign = [entry(a) for a in articles if kinds.get(a.fetched.source_id) == FOREIGN_PRESS]
    for a in late:
        if kinds.get(a.fetched.source_id) == FOREIGN_PRESS:
            found = entry(a)
            found.found_late = True
            foreign.append(found)
    foreign.sort(key=lambda e: (e.found_late, e.published or end, e.id))

    waiting = store.known_claims("proposed")
    return Digest(day=day, timezone=tz_name, start=start, end=end, previous_start=previous_start,
                  total=total, previous_total=previous_total,
                  by_topic=_rows(now_t, prev_t, {**topic_names, UNKNOWN: NO_TOPIC}, topic_stories),
                  by_tone=_rows(now_tone, prev_tone, stories=tone_stories),
                  by_kind=_rows(now_kind, prev_kind, stories=kind_stories), flags=flags, failed=failed,
                  foreign=foreign, stories=stories, found_late=len(found_late), story_count=len(clusters),
                  claims_waiting=len(waiting),
                  claims_waiting_texts=[shorten(c.text, LINE_CHARS) for c in reversed(waiting[-CLAIMS_SHOWN:])])


def _silence_title(story_id: str, rule: Any, sources: Mapping[str, Any]) -> str:
    """"Nguồn tin ngừng cập nhật: Báo Quảng Ngãi (không có bài mới trong 24 giờ)" for a silence flag,
    whose story id is "silence:<source id>:<time>"; the source's configured name, not its id."""
    source_id = story_id.split(":")[1] if story_id.count(":") >= 2 else story_id
    source = sources.get(source_id)
    name = source.name if source is not None else source_id
    hours = getattr(getattr(rule, "silence", None), "hours", None)
    quiet = f" (không có bài mới trong {vn_amount(hours)} giờ)" if hours else ""
    return one_line(f"Nguồn tin ngừng cập nhật: {name}{quiet}")


def bar_widths(rows: list[CountRow]) -> dict[str, int]:
    """Row key -> bar length in percent of the largest count (at least 1 for a non-zero count), for
    the bar chart drawn with table cells; rows without articles in this window get none."""
    peak = max((r.count for r in rows), default=0)
    return {r.key: max(1, round(100 * r.count / peak)) for r in rows if r.count > 0 and peak > 0}


def render_digest(digest: Digest) -> tuple[str, str, str]:
    """(subject, text, html) of the digest email, in Vietnamese."""
    context = {"d": digest, "bars": bar_widths(digest.by_topic)}
    env = environment()
    text_template = env.get_template("digest.txt.j2")
    # The template's `subject` macro; jinja2 sets a module's macros as attributes at run time, untyped.
    subject = one_line(text_template.make_module(context).subject())  # type: ignore[attr-defined]
    text = text_template.render(context)
    html = env.get_template("digest.html.j2").render(context)
    return subject, text, html


def digest_recipients(settings: Settings) -> list[str]:
    """Addresses of the digest: agency ids expanded to their emails; none named means the leading agency."""
    return [address for address, _ in addressees(settings.agencies, settings.digest.recipients)]


def queue_digest(store: Store, settings: Settings, day: date, now: datetime | None = None, *,
                 dispatcher: AlertDispatcher | None = None) -> int:
    """Put the digest for `day` in the outbox for each recipient; returns how many were new.

    Keyed by day and recipient, so the daily job running twice (a restart, a missed run caught up)
    sends one digest; an empty day still sends its short "nothing new" digest. Nothing is queued
    on Saturdays and Sundays: Monday's digest covers the weekend.
    """
    if not settings.digest.enabled:
        return 0
    if day.weekday() in WEEKEND:
        # Monday's digest covers Friday 07:00 to Monday 07:00 (digest_window): a Saturday or Sunday
        # digest would report the same articles and flags a second time. Flags still go out at once.
        return 0
    created = now or datetime.now(ZoneInfo(settings.app.timezone))
    subject, text, html = render_digest(build_digest(store, settings, day, dispatcher=dispatcher))
    story = f"digest-{day.isoformat()}"
    added = 0
    for recipient in digest_recipients(settings):
        key = flag_key(DIGEST_RULE, story, recipient)
        added += store.enqueue(OutboxMessage(key=key, flag_rule=DIGEST_RULE, story_id=story, recipient=recipient,
                                             message_id=message_id_for(key), subject=subject, text=text,
                                             html=html, created_at=created, next_attempt_at=created))
    return added
