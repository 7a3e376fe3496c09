"""The correction-request letter: pre-filled fields, quoted passages, placeholders left, hostile text kept as text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from typer.testing import CliRunner

from haidang.reports.correction import (
    MAX_PASSAGE_CHARS,
    correction_request_docx,
    default_passages,
    template_path,
)
from haidang.reports.make_template import make_template

UTC_LATE = datetime(2026, 3, 11, 20, 30, tzinfo=UTC)     # 12/03/2026 03:30 in Việt Nam


def _all_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                parts.extend(p.text for p in cell.paragraphs)
    return "\n".join(parts)


def test_the_letter_is_prefilled_and_keeps_placeholders(tmp_path, settings, make_article):
    article = make_article("tin-don", source="vnexpress", title="Tin đồn vỡ đập ở Quảng Ngãi", when=UTC_LATE)
    out = correction_request_docx(article, settings, ["Đập thủy điện đã vỡ.", "Người dân phải sơ tán."],
                                  tmp_path / "out" / "de-nghi.docx")
    text = _all_text(out)
    assert "Kính gửi: VnExpress" in text
    assert "Ngày 12/03/2026, VnExpress đăng bài “Tin đồn vỡ đập ở Quảng Ngãi”" in text   # local date
    assert article.fetched.canonical_url in text
    assert "tỉnh Quảng Ngãi" in text
    paragraphs = [p.text for p in Document(str(out)).paragraphs]
    i = paragraphs.index("“Đập thủy điện đã vỡ.”")
    assert paragraphs[i + 1] == "“Người dân phải sơ tán.”"
    assert "{{" not in text and "}}" not in text
    for placeholder in ("[TÊN CƠ QUAN BAN HÀNH]", "[Nêu thông tin chính xác", "[CHỨC VỤ NGƯỜI KÝ]", "[Họ và tên]"):
        assert placeholder in text


def test_hostile_text_stays_text(tmp_path, settings, make_article):
    hostile = ("<script>alert(1)</script> {{url}} ]]></w:t><w:t>x &amp; \u202egnp.exe \x00\x0b"
               + "Dài " * 2000)
    article = make_article("hostile", title=hostile, text="Một câu bình thường. " + hostile)
    out = correction_request_docx(article, settings, [hostile], tmp_path / "h.docx")
    text = _all_text(out)
    assert "<script>alert(1)</script> {{url}} ]]></w:t><w:t>x &amp; gnp.exe" in text   # literal, once
    assert "\u202e" not in text and "\x00" not in text
    assert text.count(article.fetched.canonical_url) == 1          # "{{url}}" in the title was not filled
    quoted = [p.text for p in Document(str(out)).paragraphs if p.text.startswith("“<script>")]
    assert len(quoted) == 1 and len(quoted[0]) <= MAX_PASSAGE_CHARS + 2


def test_default_passages_are_the_quoted_sentences(make_article):
    article = make_article("x", text="Câu mở đầu. Nghe nói đập đã vỡ trong đêm. Câu cuối.",
                           extra={"risk": {"level": "cao", "score": 0.9, "reasons": [
                               {"signal": "rumour_cue", "evidence": ["Nghe nói"], "weight": 1.2},
                               {"signal": "source_trust", "evidence": ["Câu"], "weight": 1.0}]}})
    assert default_passages(article) == ["Nghe nói đập đã vỡ trong đêm."]
    article.labels["risk"]["reasons"] = []
    assert default_passages(article) == ["Câu mở đầu.", "Nghe nói đập đã vỡ trong đêm."]


def test_a_province_template_in_its_config_folder_wins(tmp_path, settings, make_article):
    assert template_path(settings).name == "de-nghi-cai-chinh.docx"      # shipped one
    own = make_template(Path(settings.config_dir) / "templates" / "de-nghi-cai-chinh.docx")
    doc = Document(str(own))
    doc.tables[0].rows[0].cells[0].paragraphs[0].runs[0].text = "UBND TỈNH QUẢNG NGÃI"
    doc.save(str(own))
    assert template_path(settings) == own
    text = _all_text(correction_request_docx(make_article("a"), settings, None, tmp_path / "a.docx"))
    assert "UBND TỈNH QUẢNG NGÃI" in text and "“Nội dung a ở Quảng Ngãi.”" in text


def test_cli_writes_the_letter(tmp_path, make_article, monkeypatch):
    from haidang.cli import app
    from haidang.store.sqlite import SqliteStore

    config = tmp_path / "config"
    config.mkdir()
    (config / "haidang.yaml").write_text(f"store:\n  data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    store = SqliteStore(tmp_path / "data" / "haidang.sqlite3")
    article = make_article("cli", title="Bài cần cải chính")
    store.upsert(article)
    store.close()
    out = tmp_path / "letter.docx"
    result = CliRunner().invoke(app, ["correction", article.id, "--out", str(out), "--config", str(config),
                                      "--passage", "Đoạn sai."])
    assert result.exit_code == 0, result.output
    assert "“Đoạn sai.”" in _all_text(out)
    missing = CliRunner().invoke(app, ["correction", "nope", "--out", str(out), "--config", str(config)])
    assert missing.exit_code == 1


def test_cli_refuses_a_letter_file_that_is_not_docx(tmp_path, monkeypatch):
    from haidang.cli import app

    monkeypatch.chdir(tmp_path)          # short relative paths: the error box does not wrap them
    config = tmp_path / "config"
    config.mkdir()
    (config / "haidang.yaml").write_text(f"store:\n  data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    for name in ("letter.pdf", "letter.xlsx", "letter"):
        out = Path("out") / name
        result = CliRunner().invoke(app, ["correction", "any-id", "--to", str(out), "--config", str(config)])
        said = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and name in said and ".docx" in said, said
        assert not out.parent.exists()
