"""Feed bytes (as Scrapy fetched them) to FeedEntry objects, through feedparser.

feedparser only ever sees bytes we decoded ourselves (`crawlers.decode.repair_feed_bytes`) and
re-encoded as UTF-8; it never fetches anything (its HTTP client is on its way out upstream).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser  # type: ignore[import-untyped]
from w3lib.html import remove_tags, replace_entities
from w3lib.url import safe_url_string

from crawlers.dates import DEFAULT_TIMEZONE, parse_date
from crawlers.decode import repair_feed_bytes, sniff_binary
from crawlers.events import FeedEntry
from crawlers.xmlhead import complete_head
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
# Date strings whose zone is explicit in RFC 822 or W3C-DTF/ISO 8601 form. They are read here, by
# their own rules or not at all: feedparser reads unknown zone names ("ICT", which Vietnamese feeds
# write for +07:00) as UTC, normalises 30 February to 2 March and 24:00 to the next day, and reads
# a one-digit year as two-digit ("1" as 2001). Strings of other shapes go to `parse_date`.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RFC822 = re.compile(
    r"^(?:[a-z]{3},\s*)?(?P<day>\d{1,2})\s+(?P<month>" + "|".join(_MONTHS) + r")\s+(?P<year>\d{1,4})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*"
    r"(?:(?P<offset>[+-]\d{4})|gmt\s*(?P<gmt>[+-]\d{1,2})(?::?(?P<gmt_minutes>\d{2}))?|gmt|ut|utc|z)$",
    re.IGNORECASE)
_ZONED_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})$",
                        re.IGNORECASE)
_ITEMS = ("item", "entry")             # an RSS item, an Atom entry
# expat's error for a document that ends with elements still open: what cutting a feed short causes.
_ENDS_EARLY = "no element found"
_XML_DECL_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])[^"']*\2""")
_SPACE = re.compile(r"\s+")


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


def _whole_tags(body: bytes) -> bytes:
    """`body` up to its last ">". Cut at a byte count, it may end inside a multi-byte character;
    ">" is never part of one in the ASCII-compatible charsets feeds use."""
    return body[:body.rfind(b">") + 1]


def _plain(value: Any) -> str:
    """Tag-free, entity-free, NFC text with runs of whitespace collapsed."""
    if not value:
        return ""
    text = replace_entities(remove_tags(str(value)))
    return unicodedata.normalize("NFC", _SPACE.sub(" ", text).strip())


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


def _rfc822_year(digits: str) -> int | None:
    """RFC 5322 §4.3: a two-digit year is 2000-2049 or 1950-1999; one or three digits are no year."""
    if len(digits) == 2:
        year = int(digits)
        return year + (2000 if year < 50 else 1900)
    return int(digits) if len(digits) == 4 else None


def _rfc822_zone(match: re.Match[str]) -> dt_timezone | None:
    """The offset the date states: "+0700", "GMT+7" (Tuổi Trẻ's feeds), or UTC; None past ±14:00."""
    if match["offset"]:
        sign, hours, minutes = match["offset"][0], int(match["offset"][1:3]), int(match["offset"][3:])
    elif match["gmt"]:
        sign, hours, minutes = match["gmt"][0], int(match["gmt"][1:]), int(match["gmt_minutes"] or 0)
    else:
        return UTC
    if hours > 14 or minutes > 59:
        return None
    span = timedelta(hours=hours, minutes=minutes)
    return dt_timezone(-span if sign == "-" else span)


def _rfc822_date(match: re.Match[str]) -> datetime | None:
    """The RFC 822 date `match` holds, in UTC; None when it names no real moment (30 February,
    25:00, a one-digit year) rather than the moment a lenient reader would move it to."""
    year, zone = _rfc822_year(match["year"]), _rfc822_zone(match)
    if year is None or zone is None:
        return None
    try:
        value = datetime(year, _MONTHS.index(match["month"].lower()) + 1, int(match["day"]), int(match["hour"]), int(match["minute"]),
                         int(match["second"] or 0), tzinfo=zone)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):     # year 1 at +07:00 is before datetime.min in UTC
        return None


def _iso_date(value: str) -> datetime | None:
    """A zoned W3C-DTF/ISO 8601 date in UTC; None for 2026-02-30, 24:00 and other impossible fields."""
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _read_date(value: str, timezone: str) -> datetime | None:
    """`value` by the rules of its shape: RFC 822 or ISO 8601 with a zone here, anything else
    through `parse_date` (day first, Vietnamese weekdays, naive times in `timezone`). A string of
    a strict shape whose fields are impossible is no date: never handed to a more lenient reader."""
    if _ZONED_ISO.match(value):
        return _iso_date(value)
    if (match := _RFC822.match(value)) is not None:
        return _rfc822_date(match)
    return parse_date(value, timezone=timezone)


def _published(raw: Any, timezone: str, now: datetime) -> datetime | None:
    """The item's date in UTC, or None when it has none or an implausible one.

    feedparser's own reading is never used: it reads naive times as UTC, guesses the day order
    ("28-03-2023 08:26" came out as 20 March 2028) and moves impossible dates (`_read_date`).
    A date more than a day past the fetch is dropped: stored, it would sort above every real
    article for years.
    """
    value = " ".join(str(raw.get("published") or raw.get("updated") or "").split())
    if not value:
        return None
    published = _read_date(value, timezone)
    if published is None:
        log.debug("feed item %s: unreadable or impossible date %r", raw.get("link") or raw.get("id"), value)
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


def parse_feed(body: bytes, content_type: str | None, url: str, *, timezone: str = DEFAULT_TIMEZONE,
               now: datetime | None = None, truncated: bool = False) -> ParsedFeed:
    """Parse RSS/Atom bytes fetched from `url` at `now` (default: the current time).

    Relative links resolve against `url`; naive dates are in `timezone`. Items that can never be
    fetched (no link, or a link that is not http(s)) or repeat an earlier item's link go to
    `skipped` with their reason. A PDF, image or archive is named in `problem`, unparsed.
    `truncated`: `body` is the first part of a feed past the size cap; its complete items are
    read and the item it was cut in is left out (`complete_head`), and the document ending
    early is not a problem of the feed's own.
    """
    if (kind := sniff_binary(body)) is not None:
        return ParsedFeed(problem_class="NotAFeed", problem=f"looks like {kind}, not a feed")
    text = repair_feed_bytes(_whole_tags(body) if truncated else body, content_type, url=url)
    if truncated:
        text = complete_head(text, _ITEMS)
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
    if (bozo := _bozo(parsed, truncated)) is not None:
        result.problem_class, result.problem = bozo
    elif not result.version:
        result.problem_class = "NotAFeed"
        result.problem = f"no RSS or Atom document found (content type {mime})"
    return result


def _bozo(parsed: Any, truncated: bool) -> tuple[str, str] | None:
    """(class, message) of what feedparser found ill-formed; None when nothing, or when the only
    fault is the document ending early in a feed we cut short (the caller reports that cut)."""
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "BozoFeed", "feedparser flagged the feed as ill-formed"
    if truncated and _ENDS_EARLY in str(exc):
        return None
    return type(exc).__name__, str(exc)
