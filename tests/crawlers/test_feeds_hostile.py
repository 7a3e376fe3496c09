"""Hostile feeds and hosts, crawled for real from 127.0.0.1: entity expansion and external
entities, documents that are not feeds, links no request can be made for or that point inside the
network, impossible dates, redirects without end, a server that trickles or hangs up, feeds and
sitemaps past the size cap (on the wire, once inflated from gzip, deflate, brotli, zstd or a bare
`.gz` file) and compression bombs, robots.txt files that are huge or redirect elsewhere, and a feed
slow enough to parse that it held up every other source. A canary server on its own port records anything that reaches it:
nothing should.

Each fault has its own path on a scripted host (`Host`); each test names what must hold.
"""

from __future__ import annotations

import gzip
import random
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli  # Scrapy's dependencies (2.13 and later): crawlers.feedhead inflates them up to the cap
import pytest
from backports import zstd
from pydantic import ValidationError

from crawlers.events import CrawlEvent, CrawlFailure, FetchedDoc, Skipped, SourceFinished, ValidatorUpdate
from crawlers.runner import crawl
from haidang.settings import URL_LENGTH_LIMIT, CrawlSettings, Source

SETTINGS = CrawlSettings(
    download_timeout_s=2.0, retry_times=0, max_size_bytes=2_000_000, warn_size_bytes=1_500_000,
    autothrottle_start_delay_s=0.0, autothrottle_max_delay_s=0.5, max_redirects=3,
    concurrent_per_domain=4, concurrent_total=16,
)
RSS = "application/rss+xml"
PAGE = b"<html><head><title>Bai</title></head><body><h1>Bai</h1><p>Noi dung.</p></body></html>"
ALLOW_ALL = b"User-agent: *\nAllow: /\n"


class Host(ThreadingHTTPServer):
    """A host whose paths answer through scripted handlers; anything else is 404. `seen` holds every
    path requested, in order."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.routes: dict[str, Callable[[_Handler], None]] = {"/robots.txt": answer(ALLOW_ALL, "text/plain")}
        self.seen: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def saw(self, path: str) -> None:
        with self._lock:
            self.seen.append(path)


class _Handler(BaseHTTPRequestHandler):
    server: Host

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.saw(self.path)
        route = self.server.routes.get(self.path, answer(b"<h1>404</h1>", "text/html", status=404))
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass                  # the crawler gave up (timeout, size cap): expected

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def head_only(self, content_type: str = RSS, **headers: str) -> None:
        """Status and headers without a Content-Length: the body ends when the connection does."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.close_connection = True


def answer(body: bytes, content_type: str = RSS, status: int = 200, **headers: str) -> Callable[[_Handler], None]:
    return lambda handler: handler.send(status, body, content_type, **headers)


@pytest.fixture(scope="module")
def hosts() -> Iterator[Callable[[], Host]]:
    """Starts hosts on demand; all are stopped when the module is done."""
    started: list[tuple[Host, threading.Thread]] = []

    def start() -> Host:
        host = Host()
        thread = threading.Thread(target=host.serve_forever, name="hostile-host", daemon=True)
        thread.start()
        started.append((host, thread))
        return host

    yield start
    for host, thread in started:
        host.stopping.set()
        host.shutdown()
        host.server_close()
        thread.join(timeout=5)


def rss(*items: str, doctype: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0"><channel><title>T</title>'
            + "".join(items) + "</channel></rss>").encode()


def item(link: str, title: str = "Bài viết", date: str | None = None, description: str = "") -> str:
    return (f"<item><title>{title}</title><link>{link}</link>"
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + (f"<description>{description}</description>" if description else "") + "</item>")


def source(source_id: str, *, local: bool = True, **fields: Any) -> Source:
    return Source(id=source_id, name=source_id, country="VN", language="vi", kind="national_press",
                  local=local, verified=True, **fields)


def of(events: list[CrawlEvent], kind: type, source_id: str) -> list[Any]:
    return [e for e in events if isinstance(e, kind) and getattr(e, "source_id", None) == source_id]


def validated(events: list[CrawlEvent]) -> dict[str, str | None]:
    """URL -> ETag of every ValidatorUpdate (they carry no source id)."""
    return {e.url: e.etag for e in events if isinstance(e, ValidatorUpdate)}


def _gzip_of_zeros(megabytes: int) -> bytes:
    """A gzip stream that inflates to `megabytes` MiB of NUL bytes, built from one repeated
    fully-flushed block, so it costs nothing to make (1 GiB in about 1 MB)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = deflate.compress(b"\0" * (1 << 20)) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(b"\0" * (1 << 20)) + deflate.flush(zlib.Z_FULL_FLUSH)
    return first + block * (megabytes - 1) + deflate.flush()


# -- one crawl: many hostile sources on one host, a canary on another ------------------------


LAUGHS = ('<!DOCTYPE rss [<!ENTITY l0 "ha">'
          + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)) + "]>")
YEAR_ONE = ["01/01/0001 00:00", "Mon, 01 Jan 0001 00:00:00 +0700", "Mon, 01 Jan 0000 00:00:00 GMT+7",
            "0001-01-01T00:00:00+07:00"]


@pytest.fixture(scope="module")
def canary(hosts: Callable[[], Host]) -> Host:
    canary = hosts()
    canary.routes["/secret"] = answer(b"root:x:0:0", "text/plain")
    canary.routes["/robots.txt"] = answer(ALLOW_ALL, "text/plain")
    return canary


@pytest.fixture(scope="module")
def hostile(hosts: Callable[[], Host], canary: Host) -> Host:
    host = hosts()
    base, secret, port = host.base_url, f"{canary.base_url}/secret", canary.server_address[1]

    def redirect_on(handler: _Handler) -> None:
        hop = int(handler.path.rsplit("/", 1)[1])
        handler.send(302, b"", "text/html", Location=f"{base}/loop/{hop + 1}")

    def trickle(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", RSS)
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        while not handler.server.stopping.wait(1):
            handler.wfile.write(b"<")
            handler.wfile.flush()

    def hang_up(announce_length: bool) -> Callable[[_Handler], None]:
        body = rss(*(item(f"{base}/cut/{i}") for i in range(40)))

        def send(handler: _Handler) -> None:
            if announce_length:
                handler.head_only(Content_Length=str(len(body)))
            else:
                handler.head_only()
            handler.wfile.write(body[:len(body) // 2])
        return send

    host.routes.update({
        "/xxe.rss": answer(rss(item(f"{base}/page", "&secret;"), doctype=(
            f'<!DOCTYPE rss [<!ENTITY secret SYSTEM "{secret}"><!ENTITY % remote SYSTEM "{secret}"> %remote;]>'))),
        "/laughs.rss": answer(rss(item(f"{base}/page", "&l9;"), doctype=LAUGHS)),
        "/empty.rss": answer(b""),
        "/one-byte.rss": answer(b"<"),
        "/json.rss": answer(b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "application/json"),
        "/html.rss": answer("<!doctype html><html><body><p>Trang chủ</p></body></html>".encode(), "text/html"),
        "/ports.rss": answer(rss(item(f"{base}/ok/1"), item("http://tin.example.vn:99999/bai"),
                                 item("http://tin.example.vn:abc/bai"), item(f"{base}/ok/2"))),
        "/long-link.rss": answer(rss(item(f"{base}/long/{'x' * 3000}"), item(f"{base}/ok/3")), ETag='"v1"'),
        "/year-one.rss": answer(rss(*(item(f"{base}/dated/{i}", date=date) for i, date in enumerate(YEAR_ONE)))),
        "/sitemap.xml": answer(
            b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>http://tin.example.vn:99999/bai</loc></url><url><loc>http://[::1/bai</loc></url>"
            + f"<url><loc>{base}/ok/4</loc></url></urlset>".encode(), "application/xml"),
        "/private.rss": answer(rss(*(item(link) for link in (
            secret, f"http://localhost:{port}/secret", f"http://2130706433:{port}/secret",
            f"http://[::ffff:127.0.0.1]:{port}/secret", "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/", f"//127.0.0.1:{port}/secret?scheme-relative", f"{base}/to-canary")))),
        "/to-canary": answer(b"", "text/html", status=302, Location=secret),
        "/loop.rss": answer(rss(item(f"{base}/loop/0"))),
        "/trickle.rss": trickle,
        "/cut.rss": hang_up(announce_length=True),
        "/cut-unannounced.rss": hang_up(announce_length=False),
        "/report.rss": answer(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
        "/photo.rss": answer(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "application/xml"),
        "/archive.rss": answer(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4),
    })
    host.routes.update({f"/loop/{hop}": redirect_on for hop in range(50)})
    host.routes.update({f"/ok/{n}": answer(PAGE, "text/html") for n in range(1, 5)})
    host.routes.update({f"/cut/{n}": answer(PAGE, "text/html") for n in range(40)})
    return host


@pytest.fixture(scope="module")
def events(hostile: Host) -> list[CrawlEvent]:
    base = hostile.base_url
    sources = [
        source("xxe", feeds=[f"{base}/xxe.rss"], follow_links=False),
        source("laughs", feeds=[f"{base}/laughs.rss"], follow_links=False),
        source("not-feeds", feeds=[f"{base}/{name}.rss" for name in ("empty", "one-byte", "json", "html")]),
        source("ports", feeds=[f"{base}/ports.rss"]),
        source("long-link", feeds=[f"{base}/long-link.rss"]),
        source("year-one", feeds=[f"{base}/year-one.rss"], follow_links=False),
        source("sitemap", crawl={"sitemaps": [f"{base}/sitemap.xml"]}),
        source("private", local=False, feeds=[f"{base}/private.rss"]),
        source("loop", feeds=[f"{base}/loop.rss"]),
        source("trickle", feeds=[f"{base}/trickle.rss"]),
        source("cut", feeds=[f"{base}/cut.rss"]),
        source("cut-unannounced", feeds=[f"{base}/cut-unannounced.rss"], follow_links=False),
        source("binary", feeds=[f"{base}/{name}.rss" for name in ("report", "photo", "archive")]),
    ]
    return list(crawl(sources, SETTINGS, {}))


def test_every_source_finishes_and_none_crashes_its_spider(events: list[CrawlEvent]) -> None:
    finished = [e.source_id for e in events if isinstance(e, SourceFinished)]
    assert len(finished) == len(set(finished)) == 13
    assert [e for e in events if isinstance(e, CrawlFailure) and e.stage == "crawl"] == []


def test_external_entities_are_never_fetched_nor_expanded(events: list[CrawlEvent], canary: Host) -> None:
    [doc] = of(events, FetchedDoc, "xxe")
    assert doc.entry is not None and "root:" not in doc.entry.title
    assert canary.seen == []


def test_entity_expansion_is_refused_and_the_item_kept(events: list[CrawlEvent]) -> None:
    """expat's amplification limit stops the strict parser; the entry still comes through, unexpanded."""
    [doc] = of(events, FetchedDoc, "laughs")
    assert doc.entry is not None and len(doc.entry.title) < 100
    [failure] = of(events, CrawlFailure, "laughs")
    assert failure.stage == "feed" and "amplification" in failure.message


def test_documents_that_are_not_feeds_fail_their_feed_only(events: list[CrawlEvent], hostile: Host) -> None:
    failures = {f.url.removeprefix(hostile.base_url): f for f in of(events, CrawlFailure, "not-feeds")}
    assert sorted(failures) == ["/empty.rss", "/html.rss", "/json.rss", "/one-byte.rss"]
    assert all(f.stage == "feed" and not f.transient and "not a readable RSS/Atom feed" in f.message
               for f in failures.values())
    assert not set(validated(events)) & {hostile.base_url + path for path in failures}


def test_an_item_link_no_request_can_be_made_for_skips_that_item_only(events: list[CrawlEvent],
                                                                      hostile: Host) -> None:
    """A port past 65535 raised out of the item loop and lost the whole feed."""
    docs = sorted(d.url.removeprefix(hostile.base_url) for d in of(events, FetchedDoc, "ports"))
    assert docs == ["/ok/1", "/ok/2"]
    skipped = {(s.url, s.reason) for s in of(events, Skipped, "ports")}
    assert skipped == {("http://tin.example.vn:99999/bai", "not-web-link"),
                       ("http://tin.example.vn:abc/bai", "not-web-link")}
    assert of(events, CrawlFailure, "ports") == []


def test_an_overlong_link_is_skipped_and_the_feed_validators_still_come(events: list[CrawlEvent],
                                                                        hostile: Host) -> None:
    """Scrapy drops a request past URLLENGTH_LIMIT with no callback: the item vanished unrecorded and
    the feed's batch never released its ETag, so the feed was never asked "not modified?" again."""
    base = hostile.base_url
    assert [d.url for d in of(events, FetchedDoc, "long-link")] == [f"{base}/ok/3"]
    assert [(s.url, s.reason) for s in of(events, Skipped, "long-link")] == [
        (f"{base}/long/{'x' * 3000}", "not-web-link")]
    assert validated(events).get(f"{base}/long-link.rss") == '"v1"'


def test_year_one_dates_leave_items_undated(events: list[CrawlEvent]) -> None:
    """Year 1 in Vietnam's zone is before datetime.min in UTC: OverflowError lost the whole feed."""
    docs = of(events, FetchedDoc, "year-one")
    assert len(docs) == len(YEAR_ONE)
    assert [d.entry.published for d in docs] == [None] * len(YEAR_ONE)


def test_a_sitemap_loc_no_request_can_be_made_for_loses_that_url_only(events: list[CrawlEvent],
                                                                      hostile: Host) -> None:
    assert [d.url for d in of(events, FetchedDoc, "sitemap")] == [f"{hostile.base_url}/ok/4"]
    assert {(s.url, s.reason) for s in of(events, Skipped, "sitemap")} == {
        ("http://tin.example.vn:99999/bai", "not-web-link"), ("http://[::1/bai", "not-web-link")}
    assert of(events, CrawlFailure, "sitemap") == []


def test_links_into_the_network_are_refused_in_every_spelling(events: list[CrawlEvent], canary: Host) -> None:
    skipped = of(events, Skipped, "private")
    assert len(skipped) == 8 and {s.reason for s in skipped} == {"private-address"}
    assert not of(events, FetchedDoc, "private") and not of(events, CrawlFailure, "private")
    assert canary.seen == []


def test_a_redirect_without_end_stops_at_the_cap(events: list[CrawlEvent], hostile: Host) -> None:
    [failure] = of(events, CrawlFailure, "loop")
    assert failure.error_class == "RedirectLoop" and failure.url == f"{hostile.base_url}/loop/0"
    assert sum(path.startswith("/loop/") for path in hostile.seen) == SETTINGS.max_redirects + 1


def test_a_trickling_server_times_out(events: list[CrawlEvent]) -> None:
    [failure] = of(events, CrawlFailure, "trickle")
    assert failure.error_class == "DownloadTimeoutError" and failure.transient
    assert not of(events, FetchedDoc, "trickle")


def test_a_hang_up_before_the_announced_length_is_a_transient_failure_that_says_so(
        events: list[CrawlEvent]) -> None:
    [failure] = of(events, CrawlFailure, "cut")
    assert failure.error_class == "ResponseDataLossError" and failure.transient
    assert "closed the connection before sending the whole body" in failure.message
    assert not of(events, FetchedDoc, "cut")


def test_a_hang_up_without_a_length_keeps_the_items_read(events: list[CrawlEvent]) -> None:
    docs = of(events, FetchedDoc, "cut-unannounced")
    assert 0 < len(docs) < 40
    [failure] = of(events, CrawlFailure, "cut-unannounced")
    assert failure.stage == "feed" and f"{len(docs)} entries were still read" in failure.message


def test_a_binary_file_served_as_a_feed_is_named(events: list[CrawlEvent], hostile: Host) -> None:
    """It failed as "no RSS or Atom document found", and the PDF first as UTF-8 gone wrong."""
    failures = {f.url.removeprefix(hostile.base_url): f.message for f in of(events, CrawlFailure, "binary")}
    assert "looks like a PDF, not a feed" in failures["/report.rss"]
    assert "looks like a PNG image, not a feed" in failures["/photo.rss"]
    assert "looks like a ZIP archive" in failures["/archive.rss"]
    assert all("not a readable RSS/Atom feed" in message for message in failures.values())


# -- feeds past the size cap: the items in their first part are read -------------------------

CAP = 100_000
CAPPED = SETTINGS.model_copy(update={"max_size_bytes": CAP, "warn_size_bytes": 80_000})
NEWS_ITEMS = 2_000                  # about 400 KB: four times the cap


def news_item(base: str, n: int) -> str:
    return item(f"{base}/tin/{n}", f"Tin {n}", description="Quảng Ngãi mưa lớn. " * 6)


def news(base: str, items: int = NEWS_ITEMS) -> bytes:
    return rss(*(news_item(base, n) for n in range(items)))


def noisy_news(base: str, items: int) -> bytes:
    """A feed whose descriptions are random hex, which gzip halves at best: past the cap compressed."""
    noise = random.Random(items)
    return rss(*(item(f"{base}/tin/{n}", f"Tin {n}", description=noise.randbytes(100).hex()) for n in range(items)))


def sitemap(*entries: str, index: bool = False) -> bytes:
    root = "sitemapindex" if index else "urlset"
    return (f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(entries) + f"</{root}>").encode()


SITEMAP_URLS = 3_000                # about 240 KB: more than twice the cap
SUBSITEMAPS = 5                     # each entry of the index padded to 30 KB: three fit in the cap


def sitemap_url(base: str, n: int) -> str:
    return f"<url><loc>{base}/sm/{n}</loc><lastmod>2026-03-0{n % 9 + 1}</lastmod></url>"


def big_sitemap(base: str) -> bytes:
    return sitemap(*(sitemap_url(base, n) for n in range(SITEMAP_URLS)))


def complete_entries(body: bytes, end_tag: bytes) -> int:
    """How many entries end within the first CAP bytes: what a truncated sitemap must read."""
    return body[:CAP].count(end_tag)


@pytest.fixture(scope="module")
def capped_host(hosts: Callable[[], Host]) -> Host:
    host = hosts()
    base = host.base_url
    host.hung_up = threading.Event()            # type: ignore[attr-defined]
    host.accepted = {}                          # type: ignore[attr-defined]

    def negotiated(handler: _Handler) -> None:
        """Sends zstd only to a client that asks for it, as a well-behaved server does."""
        offered = handler.headers.get("Accept-Encoding", "")
        host.accepted[handler.path] = offered   # type: ignore[attr-defined]
        if "zstd" in offered:
            handler.send(200, zstd.compress(news(base, 20)), RSS, Content_Encoding="zstd")
        else:
            handler.send(200, news(base, 20), RSS)

    def endless(handler: _Handler) -> None:
        """Items without end and no Content-Length: only the crawler hanging up ends it."""
        handler.head_only()
        head = rss().removesuffix(b"</channel></rss>")
        try:
            handler.wfile.write(head)
            for n in range(500_000):                    # 100 MB at most
                handler.wfile.write(news_item(base, n).encode())
        except (BrokenPipeError, ConnectionResetError):
            host.hung_up.set()                  # type: ignore[attr-defined]

    host.routes.update({
        "/endless.rss": endless,
        "/announced.rss": answer(news(base), ETag='"big"'),
        "/gzipped.rss": answer(gzip.compress(news(base)), Content_Encoding="gzip"),
        "/deflated.rss": answer(zlib.compress(news(base)), Content_Encoding="deflate"),
        "/small-gzipped.rss": answer(gzip.compress(news(base, 20)), Content_Encoding="gzip"),
        "/bomb.rss": answer(_gzip_of_zeros(64), Content_Encoding="gzip"),
        # Servers that send brotli or zstd whether asked or not.
        "/brotli.rss": answer(brotli.compress(news(base)), Content_Encoding="br"),
        "/zstd.rss": answer(zstd.compress(news(base)), Content_Encoding="zstd"),
        "/negotiated.rss": negotiated,
        "/bomb-brotli.rss": answer(brotli.compress(b"\0" * (16 << 20), quality=5), Content_Encoding="br"),
        "/bomb-zstd.rss": answer(zstd.compress(b"\0" * (16 << 20)), Content_Encoding="zstd"),
        # Gzip files (a `.xml.gz` on disk) sent as they are, without Content-Encoding.
        "/gzip-file.rss": answer(gzip.compress(news(base)), "application/gzip"),
        "/small-gzip-file.rss": answer(gzip.compress(news(base, 20)), "application/x-gzip"),
        "/noisy-gzip-file.rss": answer(gzip.compress(noisy_news(base, 2_000)), "application/octet-stream"),
        "/noisy-brotli.rss": answer(brotli.compress(noisy_news(base, 2_000)), Content_Encoding="br"),
        "/noisy-zstd.rss": answer(zstd.compress(noisy_news(base, 2_000)), Content_Encoding="zstd"),
        "/bomb-gzip-file.rss": answer(_gzip_of_zeros(64), "application/octet-stream"),
        # Sitemaps: past the cap on the wire, once inflated, an index, a bomb; one within it.
        "/sitemap-big.xml": answer(big_sitemap(base), "application/xml", ETag='"sm"'),
        "/sitemap-big.xml.gz": answer(gzip.compress(big_sitemap(base)), "application/x-gzip"),
        "/sitemap-small.xml.gz": answer(gzip.compress(sitemap(*(sitemap_url(base, n) for n in range(20)))),
                                        "application/x-gzip"),
        "/sitemap-index.xml": answer(sitemap(*(
            f"<sitemap><loc>{base}/sub-{n}.xml</loc><!-- {'.' * 30_000} --></sitemap>"
            for n in range(SUBSITEMAPS)), index=True), "application/xml"),
        "/sitemap-bomb.xml.gz": answer(_gzip_of_zeros(64), "application/x-gzip"),
    })
    host.routes.update({f"/sub-{n}.xml": answer(sitemap(sitemap_url(base, 9_000 + n)), "application/xml")
                        for n in range(SUBSITEMAPS)})
    host.routes.update({f"/sm/{n}": answer(PAGE, "text/html") for n in (*range(10), *range(9_000, 9_005))})
    return host


CAPPED_FEEDS = ["endless", "announced", "gzipped", "deflated", "brotli", "zstd", "gzip-file"]
BOMBS = ["bomb", "bomb-brotli", "bomb-zstd", "bomb-gzip-file"]
NOISY_FEEDS = ["noisy-gzip-file", "noisy-brotli", "noisy-zstd"]     # past the cap compressed too
# source id -> its sitemap's path
CAPPED_SITEMAPS = {"sitemap-big": "/sitemap-big.xml", "sitemap-big-gz": "/sitemap-big.xml.gz",
                   "sitemap-small-gz": "/sitemap-small.xml.gz", "sitemap-index": "/sitemap-index.xml",
                   "sitemap-bomb-gz": "/sitemap-bomb.xml.gz"}


@pytest.fixture(scope="module")
def capped_events(capped_host: Host) -> list[CrawlEvent]:
    base = capped_host.base_url
    names = [*CAPPED_FEEDS, *BOMBS, *NOISY_FEEDS, "small-gzipped", "negotiated", "small-gzip-file"]
    sources = [source(name, feeds=[f"{base}/{name}.rss"], follow_links=False) for name in names]
    # Only ten pages of each urlset are articles: enough to see that its first entries were read.
    sources += [source(name, crawl={"sitemaps": [base + path], "allow": [r"/sm/(\d|900\d)$"]})
                for name, path in CAPPED_SITEMAPS.items()]
    return list(crawl(sources, CAPPED, {}))


@pytest.mark.parametrize("source_id", CAPPED_FEEDS)
def test_a_feed_past_the_size_cap_gives_the_complete_items_of_its_first_part(
        capped_events: list[CrawlEvent], capped_host: Host, source_id: str) -> None:
    """Refused whole before, on the wire (Content-Length announced or not) or once inflated:
    a monitoring product loses the newest items of a feed that merely grew."""
    docs = of(capped_events, FetchedDoc, source_id)
    one_item = len(news_item(capped_host.base_url, NEWS_ITEMS).encode())
    assert CAP // one_item - 2 <= len(docs) < NEWS_ITEMS
    assert [d.url for d in docs] == [f"{capped_host.base_url}/tin/{n}" for n in range(len(docs))]
    # The item the cut fell in is left out, not read with the fields that had arrived.
    assert all(d.entry.title == f"Tin {n}" and d.entry.summary.endswith("mưa lớn.") for n, d in enumerate(docs))
    [failure] = of(capped_events, CrawlFailure, source_id)
    assert failure.error_class == "FeedTruncated" and failure.stage == "feed" and not failure.transient
    assert f"larger than the size cap ({CAP:,} bytes" in failure.message
    assert f"only the {len(docs)} complete items in its first {CAP:,} bytes were read" in failure.message
    assert "crawl.max_size_bytes" in failure.message


def test_an_endless_feed_is_hung_up_on_at_the_cap(capped_events: list[CrawlEvent], capped_host: Host) -> None:
    assert of(capped_events, FetchedDoc, "endless")
    assert capped_host.hung_up.wait(10)         # type: ignore[attr-defined]


def test_a_compressed_feed_within_the_cap_is_read_whole(capped_events: list[CrawlEvent]) -> None:
    assert len(of(capped_events, FetchedDoc, "small-gzipped")) == 20
    assert of(capped_events, CrawlFailure, "small-gzipped") == []


@pytest.mark.parametrize("source_id", BOMBS)
def test_a_compression_bomb_fails_by_name_and_size(capped_events: list[CrawlEvent], source_id: str) -> None:
    """64 MiB of NULs in 64 kB of gzip, 16 MiB in 26 bytes of brotli: inflated only to the cap, and
    named for what it is. Brotli and zstd failed as "Oversize", gzip files as gzip data."""
    [failure] = of(capped_events, CrawlFailure, source_id)
    assert failure.stage == "feed" and not failure.transient
    assert f"larger than the size cap ({CAP:,} bytes) once inflated" in failure.message
    assert "looks like binary data, not a feed" in failure.message
    assert not of(capped_events, FetchedDoc, source_id)


def test_feeds_ask_for_every_encoding_inflated_up_to_the_cap(capped_events: list[CrawlEvent],
                                                             capped_host: Host) -> None:
    offered = capped_host.accepted["/negotiated.rss"]      # type: ignore[attr-defined]
    assert {token.strip() for token in offered.split(",")} == {"gzip", "deflate", "br", "zstd"}
    assert len(of(capped_events, FetchedDoc, "negotiated")) == 20
    assert of(capped_events, CrawlFailure, "negotiated") == []


def test_a_gzip_file_within_the_cap_is_read_whole(capped_events: list[CrawlEvent]) -> None:
    """A `.xml.gz` feed sent as application/x-gzip, without Content-Encoding, failed as gzip data."""
    assert len(of(capped_events, FetchedDoc, "small-gzip-file")) == 20
    assert of(capped_events, CrawlFailure, "small-gzip-file") == []


@pytest.mark.parametrize("source_id", NOISY_FEEDS)
def test_a_compressed_feed_past_the_cap_on_the_wire_gives_its_complete_first_items(
        capped_events: list[CrawlEvent], capped_host: Host, source_id: str) -> None:
    """Stopped at the cap, the compressed stream is cut short: it inflates as far as it goes."""
    docs = of(capped_events, FetchedDoc, source_id)
    assert 0 < len(docs) < 2_000
    assert [d.url for d in docs] == [f"{capped_host.base_url}/tin/{n}" for n in range(len(docs))]
    assert all(len(d.entry.summary) == 200 for d in docs)
    [failure] = of(capped_events, CrawlFailure, source_id)
    assert failure.error_class == "FeedTruncated" and "the server announced" in failure.message


# -- sitemaps past the size cap: their complete first entries are read ---------------------------


@pytest.mark.parametrize("name", ["sitemap-big", "sitemap-big-gz"])
def test_a_sitemap_past_the_size_cap_gives_its_complete_first_entries(
        capped_events: list[CrawlEvent], capped_host: Host, name: str) -> None:
    """Refused whole before ("Oversize"); a gzip file that inflated past the cap crashed the spider."""
    base = capped_host.base_url
    assert sorted(d.url for d in of(capped_events, FetchedDoc, name)) == [f"{base}/sm/{n}" for n in range(10)]
    [failure] = of(capped_events, CrawlFailure, name)
    read = complete_entries(big_sitemap(base), b"</url>")
    assert failure.error_class == "SitemapTruncated" and failure.stage == "sitemap" and not failure.transient
    assert f"larger than the size cap ({CAP:,} bytes" in failure.message
    assert f"only the {read} complete <url> entries in its first {CAP:,} bytes were read" in failure.message
    assert "crawl.max_size_bytes" in failure.message
    assert failure.url == base + CAPPED_SITEMAPS[name]      # so the pipeline keeps no validators for it


def test_a_sitemap_index_past_the_size_cap_follows_its_complete_first_entries(
        capped_events: list[CrawlEvent], capped_host: Host) -> None:
    base = capped_host.base_url
    assert sorted(d.url for d in of(capped_events, FetchedDoc, "sitemap-index")) == [
        f"{base}/sm/{9_000 + n}" for n in range(3)]
    [failure] = of(capped_events, CrawlFailure, "sitemap-index")
    assert failure.error_class == "SitemapTruncated"
    assert "only the 3 complete <sitemap> entries" in failure.message


def test_a_gzip_sitemap_within_the_cap_is_read_whole(capped_events: list[CrawlEvent], capped_host: Host) -> None:
    base = capped_host.base_url
    assert sorted(d.url for d in of(capped_events, FetchedDoc, "sitemap-small-gz")) == [
        f"{base}/sm/{n}" for n in range(10)]
    assert of(capped_events, CrawlFailure, "sitemap-small-gz") == []


def test_a_gzip_sitemap_bomb_fails_by_name_and_size(capped_events: list[CrawlEvent]) -> None:
    """Scrapy's gunzip raised past the cap, out of the callback: a spider error and nothing recorded."""
    [failure] = of(capped_events, CrawlFailure, "sitemap-bomb-gz")
    assert failure.error_class == "NotASitemap" and failure.stage == "sitemap"
    assert f"larger than the size cap ({CAP:,} bytes) once inflated" in failure.message
    assert "looks like binary data" in failure.message


# -- configured URLs at Scrapy's length limit ---------------------------------------------------


def test_a_configured_url_at_the_length_limit_is_fetched_and_one_past_it_refused_by_config(
        hosts: Callable[[], Host]) -> None:
    """Scrapy dropped a configured feed past URLLENGTH_LIMIT at crawl time, with no event at all:
    the source just never had news. Config validation measures the URL as Scrapy does (escaped)."""
    host = hosts()
    prefix = f"{host.base_url}/f.rss?q="
    at_limit = prefix + "x" * (URL_LENGTH_LIMIT - len(prefix))
    host.routes[at_limit.removeprefix(host.base_url)] = answer(rss(item("https://tin.example.vn/bai")))
    events = list(crawl([source("at-limit", feeds=[at_limit], follow_links=False)], SETTINGS, {}))
    assert [d.url for d in of(events, FetchedDoc, "at-limit")] == ["https://tin.example.vn/bai"]
    for past in (at_limit + "x", prefix + "đ" * 400):      # "đ" is 6 characters once escaped
        with pytest.raises(ValidationError, match=r"over the crawler's limit of 2,083"):
            source("past-limit", feeds=[past])
        with pytest.raises(ValidationError, match=r"over the crawler's limit of 2,083"):
            source("past-limit", crawl={"start_urls": [past]})


# -- robots.txt: huge, oversize, redirected to another port of an admitted host ---------------


def test_rules_past_the_robots_parse_limit_are_not_read(hosts: Callable[[], Host]) -> None:
    """RFC 9309 §2.5 lets a crawler stop at 500 KiB; a 4 MB robots.txt took Protego 5 s and 240 MB
    to parse, then 0.1 s for every URL, on the reactor's thread. Rules before the limit still hold."""
    host = hosts()
    padding = b"".join(b"# %06d padding padding padding padding padding padding\n" % i for i in range(12_000))
    assert len(padding) > 600 * 1024
    host.routes["/robots.txt"] = answer(b"User-agent: *\nDisallow: /early/\n" + padding + b"Disallow: /\n",
                                        "text/plain")
    host.routes["/f.rss"] = answer(rss(item(f"{host.base_url}/early/a"), item(f"{host.base_url}/late/b")))
    host.routes["/late/b"] = answer(PAGE, "text/html")
    events = list(crawl([source("robots-long", feeds=[f"{host.base_url}/f.rss"])], SETTINGS, {}))
    assert [d.url for d in of(events, FetchedDoc, "robots-long")] == [f"{host.base_url}/late/b"]
    assert [(s.url, s.reason) for s in of(events, Skipped, "robots-long")] == [(f"{host.base_url}/early/a", "robots")]
    assert of(events, CrawlFailure, "robots-long") == []


@pytest.mark.parametrize("inflated", [False, True], ids=["on-the-wire", "gzip-bomb"])
def test_a_robots_txt_past_the_size_cap_disallows_and_says_why(hosts: Callable[[], Host], inflated: bool) -> None:
    """Read as unreachable, named by its size: the oversize one was "unreachable (DownloadCancelledError)",
    and the gzip bomb, refused by Scrapy's decompression, counted as no robots.txt at all: allow all."""
    host = hosts()
    if inflated:
        host.routes["/robots.txt"] = answer(_gzip_of_zeros(64), "text/plain", Content_Encoding="gzip")
    else:
        host.routes["/robots.txt"] = answer(b"User-agent: *\n" + b"# padding\n" * (SETTINGS.max_size_bytes // 5),
                                            "text/plain")
    host.routes["/f.rss"] = answer(rss(item(f"{host.base_url}/a")))
    events = list(crawl([source("robots-huge", feeds=[f"{host.base_url}/f.rss"])], SETTINGS, {}))
    [failure] = of(events, CrawlFailure, "robots-huge")
    assert failure.stage == "robots" and "larger than the size cap" in failure.message
    assert "/f.rss" not in host.seen


def test_robots_txt_redirected_to_another_port_of_an_admitted_host_is_refused(
        hosts: Callable[[], Host]) -> None:
    """A configured URL admits its own host and port, not every service on that address."""
    host, other = hosts(), hosts()
    other.routes["/robots.txt"] = answer(ALLOW_ALL, "text/plain")
    host.routes["/robots.txt"] = answer(b"", "text/plain", status=301, Location=f"{other.base_url}/robots.txt")
    host.routes["/f.rss"] = answer(rss(item("https://tin.example.vn/bai")), ETag='"r1"')
    events = list(crawl([source("admitted", local=False, feeds=[f"{host.base_url}/f.rss"],
                                follow_links=False)], SETTINGS, {}))
    assert other.seen == []
    assert [d.url for d in of(events, FetchedDoc, "admitted")] == ["https://tin.example.vn/bai"]


# -- a feed slow to parse does not hold up other sources -------------------------------------


CHAIN = 6      # listing pages the other source must walk, one after another, while the feed is parsed


def test_a_feed_slow_to_parse_does_not_hold_up_other_sources(hosts: Callable[[], Host]) -> None:
    """feedparser is pure Python: 800 items of escaped markup take seconds, and parsed on the
    reactor's thread they stopped every other source meanwhile (a 45,000-item feed: 12 s).

    The host sends the feed only once the other source has asked for its first listing page, and
    answers that page only once the feed is sent. The other source then walks a chain of listing
    pages, one request after another, to an article. The feed's own item page is asked for only
    after its parse: the chain can end before it only if the reactor kept working during the parse.
    """
    host = hosts()
    chain_asked, feed_sent = threading.Event(), threading.Event()
    markup = "&lt;p&gt;Quảng Ngãi&lt;/p&gt;" * 120
    feed = rss(*(item(f"{host.base_url}/slow/{n}", description=markup) for n in range(800)))

    def send_feed(handler: _Handler) -> None:
        chain_asked.wait(30)
        handler.send(200, feed, RSS)
        feed_sent.set()

    def chain(hop: int) -> Callable[[_Handler], None]:
        target = f"/chain/{hop + 1}" if hop < CHAIN else "/article"
        page = f'<html><body><a href="{host.base_url}{target}">tiếp</a></body></html>'.encode()

        def send(handler: _Handler) -> None:
            chain_asked.set()
            feed_sent.wait(30)
            handler.send(200, page, "text/html")
        return send

    host.routes.update({"/slow.rss": send_feed, "/article": answer(PAGE, "text/html"),
                        "/slow/0": answer(PAGE, "text/html")})
    host.routes.update({f"/chain/{hop}": chain(hop) for hop in range(CHAIN + 1)})
    settings = SETTINGS.model_copy(update={"max_size_bytes": 5_000_000, "warn_size_bytes": 4_000_000,
                                           "download_timeout_s": 60.0, "max_pages_per_source": 1})
    sources = [source("slow-feed", feeds=[f"{host.base_url}/slow.rss"]),
               source("other", crawl={"start_urls": [f"{host.base_url}/chain/0"], "follow": ["/chain/"],
                                      "allow": ["/article$"], "max_depth": CHAIN})]
    events = list(crawl(sources, settings, {}))
    assert [d.url for d in of(events, FetchedDoc, "other")] == [f"{host.base_url}/article"]
    assert [d.url for d in of(events, FetchedDoc, "slow-feed")] == [f"{host.base_url}/slow/0"]
    assert host.seen.index("/article") < host.seen.index("/slow/0")
