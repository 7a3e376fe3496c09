"""The deadline report counts and lists the stories that came back on a new outlet after officers had
acted on them (the "Tái xuất hiện sau khi đã xử lý" emails), in its summary, its Word and Excel files
and the report email, and never as new flags. The emails are queued by the real alert chain and
delivered through the real outbox; real SQLite store file, real near-duplicate clustering."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from alerts.dispatch import AlertDispatcher, EmlNotifier
from alerts.flag import flag_key, follow_up_of
from alerts.outbox import deliver_due
from crawlers.dedup import assign_story
from haidang.reports.deadlines import queue_report
from haidang.reports.document import RESURFACED_HEADER, write_docx
from haidang.reports.report import REPORT_RULE, Report, build_report
from haidang.reports.wording import HEADINGS, NOTES, SHEETS, SUMMARY
from haidang.reports.workbook import write_xlsx
from haidang.settings import AlertRule, ReportSettings, Settings
from haidang.store.base import ResponseAction

VN = timezone(timedelta(hours=7))
RULE = "tin-sai-su-that-rui-ro-cao"
POLICE = "ca@example.gov.vn"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")
TITLE = "Tin đồn vỡ đập thủy điện ở Quảng Ngãi <b>=HYPERLINK(\"http://evil.example\")</b>"
FLAGGED = datetime(2026, 11, 2, 9, 0, tzinfo=VN)
REBUTTED = datetime(2026, 11, 2, 12, 0, tzinfo=VN)
BACK = datetime(2026, 11, 5, 9, 0, tzinfo=VN)             # VnExpress: emails delivered
AGAIN = datetime(2026, 11, 6, 21, 30, tzinfo=VN)          # Báo Đồng Tháp: emails still waiting


@pytest.fixture
def ruled(settings: Settings) -> Settings:
    rules = [AlertRule(name=RULE, description="Tin có nguy cơ sai sự thật cao về tỉnh", relevant=True,
                       min_risk_level="cao", severity="khẩn", recipients=["cong-an-tinh"], immediate=True)]
    return settings.model_copy(update={"alert_rules": rules})


@pytest.fixture
def resurfaced(store, ruled, make_article, tmp_path: Path) -> str:
    """A rumour flagged, rebutted by the police, then carried by two outlets that had not carried it."""
    dispatcher = AlertDispatcher(ruled, store)
    notifier = EmlNotifier(tmp_path / "eml")

    def arrive(slug: str, source: str, at: datetime) -> int:
        article = make_article(slug, source=source, title=TITLE, text=RUMOUR, when=at, risk="cao")
        article.story_id = None
        assign_story(article, store)
        store.upsert(article)
        return dispatcher.on_stored(article, now=at)

    assert arrive("goc", "fb", FLAGGED) == 2                       # the police and the leading agency
    deliver_due(store, notifier, FLAGGED + timedelta(minutes=1))
    [story] = {m.story_id for m in store.outbox()}
    store.record_action(ResponseAction(
        flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id=story, rule=RULE, action="phan_bac",
        actor=POLICE, agency_id="cong-an-tinh", rebuttal_url="https://baoquangngai.vn/bac-bo.html", at=REBUTTED,
        link_id="phan_bac-1"))
    assert arrive("vne", "vnexpress", BACK) == 2
    deliver_due(store, notifier, BACK + timedelta(minutes=1))
    assert arrive("bdt", "baodongthap", AGAIN) == 2
    assert len([m for m in store.outbox() if follow_up_of(m) == "resurfacing"]) == 4
    return story


def _month(store, ruled) -> Report:
    return build_report(store, ruled, date(2026, 11, 1), date(2026, 11, 30), now=datetime(2026, 12, 1, tzinfo=VN))


def test_the_report_lists_resurfaced_stories_and_does_not_count_them_as_flags(store, ruled, resurfaced):
    r = _month(store, ruled)
    assert [(f.story_id, f.statuses) for f in r.flags] == [(resurfaced, {"sent": 2})]      # one flag, its own emails
    assert r.publication_to_flag.count == 1 and r.open_items == [] and len(r.actions) == 1
    assert (r.resurfaced_stories, r.resurfacing_emails) == (1, 4)
    rows = [(x.story_id, x.source_name, x.reappeared_at, x.delivery, x.statuses) for x in r.resurfaced]
    assert rows == [(resurfaced, "VnExpress", BACK, "sent", {"sent": 2}),
                    (resurfaced, "Báo Đồng Tháp", AGAIN, "pending", {"pending": 2})]
    first = r.resurfaced[0]
    assert first.title == TITLE and first.url == "https://vnexpress.example.vn/vne.html"
    assert [(a.action_name, a.agency_name, a.at) for a in first.earlier] == [("Đã phản bác", "Công an tỉnh", REBUTTED)]
    assert first.rule_names == ["Tin có nguy cơ sai sự thật cao về tỉnh"]

    # A period holding only the second appearance lists it alone; the flag and the action are earlier.
    late = build_report(store, ruled, date(2026, 11, 6), date(2026, 11, 30), now=datetime(2026, 12, 1, tzinfo=VN))
    assert late.flags == [] and late.open_items == []
    assert [(x.source_name, x.delivery) for x in late.resurfaced] == [("Báo Đồng Tháp", "pending")]
    early = build_report(store, ruled, date(2026, 10, 1), date(2026, 11, 4), now=datetime(2026, 12, 1, tzinfo=VN))
    assert early.resurfaced == [] and (early.resurfaced_stories, early.resurfacing_emails) == (0, 0)


def test_docx_and_xlsx_have_the_section_and_the_numbers(store, ruled, resurfaced, tmp_path: Path):
    r = _month(store, ruled)
    doc = Document(str(write_docx(r, tmp_path / "r.docx")))
    headings = [p.text for p in doc.paragraphs]
    assert headings.index(HEADINGS["actions_list"]) < headings.index(HEADINGS["resurfaced"]) \
        < headings.index(HEADINGS["timing"])
    assert NOTES["resurfaced"] in headings
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    summary = {row[0]: row[1] for row in tables[0][1:]}
    assert summary[SUMMARY["flags"]] == "1"
    assert summary[SUMMARY["resurfaced"]] == "1" and summary[SUMMARY["resurfacing_emails"]] == "4"
    [section] = [t for t in tables if t[0] == RESURFACED_HEADER]
    assert section[1:] == [
        ["05/11/2026 09:00", TITLE, "VnExpress", "https://vnexpress.example.vn/vne.html",
         "Đã phản bác – Công an tỉnh, 02/11/2026 12:00", "Tin có nguy cơ sai sự thật cao về tỉnh", "Đã gửi"],
        ["06/11/2026 21:30", TITLE, "Báo Đồng Tháp", "https://baodongthap.example.vn/bdt.html",
         "Đã phản bác – Công an tỉnh, 02/11/2026 12:00", "Tin có nguy cơ sai sự thật cao về tỉnh", "Chờ gửi"]]
    assert RULE not in {c for row in section for c in row}                    # the rule by its description

    wb = load_workbook(str(write_xlsx(r, tmp_path / "r.xlsx")))
    names = wb.sheetnames
    assert names.index(SHEETS["actions"]) + 1 == names.index(SHEETS["resurfaced"])
    ws = wb[SHEETS["resurfaced"]]
    assert ws["A1"].value == HEADINGS["resurfaced"] and ws["A2"].value == NOTES["resurfaced"]
    assert [c.value for c in ws[3]] == RESURFACED_HEADER
    first = ws[4]
    assert first[0].value == datetime(2026, 11, 5, 9, 0) and first[0].is_date
    assert first[1].value == TITLE and first[1].data_type == "s"                # text, never markup or formula
    assert first[3].hyperlink.target == "https://vnexpress.example.vn/vne.html"
    assert [c.value for c in ws[5]][2::4] == ["Báo Đồng Tháp", "Chờ gửi"]
    summary_sheet = {row[0]: row[1] for row in wb[SHEETS["summary"]].iter_rows(min_row=4, values_only=True) if row[0]}
    assert summary_sheet[SUMMARY["resurfaced"]] == 1 and summary_sheet[SUMMARY["resurfacing_emails"]] == 4
    assert summary_sheet[SUMMARY["flags"]] == 1


def test_the_report_email_gives_the_numbers(store, ruled, resurfaced):
    s = ruled.model_copy(update={"app": ruled.app.model_copy(update={"reports": ReportSettings(recipients=["so-ttt"])})})
    assert queue_report(store, s, date(2026, 12, 15), datetime(2026, 12, 1, 6, 0, tzinfo=VN)) == 1
    [m] = [m for m in store.outbox() if m.flag_rule == REPORT_RULE]
    lines = m.text.splitlines()
    assert f"- {SUMMARY['flags']}: 1" in lines
    assert f"- {SUMMARY['resurfaced']}: 1" in lines and f"- {SUMMARY['resurfacing_emails']}: 4" in lines
    assert SUMMARY["resurfaced"] in m.html
