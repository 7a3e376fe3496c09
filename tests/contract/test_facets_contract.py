"""Store.facets, stated once for every backend: the same counts as counting iter_articles in Python."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from haidang.record import Article
from haidang.store.base import FACET_FIELDS, NO_VALUE, Facets, SearchFilters, Store

from .conftest import VN, build_article, province_match


def _labels(topics: Sequence[Any] = (), tone: Any = None, risk: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"topics": [t if isinstance(t, dict) else {"id": t, "score": 0.8} for t in topics]}
    if tone is not None:
        out["tone"] = {"label": tone, "score": 0.7} if isinstance(tone, str) else tone
    if risk is not None:
        out["risk"] = {"score": 0.5, "level": risk, "reasons": []}
    return out


def _article(slug: str, when: datetime, *, labels: dict[str, Any] | None = None, published: bool = True,
             **kw: Any) -> Article:
    article = build_article(slug, f"Tin {slug}", published=when if published else None,
                            first_seen=when if not published else when - timedelta(hours=3), **kw)
    article.labels = labels or {}
    return article


# Monday 7 July 2025 starts at 2025-07-06T17:00Z in Asia/Ho_Chi_Minh.
MIDNIGHT = datetime(2025, 7, 7, 0, 0, tzinfo=VN)


def _corpus() -> list[Article]:
    qn = [province_match("51", "Quảng Ngãi", 0, 10)]
    return [
        # No labels at all, and empty labels.
        _article("no-labels", datetime(2025, 7, 1, 9, 0, tzinfo=VN), relevant=True, province="51"),
        _article("empty-topics", datetime(2025, 7, 2, 9, 0, tzinfo=VN), labels=_labels(tone="neutral"),
                 source="vnexpress"),
        # Several topics, one repeated, and items that are not assigned topics.
        _article("several", datetime(2025, 7, 3, 9, 0, tzinfo=VN), relevant=True, province="51", matches=qn,
                 labels=_labels(["bien_dao", "doi_ngoai", "bien_dao", {"score": 0.9}, {"id": ""}, "kieu_bao"],
                                tone="negative", risk="cao")),
        _article("one-topic", datetime(2025, 7, 4, 9, 0, tzinfo=VN), relevant=True, province="51",
                 labels=_labels(["doi_ngoai"], tone="positive", risk="thấp"), source="vnexpress-en", lang="en"),
        # Either side of local midnight starting Monday 7 July (Sunday 23:59:59 vs Monday 00:00).
        _article("sunday-late", MIDNIGHT - timedelta(seconds=1), relevant=True, province="51",
                 labels=_labels(["du_lich_van_hoa"], tone="positive", risk="thấp")),
        _article("monday-midnight", MIDNIGHT, relevant=True, province="51",
                 labels=_labels(["du_lich_van_hoa"], tone="neutral", risk="cần xem xét")),
        # Dated by first seen (no publication date), in UTC, across a month end in local time.
        _article("first-seen", datetime(2025, 7, 31, 17, 30, tzinfo=UTC), published=False,
                 labels=_labels(["kinh_te_xa_hoi"], tone="neutral", risk="thấp"), source="baodongthap",
                 province="82"),
        _article("month-end", datetime(2025, 7, 31, 16, 59, tzinfo=UTC), lang=None,
                 labels=_labels([], tone="", risk=""), source="baodongthap"),
        # Tone without a score, risk without a level (Elasticsearch maps tone as an object, so a
        # bare tone string cannot be stored there).
        _article("no-risk-level", datetime(2025, 8, 12, 12, 0, tzinfo=VN), relevant=True, province="51",
                 labels={"tone": {"label": "negative"}, "risk": {"score": 0.1},
                         "topics": [{"id": "an_ninh_trat_tu"}]}),
        _article("next-year", datetime(2026, 1, 1, 0, 30, tzinfo=VN), relevant=True, province="51",
                 labels=_labels(["thien_tai_dich_benh", "kinh_te_xa_hoi"], tone="negative", risk="cao"),
                 source="vnexpress", lang="en"),
    ]


@pytest.fixture
def facet_store(store: Store) -> Store:
    for article in _corpus():
        assert store.upsert(article) == "new"
    return store


def _local_bucket(moment: datetime, interval: str, tz: str) -> str:
    day = moment.astimezone(ZoneInfo(tz)).date()
    if interval == "week":
        day = day - timedelta(days=day.weekday())
    elif interval == "month":
        day = date(day.year, day.month, 1)
    return day.isoformat()


def _keys(article: Article) -> dict[str, list[str]]:
    risk = article.labels.get("risk")
    level = risk.get("level") if isinstance(risk, dict) else None
    return {"topic": article.topic_ids or [NO_VALUE], "tone": [article.tone_label or NO_VALUE],
            "source": [article.fetched.source_id], "lang": [article.content.language or NO_VALUE],
            "risk_level": [level or NO_VALUE]}


def _python_facets(store: Store, filters: SearchFilters | None, fields: Sequence[str],
                   interval: str | None = None, tz: str = "Asia/Ho_Chi_Minh") -> Facets:
    """What facets must equal: every article read back and counted here."""
    out = Facets(values={f: {} for f in fields})
    buckets: dict[str, Facets] = {}
    for article in store.iter_articles(filters):
        targets = [out]
        if interval is not None:
            when = article.when
            assert when is not None
            key = _local_bucket(when, interval, tz)
            targets.append(buckets.setdefault(key, Facets(values={f: {} for f in fields})))
        keys = _keys(article)
        for target in targets:
            target.total += 1
            for f in fields:
                for value in keys[f]:
                    target.values[f][value] = target.values[f].get(value, 0) + 1
    out.buckets = dict(sorted(buckets.items()))
    return out


FILTERS = [
    None,
    SearchFilters(),
    SearchFilters(relevant_only=True),
    SearchFilters(province="51"),
    SearchFilters(source="vnexpress"),
    SearchFilters(lang="en"),
    SearchFilters(since=MIDNIGHT, until=datetime(2025, 8, 1, tzinfo=VN)),
    SearchFilters(since=datetime(2025, 7, 3, tzinfo=VN), relevant_only=True, province="51"),
    SearchFilters(since=datetime(2030, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f)[:60])
def test_facets_equal_python_counts(facet_store: Store, filters: SearchFilters | None) -> None:
    fields = list(FACET_FIELDS)
    assert facet_store.facets(filters, fields) == _python_facets(facet_store, filters, fields)


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize("filters", [None, SearchFilters(relevant_only=True)], ids=["all", "relevant"])
def test_facets_by_interval_equal_python_counts(facet_store: Store, interval: str,
                                                filters: SearchFilters | None) -> None:
    fields = ["topic", "tone", "source", "lang"]
    got = facet_store.facets(filters, fields, interval=interval)  # type: ignore[arg-type]
    assert got == _python_facets(facet_store, filters, fields, interval)
    assert list(got.buckets) == sorted(got.buckets)
    assert got.total == sum(b.total for b in got.buckets.values())


def test_counts_stated_by_hand(facet_store: Store) -> None:
    got = facet_store.facets(None, ["topic", "tone", "risk_level", "lang"])
    assert got.total == 10
    # An article counts once per assigned topic; none assigned (no labels, [] or only bad items) -> NO_VALUE.
    assert got.values["topic"] == {NO_VALUE: 3, "bien_dao": 1, "doi_ngoai": 2, "kieu_bao": 1,
                                   "du_lich_van_hoa": 2, "kinh_te_xa_hoi": 2, "an_ninh_trat_tu": 1,
                                   "thien_tai_dich_benh": 1}
    assert got.values["tone"] == {NO_VALUE: 2, "neutral": 3, "negative": 3, "positive": 2}
    assert got.values["risk_level"] == {NO_VALUE: 4, "cao": 2, "thấp": 3, "cần xem xét": 1}
    assert got.values["lang"] == {"vi": 7, "en": 2, NO_VALUE: 1}


def test_weeks_start_on_monday_at_local_midnight(facet_store: Store) -> None:
    window = SearchFilters(since=datetime(2025, 7, 6, tzinfo=VN), until=datetime(2025, 7, 8, tzinfo=VN))
    weeks = facet_store.facets(window, ["topic"], interval="week")
    assert {k: b.total for k, b in weeks.buckets.items()} == {"2025-06-30": 1, "2025-07-07": 1}
    days = facet_store.facets(window, ["topic"], interval="day")
    assert {k: b.total for k, b in days.buckets.items()} == {"2025-07-06": 1, "2025-07-07": 1}


def test_months_follow_the_local_calendar(facet_store: Store) -> None:
    # 2025-07-31T17:30Z is 1 August 00:30 local: August; 16:59Z is 31 July 23:59 local: July.
    months = facet_store.facets(SearchFilters(source="baodongthap"), ["source"], interval="month")
    assert {k: b.total for k, b in months.buckets.items()} == {"2025-07-01": 1, "2025-08-01": 1}
    utc = facet_store.facets(SearchFilters(source="baodongthap"), ["source"], interval="month", tz="UTC")
    assert {k: b.total for k, b in utc.buckets.items()} == {"2025-07-01": 2}


def test_buckets_across_daylight_saving_changes(store: Store) -> None:
    # Europe/Berlin moved to summer time on 30 March 2025 at 01:00Z and back on 26 October at 01:00Z.
    moments = [datetime(2025, 3, 29, 23, 30, tzinfo=UTC), datetime(2025, 3, 30, 22, 30, tzinfo=UTC),
               datetime(2025, 3, 30, 21, 59, tzinfo=UTC), datetime(2025, 10, 25, 21, 59, tzinfo=UTC),
               datetime(2025, 10, 25, 22, 0, tzinfo=UTC), datetime(2025, 10, 26, 23, 0, tzinfo=UTC)]
    for i, moment in enumerate(moments):
        store.upsert(_article(f"dst-{i}", moment))
    got = store.facets(None, ["source"], interval="day", tz="Europe/Berlin")
    assert {k: b.total for k, b in got.buckets.items()} == {
        "2025-03-30": 2, "2025-03-31": 1, "2025-10-25": 1, "2025-10-26": 1, "2025-10-27": 1}
    assert got == _python_facets(store, None, ["source"], "day", "Europe/Berlin")


def test_empty_store_and_no_match(store: Store) -> None:
    assert store.facets(None, ["topic", "tone"]) == Facets(values={"topic": {}, "tone": {}})
    assert store.facets(None, ["lang"], interval="week") == Facets(values={"lang": {}})


def test_unknown_field_or_interval_is_refused(facet_store: Store) -> None:
    with pytest.raises(ValueError, match="unknown facet field"):
        facet_store.facets(None, ["topics"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="interval"):
        facet_store.facets(None, ["topic"], interval="year")  # type: ignore[arg-type]


def test_facets_follow_label_updates(facet_store: Store) -> None:
    article = _corpus()[0]
    assert facet_store.set_labels(article.id, _labels(["bien_gioi"], tone="negative"))
    got = facet_store.facets(SearchFilters(relevant_only=True), ["topic", "tone"])
    assert got == _python_facets(facet_store, SearchFilters(relevant_only=True), ["topic", "tone"])
    assert got.values["topic"]["bien_gioi"] == 1
