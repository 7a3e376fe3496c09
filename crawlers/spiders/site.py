"""Config-driven spider for sites without a usable feed: listing pages followed to a depth,
and sitemaps (index or urlset); article URLs are those matching `allow` and not `deny`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urldefrag

from lxml.etree import XMLSyntaxError  # type: ignore[import-untyped]
from scrapy.http import Request, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.utils.sitemap import Sitemap

from crawlers.decode import sniff_binary
from crawlers.events import CrawlEvent, CrawlFailure, Skipped
from crawlers.feedhead import META_FEED_CUT, FeedCut
from crawlers.middlewares import ROLE_SITEMAP
from crawlers.spiders.base import Batch, SourceSpider, is_html
from crawlers.xmlhead import complete_head
from haidang.settings import SiteCrawl

__all__ = ["SiteSpider"]

_META_DEPTH = "haidang_depth"
_ENTRIES = ("url", "sitemap")          # a urlset's entries, a sitemap index's


class SiteSpider(SourceSpider):
    """One source's `crawl` spec: start pages and sitemaps from config."""

    name = "site"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        spec = self.source.crawl
        if spec is None:
            raise ValueError(f"source {self.source.id!r} has no `crawl` section")
        self._spec: SiteCrawl = spec
        self._allow = [re.compile(p) for p in spec.allow]
        self._deny = [re.compile(p) for p in spec.deny]
        self._follow = [re.compile(p) for p in spec.follow]
        self._links = LinkExtractor()          # every <a href>/<area href>, absolute

    def is_article(self, url: str) -> bool:
        """Matches some `allow` pattern (or there are none) and no `deny` pattern."""
        allowed = not self._allow or any(p.search(url) for p in self._allow)
        return allowed and not any(p.search(url) for p in self._deny)

    def _is_listing(self, url: str) -> bool:
        return any(p.search(url) for p in self._follow) and not any(p.search(url) for p in self._deny)

    async def start(self) -> AsyncIterator[Request]:
        for url in self._spec.sitemaps:
            yield self.configured_request(url, role=ROLE_SITEMAP, callback=self.parse_sitemap)
        for url in self._spec.start_urls:
            yield self.configured_request(url, role="listing", callback=self.parse_listing,
                                          meta={_META_DEPTH: 0})
        for url in self._spec.pages:
            request = self.page_request(url, batch=None)
            if request is not None:
                yield request  # type: ignore[misc]  # a Skipped past the page cap is an item

    def parse_listing(self, response: Response) -> Iterator[CrawlEvent | Request]:
        batch = self.open_batch(response)
        if not is_html(response) or not isinstance(response, TextResponse):
            yield CrawlFailure(source_id=self.source.id, url=response.url, stage="crawl",
                               error_class="NotHtml", transient=False,
                               message=f"listing page {response.url} is not HTML; check crawl.start_urls")
            batch.update = None
            yield from batch.release()
            return
        depth = int(response.meta.get(_META_DEPTH, 0))
        for link in self._links.extract_links(response):
            url = urldefrag(link.url)[0]       # "#comments" names the same page
            if self.is_article(url) and not self._is_listing(url):
                yield from self._page(url, batch)
            elif self._is_listing(url) and depth < self._spec.max_depth:
                request = self.discovered_request(url, role="listing", callback=self.parse_listing,
                                                  batch=batch, meta={_META_DEPTH: depth + 1})
                if request is not None:
                    yield request
        yield from batch.release()

    def parse_sitemap(self, response: Response) -> Iterator[CrawlEvent | Request]:
        """A sitemap index's sitemaps, or a urlset's article pages. crawlers.feedhead has already
        inflated a gzip file (`.xml.gz`), and kept only the first part of a sitemap past the size cap
        (`META_FEED_CUT`): its complete entries are read, and a SitemapTruncated failure says how many."""
        batch = self.open_batch(response)
        cut: FeedCut | None = response.meta.get(META_FEED_CUT)
        body = response.body
        if cut is not None:
            # latin-1 maps byte to character and back: nothing changes but the cut, and the tags
            # looked for are ASCII in every charset a sitemap may be in (the protocol says UTF-8).
            body = complete_head(body.decode("latin-1"), _ENTRIES).encode("latin-1")
        sitemap, problem = _read_sitemap(body)
        if sitemap is None:
            what = "not a sitemap"
            if cut is not None:
                what = f"{cut.describe()}, and its first {cut.cap:,} bytes are {what}"
            yield CrawlFailure(source_id=self.source.id, url=response.url, stage="sitemap",
                               error_class="NotASitemap", transient=False,
                               message=f"{response.url} is {what}: {problem}; "
                                       f"check crawl.sitemaps of source {self.source.id!r}")
            batch.update = None
            yield from batch.release()
            return
        entries = list(sitemap)
        if cut is not None:
            yield self._truncation(response, sitemap.type, len(entries), cut)
        for item in entries:
            loc = item.get("loc", "").strip()
            try:
                url = response.urljoin(loc)
            except ValueError:        # "http://[::1": one broken <loc> must not lose the rest
                yield Skipped(source_id=self.source.id, url=loc, reason="not-web-link")
                continue
            if not url.startswith(("http://", "https://")):
                continue
            if sitemap.type == "sitemapindex":
                request = self.discovered_request(url, role=ROLE_SITEMAP, callback=self.parse_sitemap,
                                                  batch=batch)
                if request is not None:
                    yield request
            elif self.is_article(url):
                yield from self._page(url, batch)
        yield from batch.release()

    def _truncation(self, response: Response, kind: str, entries: int, cut: FeedCut) -> CrawlFailure:
        """Tells the operator a sitemap was read only in part. As for a feed, its validators are then
        not kept, and `haidang status` lists it on every run until the cap is raised. Unlike a feed's,
        a sitemap's first entries need not be its newest."""
        entry = "<sitemap>" if kind == "sitemapindex" else "<url>"
        return CrawlFailure(
            source_id=self.source.id, url=response.url, stage="sitemap", error_class="SitemapTruncated",
            transient=False,
            message=cut.partial_read("sitemap", response.url, f"{entries} complete {entry} entries", "the ones after them"))

    def _page(self, url: str, batch: Batch) -> Iterator[CrawlEvent | Request]:
        request = self.page_request(url, batch=batch)
        if request is not None:
            yield request


def _read_sitemap(body: bytes) -> tuple[Sitemap | None, str]:
    """The sitemap index or urlset in `body`, or None and why it is neither."""
    if (kind := sniff_binary(body)) is not None:
        return None, f"looks like {kind}"
    try:
        sitemap = Sitemap(body)
    except (XMLSyntaxError, StopIteration, ValueError) as exc:
        return None, f"not XML ({exc})"
    if sitemap.type not in ("sitemapindex", "urlset"):
        return None, f"root element is <{sitemap.type}>"
    return sitemap, ""
