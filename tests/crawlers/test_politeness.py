"""Politeness toward a struggling server (crawlers.middlewares), through the real crawl:
Retry-After on 429/503 (waited out, or pausing the host for the next crawls) and a robots.txt
that cannot be read (RFC 9309). Each test serves its own host on 127.0.0.1, since robots.txt is
read once per host and crawl, and a pause is per host and port."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.core.downloader import Slot
from scrapy.http import Response
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawlers.events import CrawlEvent, CrawlFailure, FetchedDoc, HostPaused, Skipped, ValidatorUpdate
from crawlers.middlewares import (
    META_RETRY_AFTER,
    META_ROLE,
    ROLE_PAGE,
    RetryAfterMiddleware,
    RobotsUnreachable,
    failure_events,
    retry_after_seconds,
)
from crawlers.pauses import RETRY_AFTER_CAP, capped_wait, host_key, paused_until
from crawlers.runner import crawl
from crawlers.settings import scrapy_settings
from haidang.settings import CrawlSettings, Source

# As test_runner.FAST, with a download timeout (so a Retry-After bound) above the short wait below.
SETTINGS = CrawlSettings(
    download_timeout_s=5.0, retry_times=1, max_size_bytes=50_000, warn_size_bytes=40_000,
    autothrottle_start_delay_s=0.0, autothrottle_max_delay_s=0.5, max_redirects=3,
    concurrent_per_domain=2, concurrent_total=16,
)
HOUR = "3600"
PAGE = b"<html><head><title>Bai viet</title></head><body><p>Noi dung.</p></body></html>"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""


class Host(ThreadingHTTPServer):
    """One host with scripted answers: each path answers its list in turn (the last one
    repeats), anything else is 404."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.routes: dict[str, list[Answer]] = {}
        self.seen: list[tuple[str, float]] = []          # (path, time.monotonic()) per request
        self.lock = threading.Lock()

    def requests_for(self, path: str) -> list[float]:
        with self.lock:
            return [at for p, at in self.seen if p == path]


class _Handler(BaseHTTPRequestHandler):
    server: Host

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            count = sum(1 for p, _ in self.server.seen if p == self.path)
            self.server.seen.append((self.path, time.monotonic()))
        answers = self.server.routes.get(self.path) or [Answer(404, {}, b"<h1>404 Not Found</h1>")]
        answer = answers[min(count, len(answers) - 1)]
        self.send_response(answer.status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **answer.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


@pytest.fixture()
def host() -> Iterator[Host]:
    server = Host()
    thread = threading.Thread(target=server.serve_forever, name="politeness-host", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def pages_source(make_source: Callable[..., Source], host: Host, *paths: str, **crawl_spec: Any) -> Source:
    return make_source(id="polite", crawl={"pages": [host.base_url + p for p in paths], **crawl_spec})


def run(source: Source, paused: dict[str, datetime] | None = None) -> list[CrawlEvent]:
    return list(crawl([source], SETTINGS, {}, paused))


def pauses(events: list[CrawlEvent]) -> list[HostPaused]:
    return [e for e in events if isinstance(e, HostPaused)]


def failures(events: list[CrawlEvent], host: Host) -> dict[str, CrawlFailure]:
    found = {e.url.removeprefix(host.base_url): e for e in events if isinstance(e, CrawlFailure)}
    assert len(found) == sum(isinstance(e, CrawlFailure) for e in events), events
    return found


# -- Retry-After ------------------------------------------------------------------------------


def test_long_retry_after_is_not_retried_in_the_run(host: Host, make_source: Callable[..., Source]) -> None:
    in_an_hour = formatdate(time.time() + 3600, usegmt=True)
    host.routes["/busy.html"] = [Answer(429, {"Retry-After": HOUR})]
    host.routes["/down.html"] = [Answer(503, {"Retry-After": in_an_hour})]

    events = run(pages_source(make_source, host, "/busy.html"))
    events += run(pages_source(make_source, host, "/down.html"))

    assert len(host.requests_for("/busy.html")) == 1
    assert len(host.requests_for("/down.html")) == 1
    failed = failures(events, host)
    assert sorted(failed) == ["/busy.html", "/down.html"]
    for path, status in (("/busy.html", "429"), ("/down.html", "503")):
        failure = failed[path]
        assert (failure.stage, failure.error_class, failure.transient) == ("fetch", "HttpError", True)
        assert f"HTTP {status}" in failure.message and "not retried in this run" in failure.message
    assert "server asked to wait 3600 s (Retry-After)" in failed["/busy.html"].message
    assert re.search(r"server asked to wait 3\d\d\d s \(Retry-After\)", failed["/down.html"].message)


def test_long_retry_after_pauses_the_host_in_both_forms(host: Host, make_source: Callable[..., Source]) -> None:
    in_two_hours = time.time() + 7200
    host.routes["/busy.html"] = [Answer(429, {"Retry-After": HOUR})]
    host.routes["/down.html"] = [Answer(503, {"Retry-After": formatdate(in_two_hours, usegmt=True)})]

    before = datetime.now(UTC)
    busy = pauses(run(pages_source(make_source, host, "/busy.html")))
    down = pauses(run(pages_source(make_source, host, "/down.html")))
    after = datetime.now(UTC)

    expected_host = host.base_url.removeprefix("http://")       # "127.0.0.1:PORT": the port is part of it
    (pause,) = busy
    assert (pause.host, pause.status, pause.asked_s, pause.source_id) == (expected_host, 429, 3600.0, "polite")
    assert pause.url == host.base_url + "/busy.html" and before <= pause.at <= after
    assert pause.until - pause.at == timedelta(hours=1)
    (pause,) = down                                              # an HTTP-date: the time it names
    assert (pause.host, pause.status) == (expected_host, 503)
    assert abs(pause.until.timestamp() - in_two_hours) <= 2 and 7100 < pause.asked_s <= 7200


def test_absurd_retry_after_is_capped(host: Host, make_source: Callable[..., Source]) -> None:
    host.routes["/year.html"] = [Answer(429, {"Retry-After": str(365 * 24 * 3600)})]

    events = run(pages_source(make_source, host, "/year.html"))

    (pause,) = pauses(events)
    assert pause.asked_s == 365 * 24 * 3600 and pause.until - pause.at == RETRY_AFTER_CAP == timedelta(hours=24)
    (failure,) = [e for e in events if isinstance(e, CrawlFailure)]
    assert "server asked to wait 31536000 s (Retry-After)" in failure.message
    assert "is paused for 24 h, more than the 24 h cap" in failure.message
    assert capped_wait(60) == (timedelta(minutes=1), False) and capped_wait(1e12) == (RETRY_AFTER_CAP, True)


def test_a_paused_host_gets_no_request_until_its_time(host: Host, make_source: Callable[..., Source]) -> None:
    host.routes["/a.html"] = [Answer(200, {}, PAGE)]
    source = pages_source(make_source, host, "/a.html")
    key = host_key(host.base_url)

    events = run(source, paused={key: datetime.now(UTC) + timedelta(minutes=5)})

    assert host.seen == []                       # not the page, not even robots.txt
    assert [(e.url, e.reason) for e in events if isinstance(e, Skipped)] == [(host.base_url + "/a.html", "retry-after")]
    assert not [e for e in events if isinstance(e, (CrawlFailure, FetchedDoc))]
    # Once the time has passed, the host is asked as usual.
    again = run(source, paused={key: datetime.now(UTC) - timedelta(seconds=1)})
    assert [d.url for d in again if isinstance(d, FetchedDoc)] == [host.base_url + "/a.html"]


def test_pages_on_a_paused_host_are_skipped_and_the_feed_on_another_is_read(
        host: Host, make_source: Callable[..., Source]) -> None:
    # The case per-host pauses are for: the feed's host never asked to wait, the pages' host did.
    pages = Host()
    threading.Thread(target=pages.serve_forever, name="politeness-pages", daemon=True).start()
    try:
        item = f"<item><title>Bai</title><link>{pages.base_url}/bai.html</link></item>"
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{item}</channel></rss>'
        host.routes["/feed.rss"] = [Answer(200, {"Content-Type": "application/rss+xml", "ETag": '"f1"'},
                                           feed.encode())]
        pages.routes["/bai.html"] = [Answer(200, {}, PAGE)]
        source = make_source(id="polite", feeds=[host.base_url + "/feed.rss"])
        paused = {host_key(pages.base_url): datetime.now(UTC) + timedelta(minutes=5)}
        assert paused_until(source, paused, datetime.now(UTC)) is None      # so the source is crawled

        events = run(source, paused=paused)

        assert host.requests_for("/feed.rss") and pages.seen == []
        assert [(e.url, e.reason) for e in events if isinstance(e, Skipped)] == [
            (pages.base_url + "/bai.html", "retry-after")]
        # The feed's ETag is reported; the pipeline keeps it only when nothing was left out (test_pipeline).
        assert [e.url for e in events if isinstance(e, ValidatorUpdate)] == [host.base_url + "/feed.rss"]
    finally:
        pages.shutdown()
        pages.server_close()


def test_a_source_is_left_out_only_when_all_its_hosts_are_paused(make_source: Callable[..., Source]) -> None:
    now = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
    later, sooner = now + timedelta(hours=2), now + timedelta(minutes=30)
    source = make_source(id="bbc", feeds=["https://feeds.example.com/vi.xml"],
                         crawl={"start_urls": ["https://www.example.com:8443/vi/"]})
    assert paused_until(source, {}, now) is None
    assert paused_until(source, {"feeds.example.com": later}, now) is None
    both = {"feeds.example.com": later, "www.example.com:8443": sooner}
    assert paused_until(source, both, now) == sooner                    # free again when the first ends
    assert paused_until(source, both, sooner) is None
    assert host_key("HTTPS://WWW.Example.com:443/x") == "www.example.com"
    assert host_key("http://www.example.com:8443/x") == "www.example.com:8443"


def test_after_a_long_retry_after_the_host_gets_no_other_request_in_the_run(
        host: Host, make_source: Callable[..., Source]) -> None:
    # One page at a time with a delay between them, so the other pages wait in the download slot
    # (already past the middlewares) when the 429 comes: they too must stay unsent.
    host.routes["/busy.html"] = [Answer(429, {"Retry-After": HOUR})]
    rest = [f"/bai-{i}.html" for i in range(6)]
    for path in rest:
        host.routes[path] = [Answer(200, {}, PAGE)]
    slow = SETTINGS.model_copy(update={"concurrent_per_domain": 1, "download_delay_s": 0.3})
    source = make_source(id="polite", crawl={"pages": [host.base_url + p for p in ["/busy.html", *rest]]})

    events = list(crawl([source], slow, {}))

    (answered,) = host.requests_for("/busy.html")
    after = [p for p, at in host.seen if at > answered]
    assert after == [], f"requested after the host asked to wait: {after}"
    fetched = {e.url for e in events if isinstance(e, FetchedDoc)}
    skipped = {e.url for e in events if isinstance(e, Skipped) and e.reason == "retry-after"}
    assert fetched | skipped == {host.base_url + p for p in rest} and not fetched & skipped
    assert skipped, "the test needs pages still to come when the 429 arrives"
    (pause,) = pauses(events)
    assert pause.host == host_key(host.base_url)


def test_a_long_retry_after_stops_the_other_sources_on_the_host_too(
        host: Host, make_source: Callable[..., Source]) -> None:
    # Two sources crawled together in one run (two crawlers in the crawl process), one host.
    host.routes["/busy.html"] = [Answer(429, {"Retry-After": HOUR})]
    rest = [f"/tin-{i}.html" for i in range(6)]
    for path in rest:
        host.routes[path] = [Answer(200, {}, PAGE)]
    slow = SETTINGS.model_copy(update={"concurrent_per_domain": 1, "download_delay_s": 0.4})
    first = make_source(id="polite", crawl={"pages": [host.base_url + "/busy.html"]})
    second = make_source(id="other", crawl={"pages": [host.base_url + p for p in rest]})

    events = list(crawl([first, second], slow, {}))

    (answered,) = host.requests_for("/busy.html")
    # Both crawlers start at once: the other's first request may reach the host a moment after
    # /busy.html did, before the 429 is back (it raced on a slow CI machine). Nothing may come later:
    # with a 0.4 s delay between pages, a request past the grace would be one sent after the pause.
    late = [(p, round(at - answered, 3)) for p, at in host.seen if at > answered]
    assert len(late) <= 1 and all(dt < 0.2 for _, dt in late), late
    assert any(isinstance(e, Skipped) and e.source_id == "other" and e.reason == "retry-after" for e in events)


def test_short_retry_after_is_waited_for_then_retried(host: Host, make_source: Callable[..., Source]) -> None:
    host.routes["/brief.html"] = [Answer(503, {"Retry-After": "1"}), Answer(200, {}, PAGE)]

    events = run(pages_source(make_source, host, "/brief.html"))

    assert [d.url for d in events if isinstance(d, FetchedDoc)] == [host.base_url + "/brief.html"]
    assert not pauses(events)                    # waited out in the run: nothing for the next one
    first, retry = host.requests_for("/brief.html")
    # A lower bound (the server's wish), not a speed: the retry must not come before it.
    assert retry - first >= 0.9


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 0 ", 0.0), ("Fri, 13 Mar 2026 10:00:00 GMT", 3600.0),
    ("Fri, 13 Mar 2026 08:00:00 GMT", 0.0), ("soon", None), ("-5", None), (None, None),
])
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    now = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now) == seconds


def throttled_middleware(slot: Slot, **overrides: Any) -> RetryAfterMiddleware:
    """The middleware over what it reads from a crawler: settings, and the downloader's slots."""
    settings = Settings(scrapy_settings(SETTINGS.model_copy(update={
        "autothrottle_start_delay_s": 0.25, "autothrottle_max_delay_s": 10.0, **overrides})))
    return RetryAfterMiddleware.from_crawler(SimpleNamespace(  # type: ignore[arg-type]
        settings=settings, engine=SimpleNamespace(downloader=SimpleNamespace(slots={"tin": slot}))))


def test_429_makes_autothrottle_back_off_for_the_host() -> None:
    slot = Slot(concurrency=2, delay=0.25, jitter=0.5)
    mw = throttled_middleware(slot)
    delays = []
    for _ in range(7):
        request = Request("http://tin.example.vn/bai.html", meta={"download_slot": "tin"})
        response = Response(request.url, status=429, headers={"Retry-After": HOUR}, request=request)
        assert mw.process_response(request, response) is response
        assert request.meta[META_RETRY_AFTER] == 3600.0
        delays.append(slot.delay)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]     # doubled, up to AUTOTHROTTLE_MAX_DELAY


def test_other_statuses_leave_the_delay_alone() -> None:
    slot = Slot(concurrency=2, delay=0.25, jitter=0.5)
    mw = throttled_middleware(slot)
    request = Request("http://tin.example.vn/bai.html", meta={"download_slot": "tin"})
    response = Response(request.url, status=404, request=request)
    assert mw.process_response(request, response) is response and slot.delay == 0.25


# -- robots.txt -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [ROLE_PAGE, "feed"])
def test_unreachable_robots_fails_pages_and_configured_urls_alike(role: str) -> None:
    # A failure, not a Skipped: the feed's validators are then not stored, so the next run
    # asks for its pages again.
    request = Request("http://tin.example.vn/bai.html", meta={META_ROLE: role})
    exc = RobotsUnreachable("robots.txt unreachable (503): not fetching, per RFC 9309")
    (failure,) = failure_events(Failure(exc), request, "tin")
    assert isinstance(failure, CrawlFailure)
    assert (failure.stage, failure.error_class, failure.transient) == ("robots", "RobotsUnreachable", True)
    assert failure.message.startswith("http://tin.example.vn/bai.html: robots.txt unreachable (503)")


def test_robots_txt_answering_503_disallows_the_host(host: Host, make_source: Callable[..., Source]) -> None:
    host.routes["/robots.txt"] = [Answer(503, {}, b"<h1>503 Service Unavailable</h1>")]
    host.routes["/a.html"] = host.routes["/b.html"] = [Answer(200, {}, PAGE)]
    source = pages_source(make_source, host, "/a.html", "/b.html")

    events = run(source)

    assert len(host.requests_for("/robots.txt")) == SETTINGS.retry_times + 1
    assert not host.requests_for("/a.html") and not host.requests_for("/b.html")
    failed = failures(events, host)
    assert sorted(failed) == ["/a.html", "/b.html"] and not [e for e in events if isinstance(e, FetchedDoc)]
    for failure in failed.values():
        assert (failure.stage, failure.error_class, failure.transient) == ("robots", "RobotsUnreachable", True)
        assert "robots.txt unreachable (503): not fetching, per RFC 9309" in failure.message

    assert not pauses(events)                    # no Retry-After: only this run is affected
    # The next run asks again, and fetches once robots.txt is back.
    host.routes["/robots.txt"] = [Answer(200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow:\n")]
    again = run(source)
    assert len(host.requests_for("/robots.txt")) == SETTINGS.retry_times + 2
    assert len([e for e in again if isinstance(e, FetchedDoc)]) == 2


def test_unreachable_robots_txt_host_is_not_fetched(make_source: Callable[..., Source]) -> None:
    closed = Host()          # bound, never served, then closed: nothing listens on its port
    base = closed.base_url
    closed.server_close()
    events = run(make_source(id="polite", crawl={"pages": [base + "/a.html"]}))
    (failure,) = [e for e in events if isinstance(e, CrawlFailure)]
    assert (failure.stage, failure.error_class) == ("robots", "RobotsUnreachable")
    assert "robots.txt unreachable (" in failure.message and "RFC 9309" in failure.message


@pytest.mark.parametrize("status", [404, 410])
def test_robots_txt_answering_4xx_allows_all(host: Host, make_source: Callable[..., Source], status: int) -> None:
    # Its error page is not read as rules, whatever it says.
    host.routes["/robots.txt"] = [Answer(status, {}, b"User-agent: *\nDisallow: /\n")]
    host.routes["/a.html"] = host.routes["/b.html"] = [Answer(200, {}, PAGE)]

    events = run(pages_source(make_source, host, "/a.html", "/b.html"))

    assert len(host.requests_for("/robots.txt")) == 1
    assert len(host.requests_for("/a.html")) == 1 and len(host.requests_for("/b.html")) == 1
    assert len([e for e in events if isinstance(e, FetchedDoc)]) == 2
    assert not [e for e in events if isinstance(e, CrawlFailure)]


def test_robots_txt_answering_429_with_retry_after_pauses_the_host(host: Host,
                                                                   make_source: Callable[..., Source]) -> None:
    host.routes["/robots.txt"] = [Answer(429, {"Retry-After": HOUR})]
    host.routes["/a.html"] = host.routes["/b.html"] = [Answer(200, {}, PAGE)]

    events = run(pages_source(make_source, host, "/a.html", "/b.html"))

    assert len(host.requests_for("/robots.txt")) == 1 and not host.requests_for("/a.html")
    found = pauses(events)
    assert found and {(p.host, p.status, p.asked_s) for p in found} == {(host_key(host.base_url), 429, 3600.0)}
    assert len({p.until for p in found}) == 1    # one answer, one pause, however many pages it stopped
    for failure in failures(events, host).values():
        assert failure.error_class == "RobotsUnreachable" and "server asked to wait 3600 s (Retry-After)" in failure.message
