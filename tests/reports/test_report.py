"""The deadline report: figures counted from a real store, read back from the .docx and .xlsx,
hostile titles kept as text, and `haidang report`."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from alerts.flag import flag_key
from haidang.reports.document import write_docx
from haidang.reports.report import build_report, period_bounds
from haidang.reports.wording import COLUMNS, HEADINGS, SHEETS, SUMMARY, TONES
from haidang.reports.workbook import write_xlsx
from haidang.store.base import OutboxMessage, ResponseAction, SearchFilters

VN = timezone(timedelta(hours=7))
START, END = date(2026, 1, 1), date(2026, 6, 15)
NOW = datetime(2026, 6, 16, 8, 0, tzinfo=VN)
HOSTILE = ("=HYPERLINK(\"http://evil.example\",\"bấm\") <script>alert('x')</script> ]]></w:t> "
           "\u202eTIỂU\u202c \x00\x07 𝕳𝖔𝖘𝖙𝖎𝖑𝖊 " + "rất dài " * 300)

# (slug, source, published, topics, tone, language)
ARTICLES = [
    ("a1", "baoquangngai", datetime(2026, 1, 5, 9, 0, tzinfo=VN), ("an_ninh_trat_tu",), "negative", "vi"),
    ("a2", "vnexpress", datetime(2026, 1, 20, 9, 0, tzinfo=VN), ("du_lich_van_hoa",), "positive", "vi"),
    ("a3", "bbc", datetime(2026, 2, 3, 9, 0, tzinfo=VN), ("bien_dao", "an_ninh_trat_tu"), "negative", "en"),
    ("a4", "fb", datetime(2026, 2, 14, 9, 0, tzinfo=VN), ("an_ninh_trat_tu",), "negative", "vi"),
    ("a5", "quangngai-gov", datetime(2026, 3, 1, 9, 0, tzinfo=VN), (), "neutral", "vi"),
    ("a6", "bbc", datetime(2026, 4, 10, 9, 0, tzinfo=VN), ("du_lich_van_hoa",), "positive", "en"),
    ("a7", "fb", datetime(2026, 5, 2, 9, 0, tzinfo=VN), ("bien_dao",), "negative", "zh"),
    ("a8", "vnexpress", datetime(2026, 6, 15, 23, 59, tzinfo=VN), ("kinh_te",), "neutral", "vi"),      # last minute
    ("a9", "bbc", datetime(2026, 1, 1, 0, 0, tzinfo=VN), ("du_lich_van_hoa",), "neutral", "en"),        # first minute
    ("out1", "vnexpress", datetime(2025, 12, 31, 23, 59, tzinfo=VN), ("bien_dao",), "neutral", "vi"),
    ("out2", "bbc", datetime(2026, 6, 16, 0, 0, tzinfo=VN), ("bien_dao",), "neutral", "en"),
]
# (article slug, rule, hours after publication flagged, recipients)
FLAGS = [
    ("a1", "tin-sai-cao", 2, ["so-ttt@example.gov.vn", "ca@example.gov.vn"]),
    ("a3", "bao-nuoc-ngoai", 5, ["so-ttt@example.gov.vn"]),
    ("a4", "tin-sai-cao", 10, ["so-ttt@example.gov.vn"]),
    ("a7", "tin-sai-cao", 30, ["ca@example.gov.vn"]),
]
# (article slug, rule, hours after the flag, action, agency)
ACTIONS = [
    ("a1", "tin-sai-cao", 1, "phan_bac", "so-ttt"),
    ("a3", "bao-nuoc-ngoai", 3, "khong_phai_tin_sai", "so-ttt"),
    ("a4", "tin-sai-cao", 8, "chuyen_cong_an", "cong-an-tinh"),
    ("a1", "tin-sai-cao", 20, "de_nghi_cai_chinh", None),     # a second action on a handled flag
]


@pytest.fixture
def filled(store, make_article, settings):
    arts = {}
    for slug, source, when, topics, tone, lang in ARTICLES:
        a = make_article(slug, source=source, when=when, topics=topics, tone=tone, language=lang,
                         title=HOSTILE if slug == "a4" else f"Bài {slug}")
        if slug == "a5":                     # no publication date: dated by first seen
            a.content.published = None
        store.upsert(a)
        arts[slug] = a
    irrelevant = make_article("irr", when=datetime(2026, 3, 3, tzinfo=VN))
    irrelevant.relevant = False
    store.upsert(irrelevant)
    old = make_article("old", when=datetime(2025, 11, 20, 9, 0, tzinfo=VN))   # flagged before, never handled
    store.upsert(old)

    def enqueue(article, rule, at, recipient):
        key = flag_key(rule, article.story_id, recipient)
        store.enqueue(OutboxMessage(key=key, flag_rule=rule, story_id=article.story_id, recipient=recipient,
                                    message_id=f"<{key}@x>", subject=f"[Hải Đăng] {article.content.title[:40]}",
                                    text="t", html="h", created_at=at, next_attempt_at=at))
        return key

    keys = {}
    for slug, rule, after, recipients in FLAGS:
        for r in recipients:
            keys[slug] = enqueue(arts[slug], rule, arts[slug].content.published + timedelta(hours=after), r)
    enqueue(old, "tin-sai-cao", datetime(2025, 11, 21, tzinfo=VN), "so-ttt@example.gov.vn")
    enqueue(arts["a2"], "ban-tin-hang-ngay", datetime(2026, 1, 21, 7, 0, tzinfo=VN), "so-ttt@example.gov.vn")
    flagged = {slug: arts[slug].content.published + timedelta(hours=after) for slug, _, after, _ in FLAGS}
    for slug, rule, after, action, agency in ACTIONS:
        store.record_action(ResponseAction(flag_key=keys[slug], story_id=arts[slug].story_id, article_id=arts[slug].id,
                                           rule=rule, action=action, actor="officer@example.gov.vn", agency_id=agency,
                                           at=flagged[slug] + timedelta(hours=after)))
    return build_report(store, settings, START, END, now=NOW)


def _expected_from_store(store, settings):
    since, until = period_bounds(START, END, settings.app.timezone)
    in_period = list(store.iter_articles(SearchFilters(since=since, until=until, relevant_only=True)))
    kinds = {s.id: s.kind for s in settings.sources}
    return {
        "total": store.count(SearchFilters(since=since, until=until, relevant_only=True)),
        "foreign": sum(store.count(SearchFilters(source=s.id, since=since, until=until, relevant_only=True))
                       for s in settings.sources if s.kind == "foreign_press"),
        "kind": Counter(kinds[a.fetched.source_id] for a in in_period),
        "topic": Counter(t["id"] for a in in_period for t in a.labels["topics"]),
        "tone": Counter(a.labels["tone"]["label"] for a in in_period),
        "language": Counter(a.content.language for a in in_period),
    }


def test_figures_match_the_store(filled, store, settings):
    r = filled
    exp = _expected_from_store(store, settings)
    assert r.total == exp["total"] == 9
    assert len(r.foreign) == exp["foreign"] == 3
    assert r.bucket == "month" and r.bucket_labels == ["01/2026", "02/2026", "03/2026", "04/2026", "05/2026", "06/2026"]
    assert {s.key: s.total for s in r.volumes["kind"]} == exp["kind"]
    assert {s.key: s.total for s in r.volumes["tone"]} == exp["tone"]
    assert {s.key: s.total for s in r.volumes["language"]} == exp["language"]
    topics = {s.key: s.total for s in r.volumes["topic"]}
    assert topics.pop("(chưa xác định chủ đề)") == 1 and topics == exp["topic"]
    assert [s.counts for s in r.volumes["kind"] if s.key == "foreign_press"] == [(1, 1, 0, 1, 0, 0)]
    # flags: distinct (rule, story); the digest is no flag; two recipients are one flag
    assert [(f.rule, f.story_id) for f in r.flags] == [(rule, f"story-{slug}") for slug, rule, _, _ in FLAGS]
    assert {c.key: c.count for c in r.flags_by_rule} == {"tin-sai-cao": 3, "bao-nuoc-ngoai": 1}
    assert len(r.actions) == 4
    assert {c.key: c.count for c in r.actions_by_type} == {"phan_bac": 1, "khong_phai_tin_sai": 1,
                                                           "chuyen_cong_an": 1, "de_nghi_cai_chinh": 1}
    assert {c.label: c.count for c in r.actions_by_agency} == {"Sở Thông tin và Truyền thông": 2, "Công an tỉnh": 1,
                                                               "(không rõ)": 1}
    pub = np.percentile([2, 5, 10, 30], [50, 90])
    act = np.percentile([1, 3, 8], [50, 90])
    assert r.publication_to_flag.count == 4 and r.flag_to_action.count == 3
    assert r.publication_to_flag.median == timedelta(hours=float(pub[0]))
    assert r.publication_to_flag.p90 == timedelta(hours=float(pub[1]))
    assert r.flag_to_action.median == timedelta(hours=float(act[0])) and r.flag_to_action.p90 == timedelta(hours=float(act[1]))
    assert [f.story_id for f in r.open_items] == ["story-old", "story-a7"]


def _docx_tables(path: Path) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in Document(str(path)).tables]


def test_docx_reads_back_with_the_same_figures(filled, tmp_path):
    r = filled
    path = write_docx(r, tmp_path / "r.docx")
    doc = Document(str(path))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert HEADINGS["title"] in text and "Tỉnh Quảng Ngãi: từ ngày 01/01/2026 đến ngày 15/06/2026" in text
    for key in ("summary", "topic", "tone", "kind", "language", "foreign", "flags", "actions", "timing", "open"):
        assert HEADINGS[key] in text
    tables = _docx_tables(path)
    summary = {row[0]: row[1] for row in tables[0][1:]}
    assert summary[SUMMARY["total"]] == str(r.total)
    assert summary[SUMMARY["foreign"]] == "3" and summary[SUMMARY["flags"]] == "4"
    assert summary[SUMMARY["actions"]] == "4" and summary[SUMMARY["open"]] == "2"
    assert summary[SUMMARY["pub_to_flag"]] == "7.5 / 24.0 (4)"
    assert summary[SUMMARY["flag_to_action"]] == "3.0 / 7.0 (3)"
    tone = next(t for t in tables if t[0][0] == COLUMNS["group"] and any(row[0] == TONES["negative"] for row in t))
    assert tone[0] == [COLUMNS["group"], *r.bucket_labels, COLUMNS["total"]]
    assert {row[0]: int(row[-1]) for row in tone[1:]} == {TONES[k]: v for k, v in
                                                          {"negative": 4, "positive": 2, "neutral": 3}.items()}
    assert len(doc.inline_shapes) == 4                       # one chart per volume section
    timing = next(t for t in tables if t[0][0] == COLUMNS["measure"] and t[0][1] == COLUMNS["cases"])
    assert timing[1][1:] == ["4", "7.5", "24.0"] and timing[2][1:] == ["3", "3.0", "7.0"]


def test_xlsx_reads_back_with_the_same_figures(filled, tmp_path):
    r = filled
    wb = load_workbook(str(write_xlsx(r, tmp_path / "r.xlsx")))
    assert wb.sheetnames == [SHEETS[k] for k in ("summary", "topic", "tone", "kind", "language", "foreign", "flags",
                                                 "actions", "timing", "open")]
    summary = {row[0]: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4, values_only=True) if row[0]}
    assert summary[SUMMARY["total"]] == str(r.total) and summary[SUMMARY["flags"]] == "4"
    kind = list(wb[SHEETS["kind"]].iter_rows(min_row=3, values_only=True))
    header, rows = kind[0], kind[1:1 + len(r.buckets)]
    assert header[0] == COLUMNS["period"] and header[-1] == COLUMNS["total"]
    assert sum(row[-1] for row in rows) == r.total
    col = header.index("Báo chí nước ngoài")
    assert [row[col] for row in rows] == [1, 1, 0, 1, 0, 0]
    assert len(wb[SHEETS["kind"]]._charts) == 1
    flags = list(wb[SHEETS["flags"]].iter_rows(min_row=2, values_only=True))
    assert len(flags) == 4 and [f[7] for f in flags] == ["Có", "Có", "Có", "Chưa"]
    timing = list(wb[SHEETS["timing"]].iter_rows(min_row=4, values_only=True))
    assert timing[0][1:] == (4, 7.5, 24.0) and timing[1][1:] == (3, 3.0, 7.0)
    assert len(list(wb[SHEETS["open"]].iter_rows(min_row=2, values_only=True))) == 2
    assert len(list(wb[SHEETS["foreign"]].iter_rows(min_row=2, values_only=True))) == 3


def test_hostile_titles_stay_text(filled, tmp_path):
    docx_path = write_docx(filled, tmp_path / "h.docx")
    titles = [row[2] for t in _docx_tables(docx_path) for row in t if len(row) > 2 and "HYPERLINK" in row[2]]
    assert titles and all(t.startswith("=HYPERLINK(\"http://evil.example\",\"bấm\") <script>alert('x')</script> ]]></w:t>")
                          for t in titles)
    assert all("\u202e" not in t and "\x00" not in t and len(t) <= 500 for t in titles)
    wb = load_workbook(str(write_xlsx(filled, tmp_path / "h.xlsx")))
    cell = next(c for row in wb[SHEETS["flags"]].iter_rows(min_row=2) for c in row
                if isinstance(c.value, str) and "HYPERLINK" in c.value)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK(")
    assert "\x00" not in cell.value and "𝕳𝖔𝖘𝖙𝖎𝖑𝖊" in cell.value


def test_an_empty_store_still_makes_both_documents(store, settings, tmp_path):
    r = build_report(store, settings, date(2026, 3, 1), date(2026, 3, 31), now=NOW)
    assert r.bucket == "week" and r.total == 0 and r.flag_to_action.median is None
    write_docx(r, tmp_path / "e.docx")
    wb = load_workbook(str(write_xlsx(r, tmp_path / "e.xlsx")))
    assert wb[SHEETS["summary"]]["A1"].value.startswith(HEADINGS["title"])


def test_cli_report(tmp_path, make_article):
    from haidang.cli import app
    from haidang.store.sqlite import SqliteStore

    config = tmp_path / "config"
    config.mkdir()
    (config / "haidang.yaml").write_text(f"store:\n  data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    store = SqliteStore(tmp_path / "data" / "haidang.sqlite3")
    store.upsert(make_article("x", when=datetime(2026, 2, 1, tzinfo=VN)))
    store.close()
    runner = CliRunner()
    for fmt in ("docx", "xlsx"):
        out = tmp_path / f"r.{fmt}"
        result = runner.invoke(app, ["report", "--from", "2026-01-01", "--to", "2026-06-15", "--format", fmt,
                                     "--out", str(out), "--config", str(config)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0 and "1 bài" in result.output
    default = runner.invoke(app, ["report", "--from", "2026-01-01", "--to", "2026-06-15", "--config", str(config)])
    assert default.exit_code == 0 and (tmp_path / "data" / "reports" / "bao-cao-2026-01-01-2026-06-15.docx").exists()
    bad = runner.invoke(app, ["report", "--from", "2026-06-15", "--to", "2026-01-01", "--config", str(config)])
    assert bad.exit_code == 2
