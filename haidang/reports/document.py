"""The deadline report as a Word document (python-docx): headings, tables and PNG charts, in Vietnamese.

Every value goes in as run text, which python-docx XML-escapes, after `cell_text` has removed
what XML cannot hold; so article titles stay text whatever they contain. Numbers are written the
Vietnamese way by one formatter (`vn_number`: 1.203; 6.189,8).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from haidang.reports.charts import volume_chart_png
from haidang.reports.report import (
    DELIVERY_STATES,
    CountRow,
    Report,
    ReportAction,
    ReportFlag,
    ReportResurfacing,
    Series,
)
from haidang.reports.text import cell_text, hours, local_day, local_time, vn_number
from haidang.reports.wording import COLUMNS, DELIVERY, HEADINGS, NOTES, SUMMARY, TIMING

__all__ = ["MAX_DOC_ROWS", "RESURFACED_HEADER", "action_note", "delivery_text", "earlier_text", "resurfaced_rows", "summary_rows",
           "summary_text", "write_docx"]

MAX_DOC_ROWS = 200          # rows of one list in the document; the workbook has them all
# Section 6.4's columns, in both writers (resurfaced_rows fills them).
RESURFACED_HEADER = [COLUMNS[k] for k in ("reappeared", "title", "new_source", "url", "earlier", "rule", "delivery")]
_FONT = "Times New Roman"


def summary_rows(report: Report) -> list[tuple[str, int | float | None]]:
    """The overview table: (what, number), shared by both writers and the report email so they
    agree; None where there is nothing to measure. Flags are split by delivery, since a flag held
    by quiet hours has reached nobody yet, and counted in stories too (the unit of the daily digest:
    one story two rules flagged is two flags); the digest-only rules' stories follow as their own number,
    and the stories that resurfaced after being handled as theirs (never counted as flags)."""
    delivered = Counter(f.delivery for f in report.flags)
    p2f, f2a = report.publication_to_flag, report.flag_to_action
    return [(SUMMARY["total"], report.total), (SUMMARY["foreign"], len(report.foreign)),
            (SUMMARY["flags"], len(report.flags)), (SUMMARY["flag_stories"], report.flagged_stories),
            *((SUMMARY[f"flags_{state}"], delivered[state]) for state in DELIVERY_STATES),
            (SUMMARY["digest"], len(report.digest_items)),
            (SUMMARY["actions"], len(report.actions)),
            (SUMMARY["resurfaced"], report.resurfaced_stories),
            (SUMMARY["resurfacing_emails"], report.resurfacing_emails), (SUMMARY["open"], len(report.open_items)),
            (SUMMARY["pub_to_flag_median"], hours(p2f.median)), (SUMMARY["pub_to_flag_p90"], hours(p2f.p90)),
            (SUMMARY["flag_to_action_median"], hours(f2a.median)), (SUMMARY["flag_to_action_p90"], hours(f2a.p90))]


def summary_text(report: Report) -> list[tuple[str, str]]:
    """`summary_rows` as text readers see it: Vietnamese numbers, "-" for nothing to measure."""
    return [(what, "-" if value is None else vn_number(value)) for what, value in summary_rows(report)]


def delivery_text(flag: ReportFlag | ReportResurfacing) -> str:
    """"Đã gửi", "Chờ gửi", "Gửi không thành công"; a flag sent to some recipients only says how many."""
    text = DELIVERY[flag.delivery]
    sent, total = flag.statuses.get("sent", 0), sum(flag.statuses.values())
    if flag.delivery == "sent" and sent < total:
        text += " " + DELIVERY["partial"].format(sent=sent, total=total)
    return text


def action_note(action: ReportAction) -> str:
    """The officer's note, then the rebuttal's address when one was given."""
    parts = [action.note] if action.note else []
    if action.rebuttal_url:
        parts.append(COLUMNS["rebuttal"].format(url=action.rebuttal_url))
    return "; ".join(parts)


def earlier_text(item: ReportResurfacing) -> str:
    """What officers had done before a story resurfaced: "Đã phản bác – Công an tỉnh, 10/11/2026 10:00; …"."""
    return "; ".join(f"{a.action_name} – {a.agency_name}, {local_time(a.at)}" for a in item.earlier)


def resurfaced_rows(report: Report) -> list[tuple[datetime, str, str, str, str, str, str]]:
    """Section 6.4's rows (time as a datetime: each writer formats it), shared by both writers."""
    return [(r.reappeared_at, r.title, r.source_name, r.url, earlier_text(r), "; ".join(r.rule_names),
             delivery_text(r)) for r in report.resurfaced]


def _cell(value: object) -> str:
    """Numbers the Vietnamese way; everything else as clean text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return vn_number(value)
    return cell_text("" if value is None else value)


def _table(doc: DocumentObject, header: Sequence[str], rows: Sequence[Sequence[object]], *,
           font: float = 10) -> None:
    shown = list(rows)[:MAX_DOC_ROWS]
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        run = cell.paragraphs[0].add_run(cell_text(text))
        run.bold, run.font.size = True, Pt(font)
    for row in shown:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            run = cell.paragraphs[0].add_run(_cell(value))
            run.font.size = Pt(font)
    if not shown:
        doc.add_paragraph(NOTES["none"])
    elif len(rows) > len(shown):
        doc.add_paragraph(NOTES["more"].format(n=vn_number(len(rows) - len(shown))))


def _counts(doc: DocumentObject, rows: list[CountRow], first: str) -> None:
    _table(doc, [first, COLUMNS["count"]], [(r.label, r.count) for r in rows])


def _volume(doc: DocumentObject, report: Report, dim: str) -> None:
    series: list[Series] = report.volumes[dim]
    doc.add_heading(HEADINGS[dim], level=2)
    png = volume_chart_png(series, report.bucket_labels, HEADINGS[dim].split(" ", 1)[1])
    doc.add_picture(io.BytesIO(png), width=Mm(160))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _table(doc, [COLUMNS["group"], *report.bucket_labels, COLUMNS["total"]],
           [(s.label, *s.counts, s.total) for s in series], font=8 if len(report.buckets) > 8 else 10)
    if dim == "topic":
        doc.add_paragraph(NOTES["topics"])


def _flag_rows(flags: list[ReportFlag]) -> list[tuple[object, ...]]:
    return [(local_time(f.flagged_at), f.rule_name or f.rule, f.title, f.source_name, f.url, delivery_text(f),
             COLUMNS["yes"] if f.handled else COLUMNS["no"]) for f in flags]


def write_docx(report: Report, path: Path | str) -> Path:
    """Write the report to `path` (parent folders created); returns the path."""
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = _FONT, Pt(12)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), _FONT)
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(25), Mm(15)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(HEADINGS["title"])
    run.bold, run.font.size = True, Pt(14)
    sub = doc.add_paragraph(HEADINGS["subtitle"].format(province=cell_text(report.province),
                                                        start=report.start.strftime("%d/%m/%Y"),
                                                        end=report.end.strftime("%d/%m/%Y")))
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(HEADINGS["generated"].format(when=local_time(report.generated_at))).runs[0].italic = True

    doc.add_heading(HEADINGS["summary"], level=1)
    _table(doc, [COLUMNS["measure"], COLUMNS["value"]], summary_text(report))

    doc.add_heading(HEADINGS["volume"], level=1)
    doc.add_paragraph(NOTES["bucket_week"] if report.bucket == "week" else NOTES["bucket_month"])
    for dim in ("topic", "tone", "kind", "language"):
        _volume(doc, report, dim)

    doc.add_heading(HEADINGS["foreign"], level=1)
    _table(doc, [COLUMNS["date"], COLUMNS["source"], COLUMNS["title"], COLUMNS["language"], COLUMNS["tone"],
                 COLUMNS["url"]],
           [(local_day(a.published), a.source_name, a.title, a.language, a.tone, a.url) for a in report.foreign],
           font=9)

    doc.add_heading(HEADINGS["flags"], level=1)
    _counts(doc, report.flags_by_rule, COLUMNS["rule"])
    doc.add_paragraph()
    _table(doc, [COLUMNS["flagged"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"], COLUMNS["url"],
                 COLUMNS["delivery"], COLUMNS["handled"]], _flag_rows(report.flags), font=9)

    doc.add_heading(HEADINGS["digest"], level=1)
    doc.add_paragraph(NOTES["digest"])
    _counts(doc, report.digest_items_by_rule, COLUMNS["rule"])
    doc.add_paragraph()
    _table(doc, [COLUMNS["date"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"], COLUMNS["url"]],
           [(local_day(i.listed_at), i.rule_name or i.rule, i.title, i.source_name, i.url)
            for i in report.digest_items], font=9)

    doc.add_heading(HEADINGS["actions"], level=1)
    doc.add_heading(HEADINGS["actions_type"], level=2)
    _counts(doc, report.actions_by_type, COLUMNS["action"])
    doc.add_heading(HEADINGS["actions_agency"], level=2)
    _counts(doc, report.actions_by_agency, COLUMNS["agency"])
    doc.add_heading(HEADINGS["actions_list"], level=2)
    _table(doc, [COLUMNS["date"], COLUMNS["action"], COLUMNS["title"], COLUMNS["agency"], COLUMNS["actor"],
                 COLUMNS["rule"], COLUMNS["note"]],
           [(local_time(a.at), a.action_name, a.title, a.agency_name, a.actor, a.rule_name or a.rule,
             action_note(a)) for a in report.actions],
           font=9)

    doc.add_heading(HEADINGS["resurfaced"], level=2)
    doc.add_paragraph(NOTES["resurfaced"])
    _table(doc, RESURFACED_HEADER, [(local_time(row[0]), *row[1:]) for row in resurfaced_rows(report)], font=9)

    doc.add_heading(HEADINGS["timing"], level=1)
    _table(doc, [COLUMNS["measure"], COLUMNS["cases"], COLUMNS["median"], COLUMNS["p90"]],
           [(TIMING[k], d.count, hours(d.median), hours(d.p90)) for k, d in
            (("pub_to_flag", report.publication_to_flag), ("flag_to_action", report.flag_to_action))])
    doc.add_paragraph(NOTES["p90"])

    doc.add_heading(HEADINGS["open"], level=1)
    end = report.as_of
    _table(doc, [COLUMNS["flagged"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"], COLUMNS["url"],
                 COLUMNS["age"]],
           [(local_time(f.flagged_at), f.rule_name or f.rule, f.title, f.source_name, f.url, max(0, (end - f.flagged_at).days))
            for f in report.open_items], font=9)

    doc.core_properties.title = HEADINGS["title"]
    doc.core_properties.author = "Hải Đăng"
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out
