"""Values as the report documents show them: clean one-line text, local times, hours, Vietnamese numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.render import one_line
from haidang.wording import vn_number

__all__ = ["MAX_CELL_CHARS", "cell_text", "hours", "local_day", "local_time", "vn_number"]

MAX_CELL_CHARS = 500        # a title longer than this is cut in a table cell (Excel allows 32,767)


def cell_text(value: object, limit: int = MAX_CELL_CHARS) -> str:
    """One line of NFC text without control or bidi characters (XML refuses most C0 controls),
    cut at `limit` characters with an ellipsis."""
    text = one_line("" if value is None else value)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def local_time(dt: datetime | None) -> str:
    return dt.strftime("%d/%m/%Y %H:%M") if dt else ""


def local_day(dt: datetime | None) -> str:
    return dt.strftime("%d/%m/%Y") if dt else ""


def hours(span: timedelta | None) -> float | None:
    """Hours to one decimal, as the timing tables show them."""
    return None if span is None else round(span.total_seconds() / 3600, 1)


