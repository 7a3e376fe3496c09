"""Feeds and sitemaps past the size cap: their first part is read, not refused (a downloader middleware).

A feed lists its newest items first, so the head of an oversized feed is what monitoring needs; the
head of a sitemap still gives some of its URLs, where refusing it gave none. Scrapy's
DOWNLOAD_MAXSIZE cancels the download (at once when Content-Length announces more) and hands the
callback nothing. For feed and sitemap requests this middleware lifts Scrapy's cap and applies its
own: it stops the download once more than the cap has arrived (the `bytes_received` signal,
`StopDownload(fail=False)`, so the callback gets what came), and inflates a compressed body only up
to the cap, whether the server says so (Content-Encoding) or sends a gzip file as it is (a
`.xml.gz` sitemap or feed). Memory stays within the cap plus one network read.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from scrapy import Request, signals
from scrapy.exceptions import StopDownload
from scrapy.http import Response

from crawlers.middlewares import META_ROLE, ROLE_FEED, ROLE_SITEMAP

try:        # Scrapy depends on both since 2.13; without one, that encoding is not asked for
    import brotli  # type: ignore[import-untyped]
except ImportError:
    brotli = None
try:
    from backports import zstd
except ImportError:
    zstd = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["ACCEPT_ENCODING", "META_FEED_CUT", "FeedCut", "FeedHeadMiddleware"]

log = logging.getLogger(__name__)

META_FEED_CUT = "haidang_feed_cut"      # a FeedCut, on a feed or sitemap response whose body was cut at the cap
_META_CAP = "haidang_feed_cap"
_META_RECEIVED = "haidang_feed_received"
_ROLES = (ROLE_FEED, ROLE_SITEMAP)
_GZIP_MAGIC = b"\x1f\x8b\x08"          # a gzip member, deflate-compressed: no feed or sitemap starts so


def _unzlib(body: bytes, limit: int, wbits: tuple[int, ...]) -> bytes | None:
    """At most `limit` bytes inflated from `body`, member after member (gzip allows several), with
    the first of `wbits` that reads it: 47 reads a gzip or a zlib header, whichever is there; -15 is
    "deflate" without its zlib header, as some IIS servers send it. None if none reads it."""
    for bits in wbits:
        out = bytearray()
        rest = body
        try:
            while rest and len(out) < limit:
                inflater = zlib.decompressobj(bits)
                out += inflater.decompress(rest, limit - len(out))
                rest = inflater.unused_data if inflater.eof else b""
        except zlib.error:
            continue
        return bytes(out)
    return None


# brotli grows its output buffer by doubling until past the limit asked for: asked for 5 MB at once,
# it made 8 MB. In steps of this size it goes at most about 100 kB past the whole limit.
_BROTLI_STEP = 64 * 1024


def _unbrotli(body: bytes, limit: int) -> bytes | None:
    """The first `limit` bytes of brotli `body`, and up to about 100 kB more (`_BROTLI_STEP`); as
    far as it goes when cut short. None if it is not brotli."""
    decoder = brotli.Decompressor()
    try:
        out = bytearray(decoder.process(body, output_buffer_limit=min(limit, _BROTLI_STEP)))
        while len(out) < limit and not decoder.is_finished():
            more = decoder.process(b"", output_buffer_limit=min(limit - len(out), _BROTLI_STEP))
            if not more:
                break               # cut short: inflated as far as it goes
            out += more
    except brotli.error:
        return None
    return bytes(out)


def _unzstd(body: bytes, limit: int) -> bytes | None:
    """At most `limit` bytes of zstd `body`, frame after frame; None if it is not zstd."""
    out = bytearray()
    rest = body
    try:
        while rest and len(out) < limit:
            decoder = zstd.ZstdDecompressor()
            out += decoder.decompress(rest, max_length=limit - len(out))
            rest = decoder.unused_data if decoder.eof else b""
    except zstd.ZstdError:
        return None
    return bytes(out)


_Inflate = Callable[[bytes, int], "bytes | None"]
# Each Content-Encoding inflated here. Feed and sitemap requests accept only these: Scrapy's own
# decompression refuses the whole body once it inflates past the cap.
_DECODERS: dict[bytes, _Inflate] = {
    b"gzip": partial(_unzlib, wbits=(47,)), b"x-gzip": partial(_unzlib, wbits=(47,)),
    b"deflate": partial(_unzlib, wbits=(47, -15)),
}
if brotli is not None:
    _DECODERS[b"br"] = _unbrotli
if zstd is not None:
    _DECODERS[b"zstd"] = _unzstd
ACCEPT_ENCODING = b", ".join(name for name in _DECODERS if name != b"x-gzip")
"""The Accept-Encoding of feed and sitemap requests: every encoding inflated here up to the cap."""


@dataclass(frozen=True, slots=True)
class FeedCut:
    """A feed or sitemap body kept only up to `cap` bytes: the download was stopped there
    (`on_the_wire`), or it inflated past the cap. `announced`: the Content-Length the server
    stated, if any."""

    cap: int
    on_the_wire: bool
    announced: int | None = None

    def describe(self) -> str:
        """For the operator: how large the document was said or found to be."""
        if self.announced is not None and self.announced > self.cap:
            size = f"the server announced {self.announced:,} bytes"
        elif self.on_the_wire:
            size = "the download was stopped there"
        else:
            return f"larger than the size cap ({self.cap:,} bytes) once inflated"
        return f"larger than the size cap ({self.cap:,} bytes; {size})"

    def partial_read(self, kind: str, url: str, kept: str, left: str) -> str:
        """The operator's message for a body read only in part: what was `kept` (its complete first
        entries) and what was `left`, for a feed or a sitemap alike."""
        return (f"{kind} {url} is {self.describe()}: only the {kept} in its first {self.cap:,} bytes were "
                f"read, not {left}; raise crawl.max_size_bytes to read the whole {kind}")


class FeedHeadMiddleware:
    """Keeps the first DOWNLOAD_MAXSIZE bytes of a feed or sitemap that is larger, and notes the cut
    on the request (`META_FEED_CUT`) for the spider to report. Placed after HttpCompressionMiddleware
    (590), so its responses reach it before Scrapy's decompression would refuse them. The cap is
    always on: config refuses a `crawl.max_size_bytes` of 0."""

    def __init__(self, crawler: Crawler):
        self._cap = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        crawler.signals.connect(self._on_bytes, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FeedHeadMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if request.meta.get(META_ROLE) not in _ROLES or not self._cap:
            return
        # A redirect or retry copies the meta: the count starts again for each download.
        request.meta.update({"download_maxsize": 0, _META_CAP: self._cap, _META_RECEIVED: 0})
        request.headers[b"Accept-Encoding"] = ACCEPT_ENCODING
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
        response, decoded_past = _decoded(response, cap)
        response, file_past = _gunzipped_file(response, cap)
        if on_the_wire or decoded_past or file_past:
            cut = FeedCut(cap=cap, on_the_wire=on_the_wire, announced=_content_length(response))
            request.meta[META_FEED_CUT] = cut
            log.warning("%s %s is %s; only its first part is read", request.meta[META_ROLE], response.url,
                        cut.describe())
        return response


def _content_length(response: Response) -> int | None:
    value = response.headers.get(b"Content-Length")
    return int(value) if value and value.isdigit() else None


def _head(body: bytes, inflate: _Inflate, cap: int) -> tuple[bytes, bool] | None:
    """The first `cap` bytes `body` inflates to, and whether it holds more; None if `inflate`
    cannot read it. A stream cut short inflates as far as it goes."""
    out = inflate(body, cap + 1)
    return None if out is None else (out[:cap], len(out) > cap)


def _decoded(response: Response, cap: int) -> tuple[Response, bool]:
    """`response` with its body inflated up to `cap` bytes by its Content-Encoding, which is then
    dropped, and whether the body held more; `response` as it is when its encoding is none of
    `_DECODERS`, or its body not such data after all (Scrapy's middleware then says so)."""
    inflate = _DECODERS.get(b",".join(response.headers.getlist(b"Content-Encoding")).strip().lower())
    head = _head(response.body, inflate, cap) if inflate is not None else None
    if head is None:
        return response, False
    headers = response.headers.copy()
    del headers[b"Content-Encoding"]
    return response.replace(body=head[0], headers=headers), head[1]


def _gunzipped_file(response: Response, cap: int) -> tuple[Response, bool]:
    """`response` with a gzip file for a body (a `.xml.gz` sent without Content-Encoding, or one
    gzipped again in transit) inflated up to `cap` bytes, and whether it held more; as it is
    otherwise, or when an encoding not inflated here is still on it."""
    encoding = b",".join(response.headers.getlist(b"Content-Encoding")).strip().lower()
    if not response.body.startswith(_GZIP_MAGIC) or encoding not in (b"", b"identity"):
        return response, False
    head = _head(response.body, partial(_unzlib, wbits=(31,)), cap)
    if head is None:
        return response, False         # not gzip after all: the spider names what it is
    headers = response.headers.copy()
    content_type = (headers.get(b"Content-Type") or b"").decode("latin-1").split(";", 1)[0].strip().lower()
    if "xml" not in content_type and not content_type.startswith("text/"):
        # "application/gzip", "application/octet-stream": the file's type, not the document's, which
        # feedparser would flag as not XML. An XML or text type stays, for the charset it may carry.
        headers.pop(b"Content-Type", None)
    log.debug("%s is a gzip file (Content-Type %r); inflated", response.url, content_type)
    return response.replace(body=head[0], headers=headers), head[1]
