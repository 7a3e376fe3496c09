"""Feed bytes (as Scrapy fetched them) to FeedEntry objects, through feedparser.

feedparser only ever sees bytes we decoded ourselves (`crawlers.decode.repair_feed_bytes`) and
re-encoded as UTF-8; it never fetches anything (its HTTP client is on its way out upstream).
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]
from w3lib.html import remove_tags, replace_entities
from w3lib.url import safe_url_string

from crawlers.decode import repair_feed_bytes
from crawlers.events import FeedEntry
from haidang.record import parse_count

__all__ = ["ParsedFeed", "parse_feed"]

_XML_DECL_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])[^"']*\2""")
_SPACE = re.compile(r"\s+")
_GMT_OFFSET = re.compile(r"\s*GMT\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$")


@dataclass(kw_only=True, slots=True)
class ParsedFeed:
    """What a feed held. `problem` is set when feedparser flagged the document (bozo) or it is
    not a feed at all; `readable` is False when nothing usable came out of it."""

    entries: list[FeedEntry] = field(default_factory=list)
    version: str = ""
    problem: str | None = None
    problem_class: str | None = None
    entries_without_link: int = 0

    @property
    def readable(self) -> bool:
        return bool(self.entries) or (bool(self.version) and self.problem is None)


def _utf8_feed_bytes(text: str) -> bytes:
    """UTF-8 bytes whose XML prolog says UTF-8, so feedparser does not re-decode them wrongly."""
    return _XML_DECL_ENCODING.sub(rb"\1\2utf-8\2", text.encode("utf-8"), count=1)


def _plain(value: Any) -> str:
    """Tag-free, entity-free, NFC text with runs of whitespace collapsed."""
    if not value:
        return ""
    text = replace_entities(remove_tags(str(value)))
    return unicodedata.normalize("NFC", _SPACE.sub(" ", text).strip())


def _aware(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times."""
    if parsed is None:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _loose_rfc822(value: Any) -> datetime | None:
    """RFC 822 dates with the zone written "GMT+7" (Tuổi Trẻ's feeds), which feedparser rejects."""
    match = _GMT_OFFSET.search(value or "") if isinstance(value, str) else None
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    try:
        parsed = parsedate_to_datetime(f"{value[:match.start()].strip()} {sign}{hours:02d}{minutes:02d}")
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _entry(raw: Any) -> FeedEntry | None:
    link = (raw.get("link") or "").strip()
    guid = (raw.get("id") or "").strip() or None
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    if not link:
        return None
    # YouTube (and other Media RSS feeds) put the text in media:description.
    summary = raw.get("summary") or raw.get("media_description") or ""
    author = _plain(raw.get("author")) or None
    return FeedEntry(
        link=safe_url_string(link),
        title=_plain(raw.get("title")),
        summary=_plain(summary),
        published=(_aware(raw.get("published_parsed") or raw.get("updated_parsed"))
                   or _loose_rfc822(raw.get("published") or raw.get("updated"))),
        author=author,
        guid=guid,
        comments=parse_count(raw.get("slash_comments")),
    )


def parse_feed(body: bytes, content_type: str | None, url: str) -> ParsedFeed:
    """Parse RSS/Atom bytes fetched from `url`; relative links resolve against `url`."""
    text = repair_feed_bytes(body, content_type, url=url)
    mime = (content_type or "application/xml").split(";", 1)[0].strip() or "application/xml"
    parsed = feedparser.parse(
        _utf8_feed_bytes(text),
        response_headers={"content-type": f"{mime}; charset=utf-8", "content-location": url},
    )
    result = ParsedFeed(version=parsed.get("version") or "")
    for raw in parsed.entries:
        entry = _entry(raw)
        if entry is None:
            result.entries_without_link += 1
        else:
            result.entries.append(entry)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        result.problem_class = type(exc).__name__ if exc is not None else "BozoFeed"
        result.problem = str(exc) if exc is not None else "feedparser flagged the feed as ill-formed"
    elif not result.version:
        result.problem_class = "NotAFeed"
        result.problem = f"no RSS or Atom document found (content type {mime})"
    return result
