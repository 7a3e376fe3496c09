"""The week's report as the head of office reads it (real SQLite store, real .docx and .xlsx files):
each action says which story it was taken on and links the rebuttal, and an open flag's age is
counted to the period's end, not to the day the report happened to be made."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from docx import Document
from openpyxl import load_workbook

from alerts.flag import flag_key
from haidang.reports.document import write_docx
from haidang.reports.report import build_report
from haidang.reports.wording import COLUMNS, SHEETS
from haidang.reports.workbook import write_xlsx
from haidang.store.base import OutboxMessage, ResponseAction

VN = timezone(timedelta(hours=7))
RULE = "tin-sai-su-that-rui-ro-cao"
FLAGGED = datetime(2026, 11, 10, 8, 0, tzinfo=VN)


def _flag(store, story_id: str, at: datetime) -> str:
    key = flag_key(RULE, story_id, "so-ttt@example.gov.vn")
    store.enqueue(OutboxMessage(key=key, flag_rule=RULE, story_id=story_id, recipient="so-ttt@example.gov.vn",
                                message_id=f"<{key}@x>", subject="s", text="t", html="h", created_at=at,
                                next_attempt_at=at))
    return key


def _docx_rows(path: Path, header_first: str, header_second: str, header_last: str | None = None) -> list[list[str]]:
    for table in Document(str(path)).tables:
        head = [c.text for c in table.rows[0].cells]
        if head[:2] == [header_first, header_second] and header_last in (None, head[-1]):
            return [[c.text for c in row.cells] for row in table.rows]
    raise AssertionError(f"no table starting {header_first}, {header_second}")


def test_actions_name_their_story_and_open_items_age_at_the_period_end(store, settings, make_article, tmp_path):
    rumour = make_article("tin-don", title="Lý Sơn có người lạ bắt cóc trẻ em", source="fb",
                          when=FLAGGED - timedelta(hours=1))
    foreign = make_article("bao-ngoai", title="Quang Ngai courts Korean investors", source="bbc",
                           when=FLAGGED - timedelta(hours=2), language="en")
    for a in (rumour, foreign):
        a.story_id = a.id
        store.upsert(a)
    key = _flag(store, rumour.id, FLAGGED)
    _flag(store, foreign.id, FLAGGED)
    store.record_action(ResponseAction(flag_key=key, story_id=rumour.id, article_id=rumour.id, rule=RULE,
                                       action="phan_bac", actor="ca@example.gov.vn", agency_id="cong-an-tinh",
                                       note="Đã xác minh", rebuttal_url="https://baoquangngai.vn/bac-bo.html",
                                       at=FLAGGED + timedelta(hours=2)))
    # The week 9–15/11, made a month later: the foreign flag is open in it, 5 days old at its end.
    r = build_report(store, settings, date(2026, 11, 9), date(2026, 11, 15),
                     now=datetime(2026, 12, 15, 9, 0, tzinfo=VN))
    assert [a.title for a in r.actions] == ["Lý Sơn có người lạ bắt cóc trẻ em"]
    assert r.as_of == datetime(2026, 11, 16, 0, 0, tzinfo=VN)
    assert [f.title for f in r.open_items] == ["Quang Ngai courts Korean investors"]

    docx = write_docx(r, tmp_path / "bao-cao.docx")
    actions = _docx_rows(docx, COLUMNS["date"], COLUMNS["action"])
    assert actions[0][2] == COLUMNS["title"]
    assert actions[1][2] == "Lý Sơn có người lạ bắt cóc trẻ em"
    assert actions[1][-1] == "Đã xác minh; bài phản bác: https://baoquangngai.vn/bac-bo.html"
    open_rows = _docx_rows(docx, COLUMNS["flagged"], COLUMNS["rule"], COLUMNS["age"])
    assert open_rows[-1][-1] == "5"

    wb = load_workbook(write_xlsx(r, tmp_path / "bao-cao.xlsx"))
    sheet = wb[SHEETS["actions"]]
    assert sheet.cell(row=1, column=3).value == COLUMNS["title"]
    assert sheet.cell(row=2, column=3).value == "Lý Sơn có người lạ bắt cóc trẻ em"
    assert "bài phản bác: https://baoquangngai.vn/bac-bo.html" in sheet.cell(row=2, column=7).value
    assert wb[SHEETS["open"]].cell(row=2, column=6).value == 5


def test_an_open_flag_in_a_report_made_during_the_period_ages_to_now(store, settings, make_article):
    article = make_article("mo", title="Tin còn mở", when=FLAGGED)
    article.story_id = article.id
    store.upsert(article)
    _flag(store, article.id, FLAGGED)
    r = build_report(store, settings, date(2026, 11, 9), date(2026, 11, 15),
                     now=datetime(2026, 11, 13, 9, 0, tzinfo=VN))
    assert r.as_of == datetime(2026, 11, 13, 9, 0, tzinfo=VN)
