"""Stories the digest-only rules (`immediate: false`) raised reach the deadline report in their own
section, beside the emailed flags and apart from them (walkthrough F7): a real SQLite store, the rules
run as the digest runs them, and the real .docx and .xlsx read back."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from alerts.flag import flag_key
from haidang.reports.deadlines import queue_report
from haidang.reports.document import MAX_DOC_ROWS, write_docx
from haidang.reports.report import REPORT_RULE, CountRow, build_report, period_bounds
from haidang.reports.wording import COLUMNS, HEADINGS, NOTES, SHEETS, SUMMARY
from haidang.reports.workbook import write_xlsx
from haidang.settings import AlertRule, Settings
from haidang.store.base import OutboxMessage, SearchFilters

VN = timezone(timedelta(hours=7))
START, END = date(2026, 11, 9), date(2026, 11, 15)          # the walkthrough's week
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=VN)
REVIEW, NEGATIVE, HIGH = "tin-can-xem-xet", "tin-tieu-cuc-ve-tinh", "tin-sai-su-that-rui-ro-cao"
REVIEW_TEXT = "Tin cần xem xét về độ tin cậy"
NEGATIVE_TEXT = "Tin có sắc thái tiêu cực về tỉnh"
HIGH_TEXT = "Tin có nguy cơ sai sự thật cao về tỉnh"


def _rules() -> list[AlertRule]:
    """As config/alerts.yaml ships them, plus a disabled catch-all and a silence rule (never run here)."""
    return [
        AlertRule(name=HIGH, description=HIGH_TEXT, relevant=True, min_risk_level="cao", severity="khẩn",
                  recipients=["so-ttt"], immediate=True),
        AlertRule(name=REVIEW, description=REVIEW_TEXT, relevant=True, min_risk_level="cần xem xét",
                  severity="trung bình", recipients=["so-ttt"], immediate=False),
        AlertRule(name=NEGATIVE, description=NEGATIVE_TEXT, relevant=True, tone=["negative"], severity="thấp",
                  recipients=["route_by_topic"], immediate=False),
        AlertRule(name="tat-ca", relevant=True, severity="thấp", recipients=["so-ttt"], enabled=False),
        AlertRule(name="nguon-ngung-cap-nhat", silence={"hours": 48}, severity="thấp", recipients=["so-ttt"]),
    ]


@pytest.fixture
def ruled(settings: Settings) -> Settings:
    return settings.model_copy(update={"alert_rules": _rules()})


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=VN)


def _email_flag(store, rule: str, story_id: str, at: datetime) -> None:
    key = flag_key(rule, story_id, "so-ttt@example.gov.vn")
    store.enqueue(OutboxMessage(key=key, flag_rule=rule, story_id=story_id, recipient="so-ttt@example.gov.vn",
                                message_id=f"<{key}@x>", subject="s", text="t", html="h", created_at=at,
                                next_attempt_at=at))


@pytest.fixture
def week(store, make_article):
    """The week's articles: a rumour carried by two outlets, a negative story, one both, one emailed at
    once, one published before the week but found in it, and some that belong to no digest of the week."""
    def put(slug: str, *, when: datetime, found: datetime | None = None, **kw):
        article = make_article(slug, when=when, **kw)
        if found is not None:
            article.content.first_seen = found
        store.upsert(article)
        return article

    put("l1", source="fb", when=_at(10, 8), risk="cần xem xét", title="Nghe nói cảng Dung Quất sắp đóng cửa")
    put("l1-ban-sao", source="vnexpress", when=_at(10, 12), risk="cần xem xét", story="story-l1",
        title="Cảng Dung Quất sắp đóng cửa?")
    put("n1", source="vnexpress", when=_at(11), tone="negative", title="Người dân bức xúc vì đường hư hỏng")
    put("ca-hai", source="fb", when=_at(12), tone="negative", risk="cần xem xét", title="Tin đồn và bức xúc")
    high = put("h1", source="fb", when=_at(13), risk="cao", title="Lý Sơn có người lạ bắt cóc trẻ em")
    _email_flag(store, HIGH, high.story_id, _at(13, 10))
    put("tre", source="fb", when=_at(5), found=_at(14, 10), risk="cần xem xét", title="Tìm thấy muộn")
    put("sau", source="fb", when=_at(15, 22), found=_at(16, 8), risk="cần xem xét", title="Tìm thấy sau kỳ")
    put("truoc", source="fb", when=_at(8, 23), risk="cần xem xét", title="Trước kỳ")
    off = make_article("khong-lien-quan", when=_at(11), tone="negative", risk="cần xem xét")
    off.relevant = False
    store.upsert(off)
    return store


def test_digest_only_rules_are_reported_apart_from_the_emailed_flags(week, ruled):
    r = build_report(week, ruled, START, END, now=NOW)
    assert [(i.listed_at, i.rule, i.title) for i in r.digest_items] == [
        (_at(10, 8), REVIEW, "Nghe nói cảng Dung Quất sắp đóng cửa"),   # two outlets: one story, the first
        (_at(11), NEGATIVE, "Người dân bức xúc vì đường hư hỏng"),
        (_at(12), REVIEW, "Tin đồn và bức xúc"),                         # one story, once for each rule
        (_at(12), NEGATIVE, "Tin đồn và bức xúc"),
        (_at(13), REVIEW, "Lý Sơn có người lạ bắt cóc trẻ em"),          # also emailed by another rule
        (_at(14, 10), REVIEW, "Tìm thấy muộn"),                           # dated when found, as the digest
    ]
    first = r.digest_items[0]
    assert (first.source_name, first.url, first.story_id) == ("Facebook", "https://fb.example.vn/l1.html", "story-l1")
    assert [i.rule_name for i in r.digest_items[:2]] == [REVIEW_TEXT, NEGATIVE_TEXT]
    assert [(c.key, c.label, c.count) for c in r.digest_items_by_rule] == [(REVIEW, REVIEW_TEXT, 4),
                                                                           (NEGATIVE, NEGATIVE_TEXT, 2)]
    # The emailed flags and their response times are what they were: the digest-only items add nothing.
    assert [(f.rule, f.story_id) for f in r.flags] == [(HIGH, "story-h1")]
    assert [(c.key, c.count) for c in r.flags_by_rule] == [(HIGH, 1)]
    assert r.publication_to_flag.count == 1 and r.publication_to_flag.median == timedelta(hours=1)
    assert r.flag_to_action.count == 0 and [f.story_id for f in r.open_items] == ["story-h1"]


def test_a_rule_that_emailed_a_story_counts_it_as_a_flag_only(week, ruled, make_article):
    """A rule made digest-only after it emailed a story (its outbox keeps the messages): a flag, once."""
    n2 = make_article("n2", source="fb", when=_at(12, 15), tone="negative", title="Tin tiêu cực đã gửi thư")
    week.upsert(n2)
    _email_flag(week, NEGATIVE, n2.story_id, _at(12, 16))
    r = build_report(week, ruled, START, END, now=NOW)
    assert (NEGATIVE, "story-n2") in [(f.rule, f.story_id) for f in r.flags]
    assert "story-n2" not in [i.story_id for i in r.digest_items]
    assert {c.key: c.count for c in r.digest_items_by_rule} == {REVIEW: 4, NEGATIVE: 2}


def test_without_digest_only_rules_the_section_is_empty_and_the_period_is_read_once(week, settings, ruled,
                                                                                   monkeypatch):
    """The rules run in the pass that already reads the period; the one other read is the articles
    found in the period but published before it (the first-seen index), and only when rules need it."""
    read: list[SearchFilters | None] = []
    iterate = week.iter_articles

    def counted(filters: SearchFilters | None = None, *, html: bool = True):
        read.append(filters)
        assert not html, "a report never reads stored pages"
        return iterate(filters, html=html)

    monkeypatch.setattr(week, "iter_articles", counted)
    since, until = period_bounds(START, END, settings.app.timezone)
    immediate_only = settings.model_copy(update={"alert_rules": [r for r in _rules() if r.immediate]})
    r = build_report(week, immediate_only, START, END, now=NOW)
    assert r.digest_items == [] and r.digest_items_by_rule == [] and len(r.flags) == 1
    assert read == [SearchFilters(since=since, until=until)]

    read.clear()
    assert len(build_report(week, ruled, START, END, now=NOW).digest_items) == 6
    assert read == [SearchFilters(since=since, until=until),
                    SearchFilters(until=since, first_seen_since=since, relevant_only=True)]


def _docx_tables(path: Path) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in Document(str(path)).tables]


def test_docx_has_the_section_after_the_flags_and_both_numbers_in_the_summary(week, ruled, tmp_path):
    r = build_report(week, ruled, START, END, now=NOW)
    path = write_docx(r, tmp_path / "bao-cao.docx")
    paragraphs = [p.text for p in Document(str(path)).paragraphs]
    assert paragraphs.index(HEADINGS["flags"]) < paragraphs.index(HEADINGS["digest"]) < paragraphs.index(
        HEADINGS["actions"])
    assert NOTES["digest"] in paragraphs
    tables = _docx_tables(path)
    summary = {row[0]: row[1] for row in tables[0][1:]}
    assert summary[SUMMARY["flags"]] == "1" and summary[SUMMARY["digest"]] == "6"
    by_rule = next(t for t in tables if t[0] == [COLUMNS["rule"], COLUMNS["count"]] and
                   any(row[0] == REVIEW_TEXT for row in t))
    assert by_rule[1:] == [[REVIEW_TEXT, "4"], [NEGATIVE_TEXT, "2"]]
    listed = next(t for t in tables if t[0] == [COLUMNS["date"], COLUMNS["rule"], COLUMNS["title"],
                                                COLUMNS["source"], COLUMNS["url"]])
    assert listed[1] == ["10/11/2026", REVIEW_TEXT, "Nghe nói cảng Dung Quất sắp đóng cửa", "Facebook",
                         "https://fb.example.vn/l1.html"]
    assert [row[0] for row in listed[1:]] == ["10/11/2026", "11/11/2026", "12/11/2026", "12/11/2026",
                                              "13/11/2026", "14/11/2026"]
    cells = [c for t in tables for row in t for c in row]
    assert REVIEW not in cells and NEGATIVE not in cells                  # rules read by their description
    # The emailed flags' list still holds the one emailed flag.
    flags = next(t for t in tables if t[0][:2] == [COLUMNS["flagged"], COLUMNS["rule"]] and COLUMNS["delivery"] in t[0])
    assert [row[1] for row in flags[1:]] == [HIGH_TEXT]


def test_xlsx_has_its_own_sheet_with_dates_links_and_counts(week, ruled, tmp_path):
    r = build_report(week, ruled, START, END, now=NOW)
    wb = load_workbook(str(write_xlsx(r, tmp_path / "bao-cao.xlsx")))
    names = wb.sheetnames
    assert names.index(SHEETS["flags"]) + 1 == names.index(SHEETS["digest"])
    ws = wb[SHEETS["digest"]]
    assert ws["A1"].value == HEADINGS["digest"] and ws["A2"].value == NOTES["digest"]
    assert [c.value for c in ws[3][:5]] == [COLUMNS["date"], COLUMNS["rule"], COLUMNS["title"], COLUMNS["source"],
                                            COLUMNS["url"]]
    rows = list(ws.iter_rows(min_row=4, max_col=5))
    assert len(rows) == 6
    assert rows[0][0].value == datetime(2026, 11, 10, 8, 0) and rows[0][0].number_format == "dd/mm/yyyy hh:mm"
    assert rows[-1][0].value == datetime(2026, 11, 14, 10, 0)             # local wall-clock time
    assert [row[1].value for row in rows[:2]] == [REVIEW_TEXT, NEGATIVE_TEXT]
    assert rows[0][4].hyperlink.target == "https://fb.example.vn/l1.html"
    assert (ws["G3"].value, ws["H3"].value) == (COLUMNS["rule"], COLUMNS["count"])
    assert [(ws.cell(row=i, column=7).value, ws.cell(row=i, column=8).value) for i in (4, 5)] == [
        (REVIEW_TEXT, 4), (NEGATIVE_TEXT, 2)]
    assert ws["H4"].number_format == "#,##0"
    summary = {row[0]: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4, values_only=True) if row[0]}
    assert summary[SUMMARY["flags"]] == 1 and summary[SUMMARY["digest"]] == 6
    assert len(list(wb[SHEETS["flags"]].iter_rows(min_row=2, values_only=True))) == 1


def test_numbers_are_written_as_the_rest_of_the_report(week, ruled, tmp_path):
    r = build_report(week, ruled, START, END, now=NOW)
    r.digest_items = [replace(r.digest_items[0], story_id=f"story-{i}") for i in range(1203)]
    r.digest_items_by_rule = [CountRow(REVIEW, REVIEW_TEXT, 1203)]
    doc_path = write_docx(r, tmp_path / "n.docx")
    tables = _docx_tables(doc_path)
    assert {row[0]: row[1] for row in tables[0][1:]}[SUMMARY["digest"]] == "1.203"
    assert [REVIEW_TEXT, "1.203"] in [row for t in tables for row in t]
    listed = next(t for t in tables if t[0] == [COLUMNS["date"], COLUMNS["rule"], COLUMNS["title"],
                                                COLUMNS["source"], COLUMNS["url"]])
    assert len(listed) == 1 + MAX_DOC_ROWS
    assert NOTES["more"].format(n="1.003") in [p.text for p in Document(str(doc_path)).paragraphs]
    wb = load_workbook(str(write_xlsx(r, tmp_path / "n.xlsx")))
    ws = wb[SHEETS["digest"]]
    assert ws.max_row == 3 + 1203 and ws["H4"].value == 1203 and ws["H4"].number_format == "#,##0"
    summary = {row[0].value: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4) if row[0].value}
    assert summary[SUMMARY["digest"]].value == 1203 and summary[SUMMARY["digest"]].number_format == "#,##0"


def test_the_report_email_gives_both_numbers(week, ruled):
    assert queue_report(week, ruled, date(2026, 11, 15), NOW) == 1
    [m] = [m for m in week.outbox() if m.flag_rule == REPORT_RULE]
    lines = m.text.splitlines()
    # 1 January to 15 November: the week's six, and the one published and found on 8/11.
    assert f"- {SUMMARY['flags']}: 1" in lines and f"- {SUMMARY['digest']}: 7" in lines
