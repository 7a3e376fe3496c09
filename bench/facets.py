"""Report and digest counts on a 50,000-article SQLite store: Store.facets against reading every article.

The store holds two years of generated, labelled articles (topics, tone, risk, four languages,
40 sources) with about 2 KB of text each, no raw HTML (retention drops it after a while anyway).
The built store is cached under the temp folder, keyed by size, seed and schema version. Each
case counts the same thing both ways, checks that the two agree, and reports the faster of
`--rounds` timings of each; exit 1 on any disagreement. It measures, it sets no target.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from haidang.record import Article, Content, Fetched, article_id
from haidang.store.base import NO_VALUE, FacetField, Facets, SearchFilters
from haidang.store.buckets import Interval
from haidang.store.schema import latest_version
from haidang.store.sqlite import SqliteStore

__all__ = ["main", "python_facets"]

_log = logging.getLogger("bench.facets")

_VN = timezone(timedelta(hours=7))
_TZ = "Asia/Ho_Chi_Minh"
_START = datetime(2024, 1, 1, tzinfo=_VN)
_DAYS = 730
_SOURCES = [f"source-{i:02d}" for i in range(40)]
_TOPICS = ["bien_dao", "bien_gioi", "nhan_quyen_ton_giao_dan_toc", "doi_ngoai", "dau_tu_thuong_mai",
           "du_lich_van_hoa", "kinh_te_xa_hoi", "an_ninh_trat_tu", "thien_tai_dich_benh", "kieu_bao"]
_TEXT = ("tỉnh Quảng Ngãi đầu tư du lịch biển đảo Lý Sơn kinh tế xã hội người dân chính quyền "
         "hội nghị phát triển hạ tầng giao thông nông nghiệp thủy sản bão lũ cứu trợ doanh nghiệp")
_WORDS = _TEXT.split()
_FIELDS: tuple[FacetField, ...] = ("topic", "tone", "source", "lang")


def _articles(count: int, seed: int) -> Iterator[Article]:
    rng = random.Random(seed)
    for i in range(count):
        moment = _START + timedelta(seconds=rng.randrange(_DAYS * 86400))
        source = rng.choice(_SOURCES)
        url = f"https://{source}.example.vn/bai-{i}.html"
        labels: dict[str, object] = {}
        if rng.random() < 0.9:      # one in ten not labelled yet
            topics = rng.sample(_TOPICS, rng.choice([0, 1, 1, 1, 2, 3]))
            labels = {"section": {"label": "xa_hoi", "score": 0.8},
                      "topics": [{"id": t, "score": 0.7, "evidence": ["cụm từ"]} for t in topics],
                      "tone": {"label": rng.choice(["positive", "neutral", "neutral", "negative"]), "score": 0.6,
                               "evidence": ["câu nói về tỉnh"], "scope": "province"},
                      "risk": {"score": 0.2, "level": rng.choice(["thấp", "thấp", "cần xem xét", "cao"]),
                               "reasons": [{"signal": "source_kind", "evidence": "báo chí", "weight": -0.6}]}}
        text = " ".join(rng.choice(_WORDS) for _ in range(300))
        yield Article(
            id=article_id(url),
            fetched=Fetched(source_id=source, url=url, canonical_url=url, final_url=url),
            content=Content(title=" ".join(rng.sample(_WORDS, 8)), text=text,
                            language=rng.choice(["vi", "vi", "vi", "en", "zh", None]),
                            published=moment if rng.random() < 0.9 else None, first_seen=moment),
            province_code="51", relevant=rng.random() < 0.6, labels=labels,
        )


def _build(path: Path, count: int, seed: int) -> float:
    partial = path.with_name(path.name + ".building")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    began = time.perf_counter()
    with SqliteStore(partial) as store:
        for n, article in enumerate(_articles(count, seed), start=1):
            store.upsert(article)
            if n % 10_000 == 0:
                _log.info("built %d/%d articles", n, count)
    partial.rename(path)
    return time.perf_counter() - began


def python_facets(store: SqliteStore, filters: SearchFilters, interval: Interval | None) -> Facets:
    """The counts as the digest and report made them before Store.facets: every article read."""
    tz = ZoneInfo(_TZ)
    out = Facets(values={f: {} for f in _FIELDS})
    for article in store.iter_articles(filters):
        targets = [out]
        if interval is not None and article.when is not None:
            day = article.when.astimezone(tz).date()
            day = day - timedelta(days=day.weekday()) if interval == "week" else day.replace(day=1)
            targets.append(out.buckets.setdefault(day.isoformat(), Facets(values={f: {} for f in _FIELDS})))
        keys = {"topic": article.topic_ids or [NO_VALUE], "tone": [article.tone_label or NO_VALUE],
                "source": [article.fetched.source_id], "lang": [article.content.language or NO_VALUE]}
        for target in targets:
            target.total += 1
            for field, values in keys.items():
                for value in values:
                    target.values[field][value] = target.values[field].get(value, 0) + 1
    out.buckets = dict(sorted(out.buckets.items()))
    return out


def _best(run: Callable[[], Facets], rounds: int) -> tuple[float, Facets]:
    times, result = [], Facets()
    for _ in range(rounds):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.facets", description=__doc__)
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20250701)
    parser.add_argument("--rounds", type=int, default=2, help="timings per case; the fastest is reported")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "haidang-bench")
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"facets-{args.articles}-{args.seed}-schema{latest_version()}.sqlite3"
    if args.rebuild or not path.exists():
        _log.info("building %d articles into %s", args.articles, path)
        _log.info("built in %.1f s", _build(path, args.articles, args.seed))
    else:
        _log.info("using cached store %s (--rebuild to build again)", path)

    year = SearchFilters(since=datetime(2025, 1, 1, tzinfo=_VN), until=datetime(2026, 1, 1, tzinfo=_VN),
                         relevant_only=True)
    quarter = SearchFilters(since=datetime(2025, 4, 1, tzinfo=_VN), until=datetime(2025, 7, 1, tzinfo=_VN),
                            relevant_only=True)
    day = SearchFilters(since=datetime(2025, 6, 2, 7, tzinfo=_VN), until=datetime(2025, 6, 3, 7, tzinfo=_VN))
    cases: list[tuple[str, SearchFilters, Interval | None]] = [
        ("all articles, no interval", SearchFilters(), None),
        ("report, a year by month (relevant)", year, "month"),
        ("report, a quarter by week (relevant)", quarter, "week"),
        ("digest, one day", day, None),
    ]
    failed = 0
    with SqliteStore(path) as store:
        store.facets(SearchFilters(), _FIELDS)          # warm the page cache for both ways alike
        for name, filters, interval in cases:
            slow, expected = _best(partial(python_facets, store, filters, interval), args.rounds)
            fast, got = _best(partial(store.facets, filters, _FIELDS, interval=interval, tz=_TZ), args.rounds)
            same = got == expected
            failed += not same
            _log.info("facets, %s: %d articles; iter_articles + Python %.3f s, Store.facets %.3f s (%.1fx)%s",
                      name, got.total, slow, fast, slow / fast if fast else float("inf"),
                      "" if same else "  COUNTS DIFFER")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
