"""Retry-After pauses at their edges, through the real crawl against a host on 127.0.0.1: values
no server should send (a number too long for a float or a timedelta), and host names written in
another form than the one Scrapy requests (a Vietnamese IDN, a trailing dot, an IPv6 literal),
which must name the same pause in the parent (which sources to skip) and in the crawl child."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Request

from crawlers.events import CrawlFailure, HostPaused
from crawlers.middlewares import retry_after_seconds
from crawlers.pauses import RETRY_AFTER_CAP, host_key, keep_pause, paused_until
from haidang.settings import Source
from tests.crawlers.test_politeness import Answer, Host, pages_source, run


@pytest.fixture()
def host() -> Iterator[Host]:
    server = Host()
    thread = threading.Thread(target=server.serve_forever, name="pause-edges-host", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("value", ["9" * 20, "9" * 400, "9" * 5000])
def test_a_retry_after_too_long_for_any_clock_pauses_the_host_for_the_cap(
        host: Host, make_source: Callable[..., Source], value: str) -> None:
    host.routes["/a.html"] = [Answer(429, {"Retry-After": value})]

    events = run(pages_source(make_source, host, "/a.html"))

    (pause,) = [e for e in events if isinstance(e, HostPaused)]
    assert pause.until - pause.at == RETRY_AFTER_CAP
    (failure,) = [e for e in events if isinstance(e, CrawlFailure)]
    assert failure.error_class == "HttpError" and "a bug" not in failure.message, failure.message
    assert "more than the 24 h cap" in failure.message
    keep_pause(_Recorder(), pause)            # the parent logs and keeps it without overflowing


def test_retry_after_seconds_stays_within_a_timedelta() -> None:
    for value in ("9" * 20, "9" * 5000, "Fri, 31 Dec 9999 23:59:59 GMT"):
        seconds = retry_after_seconds(value, datetime(2026, 3, 13, tzinfo=UTC))
        assert seconds is not None and seconds >= 24 * 3600
        timedelta(seconds=seconds)            # no OverflowError


class _Recorder:
    def __init__(self) -> None:
        self.pauses: list[object] = []

    def set_host_pause(self, pause: object) -> None:
        self.pauses.append(pause)


@pytest.mark.parametrize("url", [
    "https://báo.vn/rss/tin-moi.rss",              # what an officer types in sources.yaml
    "https://BÁO.VN/rss/tin-moi.rss",
    "https://thanhnien.vn./rss/home.rss",         # a fully qualified name
    "https://[2001:DB8::1]:8443/rss",             # an IPv6 literal with a port
    "https://[2001:db8::1]/rss",
])
def test_a_host_has_one_key_as_configured_and_as_requested(url: str) -> None:
    """The parent skips sources by the configured URLs' keys; the crawl child keys the pause by the
    URL Scrapy requested (an IDN in punycode): both must be the same key."""
    assert host_key(url) == host_key(Request(url).url)


def test_an_ipv6_host_and_port_is_not_read_as_another_address() -> None:
    assert host_key("https://[::1]:8443/") != host_key("https://[::1:8443]/")


def test_a_source_on_an_idn_host_is_skipped_by_the_pause_its_request_got(make_source: Callable[..., Source]) -> None:
    source = make_source(id="bao", feeds=["https://báo.vn/rss/tin-moi.rss"])
    now = datetime.now(UTC)
    requested = Request(source.feeds[0]).url
    assert paused_until(source, {host_key(requested): now + timedelta(hours=1)}, now) is not None
