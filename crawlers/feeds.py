"""Feed bytes (as Scrapy fetched them) to FeedEntry objects, through feedparser.

feedparser only ever sees bytes we decoded ourselves (`crawlers.decode.repair_feed_bytes`) and
re-encoded as UTF-8; it never fetches anything (its HTTP client is on its way out upstream).
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser  # type: ignore[import-untyped]
from w3lib.html import remove_tags, replace_entities
from w3lib.url import safe_url_string

from crawlers.dates import DEFAULT_TIMEZONE, parse_date
from crawlers.decode import repair_feed_bytes
from crawlers.events import FeedEntry
from haidang.record import parse_count

__all__ = ["ENTRY_SKIP_REASONS", "ParsedFeed", "SkippedEntry", "parse_feed"]

log = logging.getLogger(__name__)

ENTRY_SKIP_REASONS = ("no-link", "not-web-link", "duplicate-link")
"""`SkippedEntry.reason`: the item has no link at all; its link is not an http(s) URL (mailto:,
javascript:, tel:, an Atom urn: id, or no URL at all: a port past 65535, a broken IPv6 literal),
so no request can ever be made for it; an earlier item of the same feed has the same link (stored
under one id, two items would replace each other on every run)."""

_WEB_SCHEMES = ("http", "https")
# A feed date this far past the fetch is a publisher's mistake (a year typo, a scheduled item),
# not a time zone: no zone is more than 14 hours ahead of UTC.
_FUTURE_TOLERANCE = timedelta(days=1)
# Nothing published on the web predates it (1991); earlier feed dates are placeholders ("0001-01-01",
# a year 0 that parsers read as 700 or 2001) or typos, and would sort below every real article.
_EARLIEST = datetime(1991, 1, 1, tzinfo=UTC)
# Date strings whose zone is explicit in a form feedparser reads exactly (RFC 822 with a numeric
# offset or GMT/UT/Z; W3C-DTF/ISO 8601 with an offset). Zone names such as "ICT" are not here:
# feedparser reads unknown names as UTC, and Vietnamese feeds do write ICT (+07:00).
_ZONED_RFC822 = re.compile(
    r"^(?:[a-z]{3},\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[+-]\d{4}|gmt|ut|utc|z)$",
    re.IGNORECASE)
_ZONED_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})$",
                        re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])[^"']*\2""")
_SPACE = re.compile(r"\s+")
_GMT_OFFSET = re.compile(r"\s*GMT\s*([+-])(\d{1,2})(?::?(\d{2}))?\s*$")
# A four-digit year below 1000 ("0000", "0001"): email.utils reads it as a two-digit one (2000, 2001).
_ZERO_LED_YEAR = re.compile(r"(?<!\d)0\d{3}(?!\d)")


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """A feed item that can never be fetched or stored under a URL; `reason` is in ENTRY_SKIP_REASONS."""

    link: str          # as the feed gave it (resolved against the feed URL); "" without one
    title: str
    reason: str


@dataclass(kw_only=True, slots=True)
class ParsedFeed:
    """What a feed held. `problem` is set when feedparser flagged the document (bozo) or it is
    not a feed at all; `readable` is False when nothing usable came out of it. `skipped` lists
    the items left out, each with its reason."""

    entries: list[FeedEntry] = field(default_factory=list)
    version: str = ""
    problem: str | None = None
    problem_class: str | None = None
    skipped: list[SkippedEntry] = field(default_factory=list)

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


def _loose_rfc822(value: str) -> datetime | None:
    """RFC 822 dates with the zone written "GMT+7" (Tuổi Trẻ's feeds), which feedparser rejects."""
    match = _GMT_OFFSET.search(value)
    if match is None:
        return None
    if _ZERO_LED_YEAR.search(value, 0, match.start()):
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    try:
        parsed = parsedate_to_datetime(f"{value[:match.start()].strip()} {sign}{hours:02d}{minutes:02d}")
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (TypeError, ValueError, OverflowError):    # year 1 at GMT+7 is before datetime.min in UTC
        return None


def _web_url(url: str) -> str | None:
    """`url` escaped as it will be requested, or None when it is not an http(s) URL with a host.

    w3lib refuses what no request can be made for (a port past 65535 or not a number, a broken
    IPv6 literal, a lone surrogate); raised out of the item loop, that lost the whole feed.
    """
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in _WEB_SCHEMES or not parts.netloc:
            return None
        return safe_url_string(url)
    except ValueError:
        return None


def _link(raw: Any, feed_url: str) -> tuple[str | None, str]:
    """(the item's http(s) URL, escaped, "") or (None, the link or id that is not one; "" when none).

    feedparser has already resolved relative links (against xml:base or the feed URL); joining
    again catches any it left. An http(s) guid stands in for a missing or non-web link: RSS
    guids that are URLs are permalinks. A non-URL guid ("abc-1") is never joined into one.
    """
    link = (raw.get("link") or "").strip()
    try:
        link = urljoin(feed_url, link) if link else ""
    except ValueError:                 # "http://[::1": kept as written, and skipped below
        pass
    guid = (raw.get("id") or "").strip()
    for candidate in (link, guid):
        url = _web_url(candidate) if candidate else None
        if url is not None:
            return url, ""
    return None, link


def _trusted_parsed(raw: Any, value: str) -> datetime | None:
    """feedparser's own reading, only for strings whose zone it reads exactly (see _ZONED_*)."""
    if not (_ZONED_RFC822.match(value) or _ZONED_ISO.match(value)):
        return None
    key = "published_parsed" if raw.get("published") else "updated_parsed"
    return _aware(raw.get(key))


def _published(raw: Any, timezone: str, now: datetime) -> datetime | None:
    """The item's date in UTC, or None when it has none or an implausible one.

    feedparser's value is used only where the string states its zone in RFC 822 or ISO 8601
    form; elsewhere it reads naive times as UTC and guesses the day order ("28-03-2023 08:26"
    came out as 20 March 2028). Everything else goes through `parse_date`: day-first, Vietnamese
    weekdays, naive times in the source's zone. A date more than a day past the fetch is
    dropped: stored, it would sort above every real article for years.
    """
    value = " ".join(str(raw.get("published") or raw.get("updated") or "").split())
    if not value:
        return None
    published = (_trusted_parsed(raw, value) or _loose_rfc822(value)
                 or parse_date(value, timezone=timezone))
    if published is None:
        log.debug("feed item %s: unreadable date %r", raw.get("link") or raw.get("id"), value)
        return None
    if published > now + _FUTURE_TOLERANCE:
        log.warning("feed item %s: date %r is in the future (fetched %s); left out",
                    raw.get("link") or raw.get("id"), value, now.isoformat(timespec="seconds"))
        return None
    if published < _EARLIEST:
        log.warning("feed item %s: date %r is before %d; left out",
                    raw.get("link") or raw.get("id"), value, _EARLIEST.year)
        return None
    return published.astimezone(UTC)


def _entry(raw: Any, feed_url: str, timezone: str, now: datetime) -> FeedEntry | SkippedEntry:
    link, seen = _link(raw, feed_url)
    if link is None:
        return SkippedEntry(link=seen, title=_plain(raw.get("title")),
                            reason="not-web-link" if seen else "no-link")
    # YouTube (and other Media RSS feeds) put the text in media:description.
    summary = raw.get("summary") or raw.get("media_description") or ""
    author = _plain(raw.get("author")) or None
    return FeedEntry(
        link=link,
        title=_plain(raw.get("title")),
        summary=_plain(summary),
        published=_published(raw, timezone, now),
        author=author,
        guid=(raw.get("id") or "").strip() or None,
        comments=parse_count(raw.get("slash_comments")),
    )


def _log_skipped(skipped: list[SkippedEntry], url: str) -> None:
    """One line per feed: a feed that keeps a mailto: item would otherwise log it every poll."""
    web = [s for s in skipped if s.reason == "not-web-link"]
    if web:
        shown = ", ".join(repr(s.link) for s in web[:3]) + (" ..." if len(web) > 3 else "")
        log.warning("feed %s: %d items skipped, their links are not http(s): %s", url, len(web), shown)


def parse_feed(body: bytes, content_type: str | None, url: str, *,
               timezone: str = DEFAULT_TIMEZONE, now: datetime | None = None) -> ParsedFeed:
    """Parse RSS/Atom bytes fetched from `url` at `now` (default: the current time).

    Relative links resolve against `url`; naive dates are in `timezone`. Items that can never be
    fetched (no link, or a link that is not http(s)) or repeat an earlier item's link go to
    `skipped` with their reason.
    """
    text = repair_feed_bytes(body, content_type, url=url)
    mime = (content_type or "application/xml").split(";", 1)[0].strip() or "application/xml"
    parsed = feedparser.parse(
        _utf8_feed_bytes(text),
        response_headers={"content-type": f"{mime}; charset=utf-8", "content-location": url},
    )
    result = ParsedFeed(version=parsed.get("version") or "")
    fetched_at = now or datetime.now(UTC)
    links: set[str] = set()
    for raw in parsed.entries:
        entry = _entry(raw, url, timezone, fetched_at)
        if isinstance(entry, SkippedEntry):
            result.skipped.append(entry)
        elif entry.link in links:       # feeds list the newest first: the first one is kept
            result.skipped.append(SkippedEntry(link=entry.link, title=entry.title, reason="duplicate-link"))
        else:
            links.add(entry.link)
            result.entries.append(entry)
    _log_skipped(result.skipped, url)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        result.problem_class = type(exc).__name__ if exc is not None else "BozoFeed"
        result.problem = str(exc) if exc is not None else "feedparser flagged the feed as ill-formed"
    elif not result.version:
        result.problem_class = "NotAFeed"
        result.problem = f"no RSS or Atom document found (content type {mime})"
    return result
