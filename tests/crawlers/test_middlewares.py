"""The private-address guard, conditional GET, and the failure-to-event mapping, on their own
(the crawls in test_runner.py exercise them end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.events import CrawlFailure, NotModified, Skipped, ValidatorUpdate
from crawlers.middlewares import (
    META_CONFIGURED,
    META_ROLE,
    META_VALIDATOR_UPDATE,
    ROLE_PAGE,
    ConditionalGetMiddleware,
    NotModifiedResponse,
    PrivateAddressGuardMiddleware,
    PrivateAddressRefused,
    failure_events,
    is_private_address,
)
from haidang.settings import Source
from haidang.store.base import Validators


def crawler_for(source: Source, validators: dict[str, Validators] | None = None) -> Any:
    """Just what the middlewares read from a Scrapy crawler: its spider's source and validators."""
    return SimpleNamespace(spider=SimpleNamespace(source=source, validators=validators or {}))


# -- private addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(("address", "private"), [
    ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.9", True), ("192.168.1.1", True),
    ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True), ("::1", True),
    ("fe80::1", True), ("fd00::5", True), ("::ffff:127.0.0.1", True), ("224.0.0.1", True),
    ("203.162.4.190", False), ("8.8.8.8", False), ("2001:4860:4860::8888", False),
])
def test_private_address_classification(address: str, private: bool) -> None:
    assert is_private_address(address) is private


def guard(source: Source) -> PrivateAddressGuardMiddleware:
    return PrivateAddressGuardMiddleware(crawler_for(source))


def check(mw: PrivateAddressGuardMiddleware, request: Request) -> None:
    asyncio.run(mw.process_request(request))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/bai.html", "http://localhost/bai.html",
                                 "http://[::1]/bai.html", "http://169.254.169.254/latest/meta-data/"])
def test_discovered_private_urls_are_refused_for_public_sources(make_source: Callable[..., Source],
                                                                url: str) -> None:
    mw = guard(make_source(local=False))
    with pytest.raises(PrivateAddressRefused, match="local: true"):
        check(mw, Request(url, meta={META_ROLE: ROLE_PAGE}))


def test_local_sources_may_fetch_private_addresses(make_source: Callable[..., Source]) -> None:
    check(guard(make_source(local=True)), Request("http://127.0.0.1:8000/bai.html"))


def test_public_address_passes(make_source: Callable[..., Source]) -> None:
    check(guard(make_source(local=False)), Request("http://203.162.4.190/bai.html"))


def test_configured_urls_are_trusted_but_their_redirects_are_not(make_source: Callable[..., Source]) -> None:
    mw = guard(make_source(local=False))
    feed = "http://127.0.0.1:8000/rss.xml"
    check(mw, Request(feed, meta={META_CONFIGURED: feed}))
    check(mw, Request("http://127.0.0.1:8000/robots.txt", meta={"dont_obey_robotstxt": True}))
    redirected = Request("http://127.0.0.1:8000/elsewhere.xml", meta={META_CONFIGURED: feed})
    with pytest.raises(PrivateAddressRefused):
        check(mw, redirected)


def test_robots_txt_of_a_host_never_admitted_is_refused(make_source: Callable[..., Source]) -> None:
    with pytest.raises(PrivateAddressRefused):
        check(guard(make_source(local=False)),
              Request("http://10.0.0.8/robots.txt", meta={"dont_obey_robotstxt": True}))


# -- conditional GET ------------------------------------------------------------------------

URL = "http://tin.example.vn/rss.xml"


def conditional(make_source: Callable[..., Source], **held: str) -> ConditionalGetMiddleware:
    validators = {URL: Validators(url=URL, **held)} if held else {}
    return ConditionalGetMiddleware(crawler_for(make_source(), validators))


def test_validators_are_sent(make_source: Callable[..., Source]) -> None:
    mw = conditional(make_source, etag='"v1"', last_modified="Tue, 10 Mar 2026 01:00:00 GMT")
    request = Request(URL)
    mw.process_request(request)
    assert request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"If-Modified-Since"] == b"Tue, 10 Mar 2026 01:00:00 GMT"


def test_validators_do_not_follow_a_redirect(make_source: Callable[..., Source]) -> None:
    mw = conditional(make_source, etag='"v1"')
    request = Request(URL)
    mw.process_request(request)
    moved = request.replace(url="http://tin.example.vn/rss-moi.xml")
    mw.process_request(moved)
    assert b"If-None-Match" not in moved.headers


def test_304_to_our_validators_is_not_modified(make_source: Callable[..., Source]) -> None:
    mw = conditional(make_source, etag='"v1"')
    request = Request(URL)
    mw.process_request(request)
    with pytest.raises(NotModifiedResponse):
        mw.process_response(request, Response(URL, status=304, request=request))


def test_304_without_validators_passes_through(make_source: Callable[..., Source]) -> None:
    mw = conditional(make_source)
    request = Request(URL)
    mw.process_request(request)
    response = Response(URL, status=304, request=request)
    assert mw.process_response(request, response) is response


def test_new_validators_are_noted_changed_only(make_source: Callable[..., Source]) -> None:
    mw = conditional(make_source, etag='"v1"')
    same = Request(URL)
    mw.process_response(same, Response(URL, status=200, headers={"ETag": '"v1"'}, request=same))
    assert META_VALIDATOR_UPDATE not in same.meta
    new = Request(URL)
    mw.process_response(new, Response(URL, status=200, request=new, headers={
        "ETag": '"v2"', "Last-Modified": "Wed, 11 Mar 2026 01:00:00 GMT"}))
    assert new.meta[META_VALIDATOR_UPDATE] == ValidatorUpdate(
        url=URL, etag='"v2"', last_modified="Wed, 11 Mar 2026 01:00:00 GMT")


# -- failures to events ---------------------------------------------------------------------


def events_for(exc: BaseException, *, page: bool, **meta: Any) -> list[Any]:
    request = Request("http://tin.example.vn/bai-1.html",
                      meta={META_ROLE: ROLE_PAGE if page else "feed", **meta})
    return failure_events(Failure(exc), request, "tin")


def test_http_errors_are_transient_only_for_5xx_and_throttling() -> None:
    for status, transient in ((503, True), (500, True), (429, True), (404, False), (410, False)):
        response = Response("http://tin.example.vn/bai-1.html", status=status)
        (event,) = events_for(HttpError(response, "Ignoring"), page=True, retry_times=1)
        assert isinstance(event, CrawlFailure) and event.transient is transient
        assert str(status) in event.message


def test_refusals_skip_pages_but_fail_configured_urls() -> None:
    robots = IgnoreRequest("Forbidden by robots.txt")
    assert events_for(robots, page=True) == [Skipped(source_id="tin", url="http://tin.example.vn/bai-1.html",
                                                     reason="robots")]
    (failure,) = events_for(robots, page=False)
    assert isinstance(failure, CrawlFailure) and (failure.stage, failure.transient) == ("robots", False)
    assert [e.reason for e in events_for(DownloadCancelledError(), page=True)] == ["oversize"]
    assert [e.reason for e in events_for(PrivateAddressRefused("x"), page=True)] == ["private-address"]


def test_redirect_loop_reports_the_first_url_and_the_chain() -> None:
    request = Request("http://tin.example.vn/b", meta={
        META_ROLE: ROLE_PAGE, "redirect_urls": ["http://tin.example.vn/a"]})
    (failure,) = failure_events(Failure(IgnoreRequest("max redirections reached")), request, "tin")
    assert failure.url == "http://tin.example.vn/a" and failure.error_class == "RedirectLoop"
    assert "http://tin.example.vn/a -> http://tin.example.vn/b" in failure.message


def test_timeouts_are_transient_and_304_is_not_modified() -> None:
    (timeout,) = events_for(DownloadTimeoutError("took longer than 1 seconds"), page=True)
    assert isinstance(timeout, CrawlFailure) and timeout.transient
    assert events_for(NotModifiedResponse("x"), page=True) == [
        NotModified(source_id="tin", url="http://tin.example.vn/bai-1.html")]


def test_a_gzip_bomb_is_an_oversize_skip() -> None:
    """Scrapy's own decompression refusal, as a crawl meets it, reads as the size cap, not a fault."""
    import gzip

    from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 50_000})
    middleware = HttpCompressionMiddleware.from_crawler(crawler)
    request = Request("http://tin.example.vn/bai-1.html")
    bomb = HtmlResponse(request.url, body=gzip.compress(b"0" * 5_000_000), request=request,
                        headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
    with pytest.raises(IgnoreRequest) as refused:
        middleware.process_response(request, bomb)
    assert [e.reason for e in events_for(refused.value, page=True)] == ["oversize"]
    (failure,) = events_for(refused.value, page=False)
    assert isinstance(failure, CrawlFailure) and failure.error_class == "Oversize"
