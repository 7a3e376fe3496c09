"""The events a crawl streams to its consumer: fetched documents, failures, validators, skips.

They cross a process boundary (see `crawlers.runner`), so they are plain picklable dataclasses
holding only str, int, bytes, datetime and None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "FAILURE_STAGES",
    "SKIP_REASONS",
    "CrawlEvent",
    "CrawlFailure",
    "FeedEntry",
    "FetchedDoc",
    "HostPaused",
    "NotModified",
    "Skipped",
    "SourceFinished",
    "ValidatorUpdate",
]

FAILURE_STAGES = ("robots", "fetch", "feed", "sitemap", "crawl")
"""`CrawlFailure.stage`: robots disallowed a configured URL; HTTP fetch failed; a feed or
sitemap could not be read; the spider or the crawl process itself failed."""

SKIP_REASONS = ("robots", "not-html", "oversize", "private-address", "page-cap", "no-link", "not-web-link",
                "duplicate-link", "retry-after")
"""`Skipped.reason` values this package emits for discovered pages (feed links, listing and
sitemap links); configured URLs (feeds, sitemaps, start pages) fail with a CrawlFailure instead,
except "retry-after" (the host asked us to wait, see crawlers.pauses): that is no fault of the
configuration, and any URL on a paused host is skipped with it."""


@dataclass(kw_only=True, slots=True)
class FeedEntry:
    """One feed item as feedparser read it; text is NFC, tags stripped, dates aware (UTC)."""

    link: str
    title: str = ""
    summary: str = ""
    published: datetime | None = None
    author: str | None = None
    guid: str | None = None
    comments: int | None = None           # slash:comments (WordPress and many blogs state it)


@dataclass(kw_only=True, slots=True)
class FetchedDoc:
    """A page fetched with status 200, or a feed-only item (`body` None) when links are not followed."""

    source_id: str
    url: str                              # as requested: the feed link or the crawled URL
    final_url: str                        # after redirects
    status: int
    headers: dict[str, str]               # lower-case names; repeated headers joined with ", "
    body: bytes | None
    fetched_at: datetime                  # aware, UTC
    feed_url: str | None = None
    entry: FeedEntry | None = None


@dataclass(kw_only=True, slots=True)
class CrawlFailure:
    """Something that did not work; the crawl goes on. `transient`: worth retrying later."""

    source_id: str
    url: str
    stage: str                            # one of FAILURE_STAGES
    error_class: str
    message: str
    transient: bool


@dataclass(kw_only=True, slots=True)
class ValidatorUpdate:
    """New ETag/Last-Modified for a URL.

    Always emitted after the events for that URL's content, so a consumer that stores it only
    after handling what came before never marks as unchanged a page it failed to handle.
    """

    url: str
    etag: str | None
    last_modified: str | None


@dataclass(kw_only=True, slots=True)
class NotModified:
    """The server answered 304 to our conditional GET: nothing new at this URL."""

    source_id: str
    url: str


@dataclass(kw_only=True, slots=True)
class Skipped:
    """A discovered URL deliberately not fetched or not handed on; `reason` is in SKIP_REASONS."""

    source_id: str
    url: str
    reason: str


@dataclass(kw_only=True, slots=True)
class HostPaused:
    """A server answered 429 or 503 with a Retry-After longer than a run may wait: its host is not to
    be asked again before `until` (the wait capped at crawlers.pauses.RETRY_AFTER_CAP), in this run's
    later crawls or the next runs. Comes right after the CrawlFailure of the request that got it."""

    source_id: str
    url: str
    host: str                             # crawlers.pauses.host_key
    status: int                           # 429 or 503
    asked_s: float                        # what the server asked for, before the cap
    at: datetime                          # aware, UTC: when the answer came
    until: datetime                       # aware, UTC


@dataclass(kw_only=True, slots=True)
class SourceFinished:
    """Every spider of this source has closed; no more events for it will come."""

    source_id: str


CrawlEvent = FetchedDoc | CrawlFailure | ValidatorUpdate | NotModified | Skipped | HostPaused | SourceFinished
