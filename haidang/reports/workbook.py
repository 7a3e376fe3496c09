"""The deadline report as an Excel workbook (openpyxl): one sheet per section, native line charts.

Every text cell is stored as a string, never a formula: a title starting with "=" stays text.
Numbers stay numbers and times are Excel dates, so analysts can sort and sum: Excel has no time
zones, so a time is written as the deployment's local wall-clock time. Sheets are streamed
(openpyxl's write-only mode), so a long period's lists are not held as cell objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from alerts.render import link_target
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

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet  # what Workbook(write_only=True) makes

__all__ = ["write_xlsx"]

_MAX_CHART_SERIES = 8       # as charts.MAX_LINES: more lines cannot be told apart
# Number formats: Excel shows the separators of the reader's locale (1.203 and 7,5 in Vietnamese).
_DAY, _MINUTE, _MONTH = "dd/mm/yyyy", "dd/mm/yyyy hh:mm", "mm/yyyy"
_INTEGER, _DECIMAL = "#,##0", "#,##0.0"
_TIME_WIDTH = 17            # characters: "31/12/2026 23:59" and a margin; narrower shows "####"
_BOLD = Font(bold=True)
Row = Sequence[object]


def _local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    """The local wall-clock time without its zone: openpyxl refuses aware datetimes."""
    return dt.astimezone(tz).replace(tzinfo=None) if dt else None


def _cell(ws: WriteOnlyWorksheet, value: object, *, bold: bool = False, number_format: str | None = None,
          link: bool = False) -> Cell:
    """One cell: text always as text, numbers and Excel dates with their display format; `link`
    makes a web address clickable."""
    if isinstance(value, str):
        cell = WriteOnlyCell(ws, cell_text(value, 32_000))
        cell.data_type = "s"           # never a formula, whatever the text starts with
        if link and link_target(value) != "#":
            cell.hyperlink = link_target(value)
    else:
        cell = WriteOnlyCell(ws, value)
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
        cell.font = _BOLD
    return cell


def _sheet(wb: Workbook, key: str, header: Sequence[str], rows: Sequence[Row], title: str | None = None, *,
           note: str | None = None, url_col: int | None = None, formats: Mapping[int, str] | None = None,
           side: tuple[int, Sequence[str], Sequence[Row]] | None = None, footer: str | None = None,
           widths: Mapping[str, float] | None = None) -> WriteOnlyWorksheet:
    """One sheet, written row by row (each row goes to the file as it is appended):
    optional title and `note` below it, bold header, rows, and a `footer` line after a blank one;
    `formats` sets a column's number format. `side` is a second table (first column, header, rows)
    beside the first. Widths and frozen panes go first: a streamed sheet writes them before its rows."""
    ws = wb.create_sheet(SHEETS[key])
    top = 3 if title else 1
    for j in range(1, len(header) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 14 if j > 1 else 40
    for j in sorted({j for row in rows for j, value in enumerate(row, start=1) if isinstance(value, datetime)}):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, _TIME_WIDTH)
    for letter, width in (widths or {}).items():
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = f"A{top + 1}"
    if title:
        ws.append([_cell(ws, title, bold=True)])
        ws.append([_cell(ws, note)] if note else [])
    first, side_header, side_rows = side or (0, (), ())
    gap = [None] * max(0, first - len(header) - 1)
    ws.append([*(_cell(ws, name, bold=True) for name in header), *gap,
               *(_cell(ws, name, bold=True) for name in side_header)])
    fmt = formats or {}
    for i in range(max(len(rows), len(side_rows))):
        row = rows[i] if i < len(rows) else ()
        cells = [_cell(ws, value, number_format=fmt.get(j), link=j == url_col) for j, value in enumerate(row, start=1)]
        if i < len(side_rows):
            cells += [None] * (first - 1 - len(cells)) + [_cell(ws, value) for value in side_rows[i]]
        ws.append(cells)
    if footer:
        ws.append([])
        ws.append([_cell(ws, footer)])
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
    ws.add_chart(chart, f"A{last + 3}")


def _digest_sheet(wb: Workbook, report: Report, tz: ZoneInfo) -> None:
    """The digest-only rules' stories: the list, and beside it (one column apart) the count per rule."""
    _sheet(wb, "digest", [COLUMNS["date"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"], COLUMNS["url"]],
           [(_local(i.listed_at, tz), i.rule_name or i.rule, i.title, i.source_name, i.url)
            for i in report.digest_items], HEADINGS["digest"], note=NOTES["digest"], url_col=5,
           side=(7, [COLUMNS["rule"], COLUMNS["count"]], [(row.label, row.count) for row in report.digest_items_by_rule]),
           widths={"G": 40, "H": 12})


def write_xlsx(report: Report, path: Path | str) -> Path:
    """Write the report to `path` (parent folders created); returns the path."""
    tz = ZoneInfo(report.timezone)
    wb = Workbook(write_only=True)
    subtitle = HEADINGS["subtitle"].format(province=report.province, start=report.start.strftime("%d/%m/%Y"),
                                           end=report.end.strftime("%d/%m/%Y"))
    _sheet(wb, "summary", [COLUMNS["measure"], COLUMNS["value"]], summary_rows(report),
           f"{HEADINGS['title']}: {subtitle}", widths={"A": 60},
           footer=HEADINGS["generated"].format(when=local_time(report.generated_at)))
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
    _sheet(wb, "resurfaced", RESURFACED_HEADER, [(_local(row[0], tz), *row[1:]) for row in resurfaced_rows(report)],
           HEADINGS["resurfaced"], note=NOTES["resurfaced"], url_col=4)
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
