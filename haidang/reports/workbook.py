"""The deadline report as an Excel workbook (openpyxl): one sheet per section, native line charts.

Every text cell is stored as a string, never a formula: a title starting with "=" stays text.
Numbers stay numbers and times are Excel dates, so analysts can sort and sum: Excel has no time
zones, so a time is written as the deployment's local wall-clock time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from alerts.render import _href
from haidang.reports.document import (
    RESURFACED_HEADER,
    action_note,
    delivery_text,
    resurfaced_rows,
    summary_rows,
)
from haidang.reports.report import Report
from haidang.reports.text import cell_text, hours, local_time
from haidang.reports.wording import COLUMNS, HEADINGS, NOTES, SHEETS, TIMING

__all__ = ["write_xlsx"]

_MAX_CHART_SERIES = 8       # as charts.MAX_LINES: more lines cannot be told apart
# Number formats: Excel shows the separators of the reader's locale (1.203 and 7,5 in Vietnamese).
_DAY, _MINUTE, _MONTH = "dd/mm/yyyy", "dd/mm/yyyy hh:mm", "mm/yyyy"
_INTEGER, _DECIMAL = "#,##0", "#,##0.0"
_TIME_WIDTH = 17            # characters: "31/12/2026 23:59" and a margin; narrower shows "####"


def _local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    """The local wall-clock time without its zone: openpyxl refuses aware datetimes."""
    return dt.astimezone(tz).replace(tzinfo=None) if dt else None


def _put(ws: Worksheet, row: int, col: int, value: object, *, bold: bool = False,
         number_format: str | None = None) -> None:
    if isinstance(value, str):
        cell = ws.cell(row=row, column=col, value=cell_text(value, 32_000))
        cell.data_type = "s"           # never a formula, whatever the text starts with
    else:
        cell = ws.cell(row=row, column=col, value=value)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise ValueError("workbook times are naive local times: convert with _local first")
            cell.number_format = _MINUTE
        elif isinstance(value, date):
            cell.number_format = _DAY
        elif isinstance(value, float):
            cell.number_format = _DECIMAL
        elif isinstance(value, int) and not isinstance(value, bool):
            cell.number_format = _INTEGER
        if number_format and value is not None:
            cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)


def _sheet(wb: Workbook, key: str, header: Sequence[str], rows: Sequence[Sequence[object]],
           title: str | None = None, *, url_col: int | None = None,
           formats: Mapping[int, str] | None = None) -> Worksheet:
    """One sheet: optional title, bold header, rows; `formats` sets a column's number format."""
    ws = wb.create_sheet(SHEETS[key])
    top = 1
    if title:
        _put(ws, 1, 1, title, bold=True)
        top = 3
    for j, name in enumerate(header, start=1):
        _put(ws, top, j, name, bold=True)
        ws.column_dimensions[ws.cell(row=top, column=j).column_letter].width = 14 if j > 1 else 40
    for i, row in enumerate(rows, start=top + 1):
        for j, value in enumerate(row, start=1):
            _put(ws, i, j, value, number_format=(formats or {}).get(j))
            if isinstance(value, datetime):
                letter = ws.cell(row=i, column=j).column_letter
                ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, _TIME_WIDTH)
            if url_col is not None and j == url_col and isinstance(value, str) and _href(value) != "#":
                ws.cell(row=i, column=j).hyperlink = _href(value)
    ws.freeze_panes = ws.cell(row=top + 1, column=1)
    return ws


def _volume_sheet(wb: Workbook, report: Report, dim: str) -> None:
    series = report.volumes[dim]
    ws = _sheet(wb, dim, [COLUMNS["period"], *(s.label for s in series), COLUMNS["total"]],
                [(first, *(s.counts[i] for s in series), sum(s.counts[i] for s in series))
                 for i, first in enumerate(report.buckets)], HEADINGS[dim],
                formats={1: _DAY if report.bucket == "week" else _MONTH})
    if not series or not report.buckets:
        return
    chart = LineChart()
    chart.title = cell_text(HEADINGS[dim])
    chart.y_axis.title = COLUMNS["count"]
    chart.height, chart.width = 8, 18
    header_row, first, last = 3, 4, 3 + len(report.buckets)
    shown = min(len(series), _MAX_CHART_SERIES)
    chart.add_data(Reference(ws, min_col=2, max_col=1 + shown, min_row=header_row, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    ws.add_chart(chart, ws.cell(row=last + 3, column=1).coordinate)


def _digest_sheet(wb: Workbook, report: Report, tz: ZoneInfo) -> None:
    """The digest-only rules' stories: the list, and beside it (one column apart) the count per rule."""
    ws = _sheet(wb, "digest", [COLUMNS["date"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"], COLUMNS["url"]],
                [(_local(i.listed_at, tz), i.rule_name or i.rule, i.title, i.source_name, i.url)
                 for i in report.digest_items], HEADINGS["digest"], url_col=5)
    _put(ws, 2, 1, NOTES["digest"])
    top, first = 3, 7
    _put(ws, top, first, COLUMNS["rule"], bold=True)
    _put(ws, top, first + 1, COLUMNS["count"], bold=True)
    ws.column_dimensions[ws.cell(row=top, column=first).column_letter].width = 40
    ws.column_dimensions[ws.cell(row=top, column=first + 1).column_letter].width = 12
    for i, row in enumerate(report.digest_items_by_rule, start=top + 1):
        _put(ws, i, first, row.label)
        _put(ws, i, first + 1, row.count)


def write_xlsx(report: Report, path: Path | str) -> Path:
    """Write the report to `path` (parent folders created); returns the path."""
    tz = ZoneInfo(report.timezone)
    wb = Workbook()
    wb.remove(wb.active)
    subtitle = HEADINGS["subtitle"].format(province=report.province, start=report.start.strftime("%d/%m/%Y"),
                                           end=report.end.strftime("%d/%m/%Y"))
    ws = _sheet(wb, "summary", [COLUMNS["measure"], COLUMNS["value"]], summary_rows(report),
                f"{HEADINGS['title']}: {subtitle}")
    ws.column_dimensions["A"].width = 60
    _put(ws, 4 + len(summary_rows(report)) + 1, 1,
         HEADINGS["generated"].format(when=local_time(report.generated_at)))
    for dim in ("topic", "tone", "kind", "language"):
        _volume_sheet(wb, report, dim)
    _sheet(wb, "foreign", [COLUMNS["date"], COLUMNS["source"], COLUMNS["title"], COLUMNS["language"],
                           COLUMNS["tone"], COLUMNS["url"]],
           [(_local(a.published, tz), a.source_name, a.title, a.language, a.tone, a.url) for a in report.foreign],
           url_col=6)
    _sheet(wb, "flags", [COLUMNS["flagged"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"],
                         COLUMNS["published"], COLUMNS["url"], COLUMNS["recipients"], COLUMNS["handled"],
                         COLUMNS["delivery"]],
           [(_local(f.flagged_at, tz), f.rule_name or f.rule, f.title, f.source_name, _local(f.published, tz), f.url,
             ", ".join(f.recipients), COLUMNS["yes"] if f.handled else COLUMNS["no"], delivery_text(f))
            for f in report.flags],
           url_col=6)
    _digest_sheet(wb, report, tz)
    _sheet(wb, "actions", [COLUMNS["date"], COLUMNS["action"], COLUMNS["title"], COLUMNS["agency"], COLUMNS["actor"],
                           COLUMNS["rule"], COLUMNS["note"]],
           [(_local(a.at, tz), a.action_name, a.title, a.agency_name, a.actor, a.rule_name or a.rule, action_note(a))
            for a in report.actions])
    ws = _sheet(wb, "resurfaced", RESURFACED_HEADER,
                [(_local(row[0], tz), *row[1:]) for row in resurfaced_rows(report)], HEADINGS["resurfaced"], url_col=4)
    _put(ws, 2, 1, NOTES["resurfaced"])
    _sheet(wb, "timing", [COLUMNS["measure"], COLUMNS["cases"], COLUMNS["median"], COLUMNS["p90"]],
           [(TIMING[k], d.count, hours(d.median), hours(d.p90)) for k, d in
            (("pub_to_flag", report.publication_to_flag), ("flag_to_action", report.flag_to_action))],
           NOTES["p90"])
    _sheet(wb, "open", [COLUMNS["flagged"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"], COLUMNS["url"],
                        COLUMNS["age"]],
           [(_local(f.flagged_at, tz), f.rule_name or f.rule, f.title, f.source_name, f.url,
             max(0, (report.as_of - f.flagged_at).days)) for f in report.open_items], url_col=5)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(out))
    return out
