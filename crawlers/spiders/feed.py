"""Polls a source's RSS/Atom feeds through Scrapy and hands the bytes to feedparser; then
follows each entry's link, or passes the entry on as a feed-only document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from scrapy.http import Request, Response

from crawlers.events import CrawlEvent, CrawlFailure, FetchedDoc, Skipped
from crawlers.feedhead import META_FEED_CUT, FeedCut
from crawlers.feeds import ParsedFeed, parse_feed
from crawlers.middlewares import ROLE_FEED
from crawlers.spiders.base import SourceSpider

__all__ = ["FeedSpider"]

# feedparser is pure Python: a feed at the default 5 MB size cap (45,000 short items) takes about 12 s
# to parse, and on the reactor's thread every other source's downloads and callbacks stood still
# meanwhile. One worker thread for the whole crawl process: feeds are parsed one at a time, off the
# reactor, and dateparser (reached through crawlers.dates) never runs in two threads at once; it is
# not thread-safe (scrapinghub/dateparser#441).
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="haidang-feed-parse")


class FeedSpider(SourceSpider):
    """One source's feeds. A feed that cannot be read at all is a CrawlFailure(stage="feed");
    an ill-formed feed that still yields entries gives its entries and a CrawlFailure, and so does
    a feed past the size cap, of which the items in its first part are read (crawlers.feedhead)."""

    name = "feed"

    async def start(self) -> AsyncIterator[Request]:
        for url in self.source.feeds:
            yield self.configured_request(url, role=ROLE_FEED, callback=self.parse_feed)

    async def parse_feed(self, response: Response) -> AsyncIterator[CrawlEvent | Request]:
        content_type = response.headers.get(b"Content-Type")
        cut = response.meta.get(META_FEED_CUT)
        parsed = await asyncio.get_running_loop().run_in_executor(_PARSER, partial(
            parse_feed, response.body, content_type.decode("latin-1") if content_type else None, response.url,
            truncated=cut is not None))
        for event in self._feed_events(response, parsed, cut):
            yield event

    def _feed_events(self, response: Response, parsed: ParsedFeed,
                     cut: FeedCut | None) -> Iterator[CrawlEvent | Request]:
        source_id = self.source.id
        batch = self.open_batch(response)
        if not parsed.readable:
            yield CrawlFailure(
                source_id=source_id, url=response.url, stage="feed",
                error_class=parsed.problem_class or "NotAFeed", transient=False,
                message=_unreadable(response.url, parsed.problem, cut, source_id))
            batch.update = None       # keep no validators for a feed we could not read
            yield from batch.release()
            return
        if cut is not None:
            yield self._truncation(response, parsed, cut)
        if parsed.problem is not None:
            yield CrawlFailure(
                source_id=source_id, url=response.url, stage="feed",
                error_class=parsed.problem_class or "BozoFeed", transient=False,
                message=f"feed {response.url} is ill-formed ({parsed.problem}); "
                        f"{len(parsed.entries)} entries were still read")
        for skipped in parsed.skipped:
            # The publisher's fault, the same on every poll: a skip with its reason, not an error
            # that would keep this feed from ever being asked "not modified?" again.
            yield Skipped(source_id=source_id, url=skipped.link or response.url, reason=skipped.reason)
        entries = parsed.entries
        if self.source.follow_links:
            # Pages never fetched first: the page cap must not be spent on links already stored
            # (answered "not modified"), or a long feed's tail would never be reached.
            entries = sorted(entries, key=lambda e: e.link in self.validators)
        for entry in entries:
            if self.source.follow_links:
                request = self.page_request(entry.link, batch=batch, feed_url=response.url, entry=entry)
                if request is not None:
                    yield request
            else:
                yield FetchedDoc(source_id=source_id, url=entry.link, final_url=entry.link,
                                 status=response.status, headers={}, body=None, fetched_at=self.now(),
                                 feed_url=response.url, entry=entry)
        yield from batch.release()

    def _truncation(self, response: Response, parsed: ParsedFeed, cut: FeedCut) -> CrawlFailure:
        """Tells the operator a feed was read only in part. As for an ill-formed feed, its validators
        are then not kept, and `haidang status` lists it on every poll until the cap is raised."""
        return CrawlFailure(
            source_id=self.source.id, url=response.url, stage="feed", error_class="FeedTruncated",
            transient=False,
            message=cut.partial_read("feed", response.url, f"{len(parsed.entries)} complete items",
                                     "the older ones after them"))


def _unreadable(url: str, problem: str | None, cut: FeedCut | None, source_id: str) -> str:
    """Why a feed gave nothing, naming the size cap when only its first part was read."""
    what = "not a readable RSS/Atom feed"
    if cut is not None:
        what = f"{cut.describe()}, and its first {cut.cap:,} bytes are {what}"
    return f"{url} is {what}: {problem}; check the feed URL of source {source_id!r}"
