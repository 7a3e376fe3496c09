"""Report deadlines: which are due on a day, and one queued email per deadline and recipient."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from haidang.errors import ConfigError
from haidang.reports.deadlines import due_reports, queue_due_reports, queue_report, report_recipients
from haidang.reports.report import REPORT_RULE, build_report
from haidang.settings import ReportSettings, load_settings

VN = timezone(timedelta(hours=7))


def _with(settings, **reports):
    return settings.model_copy(update={"app": settings.app.model_copy(update={"reports": ReportSettings(**reports)})})


def test_defaults_are_the_plans_deadlines():
    cfg = ReportSettings()
    assert cfg.deadlines == ["06-15", "11-15", "12-15", "12-31"] and cfg.days_before == 3


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 6, 11), []),
    (date(2026, 6, 12), [(date(2026, 1, 1), date(2026, 6, 11), date(2026, 6, 15))]),
    (date(2026, 6, 15), [(date(2026, 1, 1), date(2026, 6, 14), date(2026, 6, 15))]),
    (date(2026, 6, 16), []),
    (date(2026, 12, 14), [(date(2026, 1, 1), date(2026, 12, 13), date(2026, 12, 15))]),
    (date(2026, 12, 28), [(date(2026, 1, 1), date(2026, 12, 27), date(2026, 12, 31))]),
])
def test_due_reports(settings, today, expected):
    assert due_reports(settings, today) == expected


def test_due_reports_follow_config(settings):
    s = _with(settings, deadlines=["01-01", "11-05"], days_before=0)
    assert due_reports(s, date(2026, 1, 1)) == [(date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1))]
    assert due_reports(s, date(2026, 11, 4)) == []
    assert due_reports(s, date(2026, 11, 5))[0][2] == date(2026, 11, 5)


@pytest.mark.parametrize("bad", ["6-15", "13-01", "02-30", "02-29", "15/06"])
def test_bad_deadlines_fail(bad):
    with pytest.raises(ValueError, match="deadline"):
        ReportSettings(deadlines=[bad])


def test_unknown_recipient_fails_with_file_and_line(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "haidang.yaml").write_text("reports:\n  recipients: [so-khong-co]\n", encoding="utf-8")
    (config / "agencies.yaml").write_text(
        "agencies:\n  - id: so-ttt\n    name: Sở TTTT\n    emails: [a@example.gov.vn]\n    leads: true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert "haidang.yaml" in str(info.value) and "reports.recipients.0" in str(info.value)
    assert "so-khong-co" in str(info.value) and ":2" in str(info.value)


def test_recipients_default_to_the_leading_agency(settings):
    assert report_recipients(_with(settings)) == [("so-ttt@example.gov.vn", "Sở Thông tin và Truyền thông")]
    assert report_recipients(_with(settings, recipients=["cong-an-tinh", "x@example.vn"])) == [
        ("ca@example.gov.vn", "Công an tỉnh"), ("x@example.vn", "x@example.vn")]


def test_queue_report_writes_the_files_and_queues_once(store, settings, make_article):
    store.upsert(make_article("a", when=datetime(2026, 3, 1, 9, 0, tzinfo=VN), title="<b>Tiêu đề</b> & {{ x }}"))
    now = datetime(2026, 6, 12, 6, 0, tzinfo=VN)
    s = _with(settings, recipients=["so-ttt", "cong-an-tinh"])
    assert queue_report(store, s, date(2026, 6, 15), now) == 2
    assert queue_report(store, s, date(2026, 6, 15), now + timedelta(days=1)) == 0
    messages = [m for m in store.outbox() if m.flag_rule == REPORT_RULE]
    assert sorted(m.recipient for m in messages) == ["ca@example.gov.vn", "so-ttt@example.gov.vn"]
    m = messages[0]
    assert m.story_id == "report-2026-06-15"
    assert m.subject == "[Hải Đăng] Báo cáo theo dõi thông tin đối ngoại 01/01/2026–11/06/2026 (hạn 15/06/2026)"
    docx = s.data_dir / "reports" / "bao-cao-2026-01-01-2026-06-11.docx"
    assert docx.exists() and docx.with_suffix(".xlsx").exists()
    assert str(docx) in m.text and "Tổng số tin, bài về tỉnh: 1" in m.text
    assert "<code>" + str(docx) + "</code>" in m.html and "<b>" not in m.html
    assert m.attachments == [str(docx.resolve()), str(docx.with_suffix(".xlsx").resolve())]
    assert "đính kèm thư này" in m.text
    # the report message is no flag in a later report
    assert build_report(store, s, date(2026, 1, 1), date(2026, 6, 30)).flags == []


def test_the_daily_job_sends_each_report_once(store, settings):
    days = [datetime(2026, 6, d, 6, 0, tzinfo=VN) for d in range(10, 18)]
    sent = [queue_due_reports(store, settings, day) for day in days]
    assert sent == [0, 0, 1, 0, 0, 0, 0, 0]           # 12/6 (3 days before 15/6), then already queued
    assert [m.story_id for m in store.outbox()] == ["report-2026-06-15"]
