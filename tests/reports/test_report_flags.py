"""Findings of the user walkthrough on the deadline report, against a real store and real files: a flag
raised today on an article from months ago keeps its article and timing, rules read by their
description, and the email's sub-rows are indented without a second bullet."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from alerts.flag import flag_key
from crawlers.dedup import assign_story
from haidang.reports.deadlines import queue_report
from haidang.reports.document import write_docx
from haidang.reports.report import REPORT_RULE, build_report
from haidang.reports.wording import COLUMNS, MISSING_ARTICLE, SUMMARY, UNKNOWN
from haidang.reports.workbook import write_xlsx
from haidang.settings import AlertRule, ReportSettings, Settings
from haidang.store.base import OutboxMessage, ResponseAction

VN = timezone(timedelta(hours=7))
RULE = "tin-sai-su-that-rui-ro-cao"
RULE_TEXT = "Tin có nguy cơ sai sự thật cao về tỉnh"
TODAY = date(2026, 11, 24)
FLAGGED = datetime(2026, 11, 24, 6, 0, 23, tzinfo=VN)
STORY_TEXT = ("Nhiều tài khoản mạng xã hội lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, người dân "
              "hạ du phải sơ tán gấp. Hãy chia sẻ ngay trước khi bị xóa. Nguồn tin giấu tên cho biết nước đã tràn "
              "qua nhiều xã ven sông, chính quyền chưa lên tiếng.")


@pytest.fixture
def ruled(settings: Settings) -> Settings:
    rules = [AlertRule(name=RULE, description=RULE_TEXT, min_risk_level="cao", severity="cao", recipients=["so-ttt"]),
             AlertRule(name="khong-mo-ta", relevant=True, severity="thấp", recipients=["so-ttt"])]
    return settings.model_copy(update={"alert_rules": rules})


def _flag(store, story_id: str, rule: str = RULE, at: datetime = FLAGGED, subject: str = "Tiêu đề") -> str:
    key = flag_key(rule, story_id, "so-ttt@example.gov.vn")
    store.enqueue(OutboxMessage(key=key, flag_rule=rule, story_id=story_id, recipient="so-ttt@example.gov.vn",
                                message_id=f"<{key}@x>", subject=subject, text="t", html="h", created_at=at,
                                next_attempt_at=at))
    return key


def _march_story(store, make_article):
    """A story founded in March, with a copy stored later that was published earlier still."""
    founder = make_article("goc", when=datetime(2026, 3, 10, 9, 0, tzinfo=VN), title="Tin đồn vỡ đập",
                           text=STORY_TEXT)
    founder.story_id = None
    assign_story(founder, store)
    store.upsert(founder)
    earlier = make_article("som", source="fb", when=datetime(2026, 3, 5, 20, 0, tzinfo=VN),
                           title="Lan truyền tin vỡ đập", text=STORY_TEXT + " Cập nhật.")
    earlier.story_id = None
    assign_story(earlier, store)
    store.upsert(earlier)
    assert founder.story_id == founder.id == earlier.story_id
    return founder, earlier


def test_a_flag_on_an_article_from_months_ago_keeps_its_article(store, ruled, make_article):
    founder, earlier = _march_story(store, make_article)
    _flag(store, founder.id)
    _flag(store, "da-xoa-khoi-kho", at=FLAGGED + timedelta(minutes=5))      # its article is gone
    r = build_report(store, ruled, TODAY, TODAY, now=FLAGGED + timedelta(hours=2))
    first, gone = r.flags
    assert first.title == "Lan truyền tin vỡ đập" and first.source_name == "Facebook"
    assert first.url == earlier.fetched.canonical_url
    assert first.published == datetime(2026, 3, 5, 20, 0, tzinfo=VN)
    assert first.publication_to_flag == FLAGGED - datetime(2026, 3, 5, 20, 0, tzinfo=VN)
    assert r.publication_to_flag.count == 1
    assert r.publication_to_flag.median == FLAGGED - datetime(2026, 3, 5, 20, 0, tzinfo=VN)
    assert gone.title == MISSING_ARTICLE and gone.source_name == UNKNOWN and gone.url == ""
    assert gone.published is None and "Tiêu đề" not in (first.title, gone.title)


def test_tables_name_rules_by_their_description(store, ruled, make_article, tmp_path: Path):
    founder, _ = _march_story(store, make_article)
    key = _flag(store, founder.id)
    _flag(store, founder.id, rule="khong-mo-ta", at=FLAGGED + timedelta(minutes=1))
    store.record_action(ResponseAction(flag_key=key, story_id=founder.id, article_id=founder.id, rule=RULE,
                                       action="phan_bac", actor="canbo@example.gov.vn", agency_id="so-ttt",
                                       at=FLAGGED + timedelta(hours=1)))
    r = build_report(store, ruled, TODAY, TODAY, now=FLAGGED + timedelta(hours=2))
    named = RULE_TEXT                         # agencies read the description, not the slug
    assert [f.rule_name for f in r.flags] == [named, "khong-mo-ta"]
    assert {c.label for c in r.flags_by_rule} == {named, "khong-mo-ta"}
    assert [a.rule_name for a in r.actions] == [named]

    tables = [[[c.text for c in row.cells] for row in t.rows] for t in Document(
        str(write_docx(r, tmp_path / "r.docx"))).tables]
    cells = [cell for t in tables for row in t for cell in row]
    assert cells.count(named) == 3                       # flags by rule, the flag list, the action list
    assert RULE not in [c for c in cells if c != named]
    wb = load_workbook(write_xlsx(r, tmp_path / "r.xlsx"))
    values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert values.count(named) >= 2 and RULE not in values
    assert COLUMNS["rule"] in values


def test_the_email_text_indents_sub_rows_without_a_second_bullet(store, settings, make_article):
    store.upsert(make_article("a", when=datetime(2026, 3, 1, 9, 0, tzinfo=VN)))
    s = settings.model_copy(update={"app": settings.app.model_copy(
        update={"reports": ReportSettings(recipients=["so-ttt"])})})
    assert queue_report(store, s, date(2026, 6, 15), datetime(2026, 6, 12, 6, 0, tzinfo=VN)) == 1
    [m] = [m for m in store.outbox() if m.flag_rule == REPORT_RULE]
    lines = m.text.splitlines()
    assert f"- {SUMMARY['flags']}: 0" in lines
    assert f"  {SUMMARY['flags_sent']}: 0" in lines and f"  {SUMMARY['flags_failed']}: 0" in lines
    assert not [line for line in lines if line.startswith("- –")]
    assert f"- {SUMMARY['actions']}: 0" in lines                  # rows after the sub-rows are bullets again
    assert "padding: 4px 8px 4px 24px" in m.html                  # the HTML table indents them too
