"""Crawls against the fixture server, through the real child process: feeds, pages, sites,
conditional GET, every fault path, and the child's life cycle."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from crawlers.events import (
    CrawlEvent,
    CrawlFailure,
    FetchedDoc,
    NotModified,
    Skipped,
    SourceFinished,
    ValidatorUpdate,
)
from crawlers.runner import crawl
from haidang.settings import CrawlSettings, Source
from haidang.store.base import Validators

SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"

# Fast and strict: timeouts far below conftest.SLOW_SECONDS, a size cap far below
# conftest.OVERSIZE_BYTES, no politeness delay against our own test server.
FAST = CrawlSettings(
    download_timeout_s=0.75, retry_times=1, max_size_bytes=50_000, warn_size_bytes=40_000,
    autothrottle_start_delay_s=0.0, autothrottle_max_delay_s=0.5, max_redirects=3,
    concurrent_per_domain=2, concurrent_total=16,
)

ARTICLES = {
    "vnexpress": [
        "vnexpress/thoi-su/quang-ngai-don-tau-du-lich-quoc-te-den-ly-son-4870001.html",
        "vnexpress/kinh-doanh/nha-may-loc-dau-dung-quat-bao-duong-dinh-ky-4870002.html",
        "vnexpress/thoi-su/lua-dong-xuan-vung-dong-thap-muoi-4870003.html",
    ],
    "tuoitre": [
        "tuoitre/quang-ngai-hut-von-dau-tu-quy-i-20260310081500123.htm",
        "tuoitre/bao-so-3-do-bo-khanh-hoa-20260311093000456.htm",
    ],
    "baoquangngai": [
        "baoquangngai/kinh-te/202603/quang-ngai-thu-hut-dau-tu-quy-i-3201.htm",
        "baoquangngai/xa-hoi/202603/mang-den-vao-mua-hoa-3202.htm",
    ],
    "foreign-en": [
        "foreign-en/asia/vietnam-quang-ngai-steel-plant-expansion.html",
        "foreign-en/asia/central-vietnam-floods-premium.html",
    ],
    "quangngai-gov": [
        "quangngai-gov/tin-tuc/trien-khai-ke-hoach-thong-tin-doi-ngoai-nam-2026.html",
        "quangngai-gov/tin-tuc/hoi-nghi-xuc-tien-dau-tu-tai-ly-son.html",
    ],
}
FEEDS = {
    "vnexpress": "vnexpress/rss/tin-moi-nhat.rss",
    "tuoitre": "tuoitre/rss/tin-moi-nhat.rss",
    "baoquangngai": "baoquangngai/rss/home.rss",
    "foreign-en": "foreign-en/feeds/asia.atom",
}


def site_sources(base: str, make_source: Callable[..., Source]) -> list[Source]:
    """The fixture sites, configured as tests/fixtures/sites/sources.yaml configures them."""
    sources = [make_source(id=sid, feeds=[f"{base}/{path}"]) for sid, path in FEEDS.items()]
    sources.append(make_source(id="youtube-qtv", kind="platform", follow_links=False,
                               feeds=[f"{base}/youtube/feeds/videos.xml"]))
    sources.append(make_source(id="quangngai-gov", kind="government_portal", crawl={
        "start_urls": [f"{base}/quangngai-gov/tin-tuc/index.html"],
        "sitemaps": [f"{base}/quangngai-gov/sitemap.xml"],
        "allow": [r"/quangngai-gov/tin-tuc/[a-z0-9-]+\.html$"],
        "deny": [r"/index\.html$"],
        "max_depth": 1,
    }))
    return sources


def fault_sources(base: str, make_source: Callable[..., Source]) -> list[Source]:
    feed = lambda sid, name, **kw: make_source(id=sid, feeds=[f"{base}/faults/{name}"], **kw)
    return [
        feed("faults-follow", "feed-follow.rss"),
        feed("not-a-feed", "not-a-feed.rss"),
        feed("html-as-feed", "html-as-feed.rss"),
        feed("broken-feed", "broken-but-readable.rss", follow_links=False),
        feed("windows-1258", "feed-windows-1258.rss", follow_links=False),
        feed("mixed-encoding", "feed-mixed-encoding.rss", follow_links=False),
        feed("wrong-charset", "feed-wrong-charset.rss", follow_links=False),
        feed("missing-feed", "missing-feed.rss"),
        feed("slow-feed", "slow"),
    ]


def run(sources: list[Source], settings: CrawlSettings = FAST,
        validators: dict[str, Validators] | None = None) -> list[CrawlEvent]:
    return list(crawl(sources, settings, validators or {}))


def of(events: Iterable[CrawlEvent], kind: type, source_id: str | None = None) -> list[Any]:
    return [e for e in events if isinstance(e, kind)
            and (source_id is None or getattr(e, "source_id", None) == source_id)]


def by_url(events: Iterable[CrawlEvent], base: str) -> dict[str, list[CrawlEvent]]:
    """Events keyed by URL path (without the base), ValidatorUpdates and SourceFinished left out."""
    found: dict[str, list[CrawlEvent]] = {}
    for event in events:
        url = getattr(event, "url", None)
        if url and not isinstance(event, ValidatorUpdate):
            found.setdefault(url.removeprefix(base + "/"), []).append(event)
    return found


def crawl_children() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "haidang-crawl"]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def first_pass(fixture_site: str, make_source: Callable[..., Source]) -> list[CrawlEvent]:
    """One crawl of every fixture site and every fault source together."""
    return run(site_sources(fixture_site, make_source) + fault_sources(fixture_site, make_source))


# -- feeds, pages and sites -----------------------------------------------------------------


def test_every_source_finishes_once_and_last(first_pass: list[CrawlEvent],
                                             fixture_site: str, make_source: Callable[..., Source]) -> None:
    ids = [s.id for s in site_sources(fixture_site, make_source) + fault_sources(fixture_site, make_source)]
    finished = [e.source_id for e in of(first_pass, SourceFinished)]
    assert sorted(finished) == sorted(ids)
    for source_id in ids:
        mine = [e for e in first_pass if getattr(e, "source_id", None) == source_id]
        assert isinstance(mine[-1], SourceFinished)


def test_site_feeds_are_parsed_and_their_articles_fetched(first_pass: list[CrawlEvent],
                                                         fixture_site: str) -> None:
    for source_id, paths in ARTICLES.items():
        assert not of(first_pass, CrawlFailure, source_id), source_id
        docs = {d.url.removeprefix(fixture_site + "/"): d for d in of(first_pass, FetchedDoc, source_id)}
        assert sorted(docs) == sorted(paths), source_id
        for doc in docs.values():
            assert doc.status == 200 and doc.body and doc.final_url == doc.url
            assert doc.headers["content-type"].startswith("text/html")
            assert doc.fetched_at.tzinfo is not None
            if source_id in FEEDS:
                assert doc.feed_url == f"{fixture_site}/{FEEDS[source_id]}"
                assert doc.entry is not None and doc.entry.title and doc.entry.published is not None
                assert doc.entry.published.utcoffset() is not None


def test_feed_entry_fields(first_pass: list[CrawlEvent]) -> None:
    entries = {d.entry.title: d.entry for d in of(first_pass, FetchedDoc) if d.entry is not None}
    lyson = entries["Quảng Ngãi đón tàu du lịch quốc tế đến Lý Sơn"]
    assert lyson.summary.startswith("Tàu du lịch quốc tế chở hơn 600 khách")   # tags stripped
    assert "<" not in lyson.summary
    assert lyson.published is not None and lyson.published.isoformat() == "2026-03-10T01:05:00+00:00"
    # Tuổi Trẻ writes its zone as "GMT+7", which feedparser alone does not read.
    storm = entries["Bão số 3 đổ bộ Khánh Hòa, hơn 1.200 nhà tốc mái"]
    assert storm.published is not None and storm.published.isoformat() == "2026-03-11T02:30:00+00:00"
    assert storm.guid == "20260311093000456"
    steel = entries["Vietnam’s Quang Ngai Bets on Steel as Dung Quat Expansion Gets the Nod"]
    assert steel.author == "Hanna Lee"


def test_platform_feed_items_are_passed_on_without_fetching(first_pass: list[CrawlEvent],
                                                          fixture_server: Any) -> None:
    docs = of(first_pass, FetchedDoc, "youtube-qtv")
    assert [d.url for d in docs] == ["https://www.youtube.com/watch?v=qNgLySon001",
                                     "https://www.youtube.com/watch?v=qNgDungQ002"]
    for doc in docs:
        assert doc.body is None and doc.entry is not None and doc.entry.author == "Quảng Ngãi TV"
    # YouTube's text is in media:description.
    assert docs[0].entry.summary.startswith("Sáng 10/3, đặc khu Lý Sơn đón hơn 600 du khách châu Âu")


def test_site_spider_fetches_articles_once_and_ignores_navigation(first_pass: list[CrawlEvent],
                                                                 fixture_server: Any) -> None:
    docs = of(first_pass, FetchedDoc, "quangngai-gov")
    assert len(docs) == 2 and all(d.entry is None and d.feed_url is None for d in docs)
    for path in ("/quangngai-gov/gioi-thieu/tong-quan.html", "/quangngai-gov/lien-he.html",
                 "/quangngai-gov/tin-tuc/index.html?page=2"):
        assert not fixture_server.requests_for(path)
    # Listed by both the sitemap and the listing page, fetched once.
    assert len(fixture_server.requests_for(
        "/quangngai-gov/tin-tuc/hoi-nghi-xuc-tien-dau-tu-tai-ly-son.html")) >= 1
    assert len(of(first_pass, FetchedDoc, "quangngai-gov")) == len({d.url for d in docs})


def test_requests_identify_the_crawler(fixture_server: Any, first_pass: list[CrawlEvent]) -> None:
    seen = fixture_server.requests_for("/vnexpress/rss/tin-moi-nhat.rss")
    # The server is shared by the whole session: other tests' crawls (other user agents) hit it too.
    assert any(h["user-agent"] == FAST.user_agent for h in seen)
    assert all("cookie" not in h for h in seen)


# -- faults ---------------------------------------------------------------------------------


def test_each_fault_gives_its_event(first_pass: list[CrawlEvent], fixture_site: str) -> None:
    events = by_url(of(first_pass, (FetchedDoc, CrawlFailure, Skipped), "faults-follow"), fixture_site)

    def only(path: str) -> Any:
        assert len(events.get(path, [])) == 1, (path, events.get(path))
        return events[path][0]

    assert isinstance(only("faults/pages/ok-4.html"), FetchedDoc)
    redirected = only("faults/redirect-to-page")
    assert isinstance(redirected, FetchedDoc)
    assert redirected.final_url == f"{fixture_site}/faults/pages/ok-3.html"

    expected_failures = {
        "faults/slow": ("DownloadTimeoutError", True),
        "faults/truncated.html": (None, True),
        "faults/status-500": ("HttpError", True),
        "faults/status-503": ("HttpError", True),
        "faults/missing-page.html": ("HttpError", False),
        "faults/redirect-loop": ("RedirectLoop", False),
    }
    for path, (error_class, transient) in expected_failures.items():
        failure = only(path)
        assert isinstance(failure, CrawlFailure), (path, failure)
        assert failure.stage == "fetch" and failure.transient is transient, failure
        if error_class:
            assert failure.error_class == error_class, failure
        assert path in failure.message or "redirect" in failure.message
    # No Retry-After: retried like a 500 (a long one would pause the host: test_politeness).
    assert "503" in only("faults/status-503").message
    assert "after 2 attempts" in only("faults/status-500").message
    assert "after 2 attempts" in only("faults/status-503").message
    assert "404" in only("faults/missing-page.html").message

    skipped = {
        "faults/oversize.html": "oversize",
        "faults/oversize-unannounced.html": "oversize",
        "faults/bao-cao-quy-i.pdf": "not-html",
        "faults/robots-denied/secret.html": "robots",
    }
    for path, reason in skipped.items():
        event = only(path)
        assert isinstance(event, Skipped) and event.reason == reason, (path, event)
    # The mislabelled page is still a document; decoding it is the extractor's job.
    assert isinstance(only("faults/wrong-charset.html"), FetchedDoc)


def test_robots_disallowed_page_is_never_requested(first_pass: list[CrawlEvent], fixture_server: Any) -> None:
    assert fixture_server.requests_for("/robots.txt")
    assert not fixture_server.requests_for("/faults/robots-denied/secret.html")


def test_unreadable_feeds_are_failures_of_their_source(first_pass: list[CrawlEvent],
                                                      fixture_site: str) -> None:
    for source_id in ("not-a-feed", "html-as-feed"):
        failures = of(first_pass, CrawlFailure, source_id)
        assert len(failures) == 1 and failures[0].stage == "feed", failures
        assert "not a readable RSS/Atom feed" in failures[0].message
        assert not of(first_pass, FetchedDoc, source_id)
        # No validators for a feed we could not read, so the next run reads it again.
        assert not [v for v in of(first_pass, ValidatorUpdate) if "feed" in v.url and source_id in v.url]
    missing = of(first_pass, CrawlFailure, "missing-feed")
    assert [(f.stage, f.error_class, f.transient) for f in missing] == [("fetch", "HttpError", False)]
    slow = of(first_pass, CrawlFailure, "slow-feed")
    assert [(f.error_class, f.transient) for f in slow] == [("DownloadTimeoutError", True)]


def test_ill_formed_feed_still_yields_its_entries(first_pass: list[CrawlEvent]) -> None:
    failures = of(first_pass, CrawlFailure, "broken-feed")
    assert len(failures) == 1 and failures[0].stage == "feed"
    assert "2 entries were still read" in failures[0].message
    titles = [d.entry.title for d in of(first_pass, FetchedDoc, "broken-feed")]
    assert titles == ["Quảng Ngãi & Đà Nẵng ký kết hợp tác phát triển du lịch",
                      "Giá cá ngừ đại dương tăng mạnh đầu vụ"]


@pytest.mark.parametrize(("source_id", "titles"), [
    ("windows-1258", ["Lý Sơn tăng chuyến tàu khách dịp cuối tuần",
                      "Đường ven biển Dung Quất - Sa Huỳnh thông xe đoạn cuối"]),
    ("mixed-encoding", ["Quảng Ngãi khai trương tuyến xe buýt đến cảng Sa Kỳ",
                        "Hội thảo bảo tồn di sản Hải đội Hoàng Sa",
                        "Nông dân Bình Sơn xuống giống lúa hè thu sớm"]),
    ("wrong-charset", ["Khánh thành cầu Trà Khúc 3"]),
])
def test_badly_encoded_feeds_decode_to_clean_nfc_text(first_pass: list[CrawlEvent], source_id: str,
                                                     titles: list[str]) -> None:
    docs = of(first_pass, FetchedDoc, source_id)
    assert [d.entry.title for d in docs] == titles
    assert not of(first_pass, CrawlFailure, source_id)


# -- conditional GET ----------------------------------------------------------------------


def test_recrawl_with_validators_is_all_not_modified(first_pass: list[CrawlEvent], fixture_site: str,
                                                    fixture_server: Any,
                                                    make_source: Callable[..., Source]) -> None:
    sources = site_sources(fixture_site, make_source)
    ids = {s.id for s in sources}
    updates = of(first_pass, ValidatorUpdate)
    validators = {u.url: Validators(url=u.url, etag=u.etag, last_modified=u.last_modified) for u in updates}
    assert all(f"{fixture_site}/{FEEDS[s]}" in validators for s in FEEDS)
    before = len(fixture_server.requests)

    second = run(sources, validators=validators)

    assert not of(second, FetchedDoc) or all(d.body is None for d in of(second, FetchedDoc))
    assert not of(second, CrawlFailure) and not of(second, ValidatorUpdate)
    not_modified = {e.url for e in of(second, NotModified)}
    for path in FEEDS.values():
        assert f"{fixture_site}/{path}" in not_modified
    for path in ("quangngai-gov/sitemap.xml", "quangngai-gov/tin-tuc/index.html"):
        assert f"{fixture_site}/{path}" in not_modified
    assert sorted(e.source_id for e in of(second, SourceFinished)) == sorted(ids)
    sent = [h for _, h in fixture_server.requests[before:] if "if-none-match" in h]
    assert sent and all("if-modified-since" in h for h in sent)


def test_validators_for_a_feed_come_after_its_pages(fixture_site: str,
                                                    make_source: Callable[..., Source]) -> None:
    feed_url = f"{fixture_site}/faults/feed-ok.rss"
    events = run([make_source(id="ok", feeds=[feed_url])])
    kinds = [(type(e).__name__, getattr(e, "url", "")) for e in events]
    feed_update = kinds.index(("ValidatorUpdate", feed_url))
    docs = [i for i, (kind, _) in enumerate(kinds) if kind == "FetchedDoc"]
    assert len(docs) == 2 and max(docs) < feed_update


def test_304_without_our_validators_is_a_failure(fixture_site: str,
                                                 make_source: Callable[..., Source]) -> None:
    url = f"{fixture_site}/faults/always-304.rss"
    source = make_source(id="always-304", feeds=[url])
    plain = run([source])
    assert [(f.error_class, "304" in f.message) for f in of(plain, CrawlFailure)] == [("HttpError", True)]
    conditional = run([source], validators={url: Validators(url=url, etag='"abc"')})
    assert of(conditional, NotModified) == [NotModified(source_id="always-304", url=url)]
    assert not of(conditional, CrawlFailure)


# -- private addresses --------------------------------------------------------------------


def test_non_local_source_may_not_follow_links_to_private_addresses(
        fixture_site: str, make_source: Callable[..., Source]) -> None:
    source = make_source(id="public-outlet", local=False, feeds=[f"{fixture_site}/faults/feed-ok.rss"])
    events = run([source])
    assert {(e.url.removeprefix(fixture_site), e.reason) for e in of(events, Skipped)} == {
        ("/faults/pages/ok-1.html", "private-address"), ("/faults/pages/ok-2.html", "private-address")}
    assert not of(events, FetchedDoc) and not of(events, CrawlFailure)


def test_private_redirect_target_of_a_configured_url_is_refused(
        fixture_site: str, make_source: Callable[..., Source]) -> None:
    source = make_source(id="public-site", local=False, crawl={
        "start_urls": [f"{fixture_site}/faults/redirect-to-page"], "allow": ["ok-"]})
    events = run([source])
    failures = of(events, CrawlFailure)
    assert [(f.error_class, f.url) for f in failures] == [
        ("PrivateAddressRefused", f"{fixture_site}/faults/redirect-to-page")]


# -- site spider ----------------------------------------------------------------------------


def test_listing_pages_are_followed_to_max_depth(fixture_site: str,
                                                 make_source: Callable[..., Source]) -> None:
    source = make_source(id="listing", crawl={
        "start_urls": [f"{fixture_site}/faults/listing/index.html"],
        "allow": [r"/faults/pages/ok-\d\.html$"], "follow": [r"/faults/listing/page-\d\.html$"],
        "max_depth": 1})
    events = run([source])
    assert sorted(d.url.rsplit("/", 1)[1] for d in of(events, FetchedDoc)) == ["ok-1.html", "ok-2.html", "ok-3.html"]
    assert not of(events, CrawlFailure)


def test_sitemap_index_and_page_cap(fixture_site: str, make_source: Callable[..., Source]) -> None:
    source = make_source(id="sitemaps", crawl={
        "sitemaps": [f"{fixture_site}/faults/sitemap-index.xml"], "allow": [r"/faults/pages/"]})
    events = run([source])
    assert sorted(d.url.rsplit("/", 1)[1] for d in of(events, FetchedDoc)) == ["ok-1.html", "ok-2.html"]
    assert [(f.stage, f.url.rsplit("/", 1)[1]) for f in of(events, CrawlFailure)] == [
        ("sitemap", "broken-sitemap.xml")]

    capped = run([source], settings=FAST.model_copy(update={"max_pages_per_source": 1}))
    assert len(of(capped, FetchedDoc)) == 1
    assert [s.reason for s in of(capped, Skipped)] == ["page-cap"]


# -- the child process ----------------------------------------------------------------------


def test_crawl_runs_twice_in_one_process(fixture_site: str, make_source: Callable[..., Source]) -> None:
    source = make_source(id="twice", feeds=[f"{fixture_site}/faults/feed-ok.rss"], follow_links=False)
    for _ in range(2):
        events = run([source])
        assert len(of(events, FetchedDoc)) == 2 and of(events, SourceFinished)
    assert wait_until(lambda: not crawl_children())


def test_stopping_early_ends_the_child(fixture_site: str, make_source: Callable[..., Source]) -> None:
    sources = [make_source(id=f"slow-{i}", feeds=[f"{fixture_site}/faults/slow"]) for i in range(3)]
    sources.insert(0, make_source(id="quick", feeds=[f"{fixture_site}/faults/feed-ok.rss"], follow_links=False))
    events = crawl(sources, FAST.model_copy(update={"download_timeout_s": 30.0}), {})
    first = next(events)
    assert crawl_children()
    events.close()
    assert isinstance(first, FetchedDoc)
    assert wait_until(lambda: not crawl_children(), timeout=5)


def test_a_dead_child_becomes_failures_not_a_hang(fixture_site: str,
                                                  make_source: Callable[..., Source]) -> None:
    sources = [make_source(id="quick", feeds=[f"{fixture_site}/faults/feed-ok.rss"], follow_links=False),
               make_source(id="stuck", feeds=[f"{fixture_site}/faults/slow"])]
    events = crawl(sources, FAST.model_copy(update={"download_timeout_s": 30.0}), {})
    seen = [next(events)]
    (child,) = crawl_children()
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    seen.extend(events)
    failure = [e for e in seen if isinstance(e, CrawlFailure) and e.source_id == "stuck"]
    assert [(f.stage, f.error_class, f.transient) for f in failure] == [("crawl", "CrawlProcessDied", True)]
    assert {e.source_id for e in of(seen, SourceFinished)} == {"quick", "stuck"}


def test_the_page_cap_is_spent_on_pages_never_fetched(fixture_site: str, make_source: Callable[..., Source]) -> None:
    """A feed longer than the cap: the next run fetches the next pages, not the stored ones again."""
    source = make_source(id="vnexpress", feeds=[f"{fixture_site}/{FEEDS['vnexpress']}"])
    capped = FAST.model_copy(update={"max_pages_per_source": 1})
    first = of(run([source], settings=capped), FetchedDoc)
    assert len(first) == 1
    known = {d.url: Validators(url=d.url, etag='"seen"') for d in first}
    second = of(run([source], settings=capped, validators=known), FetchedDoc)
    assert len(second) == 1 and second[0].url not in known
