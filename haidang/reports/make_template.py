"""Writes config/templates/de-nghi-cai-chinh.docx, the correction-request letter a province edits.

Run `python -m haidang.reports.make_template [PATH]` to regenerate it. Bracketed text ("[TÊN CƠ
QUAN]") is for the province to replace once with its letterhead, or for the officer to fill in
each letter; `{{name}}` fields are filled by `haidang.reports.correction` (see FIELDS there).
Layout follows the usual Vietnamese administrative letter (công văn): agency and national motto
side by side, number and place/date, subject line, addressee, body, recipients and signature.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph

__all__ = ["TEMPLATE_NAME", "make_template"]

TEMPLATE_NAME = "de-nghi-cai-chinh.docx"
_FONT = "Times New Roman"      # the font of administrative documents (Nghị định 30/2020/NĐ-CP)
_SIZE = Pt(13)


def _para(target: Any, text: str = "", *, bold: bool = False, italic: bool = False,
          align: WD_ALIGN_PARAGRAPH | None = None, size: Pt | None = None) -> Paragraph:
    p = target.add_paragraph()
    if align is not None:
        p.alignment = align
    if text:
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        if size is not None:
            run.font.size = size
    return p


def make_template(path: Path) -> Path:
    """Build the template at `path` (parent folders created); returns the path."""
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = _FONT, _SIZE
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), _FONT)
    normal.paragraph_format.space_after = Pt(6)
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)

    center = WD_ALIGN_PARAGRAPH.CENTER
    head = doc.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = head.rows[0].cells
    left.paragraphs[0].alignment = center
    left.paragraphs[0].add_run("[TÊN CƠ QUAN CHỦ QUẢN]")
    _para(left, "[TÊN CƠ QUAN BAN HÀNH]", bold=True, align=center)
    _para(left, "Số: [...]/[...]-[...]", align=center)
    _para(left, "V/v đề nghị cải chính thông tin sai sự thật", align=center, size=Pt(12))
    right.paragraphs[0].alignment = center
    right.paragraphs[0].add_run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").bold = True
    _para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, align=center)
    _para(right, "[Địa danh], ngày [...] tháng [...] năm [...]", italic=True, align=center)

    _para(doc)
    _para(doc, "Kính gửi: {{outlet}}", bold=True, align=center)
    _para(doc, "Ngày {{date}}, {{outlet}} đăng bài “{{title}}” tại địa chỉ {{url}}. "
               "Bài viết có nội dung không đúng sự thật liên quan đến tỉnh {{province}}, cụ thể:",
          align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "{{passages}}", italic=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "Thông tin chính xác như sau: [Nêu thông tin chính xác và căn cứ: văn bản, số liệu, "
               "kết quả xác minh của cơ quan có thẩm quyền].", align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "Căn cứ quy định của pháp luật về báo chí, [TÊN CƠ QUAN BAN HÀNH] đề nghị {{outlet}} "
               "cải chính, đính chính nội dung nêu trên theo quy định và thông báo kết quả cho "
               "[TÊN CƠ QUAN BAN HÀNH] trước ngày [...].", align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _para(doc, "Trân trọng./.")

    foot = doc.add_table(rows=1, cols=2)
    recipients, signer = foot.rows[0].cells
    recipients.paragraphs[0].add_run("Nơi nhận:").bold = True
    for line in ("- Như trên;", "- [...];", "- Lưu: VT, [...]."):
        _para(recipients, line, size=Pt(11))
    signer.paragraphs[0].alignment = center
    signer.paragraphs[0].add_run("[CHỨC VỤ NGƯỜI KÝ]").bold = True
    _para(signer, "(Ký, ghi rõ họ tên, đóng dấu)", italic=True, align=center)
    for _ in range(3):
        _para(signer)
    _para(signer, "[Họ và tên]", bold=True, align=center)

    props = doc.core_properties
    props.title, props.author, props.last_modified_by = "Đề nghị cải chính thông tin", "Hải Đăng", "Hải Đăng"
    props.created = props.modified = datetime(2026, 1, 1)   # fixed, so regenerating changes no metadata
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance script
    default = Path(__file__).resolve().parents[2] / "config" / "templates" / TEMPLATE_NAME
    print(make_template(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
