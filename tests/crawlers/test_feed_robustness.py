"""Feeds and pages a robustness probe broke, crawled for real from a 127.0.0.1 server: feed items
whose link is not http(s), feed dates in Vietnamese and zone-less forms, a feed date that
contradicts the page, and a windows-1258 page served as iso-8859-1."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from crawl_testkit import windows_1258

from crawlers.decode import decode_document
from crawlers.events import CrawlEvent, CrawlFailure, FetchedDoc, ValidatorUpdate
from crawlers.extract import extract_article
from crawlers.runner import crawl
from haidang.record import Article, Fetched
from haidang.settings import CrawlSettings, Selectors, Source
from haidang.sites import serve_sites

FAST = CrawlSettings(
    download_timeout_s=2.0, retry_times=0, autothrottle_start_delay_s=0.0, autothrottle_max_delay_s=0.5,
    concurrent_per_domain=4, concurrent_total=16,
)
SELECTORS = Selectors(title="h1", body="div.body", date="span.post-date")
TITLE_1258 = "Quảng Ngãi đón tàu du lịch quốc tế đến Lý Sơn"


def _rss(*items: tuple[str, str, str | None]) -> str:
    body = "".join(f"<item><title>{title}</title><link>{link}</link>"
                   + (f"<pubDate>{date}</pubDate>" if date else "") + "</item>" for link, title, date in items)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'


def _page(title: str, shown_date: str = "") -> str:
    date = f'<span class="post-date">{shown_date}</span>' if shown_date else ""
    return (f'<html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head><body>'
            f'<h1>{title}</h1>{date}<div class="body"><p>Bài viết về {title}, đặc khu Lý Sơn, tỉnh Quảng Ngãi.'
            "</p><p>Đoạn thứ hai của bài viết.</p><p>Đoạn thứ ba của bài viết.</p></div></body></html>")




def _write_site(root: Path) -> None:
    files = {
        "f/follow-bad.rss": _rss(("/a/1.html", "Một", None), ("mailto:toasoan@example.vn", "Thư", None),
                                 ("/a/2.html", "Hai", None), ("/a/3.html", "Ba", None)),
        "f/feed-only.rss": _rss(
            ("javascript:alert(1)", "Script", None), ("mailto:a@b.c", "Thư", None), ("urn:2", "Urn", None),
            ("{BASE}/o/1.html", "Ngày tiếng Việt", "Thứ ba, 28/03/2023 08:26"),
            ("{BASE}/o/2.html", "Ngày ISO không múi giờ", "2023-03-28 08:26:00"),
            ("{BASE}/o/3.html", "Ngày trước tháng", "28-03-2023 08:26"),
            ("{BASE}/o/4.html", "RFC 822 không múi giờ", "Tue, 28 Mar 2023 08:26:00"),
            ("{BASE}/o/5.html", "Năm gõ nhầm", "28 Mar 2099")),
        # The feed says 08:26 UTC (15:26 in Quảng Ngãi); the page shows 08:26 local: the page wins.
        "f/dated.rss": _rss(("/p/dated.html", "Ngày sai trong feed", "Tue, 28 Mar 2023 08:26:00 GMT")),
        # The fixture server sends this path with "Content-Type: text/html; charset=iso-8859-1".
        "f/charset.rss": _rss(("/faults/wrong-charset.html", TITLE_1258, None)),
        "a/1.html": _page("Một"), "a/2.html": _page("Hai"), "a/3.html": _page("Ba"),
        "p/dated.html": _page("Ngày sai trong feed", "Thứ ba, 28/03/2023 08:26"),
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    page = _page(TITLE_1258).replace('<meta charset="utf-8">', '<meta charset="windows-1258">')
    (root / "faults").mkdir()
    (root / "faults" / "wrong-charset.html").write_bytes(windows_1258(page))


@pytest.fixture(scope="module")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("probe-site")
    _write_site(root)
    with serve_sites(root) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def events(probe_site: str, make_source: Callable[..., Source]) -> list[CrawlEvent]:
    sources = [
        make_source(id="follow-bad", feeds=[f"{probe_site}/f/follow-bad.rss"]),
        make_source(id="feed-only", feeds=[f"{probe_site}/f/feed-only.rss"], follow_links=False),
        make_source(id="dated", feeds=[f"{probe_site}/f/dated.rss"]),
        make_source(id="charset", feeds=[f"{probe_site}/f/charset.rss"]),
    ]
    return list(crawl(sources, FAST, {}))


def _of(events: list[CrawlEvent], kind: type, source_id: str) -> list[Any]:
    return [e for e in events if isinstance(e, kind) and getattr(e, "source_id", None) == source_id]


def _extract(doc: FetchedDoc) -> Article:
    """What the pipeline does with a fetched document, up to extraction."""
    entry = doc.entry
    fetched = Fetched(source_id=doc.source_id, url=doc.url, final_url=doc.final_url, status=doc.status,
                      fetched_at=doc.fetched_at, feed_url=doc.feed_url,
                      feed_title=entry.title if entry else None,
                      feed_published=entry.published if entry else None)
    if doc.body is not None:
        decoded = decode_document(doc.body, doc.headers.get("content-type"))
        fetched.html, fetched.encoding, fetched.encoding_from = decoded.text, decoded.encoding, decoded.source
    return extract_article(Article(fetched=fetched), SELECTORS)


def test_a_non_web_link_does_not_stop_the_rest_of_the_feed(events: list[CrawlEvent], probe_site: str) -> None:
    docs = _of(events, FetchedDoc, "follow-bad")
    assert sorted(d.url.removeprefix(probe_site) for d in docs) == ["/a/1.html", "/a/2.html", "/a/3.html"]
    assert all(d.body for d in docs)
    # No failure at all, so the feed's validators are kept and the next poll can be a 304.
    assert _of(events, CrawlFailure, "follow-bad") == []
    assert f"{probe_site}/f/follow-bad.rss" in {e.url for e in events if isinstance(e, ValidatorUpdate)}


def test_feed_only_items_keep_web_links_and_read_dates_in_local_time(events: list[CrawlEvent],
                                                                      probe_site: str) -> None:
    assert _of(events, CrawlFailure, "feed-only") == []
    docs = {d.url.removeprefix(probe_site): d for d in _of(events, FetchedDoc, "feed-only")}
    assert sorted(docs) == ["/o/1.html", "/o/2.html", "/o/3.html", "/o/4.html", "/o/5.html"]
    published = {path: _extract(doc).content.published for path, doc in sorted(docs.items())}
    assert {path: value.isoformat() if value else None for path, value in published.items()} == {
        "/o/1.html": "2023-03-28T08:26:00+07:00",
        "/o/2.html": "2023-03-28T08:26:00+07:00",
        "/o/3.html": "2023-03-28T08:26:00+07:00",
        "/o/4.html": "2023-03-28T08:26:00+07:00",
        "/o/5.html": None,
    }


def test_the_page_date_outranks_a_feed_date_that_contradicts_it(events: list[CrawlEvent]) -> None:
    [doc] = _of(events, FetchedDoc, "dated")
    assert doc.entry is not None and doc.entry.published.isoformat() == "2023-03-28T08:26:00+00:00"
    content = _extract(doc).content
    assert content.published.isoformat() == "2023-03-28T08:26:00+07:00"
    assert content.published_from == "selector"


def test_windows_1258_page_served_as_latin_1_is_read_by_its_declaration(events: list[CrawlEvent]) -> None:
    [doc] = _of(events, FetchedDoc, "charset")
    assert doc.headers["content-type"] == "text/html; charset=iso-8859-1"
    article = _extract(doc)
    assert (article.fetched.encoding, article.fetched.encoding_from) == ("cp1258", "declaration")
    assert article.content.title == TITLE_1258
    assert unicodedata.is_normalized("NFC", article.content.text)
    assert "đặc khu Lý Sơn, tỉnh Quảng Ngãi" in article.content.text
