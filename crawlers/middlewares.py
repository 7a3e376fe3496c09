"""Scrapy downloader middlewares (private-address guard, conditional GET, Retry-After and the hosts
paused by it, robots.txt per RFC 9309) and the mapping of every fetch failure to the event that
records it for its source.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
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
from scrapy.robotstxt import RobotParser
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost, DNSLookupError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from crawlers.events import CrawlEvent, CrawlFailure, HostPaused, NotModified, Skipped, ValidatorUpdate
from crawlers.pauses import RETRY_AFTER_CAP, capped_wait, host_key, span_text

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    from haidang.settings import Source
    from haidang.store.base import Validators

__all__ = [
    "META_CONFIGURED",
    "META_RETRY_AFTER",
    "META_ROLE",
    "META_VALIDATOR_UPDATE",
    "PAUSED_HOSTS_SETTING",
    "ROLE_FEED",
    "ROLE_PAGE",
    "ROLE_SITEMAP",
    "ConditionalGetMiddleware",
    "HostPausedRefused",
    "NotModifiedResponse",
    "PausedHostMiddleware",
    "PrivateAddressGuardMiddleware",
    "PrivateAddressRefused",
    "RetryAfterMiddleware",
    "RobotsUnreachable",
    "StrictRobotsTxtMiddleware",
    "failure_events",
    "is_private_address",
    "retry_after_seconds",
    "validator_update",
]

logger = logging.getLogger(__name__)

META_ROLE = "haidang_role"                    # "feed" | "sitemap" | "listing" | "page"
META_CONFIGURED = "haidang_configured_url"    # set on requests for URLs named in the source's config
META_VALIDATOR_UPDATE = "haidang_validator_update"
META_RETRY_AFTER = "haidang_retry_after_s"    # set when a long Retry-After stopped the retries
# Scrapy setting: {host_key: POSIX time} of the hosts paused by an earlier Retry-After (crawlers.pauses).
PAUSED_HOSTS_SETTING = "HAIDANG_PAUSED_HOSTS"
_META_NOT_BEFORE = "haidang_not_before"       # time.monotonic() a retry waits for (short Retry-After)
_META_VALIDATED_URL = "haidang_validated_url"
ROLE_FEED = "feed"
ROLE_PAGE = "page"
ROLE_SITEMAP = "sitemap"

_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    DownloadTimeoutError, TwistedTimeoutError, CannotResolveHostError, DNSLookupError,
    DownloadConnectionRefusedError, ConnectError, ConnectionDone, ConnectionLost,
    DownloadFailedError, ResponseDataLossError, ResponseFailed,
)


class PrivateAddressRefused(IgnoreRequest):
    """The request's host resolves to a private, loopback or link-local address."""


class NotModifiedResponse(IgnoreRequest):
    """The server answered 304 to our conditional GET; raised so no parse callback sees a 304."""


class RobotsUnreachable(IgnoreRequest):
    """The host's robots.txt answered 5xx (or 429) or could not be fetched: RFC 9309 §2.3.1.4.
    `retry_after`: the seconds its 429/503 (`status`) asked to wait, when longer than a run may wait."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None,
                 at: datetime | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.at = at


class HostPausedRefused(IgnoreRequest):
    """The request's host asked (Retry-After, in this or an earlier run) not to be asked again yet."""


def is_private_address(address: str) -> bool:
    """True for anything that is not a globally routable unicast address (RFC 1918, loopback,
    link-local, CGNAT, unique-local, multicast, reserved), including IPv4-mapped IPv6 forms."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


_DEFAULT_PORTS = {"http": 80, "https": 443}


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
        # (host, port) of the URLs named in config: their robots.txt is fetched unchecked. With the
        # port: a robots.txt redirected to another port of an admitted private host (its database,
        # its admin console) is a different service, and is checked like any other URL.
        self._admitted: set[tuple[str, int | None]] = set()

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
        origin = (host, parts.port or _DEFAULT_PORTS.get(parts.scheme))
        if request.meta.get(META_CONFIGURED) == request.url:
            self._admitted.add(origin)
            return
        # robots.txt for a host and port we already admitted through a configured URL.
        if request.meta.get("dont_obey_robotstxt") and parts.path == "/robots.txt" \
                and origin in self._admitted:
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


class _RunPauses:
    """Hosts paused during this crawl (a long Retry-After answered now), shared by every source's
    crawler in the crawl process, and those crawlers' downloaders, whose queued requests to such a
    host are refused at once.

    Module state on purpose: `crawlers.runner.crawl` spawns a fresh process for each crawl, so it
    lives exactly as long as the run; pauses from earlier runs come in through the settings and are
    added here by each crawler's `PausedHostMiddleware`."""

    def __init__(self) -> None:
        self.until: dict[str, float] = {}
        self._crawlers: weakref.WeakSet[Crawler] = weakref.WeakSet()

    def attach(self, crawler: Crawler) -> None:
        self._crawlers.add(crawler)

    def pause(self, host: str, until: float) -> None:
        """Refuse `host` until `until` (POSIX time) to every crawler, queued requests included."""
        self.until[host] = max(until, self.until.get(host, 0.0))
        for crawler in list(self._crawlers):
            _refuse_queued(crawler, host, until)


_RUN_PAUSES = _RunPauses()


def _refuse_queued(crawler: Crawler, host: str, until: float) -> None:
    """Fail every request to `host` waiting in the crawler's download slots (already past the
    middlewares, held back only by the download delay) with HostPausedRefused, so none goes out."""
    engine = getattr(crawler, "engine", None)
    slots = getattr(getattr(engine, "downloader", None), "slots", None) or {}
    for slot in list(slots.values()):
        queue = getattr(slot, "queue", None)
        if not queue:
            continue
        waiting = [entry for entry in queue if host_key(entry[0].url) == host]
        for entry in waiting:
            queue.remove(entry)
            deferred = entry[1]
            deferred.errback(Failure(HostPausedRefused(_refusal(host, until))))


def _refusal(host: str, until: float) -> str:
    when = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{host} asked to wait (Retry-After): not requested before {when}"


class PausedHostMiddleware:
    """Refuses every request to a host paused by a Retry-After until its time has passed: feeds,
    pages and robots.txt alike, so a paused host sees no request at all. Pauses come from earlier
    runs (`PAUSED_HOSTS_SETTING`, from the store through `crawlers.runner.crawl`) and from this one
    (`RetryAfterMiddleware`, for every source crawled with it). Runs first, before the robots.txt
    middleware asks for one."""

    def __init__(self, crawler: Crawler):
        for host, when in crawler.settings.getdict(PAUSED_HOSTS_SETTING).items():
            _RUN_PAUSES.until[str(host)] = max(float(when), _RUN_PAUSES.until.get(str(host), 0.0))
        _RUN_PAUSES.attach(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PausedHostMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if not _RUN_PAUSES.until:
            return
        host = host_key(request.url)
        until = _RUN_PAUSES.until.get(host, 0.0)
        if until > time.time():
            raise HostPausedRefused(_refusal(host, until))
        return


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


# -- Retry-After ----------------------------------------------------------------------------

_WAIT_STATUSES = (429, 503)     # the codes whose Retry-After (RFC 6585, RFC 9110 §10.2.3) we honour
# The longest Retry-After read as asked (about 317,000 years, beyond any HTTP-date): far above the
# cap (crawlers.pauses), so every longer value pauses for the cap alike, and within a timedelta
# (about 8.6e13 s) where "9" * 20 is not.
_LONGEST_READ_S = 1e13


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or HTTP-date); None if absent or unreadable.
    A date in the past is 0."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isascii() and text.isdigit():
        # More digits than _LONGEST_READ_S: read as it (a float or a timedelta would overflow).
        return min(_LONGEST_READ_S, float(int(text))) if len(text) <= 14 else _LONGEST_READ_S
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)        # an HTTP-date is always GMT
    return min(_LONGEST_READ_S, max(0.0, (when - (now or datetime.now(UTC))).total_seconds()))


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware that honours Retry-After on 429 and 503.

    A wait up to `HAIDANG_RETRY_AFTER_MAX_S` (the download timeout) is kept before the retry;
    a longer one is not retried in this run, and the response fails naming the wait
    (`META_RETRY_AFTER`); `failure_events` then pauses the host for the next runs (HostPaused).
    From then on the host gets no other request in this run either, from any source (`_RunPauses`):
    those waiting for the download delay are refused, later ones meet `PausedHostMiddleware`.
    Without Retry-After Scrapy's own retry applies. With AutoThrottle on, each 429/503 also doubles
    the host's download delay: AutoThrottle alone never raises it for an error answered quickly.
    """

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self._max_wait_s = settings.getfloat("HAIDANG_RETRY_AFTER_MAX_S", settings.getfloat("DOWNLOAD_TIMEOUT"))
        self._autothrottle = settings.getbool("AUTOTHROTTLE_ENABLED")
        self._start_delay = max(settings.getfloat("DOWNLOAD_DELAY"), settings.getfloat("AUTOTHROTTLE_START_DELAY"))
        self._max_delay = settings.getfloat("AUTOTHROTTLE_MAX_DELAY")

    async def process_request(self, request: Request) -> None:
        not_before = request.meta.pop(_META_NOT_BEFORE, None)
        if not_before is not None and not_before > time.monotonic():
            await asyncio.sleep(not_before - time.monotonic())

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        if (response.status not in _WAIT_STATUSES or response.status not in self.retry_http_codes
                or request.meta.get("dont_retry", False)):
            return super().process_response(request, response)
        self._back_off(request)
        wait = retry_after_seconds(response.headers.get(b"Retry-After")) or 0.0
        if wait > self._max_wait_s:
            request.meta[META_RETRY_AFTER] = wait
            _RUN_PAUSES.pause(host_key(request.url), time.time() + capped_wait(wait)[0].total_seconds())
            return response
        retry = super().process_response(request, response)
        if wait and isinstance(retry, Request):
            retry.meta[_META_NOT_BEFORE] = time.monotonic() + wait
        return retry

    def _back_off(self, request: Request) -> None:
        if not self._autothrottle or self.crawler.engine is None:
            return
        slot = self.crawler.engine.downloader.slots.get(request.meta.get("download_slot", ""))
        if slot is None:
            return
        latency = float(request.meta.get("download_latency") or 0.0)
        backed_off = min(self._max_delay, max(2 * slot.delay, self._start_delay, latency))
        slot.delay = max(slot.delay, backed_off)


# -- robots.txt -----------------------------------------------------------------------------


# RFC 9309 §2.5: crawlers may stop parsing robots.txt after a limit of at least 500 KiB (Google
# stops there too). Unlimited, Protego took 5 s and 240 MB for a 4 MB robots.txt, then 0.1 s for
# every URL checked against it, all on the reactor's thread; at 500 KiB: 0.5 s, then 12 ms a URL.
_ROBOTS_PARSE_LIMIT = 500 * 1024


def _robots_head(body: bytes) -> bytes:
    """The whole lines within the first _ROBOTS_PARSE_LIMIT bytes: a rule cut short would read as
    another rule ("Disallow: /tin-tuc/bai-viet" cut to "Disallow: /ti")."""
    head = body[:_ROBOTS_PARSE_LIMIT]
    return head[:head.rfind(b"\n") + 1]


class _UnreachableRobots(RobotParser):
    """Stands in for the parser of a robots.txt that could not be read: allows nothing.
    `retry_after`: the long wait its 429/503 asked for, if any (the host is then paused), and when."""

    def __init__(self, reason: str, retry_after: float | None = None):
        self.reason = reason
        self.retry_after = retry_after
        self.at = datetime.now(UTC)

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> _UnreachableRobots:
        raise NotImplementedError("built from a failure, never from a robots.txt body")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False


class _NoTraceback(logging.Filter):
    """Scrapy logs a robots.txt download error with its whole traceback: an unreachable host is
    not a bug, and the run's summary already names it, so one warning line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


logging.getLogger(RobotsTxtMiddleware.__module__).addFilter(_NoTraceback())


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware with RFC 9309's rule for a robots.txt it cannot read.

    Scrapy allows everything once robots.txt has failed; RFC 9309 §2.3.1.4 says a robots.txt
    unreachable through server or network errors means complete disallow. So after Scrapy's
    retries a 5xx (and a 429, which asks us to slow down) or a download error makes every
    request to that host fail with RobotsUnreachable for the rest of this crawl; the next crawl
    asks again. A 4xx stays "allow all" (§2.3.1.3), and its error page is not parsed as rules.
    """

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500 or response.status == 429:
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            asked = response.request.meta.get(META_RETRY_AFTER) if response.request is not None else None
            self._settle(netloc, _UnreachableRobots(str(response.status), asked))
            return
        if 400 <= response.status < 500:
            response = response.replace(body=b"")
        elif len(response.body) > _ROBOTS_PARSE_LIMIT:
            logger.warning("robots.txt of %s is %d bytes; only its first %d are read (RFC 9309 §2.5)",
                           netloc, len(response.body), _ROBOTS_PARSE_LIMIT)
            self._stats.inc_value("robotstxt/truncated")
            response = response.replace(body=_robots_head(response.body))
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, DownloadCancelledError) or _over_size_when_decompressed(exc):
            # Larger than the size cap on the wire or once inflated (a gzip bomb): unreadable, so
            # nothing is fetched from the host, as for a 5xx, and the reason says why.
            self._stats.inc_value("robotstxt/oversize")
            self._settle(netloc, _UnreachableRobots("larger than the size cap"))
            return
        # Other refusals (a private address, a redirect loop) keep Scrapy's "allow": the page
        # requests meet the same refusal, or robots.txt is simply not there.
        if isinstance(exc, IgnoreRequest):
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        self._settle(netloc, _UnreachableRobots(type(exc).__name__))

    def _settle(self, netloc: str, parser: RobotParser) -> None:
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        if isinstance(rp, _UnreachableRobots):
            self._stats.inc_value("robotstxt/unreachable")
            raise RobotsUnreachable(f"robots.txt unreachable ({rp.reason}): not fetching, per RFC 9309",
                                    retry_after=rp.retry_after, at=rp.at,
                                    status=int(rp.reason) if rp.reason.isdigit() else None)
        super().process_request_2(rp, request)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _attempts(request: Request) -> str:
    retries = int(request.meta.get("retry_times", 0))
    return f" after {retries + 1} attempts" if retries else ""


def _over_size_when_decompressed(exc: BaseException) -> bool:
    """HttpCompressionMiddleware's refusal of a body that inflates past DOWNLOAD_MAXSIZE."""
    return isinstance(exc, IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(exc)


def failure_events(failure: Failure, request: Request, source_id: str) -> list[CrawlEvent]:
    """The event(s) recording why `request` produced no document.

    Discovered pages that are refused on purpose (robots, size, private address) are Skipped;
    the same refusal for a URL from the source's config is a CrawlFailure the operator must
    see. Timeouts, DNS, connection errors and 5xx are transient; 4xx and refusals permanent.
    A 429/503 whose Retry-After was too long to wait for is followed by a HostPaused; any request
    to a host paused that way is Skipped ("retry-after"), configured URLs included.
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
    if isinstance(exc, HostPausedRefused):
        # Configured URLs too: the outlet asked us to wait, which is no fault of the configuration.
        return skip("retry-after")
    if isinstance(exc, PrivateAddressRefused):
        return skip("private-address") if is_page else fail("fetch", "PrivateAddressRefused", str(exc), False)
    # Not fetched only for now: pages too are failures, so a feed's validators are not stored and
    # the next run asks for them again.
    if isinstance(exc, RobotsUnreachable):
        if exc.retry_after is not None:
            pause = _pause(request.url, source_id, exc.status or 503, exc.retry_after, exc.at)
            return fail("robots", "RobotsUnreachable", f"{url}: {exc} (source {source_id}); the server asked to "
                        f"wait {exc.retry_after:.0f} s (Retry-After){_paused_text(pause)}", True) + [pause]
        return fail("robots", "RobotsUnreachable",
                    f"{url}: {exc} (source {source_id}); will try again on the next run", True)
    if isinstance(exc, HttpError):
        status = exc.response.status
        transient = status >= 500 or status in (408, 429)
        wait = request.meta.get(META_RETRY_AFTER)
        if wait is not None:
            pause = _pause(request.url, source_id, status, wait)
            return fail("fetch", "HttpError",
                        f"HTTP {status} from {url} (source {source_id}): server asked to wait {wait:.0f} s "
                        f"(Retry-After), so not retried in this run{_paused_text(pause)}", True) + [pause]
        advice = "will retry on the next run" if transient else "check the URL"
        return fail("fetch", "HttpError",
                    f"HTTP {status} from {url}{_attempts(request)} (source {source_id}); {advice}",
                    transient)
    if isinstance(exc, DownloadCancelledError) or _over_size_when_decompressed(exc):
        # Scrapy's HTTP/1.1 handler cancels a download only for the size cap (DOWNLOAD_MAXSIZE);
        # when the cap is hit while streaming, the exception carries no message. A compressed body
        # that inflates past the cap (a gzip bomb) is refused by HttpCompressionMiddleware instead.
        if is_page:
            return skip("oversize")
        detail = str(exc) or "its download was stopped there"
        return fail("fetch", "Oversize", f"{url} is larger than the size cap ({detail}); raise "
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
        # Scrapy raises ResponseDataLossError without a message.
        detail = str(exc) or ("the server closed the connection before sending the whole body"
                              if isinstance(exc, ResponseDataLossError) else repr(exc))
        return fail("fetch", type(exc).__name__,
                    f"{type(exc).__name__} fetching {url}{_attempts(request)}: {detail}", True)
    return fail("fetch", type(exc).__name__, f"fetching {url} failed: {exc!r}", False)


def _pause(url: str, source_id: str, status: int, asked_s: float, at: datetime | None = None) -> HostPaused:
    """The pause a long Retry-After (answered at `at`, default now) puts on the host of `url`, capped."""
    at = at or datetime.now(UTC)
    wait, _ = capped_wait(asked_s)
    return HostPaused(source_id=source_id, url=url, host=host_key(url), status=status, asked_s=float(asked_s),
                      at=at, until=at + wait)


def _paused_text(pause: HostPaused) -> str:
    wait = pause.until - pause.at
    capped = f", more than the {span_text(RETRY_AFTER_CAP)} cap" if wait < timedelta(seconds=pause.asked_s) else ""
    return f"; {pause.host} is paused for {span_text(wait)}{capped}: the next runs skip it until then"


def validator_update(request_meta: Mapping[str, Any]) -> ValidatorUpdate | None:
    """The validators `ConditionalGetMiddleware` noted for this response, if any changed."""
    update = request_meta.get(META_VALIDATOR_UPDATE)
    return update if isinstance(update, ValidatorUpdate) else None
