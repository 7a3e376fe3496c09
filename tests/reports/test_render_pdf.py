"""Renders the report and the correction letter to PDF and PNG with LibreOffice, for a person to look at.

Not part of the default run (it takes a minute and needs LibreOffice): set HAIDANG_RENDER_DOCS=1
and install `soffice` (Debian libreoffice-writer-nogui, libreoffice-calc-nogui) and `pdftoppm`
(poppler-utils). Output goes to HAIDANG_RENDER_DOCS_DIR, else tmp_path (pytest keeps the last few
runs' folders: look there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from haidang.reports.correction import correction_request_docx
from haidang.reports.document import write_docx
from haidang.reports.report import build_report
from haidang.reports.workbook import write_xlsx

VN = timezone(timedelta(hours=7))
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFTOPPM = shutil.which("pdftoppm")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("HAIDANG_RENDER_DOCS"),
                                 reason="rendering documents for a look is opt-in: HAIDANG_RENDER_DOCS=1"),
              pytest.mark.skipif(SOFFICE is None or PDFTOPPM is None,
                                 reason="LibreOffice (soffice) or pdftoppm is not installed; install them to "
                                        "render the documents to PDF/PNG")]


def _convert(path: Path, fmt: str, out_dir: Path) -> Path:
    profile = out_dir / "lo-profile"      # a private profile: no clash with a running LibreOffice
    subprocess.run([str(SOFFICE), f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt,
                    "--outdir", str(out_dir), str(path)], check=True, timeout=240, capture_output=True)
    result = out_dir / f"{path.stem}.{fmt}"
    assert result.exists() and result.stat().st_size > 0, f"LibreOffice wrote no {fmt} for {path.name}"
    return result


def test_documents_render_to_pdf_and_png(tmp_path, store, settings, make_article):
    for i, source in enumerate(("baoquangngai", "bbc", "fb", "vnexpress")):
        store.upsert(make_article(f"a{i}", source=source, when=datetime(2026, 1 + i, 10, tzinfo=VN),
                                  title=f"<script>alert({i})</script> Bài {i} về Lý Sơn"))
    report = build_report(store, settings, date(2026, 1, 1), date(2026, 6, 15),
                          now=datetime(2026, 6, 16, tzinfo=VN))
    docx = write_docx(report, tmp_path / "bao-cao.docx")
    xlsx = write_xlsx(report, tmp_path / "bao-cao.xlsx")
    letter = correction_request_docx(make_article("x", title="Tin sai về Lý Sơn"), settings, None,
                                     tmp_path / "de-nghi.docx")
    out = Path(os.environ.get("HAIDANG_RENDER_DOCS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    for path in (docx, xlsx, letter):
        pdf = _convert(path, "pdf", out)
        assert pdf.read_bytes().startswith(b"%PDF")
        stem = path.name.replace(".", "-")
        subprocess.run([str(PDFTOPPM), "-png", "-r", "60", str(pdf), str(out / stem)], check=True, timeout=120)
        pages = sorted(out.glob(f"{stem}-*.png"))
        assert pages and pages[0].read_bytes().startswith(b"\x89PNG"), f"no PNG pages for {path.name}"
