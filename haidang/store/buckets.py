"""Calendar buckets in a local time zone for `Store.facets`: bucket starts and UTC-offset periods.

Every backend dates an article by publication, else first seen, and buckets that instant by its
local calendar day, Monday-based week or month; the bucket's key is the ISO date it starts on.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["Interval", "bucket_key", "bucket_start", "offset_periods"]

Interval = Literal["day", "week", "month"]

# Offset changes are found by stepping this far and bisecting where the offset differs; no zone
# has moved its clocks twice within a day.
_STEP = timedelta(days=1)


def bucket_start(day: date, interval: Interval) -> date:
    """The first day of the bucket holding local day `day` (weeks start on Monday)."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def bucket_key(moment: datetime, interval: Interval, tz: ZoneInfo) -> str:
    """The ISO date of the bucket holding an aware instant, read in `tz`."""
    return bucket_start(moment.astimezone(tz).date(), interval).isoformat()


def _offset(tz: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(tz).utcoffset() or timedelta(0)


def offset_periods(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """The UTC offsets of `tz` over [start, end], as (first instant, offset) in time order.

    The first entry starts at `start`; each offset holds until the next entry's instant. SQLite
    has no time zones, so its facet query shifts each UTC key by the offset of its period.
    """
    periods = [(start, _offset(tz, start))]
    here = start
    while here < end:
        step = min(here + _STEP, end)
        if _offset(tz, step) != periods[-1][1]:
            lo, hi = here, step          # offset at lo is the current one, at hi the next
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if _offset(tz, mid) == periods[-1][1] else (lo, mid)
            periods.append((hi.replace(microsecond=0), _offset(tz, hi)))
        here = step
    return periods
