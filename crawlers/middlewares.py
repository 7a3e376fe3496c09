"""Scrapy downloader middlewares (private-address guard, conditional GET) and the mapping of
every fetch failure to the event that records it for its source.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost, DNSLookupError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from crawlers.events import CrawlEvent, CrawlFailure, NotModified, Skipped, ValidatorUpdate

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from haidang.settings import Source
    from haidang.store.base import Validators

__all__ = [
    "META_CONFIGURED",
    "META_ROLE",
    "META_VALIDATOR_UPDATE",
    "ROLE_PAGE",
    "ConditionalGetMiddleware",
    "NotModifiedResponse",
    "PrivateAddressGuardMiddleware",
    "PrivateAddressRefused",
    "failure_events",
    "is_private_address",
    "validator_update",
]

META_ROLE = "haidang_role"                    # "feed" | "sitemap" | "listing" | "page"
META_CONFIGURED = "haidang_configured_url"    # set on requests for URLs named in the source's config
META_VALIDATOR_UPDATE = "haidang_validator_update"
_META_VALIDATED_URL = "haidang_validated_url"
ROLE_PAGE = "page"

_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DownloadTimeoutError, TwistedTimeoutError, CannotResolveHostError, DNSLookupError,
    DownloadConnectionRefusedError, ConnectError, ConnectionDone, ConnectionLost,
    DownloadFailedError, ResponseDataLossError, ResponseFailed,
)


class PrivateAddressRefused(IgnoreRequest):
    """The request's host resolves to a private, loopback or link-local address."""


class NotModifiedResponse(IgnoreRequest):
    """The server answered 304 to our conditional GET; raised so no parse callback sees a 304."""


def is_private_address(address: str) -> bool:
    """True for anything that is not a globally routable unicast address (RFC 1918, loopback,
    link-local, CGNAT, unique-local, multicast, reserved), including IPv4-mapped IPv6 forms."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _source(crawler: Crawler) -> Source | None:
    return getattr(crawler.spider, "source", None)


class PrivateAddressGuardMiddleware:
    """Refuses requests to hosts that resolve to private addresses unless the source is local.

    URLs named in the source's own config (feeds, sitemaps, start pages) are the operator's
    choice and are fetched as configured; everything discovered in fetched content (feed links,
    listing and sitemap links, redirect targets) must resolve to public addresses, since a
    hostile feed could otherwise point the crawler at the monitoring host's own network.
    Known gap: the downloader resolves the name again, so a DNS answer that changes between the
    two lookups (DNS rebinding) is not caught here.
    """

    def __init__(self, crawler: Crawler):
        self._crawler = crawler
        self._verdicts: dict[str, str | None] = {}    # host -> private address found, or None
        self._admitted_private: set[str] = set()      # private hosts allowed by config

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuardMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        source = _source(self._crawler)
        if source is None or source.local:
            return
        parts = urlparse_cached(request)
        host = parts.hostname
        if not host:
            return
        if request.meta.get(META_CONFIGURED) == request.url:
            self._admitted_private.add(host)
            return
        # robots.txt for a host we already admitted through a configured URL.
        if request.meta.get("dont_obey_robotstxt") and parts.path == "/robots.txt" \
                and host in self._admitted_private:
            return
        private = await self._private_address_of(host, parts.port)
        if private is not None:
            raise PrivateAddressRefused(
                f"{host} resolves to {private}, a private address; refused for source "
                f"{source.id!r} (set `local: true` on the source to allow it)")
        return

    async def _private_address_of(self, host: str, port: int | None) -> str | None:
        if host in self._verdicts:
            return self._verdicts[host]
        try:
            candidates = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port or 80, type=socket.SOCK_STREAM)
            except OSError:
                return None          # unresolvable: the downloader reports the DNS failure
            candidates = [str(info[4][0]) for info in infos]
        verdict = next((a for a in candidates if is_private_address(a)), None)
        self._verdicts[host] = verdict
        return verdict


class ConditionalGetMiddleware:
    """Sends If-None-Match / If-Modified-Since held for each URL, turns a 304 into
    NotModifiedResponse, and notes new validators on the request for the spider to report
    once the document has been handled (see `crawlers.events.ValidatorUpdate`)."""

    def __init__(self, crawler: Crawler):
        self._crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        return cls(crawler)

    def _validators(self) -> Mapping[str, Validators]:
        return getattr(self._crawler.spider, "validators", None) or {}

    def process_request(self, request: Request) -> None:
        validated = request.meta.get(_META_VALIDATED_URL)
        if validated is not None and validated != request.url:
            # A redirect copied the headers we set for the previous URL; they belong to it.
            request.headers.pop(b"If-None-Match", None)
            request.headers.pop(b"If-Modified-Since", None)
            request.meta.pop(_META_VALIDATED_URL)
        held = self._validators().get(request.url)
        if held is None or not (held.etag or held.last_modified):
            return
        if held.etag:
            request.headers[b"If-None-Match"] = held.etag
        if held.last_modified:
            request.headers[b"If-Modified-Since"] = held.last_modified
        request.meta[_META_VALIDATED_URL] = request.url
        return

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 304 and request.meta.get(_META_VALIDATED_URL) == request.url:
            raise NotModifiedResponse(f"{request.url} not modified since the last crawl")
        if 200 <= response.status < 300:
            etag = _header(response, b"ETag")
            last_modified = _header(response, b"Last-Modified")
            held = self._validators().get(response.url)
            if (etag or last_modified) and (
                    held is None or (held.etag, held.last_modified) != (etag, last_modified)):
                request.meta[META_VALIDATOR_UPDATE] = ValidatorUpdate(
                    url=response.url, etag=etag, last_modified=last_modified)
        return response


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _attempts(request: Request) -> str:
    retries = int(request.meta.get("retry_times", 0))
    return f" after {retries + 1} attempts" if retries else ""


def failure_events(failure: Failure, request: Request, source_id: str) -> list[CrawlEvent]:
    """The event(s) recording why `request` produced no document.

    Discovered pages that are refused on purpose (robots, size, private address) are Skipped;
    the same refusal for a URL from the source's config is a CrawlFailure the operator must
    see. Timeouts, DNS, connection errors and 5xx are transient; 4xx and refusals permanent.
    """
    exc = failure.value
    # Report the URL as first requested (the feed link, the configured URL), not a redirect hop.
    url = (request.meta.get("redirect_urls") or [request.url])[0]
    is_page = request.meta.get(META_ROLE) == ROLE_PAGE

    def fail(stage: str, error_class: str, message: str, transient: bool) -> list[CrawlEvent]:
        return [CrawlFailure(source_id=source_id, url=url, stage=stage, error_class=error_class,
                             message=message, transient=transient)]

    def skip(reason: str) -> list[CrawlEvent]:
        return [Skipped(source_id=source_id, url=url, reason=reason)]

    if isinstance(exc, NotModifiedResponse):
        return [NotModified(source_id=source_id, url=url)]
    if isinstance(exc, PrivateAddressRefused):
        return skip("private-address") if is_page else fail("fetch", "PrivateAddressRefused", str(exc), False)
    if isinstance(exc, HttpError):
        status = exc.response.status
        transient = status >= 500 or status in (408, 429)
        advice = "will retry on the next run" if transient else "check the URL"
        return fail("fetch", "HttpError",
                    f"HTTP {status} from {url}{_attempts(request)} (source {source_id}); {advice}",
                    transient)
    if isinstance(exc, DownloadCancelledError):
        # Scrapy's HTTP/1.1 handler cancels a download only for the size cap (DOWNLOAD_MAXSIZE);
        # when the cap is hit while streaming, the exception carries no message.
        if is_page:
            return skip("oversize")
        return fail("fetch", "Oversize", f"{url} is larger than the size cap {exc}; raise "
                    "crawl.max_size_bytes if this is expected", False)
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            if is_page:
                return skip("robots")
            return fail("robots", "RobotsDisallowed",
                        f"robots.txt disallows {url} (source {source_id}); remove it from the config "
                        "or ask the site", False)
        if "max redirections" in text:
            chain = " -> ".join([*request.meta.get("redirect_urls", []), request.url])
            return fail("fetch", "RedirectLoop", f"too many redirects: {chain}", False)
        return fail("fetch", type(exc).__name__, f"request for {request.url} ignored: {text}", False)
    if isinstance(exc, _TRANSIENT_ERRORS):
        return fail("fetch", type(exc).__name__,
                    f"{type(exc).__name__} fetching {url}{_attempts(request)}: {exc}", True)
    return fail("fetch", type(exc).__name__, f"fetching {url} failed: {exc!r}", False)


def validator_update(request_meta: Mapping[str, Any]) -> ValidatorUpdate | None:
    """The validators `ConditionalGetMiddleware` noted for this response, if any changed."""
    update = request_meta.get(META_VALIDATOR_UPDATE)
    return update if isinstance(update, ValidatorUpdate) else None
