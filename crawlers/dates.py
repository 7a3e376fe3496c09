"""Date strings as Vietnamese and foreign news pages write them, turned into aware datetimes.

The common Vietnamese shapes (day before month, weekday prefixes, "8h30", "(GMT+7)") are read by
our own patterns first, because dateparser alone misreads some of them: it drops "Cập nhật lúc
8h30 ngày 12/3/2026" and turns a bare weekday ("Thứ ba") into some Tuesday. dateparser is the
fallback for wordy forms ("March 12, 2026 7:30 AM GMT+7"). Results are always in the given zone.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_TIMEZONE", "parse_date"]

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

# Day, month, four-digit year; "/", "-" or "." between them. Vietnamese order is always D/M/Y.
_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})(?!\d)")
# "ngày 12 tháng 3 năm 2026"
_DMY_WORDS = re.compile(r"(?<!\d)(\d{1,2})\s+tháng\s+(\d{1,2})\s*(?:,|năm)\s*(\d{4})(?!\d)", re.IGNORECASE)
# "08:26", "8:26:59", "8h30", "8h", "8 giờ 30"; optional AM/PM or Vietnamese part of the day.
_TIME = re.compile(
    r"(?<![\d+\-])(\d{1,2})\s*(?::|h|giờ)\s*(\d{2})?(?:\s*phút)?(?::(\d{2}))?(?!\d)"
    r"(?:\s*(am|pm|sa|ch|sáng|chiều|tối|trưa))?",
    re.IGNORECASE,
)
# "GMT+7", "(GMT+07:00)", "UTC+7", "+07:00" after a time.
_OFFSET = re.compile(r"(?:GMT|UTC)\s*([+\-])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
_UTC_WORD = re.compile(r"\b(?:GMT|UTC)\b(?!\s*[+\-])", re.IGNORECASE)
# The leading ISO 8601 date and time, when the string starts with one.
_ISO_FIELDS = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
_PM_WORDS = {"pm", "ch", "chiều", "tối"}
_AM_WORDS = {"am", "sa", "sáng"}

_DATEPARSER_SETTINGS = {
    "DATE_ORDER": "DMY",
    "PREFER_DATES_FROM": "past",
    "RETURN_AS_TIMEZONE_AWARE": True,
}


@lru_cache(maxsize=16)
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


_MAX_DATE_CHARS = 200      # "Cập nhật lúc Thứ ba, 28/03/2023 08:26 (GMT+7)" is 45


def parse_date(text: str | None, *, timezone: str = DEFAULT_TIMEZONE,
               formats: list[str] | tuple[str, ...] = ()) -> datetime | None:
    """Parse one date string from a page, feed or metadata; None when it holds no full date.

    Explicit offsets are honoured and the result converted to `timezone`; a naive value is taken
    to be in `timezone` (the local time of a Vietnamese source). `formats` are per-site strptime
    patterns tried first. A string without a year (a bare weekday, "hôm qua") gives None rather
    than a guess, so a wrong date never outranks a later, better source.
    """
    if not text:
        return None
    # A date fits in a line; dateparser's time grows with the input (100 kB of "1/": 12 s).
    text = " ".join(text[:_MAX_DATE_CHARS * 4].split())[:_MAX_DATE_CHARS]
    if not text:
        return None
    try:
        return _parse(text, _zone(timezone), timezone, formats)
    except (OverflowError, ValueError):     # 9999-12-31T23:59-12:00 leaves the calendar in our zone
        return None


def _parse(text: str, zone: tzinfo, timezone: str, formats: list[str] | tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return _localise(value, zone)
    if (fields := _ISO_FIELDS.match(text)) is not None:
        iso = _parse_iso(text)
        if iso is not None:
            return _localise(iso, zone)
        if not _is_real_moment(fields):
            return None
    if _DMY.search(text) or _DMY_WORDS.search(text):
        # A numeric day/month/year is read D/M or not at all: "12/13/2026" must not reach
        # dateparser, which would read it as 13 December.
        return _parse_vietnamese(text, zone)
    return _parse_with_dateparser(text, zone, timezone)


def _localise(value: datetime, zone: tzinfo) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def _is_real_moment(fields: re.Match[str]) -> bool:
    """False when the leading ISO 8601 fields name no real date or time (2026-02-30, month 13, 25:00):
    the string is then no date, and dateparser must not get it (it read "2026-13-01" as 13 January)."""
    year, month, day, hour, minute, second = (int(value or 0) for value in fields.groups())
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _parse_iso(text: str) -> datetime | None:
    candidate = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _parse_vietnamese(text: str, zone: tzinfo) -> datetime | None:
    """Numeric D/M/Y dates with an optional time and offset anywhere in the string."""
    m = _DMY.search(text) or _DMY_WORDS.search(text)
    if m is None:
        return None
    day, month, year = (int(g) for g in m.groups())
    rest = text[:m.start()] + " " + text[m.end():]
    offset = None
    om = _OFFSET.search(rest)
    if om is not None:
        sign = -1 if om.group(1) == "-" else 1
        hours, minutes = int(om.group(2)), int(om.group(3) or 0)
        if hours > 14 or minutes > 59:
            return None
        offset = dt_timezone(sign * timedelta(hours=hours, minutes=minutes))
        rest = rest[:om.start()] + " " + rest[om.end():]
    elif _UTC_WORD.search(rest):
        offset = UTC
    hour = minute = second = 0
    tm = _TIME.search(rest)
    if tm is not None:
        hour, minute, second = int(tm.group(1)), int(tm.group(2) or 0), int(tm.group(3) or 0)
        part = (tm.group(4) or "").lower()
        if part in _PM_WORDS and hour < 12:
            hour += 12
        elif part in _AM_WORDS and hour == 12:
            hour = 0
    try:
        value = datetime(year, month, day, hour, minute, second)
    except ValueError:
        log.debug("not a valid date: %r", text)
        return None
    if offset is not None:
        return value.replace(tzinfo=offset).astimezone(zone)
    return value.replace(tzinfo=zone)


def _parse_with_dateparser(text: str, zone: tzinfo, timezone: str) -> datetime | None:
    """Wordy forms ("March 12, 2026 7:30 AM GMT+7"); only when a year is present (see parse_date)."""
    if _YEAR.search(text) is None:
        return None
    import dateparser  # slow to import; most dates never get here

    settings = dict(_DATEPARSER_SETTINGS, TIMEZONE=timezone)
    try:
        value = dateparser.parse(text, languages=["vi", "en"], settings=settings)  # type: ignore[arg-type]
    except (ValueError, OverflowError, TypeError) as exc:
        log.debug("dateparser failed on %r: %s", text, exc)
        return None
    if value is None:
        return None
    return _localise(value, zone)
