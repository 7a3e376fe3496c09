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
from haidang.reports.report import Durations, build_report, period_bounds
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
    for key in ("summary", "topic", "tone", "kind", "language", "foreign", "flags", "digest", "actions", "timing",
                "open"):
        assert HEADINGS[key] in text
    tables = _docx_tables(path)
    summary = {row[0]: row[1] for row in tables[0][1:]}
    assert summary[SUMMARY["total"]] == str(r.total)
    assert summary[SUMMARY["foreign"]] == "3" and summary[SUMMARY["flags"]] == "4"
    assert summary[SUMMARY["actions"]] == "4" and summary[SUMMARY["open"]] == "2"
    assert summary[SUMMARY["pub_to_flag_median"]] == "7,5" and summary[SUMMARY["pub_to_flag_p90"]] == "24,0"
    assert summary[SUMMARY["flag_to_action_median"]] == "3,0" and summary[SUMMARY["flag_to_action_p90"]] == "7,0"
    tone = next(t for t in tables if t[0][0] == COLUMNS["group"] and any(row[0] == TONES["negative"] for row in t))
    assert tone[0] == [COLUMNS["group"], *r.bucket_labels, COLUMNS["total"]]
    assert {row[0]: int(row[-1]) for row in tone[1:]} == {TONES[k]: v for k, v in
                                                          {"negative": 4, "positive": 2, "neutral": 3}.items()}
    assert len(doc.inline_shapes) == 4                       # one chart per volume section
    timing = next(t for t in tables if t[0][0] == COLUMNS["measure"] and t[0][1] == COLUMNS["cases"])
    assert timing[1][1:] == ["4", "7,5", "24,0"] and timing[2][1:] == ["3", "3,0", "7,0"]


def test_xlsx_reads_back_with_the_same_figures(filled, tmp_path):
    r = filled
    wb = load_workbook(str(write_xlsx(r, tmp_path / "r.xlsx")))
    assert wb.sheetnames == [SHEETS[k] for k in ("summary", "topic", "tone", "kind", "language", "foreign", "flags",
                                                 "digest", "actions", "resurfaced", "timing", "open")]
    summary = {row[0]: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4, values_only=True) if row[0]}
    assert summary[SUMMARY["total"]] == r.total and summary[SUMMARY["flags"]] == 4
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


def _run_report(config: Path, *args: str):
    from haidang.cli import app

    return CliRunner().invoke(app, ["report", "--from", "2026-01-01", "--to", "2026-06-15", "--config", str(config),
                                    *args])


def _cli_config(tmp_path: Path, make_article) -> Path:
    from haidang.store.sqlite import SqliteStore

    config = tmp_path / "config"
    config.mkdir()
    (config / "haidang.yaml").write_text(f"store:\n  data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    store = SqliteStore(tmp_path / "data" / "haidang.sqlite3")
    store.upsert(make_article("x", when=datetime(2026, 2, 1, tzinfo=VN)))
    store.close()
    return config


def test_cli_report_format_follows_the_out_extension(tmp_path, make_article):
    config = _cli_config(tmp_path, make_article)
    xlsx, docx = tmp_path / "x.xlsx", tmp_path / "x.DOCX"
    assert _run_report(config, "--out", str(xlsx)).exit_code == 0
    assert SHEETS["summary"] in load_workbook(str(xlsx)).sheetnames          # a workbook, not a Word file
    assert _run_report(config, "--out", str(docx)).exit_code == 0
    assert HEADINGS["title"] in "\n".join(p.text for p in Document(str(docx)).paragraphs)
    assert _run_report(config, "--format", "xlsx", "--out", str(tmp_path / "y.xlsx")).exit_code == 0


@pytest.mark.parametrize(("name", "fmt"), [("x.xlsx", "docx"), ("x.docx", "xlsx"), ("x.pdf", None), ("x", None),
                                           ("x.pdf", "docx"), ("x.docx", "pdf")])
def test_cli_report_refuses_a_format_its_file_cannot_hold(tmp_path, make_article, monkeypatch, name, fmt):
    config = _cli_config(tmp_path, make_article)
    monkeypatch.chdir(tmp_path)          # short relative paths: the error box does not wrap them
    out = Path("out") / name
    result = _run_report(config, "--out", str(out), *(("--format", fmt) if fmt else ()))
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())
    assert ".docx, .xlsx" in said or "docx, xlsx" in said
    if fmt != "pdf":
        assert name in said
    assert not out.parent.exists()                                            # nothing written, no folder made


def test_xlsx_holds_numbers_and_excel_dates(filled, tmp_path):
    r = filled
    wb = load_workbook(str(write_xlsx(r, tmp_path / "r.xlsx")))
    summary = {row[0].value: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4) if row[0].value}
    total = summary[SUMMARY["total"]]
    assert total.value == 9 and type(total.value) is int and total.number_format == "#,##0"
    median = summary[SUMMARY["pub_to_flag_median"]]
    assert median.value == 7.5 and median.number_format == "#,##0.0"
    flags = list(wb[SHEETS["flags"]].iter_rows(min_row=2))
    first = flags[0]
    # a1 was published 05/01/2026 09:00 in Việt Nam and flagged two hours later: local wall-clock time
    assert first[0].value == datetime(2026, 1, 5, 11, 0) and first[0].number_format == "dd/mm/yyyy hh:mm"
    assert first[4].value == datetime(2026, 1, 5, 9, 0) and first[4].is_date
    assert wb[SHEETS["flags"]].column_dimensions["E"].width >= 16       # wide enough not to show "####"
    foreign = [row[0].value for row in wb[SHEETS["foreign"]].iter_rows(min_row=2)]
    assert foreign == sorted(foreign) and foreign[0] == datetime(2026, 1, 1, 0, 0)
    actions = [row[0] for row in wb[SHEETS["actions"]].iter_rows(min_row=2)]
    assert all(isinstance(c.value, datetime) and c.is_date for c in actions)
    opened = list(wb[SHEETS["open"]].iter_rows(min_row=2, values_only=True))
    assert [type(row[0]) for row in opened] == [datetime, datetime] and all(type(row[-1]) is int for row in opened)
    kind = wb[SHEETS["kind"]]
    periods = [kind.cell(row=i, column=1) for i in range(4, 4 + len(r.buckets))]
    assert [c.value for c in periods] == [datetime(2026, m, 1) for m in range(1, 7)]
    assert all(c.number_format == "mm/yyyy" for c in periods)


def test_an_empty_report_leaves_unmeasured_cells_empty(store, settings, tmp_path):
    r = build_report(store, settings, date(2026, 3, 1), date(2026, 3, 31), now=NOW)
    wb = load_workbook(str(write_xlsx(r, tmp_path / "e.xlsx")))
    summary = {row[0]: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4, values_only=True) if row[0]}
    assert summary[SUMMARY["pub_to_flag_median"]] is None and summary[SUMMARY["flags"]] == 0
    periods = [wb[SHEETS["kind"]].cell(row=i, column=1) for i in range(4, 4 + len(r.buckets))]
    assert periods[0].value == datetime(2026, 2, 23) and periods[0].number_format == "dd/mm/yyyy"   # weeks start Monday
    tables = _docx_tables(write_docx(r, tmp_path / "e.docx"))
    assert {row[0]: row[1] for row in tables[0][1:]}[SUMMARY["pub_to_flag_median"]] == "-"


def test_flags_held_by_quiet_hours_are_not_counted_as_sent(store, make_article, settings, tmp_path):
    at = datetime(2026, 3, 10, 22, 0, tzinfo=VN)
    # slug -> status of each recipient's message
    plan = {"held": ["pending"], "sent": ["sent", "sent"], "part": ["sent", "pending"], "lost": ["failed"]}
    for slug, statuses in plan.items():
        article = make_article(slug, when=at - timedelta(hours=1))
        store.upsert(article)
        for i, status in enumerate(statuses):
            key = flag_key("tin-sai-cao", article.story_id, f"r{i}@example.gov.vn")
            store.enqueue(OutboxMessage(key=key, flag_rule="tin-sai-cao", story_id=article.story_id,
                                        recipient=f"r{i}@example.gov.vn", message_id=f"<{key}@x>", subject="s",
                                        text="t", html="h", created_at=at, next_attempt_at=at + timedelta(hours=8)))
            if status == "sent":
                store.mark_sent(key, at + timedelta(minutes=1))
            elif status == "failed":
                store.mark_failed(key, "550 no such user", at + timedelta(minutes=1))
    r = build_report(store, settings, date(2026, 3, 1), date(2026, 3, 31), now=NOW)
    assert {f.story_id: f.delivery for f in r.flags} == {"story-held": "pending", "story-sent": "sent",
                                                         "story-part": "sent", "story-lost": "failed"}
    tables = _docx_tables(write_docx(r, tmp_path / "q.docx"))
    summary = {row[0]: row[1] for row in tables[0][1:]}
    assert summary[SUMMARY["flags"]] == "4" and summary[SUMMARY["flags_sent"]] == "2"
    assert summary[SUMMARY["flags_pending"]] == "1" and summary[SUMMARY["flags_failed"]] == "1"
    listed = next(t for t in tables if t[0][0] == COLUMNS["flagged"] and COLUMNS["delivery"] in t[0])
    col = listed[0].index(COLUMNS["delivery"])
    assert sorted(row[col] for row in listed[1:]) == sorted(["Chờ gửi", "Đã gửi", "Đã gửi 1/2 nơi nhận",
                                                             "Gửi không thành công"])
    wb = load_workbook(str(write_xlsx(r, tmp_path / "q.xlsx")))
    header, *rows = list(wb[SHEETS["flags"]].iter_rows(values_only=True))
    assert sorted(row[header.index(COLUMNS["delivery"])] for row in rows) == sorted(row[col] for row in listed[1:])
    xsummary = {row[0]: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4, values_only=True) if row[0]}
    assert (xsummary[SUMMARY["flags_sent"]], xsummary[SUMMARY["flags_pending"]]) == (2, 1)


def test_docx_numbers_are_written_the_vietnamese_way(filled, tmp_path):
    r = filled
    r.total = 1203
    r.publication_to_flag = Durations(1203, timedelta(hours=6189.8), timedelta(hours=6225.3))
    doc = Document(str(write_docx(r, tmp_path / "n.docx")))
    tables = _docx_tables(tmp_path / "n.docx")
    summary = {row[0]: row[1] for row in tables[0][1:]}
    assert summary[SUMMARY["total"]] == "1.203"
    assert summary[SUMMARY["pub_to_flag_median"]] == "6.189,8" and summary[SUMMARY["pub_to_flag_p90"]] == "6.225,3"
    timing = next(t for t in tables if t[0][0] == COLUMNS["measure"] and t[0][1] == COLUMNS["cases"])
    assert timing[1][1:] == ["1.203", "6.189,8", "6.225,3"]
    cells = " ".join(c for t in tables for row in t for c in row) + " ".join(p.text for p in doc.paragraphs)
    assert "6189" not in cells and "1203" not in cells


def test_flags_are_also_counted_in_stories(filled, store, settings, tmp_path):
    # A story two rules flagged is two flags (each is handled on its own) but one story, as the
    # daily digest counts it; the overview gives both, the docx and xlsx alike.
    (a3,) = [a for a in store.iter_articles() if a.story_id == "story-a3"]
    at = a3.content.published + timedelta(hours=6)
    key = flag_key("tin-sai-cao", a3.story_id, "ca@example.gov.vn")
    store.enqueue(OutboxMessage(key=key, flag_rule="tin-sai-cao", story_id=a3.story_id, recipient="ca@example.gov.vn",
                                message_id=f"<{key}@x>", subject="[Hải Đăng] a3", text="t", html="h",
                                created_at=at, next_attempt_at=at))
    report = build_report(store, settings, START, END, now=NOW)
    assert (len(filled.flags), filled.flagged_stories) == (4, 4)
    assert (len(report.flags), report.flagged_stories) == (5, 4)
    write_docx(report, tmp_path / "r.docx")
    rows = {r[0]: r[1] for t in _docx_tables(tmp_path / "r.docx") for r in t if len(r) == 2}
    assert rows[SUMMARY["flags"]] == "5" and rows[SUMMARY["flag_stories"]] == "4"
