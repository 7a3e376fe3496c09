"""Feeds past the size cap: their first part is read, not refused (a downloader middleware).

A feed lists its newest items first, so the head of an oversized feed is what monitoring needs;
Scrapy's DOWNLOAD_MAXSIZE cancels the download (at once when Content-Length announces more) and
hands the callback nothing. For feed requests this middleware lifts Scrapy's cap and applies its
own: it stops the download once more than the cap has arrived (the `bytes_received` signal,
`StopDownload(fail=False)`, so the callback gets what came), and inflates a compressed feed only
up to the cap. Memory stays within the cap plus one network read.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.exceptions import StopDownload
from scrapy.http import Response

from crawlers.middlewares import META_ROLE, ROLE_FEED

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["META_FEED_CUT", "FeedCut", "FeedHeadMiddleware"]

log = logging.getLogger(__name__)

META_FEED_CUT = "haidang_feed_cut"      # a FeedCut, on a feed response whose body was cut at the cap
_META_CAP = "haidang_feed_cap"
_META_RECEIVED = "haidang_feed_received"
# The encodings inflated here, and zlib's wbits to try for each: 47 reads a gzip or a zlib header,
# whichever is there; -15 is "deflate" without its zlib header, as some IIS servers send it. Feed
# requests accept only these: Scrapy's own decompression (brotli and zstd too) refuses the whole
# body once it inflates past the cap.
_ZLIB_ENCODINGS = {b"gzip": (47,), b"x-gzip": (47,), b"deflate": (47, -15)}


@dataclass(frozen=True, slots=True)
class FeedCut:
    """A feed body kept only up to `cap` bytes: the download was stopped there (`on_the_wire`), or
    it inflated past the cap. `announced`: the Content-Length the server stated, if any."""

    cap: int
    on_the_wire: bool
    announced: int | None = None

    def describe(self) -> str:
        """For the operator: how large the feed was said or found to be."""
        if self.announced is not None and self.announced > self.cap:
            size = f"the server announced {self.announced:,} bytes"
        elif self.on_the_wire:
            size = "the download was stopped there"
        else:
            return f"larger than the size cap ({self.cap:,} bytes) once inflated"
        return f"larger than the size cap ({self.cap:,} bytes; {size})"


class FeedHeadMiddleware:
    """Keeps the first DOWNLOAD_MAXSIZE bytes of a feed that is larger, and notes the cut on the
    request (`META_FEED_CUT`) for the spider to report. Placed after HttpCompressionMiddleware
    (590), so its responses reach it before Scrapy's decompression would refuse them."""

    def __init__(self, crawler: Crawler):
        self._cap = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(self._on_bytes, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FeedHeadMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if request.meta.get(META_ROLE) != ROLE_FEED or not self._cap:
            return
        # A redirect or retry copies the meta: the count starts again for each download.
        request.meta.update({"download_maxsize": 0, _META_CAP: self._cap, _META_RECEIVED: 0})
        request.headers[b"Accept-Encoding"] = b"gzip, deflate"
        return

    def _on_bytes(self, data: bytes, request: Request) -> None:
        cap = request.meta.get(_META_CAP)
        if cap is None:
            return
        received = request.meta[_META_RECEIVED] = request.meta.get(_META_RECEIVED, 0) + len(data)
        if received > cap:
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response) -> Response:
        cap = request.meta.get(_META_CAP)
        if cap is None:
            return response
        request.meta["download_maxsize"] = cap      # what Scrapy still decompresses keeps the cap
        on_the_wire = "download_stopped" in response.flags
        if on_the_wire:
            response = response.replace(body=response.body[:cap])
        response, inflated_past = _inflated(response, cap)
        if on_the_wire or inflated_past:
            cut = FeedCut(cap=cap, on_the_wire=on_the_wire, announced=_content_length(response))
            request.meta[META_FEED_CUT] = cut
            log.warning("feed %s is %s; only its first part is read", response.url, cut.describe())
        return response


def _content_length(response: Response) -> int | None:
    value = response.headers.get(b"Content-Length")
    return int(value) if value and value.isdigit() else None


def _inflated(response: Response, cap: int) -> tuple[Response, bool]:
    """`response` with its gzip or deflate body inflated up to `cap` bytes and Content-Encoding
    dropped, and whether the body held more; `response` as it is when not so encoded, or not
    such data after all (Scrapy's middleware then says so)."""
    wbits = _ZLIB_ENCODINGS.get(b",".join(response.headers.getlist(b"Content-Encoding")).strip().lower())
    head = _inflate_head(response.body, wbits, cap) if wbits is not None else None
    if head is None:
        return response, False
    headers = response.headers.copy()
    del headers[b"Content-Encoding"]
    return response.replace(body=head[0], headers=headers), head[1]


def _inflate_head(body: bytes, wbits: tuple[int, ...], cap: int) -> tuple[bytes, bool] | None:
    """The first `cap` bytes that `body` (gzip or deflate) inflates to, and whether it holds more;
    None if it is not such data. A stream cut short inflates as far as it goes."""
    for bits in wbits:
        try:
            head = _inflate(body, bits, cap + 1)
        except zlib.error:
            continue
        return head[:cap], len(head) > cap
    return None


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    """At most `limit` bytes inflated from `body`, member after member (gzip allows several)."""
    out = bytearray()
    rest = body
    while rest and len(out) < limit:
        inflater = zlib.decompressobj(wbits)
        out += inflater.decompress(rest, limit - len(out))
        rest = inflater.unused_data if inflater.eof else b""
    return bytes(out)
