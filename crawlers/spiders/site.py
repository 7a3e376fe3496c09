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
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from crawlers.events import CrawlEvent, CrawlFailure, Skipped
from crawlers.spiders.base import Batch, SourceSpider, is_html
from haidang.settings import SiteCrawl

__all__ = ["SiteSpider"]

_META_DEPTH = "haidang_depth"
_GZIP_MAGIC = b"\x1f\x8b"


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
            yield self.configured_request(url, role="sitemap", callback=self.parse_sitemap)
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
        batch = self.open_batch(response)
        body = response.body
        if body[:2] == _GZIP_MAGIC:
            body = gunzip(body, max_size=self.settings.getint("DOWNLOAD_MAXSIZE"))
        sitemap: Sitemap | None = None
        try:
            sitemap = Sitemap(body)
            problem = f"root element is <{sitemap.type}>"
        except (XMLSyntaxError, StopIteration, ValueError) as exc:
            problem = f"not XML ({exc})"
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            yield CrawlFailure(source_id=self.source.id, url=response.url, stage="sitemap",
                               error_class="NotASitemap", transient=False,
                               message=f"{response.url} is not a sitemap: {problem}; "
                                       f"check crawl.sitemaps of source {self.source.id!r}")
            batch.update = None
            yield from batch.release()
            return
        for item in sitemap:
            loc = item.get("loc", "").strip()
            try:
                url = response.urljoin(loc)
            except ValueError:        # "http://[::1": one broken <loc> must not lose the rest
                yield Skipped(source_id=self.source.id, url=loc, reason="not-web-link")
                continue
            if not url.startswith(("http://", "https://")):
                continue
            if sitemap.type == "sitemapindex":
                request = self.discovered_request(url, role="sitemap", callback=self.parse_sitemap,
                                                  batch=batch)
                if request is not None:
                    yield request
            elif self.is_article(url):
                yield from self._page(url, batch)
        yield from batch.release()

    def _page(self, url: str, batch: Batch) -> Iterator[CrawlEvent | Request]:
        request = self.page_request(url, batch=batch)
        if request is not None:
            yield request
