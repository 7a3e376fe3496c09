"""What every source spider shares: one source per spider, page requests with de-duplication
and the page cap, documents and failures as events, and validators reported in a safe order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import HtmlResponse, Request, Response
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from crawlers.events import CrawlEvent, FeedEntry, FetchedDoc, Skipped, ValidatorUpdate
from crawlers.middlewares import META_CONFIGURED, META_ROLE, ROLE_PAGE, failure_events, validator_update
from haidang.settings import Source
from haidang.store.base import Validators

__all__ = ["Batch", "SourceSpider", "is_html", "response_headers"]

log = logging.getLogger(__name__)

META_BATCH = "haidang_batch"
META_ENTRY = "haidang_entry"
META_FEED_URL = "haidang_feed_url"
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(eq=False)
class Batch:
    """A feed, sitemap or listing page whose ValidatorUpdate waits for the requests it spawned.

    Reporting a feed's new ETag before its pages are handled would let a consumer store it,
    get a 304 next time and never retry a page that failed; so the update is released only
    when every child request has ended (in a callback or errback), and then the parent's.
    """

    update: ValidatorUpdate | None
    parent: Batch | None
    pending: int = 1            # the parse of the batch's own response

    def release(self) -> list[ValidatorUpdate]:
        self.pending -= 1
        if self.pending > 0:
            return []
        done = [self.update] if self.update is not None else []
        return done + (self.parent.release() if self.parent is not None else [])


def response_headers(response: Response) -> dict[str, str]:
    """Lower-case header names; repeated headers joined with ", "."""
    return {key.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
            for key, values in response.headers.items()}


def is_html(response: Response) -> bool:
    content_type = response.headers.get(b"Content-Type")
    if not content_type:
        return isinstance(response, HtmlResponse)
    return content_type.decode("latin-1").split(";", 1)[0].strip().lower() in _HTML_TYPES


def _now() -> datetime:
    return datetime.now(UTC)


class SourceSpider(scrapy.Spider):
    """Base for the feed and site spiders; one instance crawls one source."""

    name = "source"

    def __init__(self, *, source: Source, validators: Mapping[str, Validators],
                 max_pages: int, **kwargs: Any):
        super().__init__(name=f"{self.name}:{source.id}", **kwargs)
        self.source = source
        self.validators = validators          # read by ConditionalGetMiddleware
        self._max_pages = max_pages
        self._pages = 0
        self._seen: set[str] = set()

    # -- requests -------------------------------------------------------------------------

    def configured_request(self, url: str, *, role: str, callback: Callable[..., Any],
                           meta: dict[str, Any] | None = None) -> Request:
        """A request for a URL named in the source's config (feed, sitemap, start page)."""
        self._seen.add(url)
        return self._request(url, role=role, callback=callback,
                             meta={META_CONFIGURED: url, **(meta or {})}, batch=None)

    def discovered_request(self, url: str, *, role: str, callback: Callable[..., Any], batch: Batch,
                           meta: dict[str, Any] | None = None) -> Request | Skipped | None:
        """A request for a listing or sitemap URL found in fetched content; Skipped if no request
        can be made for it (`_unrequestable`); None if seen."""
        if url in self._seen:
            return None
        self._seen.add(url)
        if (skipped := self._unrequestable(url)) is not None:
            return skipped
        return self._request(url, role=role, callback=callback, meta=meta or {}, batch=batch)

    def page_request(self, url: str, *, batch: Batch | None, feed_url: str | None = None,
                     entry: FeedEntry | None = None) -> Request | Skipped | None:
        """A request for an article page; Skipped if no request can be made for it
        (`_unrequestable`) or past the page cap; None if already requested."""
        if url in self._seen:
            return None
        self._seen.add(url)
        if (skipped := self._unrequestable(url)) is not None:
            return skipped
        if self._pages >= self._max_pages:
            return Skipped(source_id=self.source.id, url=url, reason="page-cap")
        self._pages += 1
        return self._request(url, role=ROLE_PAGE, callback=self.parse_page, batch=batch,
                             meta={META_FEED_URL: feed_url, META_ENTRY: entry})

    def _unrequestable(self, url: str) -> Skipped | None:
        """A "not-web-link" skip for a URL Scrapy would never request, else None.

        Scrapy's UrlLengthMiddleware drops a request whose URL is longer than URLLENGTH_LIMIT with
        neither callback nor errback: the page vanished unrecorded and its feed's batch never
        released the feed's validators. A URL w3lib refuses (a port past 65535) raised out of the
        callback and lost the rest of the sitemap or listing.
        """
        try:
            escaped = safe_url_string(url)
        except ValueError as exc:
            problem = f"not a valid URL ({exc})"
        else:
            limit = self.settings.getint("URLLENGTH_LIMIT")
            if not limit or len(escaped) <= limit:
                return None
            problem = f"{len(escaped)} characters long, over URLLENGTH_LIMIT ({limit})"
        log.warning("source %s: link %.200s is %s; not requested", self.source.id, url, problem)
        return Skipped(source_id=self.source.id, url=url, reason="not-web-link")

    def _request(self, url: str, *, role: str, callback: Callable[..., Any],
                 meta: dict[str, Any], batch: Batch | None) -> Request:
        if batch is not None:
            batch.pending += 1
        # dont_filter: de-duplication is ours (above), so every request ends in a callback or
        # errback and is accounted for; Scrapy's filter would drop redirect loops silently.
        return Request(url, callback=callback, errback=self.on_error, dont_filter=True,
                       meta={META_ROLE: role, META_BATCH: batch, **meta})

    # -- responses --------------------------------------------------------------------------

    def open_batch(self, response: Response) -> Batch:
        """Start the batch for a feed/sitemap/listing response (its parent waits for it)."""
        return Batch(update=validator_update(response.meta), parent=response.meta.get(META_BATCH))

    def parse_page(self, response: Response) -> Iterator[CrawlEvent]:
        if not is_html(response):
            yield Skipped(source_id=self.source.id, url=response.url, reason="not-html")
        else:
            redirects = response.meta.get("redirect_urls") or [response.url]
            yield FetchedDoc(
                source_id=self.source.id, url=redirects[0], final_url=response.url,
                status=response.status, headers=response_headers(response), body=response.body,
                fetched_at=_now(), feed_url=response.meta.get(META_FEED_URL),
                entry=response.meta.get(META_ENTRY))
            update = validator_update(response.meta)
            if update is not None:
                yield update
        yield from self.release(response.meta)

    def on_error(self, failure: Failure) -> Iterator[CrawlEvent]:
        request: Request = failure.request  # type: ignore[attr-defined]
        yield from failure_events(failure, request, self.source.id)
        yield from self.release(request.meta)

    @staticmethod
    def release(meta: Mapping[str, Any]) -> list[ValidatorUpdate]:
        batch = meta.get(META_BATCH)
        return batch.release() if isinstance(batch, Batch) else []

    @staticmethod
    def now() -> datetime:
        return _now()
