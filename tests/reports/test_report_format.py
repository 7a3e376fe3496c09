"""Report output helpers on their own: the format chosen from --format and the file's extension,
and the one Vietnamese number formatter the Word report uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from haidang.reports.formats import output_format
from haidang.reports.text import vn_number

BOTH = ("docx", "xlsx")


@pytest.mark.parametrize(("path", "asked", "expected"), [
    (None, None, None),                       # nothing said: the caller's default
    (None, "xlsx", "xlsx"),
    (Path("bao-cao.xlsx"), None, "xlsx"),
    (Path("bao-cao.DOCX"), None, "docx"),     # case ignored
    (Path("a.b/bao-cao.docx"), "docx", "docx"),
])
def test_the_format_comes_from_the_flag_or_the_extension(path, asked, expected):
    assert output_format(path, asked, BOTH) == expected


@pytest.mark.parametrize(("path", "asked", "said"), [
    (Path("/tmp/x.xlsx"), "docx", ["/tmp/x.xlsx", ".xlsx", "'docx'", ".docx, .xlsx"]),
    (Path("/tmp/x.pdf"), None, ["/tmp/x.pdf", ".pdf", ".docx, .xlsx"]),
    (Path("/tmp/x"), None, ["/tmp/x", "no extension", ".docx, .xlsx"]),
    (None, "pdf", ["'pdf'", "docx, xlsx"]),
])
def test_a_contradiction_or_an_unknown_extension_is_refused(path, asked, said):
    with pytest.raises(ValueError) as info:
        output_format(path, asked, BOTH)
    assert all(part in str(info.value) for part in said), str(info.value)


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (14, "14"), (1203, "1.203"), (1234567, "1.234.567"), (-1203, "-1.203"),
    (7.5, "7,5"), (24.0, "24,0"), (6189.8, "6.189,8"), (0.5, "0,5"),
])
def test_vietnamese_numbers(value, text):
    assert vn_number(value) == text
