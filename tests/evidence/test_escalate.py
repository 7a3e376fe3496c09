"""Escalation of unanswered flags: reminder after 24 h, the leading agency after 48 h, each once;
an officer action stops it. Real SQLite; the outbox contents are the assertions; times are fixed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.escalate import escalate_due, escalation_recipients
from alerts.flag import Flag, flag_key
from alerts.outbox import queue_flag
from haidang.record import Article, Content, Fetched, article_id
from haidang.settings import Agency, AlertRule, AppSettings, EscalationSettings, Settings
from haidang.store.base import OutboxMessage, ResponseAction, Store
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)      # 08:00 in Quảng Ngãi, outside any quiet hours
POLICE = "cong-an@example.gov.vn"
LEAD = "so-ttt@example.gov.vn"
TITLE = 'Tin đồn <script>alert("x")</script> vỡ đập & sơ tán'


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = SqliteStore(tmp_path / "data" / "haidang.sqlite3")
    yield opened
    opened.close()


def _settings(**escalation: object) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE])]
    rules = [AlertRule(name="tin-sai", description="Tin có nguy cơ sai sự thật cao", relevant=True,
                       min_risk_level="cao", severity="khẩn", recipients=["cong-an-tinh", "so-ttt"], immediate=True),
             AlertRule(name="tang-dot-bien", spike={"window_minutes": 60, "factor": 3, "min_count": 10,  # type: ignore[arg-type]
                                                    "cooldown_minutes": 360}, severity="cao",
                       recipients=["so-ttt"], immediate=True)]
    return Settings(config_dir="unused", app=AppSettings(), sources=[], agencies=agencies, alert_rules=rules,
                    escalation=EscalationSettings(**escalation))  # type: ignore[arg-type]


def _flag(store: Store, slug: str, sent_at: datetime) -> Article:
    """A stored article whose flag went to the police and the lead at `sent_at`."""
    url = f"https://mxh.example.vn/{slug}.html"
    article = Article(id=article_id(url), fetched=Fetched(source_id="mxh", url=url, canonical_url=url),
                      content=Content(title=TITLE, text="Nghe nói đập đã vỡ.", first_seen=sent_at))
    article.story_id = article.id
    store.upsert(article)
    flag = Flag(rule="tin-sai", severity="khẩn", story_id=article.id, article_ids=[article.id],
                agencies=["cong-an-tinh", "so-ttt"], recipients=[POLICE, LEAD], immediate=True)
    assert queue_flag(store, flag, [article], now=sent_at) == 2
    for recipient in (POLICE, LEAD):
        store.mark_sent(flag_key("tin-sai", article.id, recipient), sent_at)
    return article


def _queued(store: Store) -> list[OutboxMessage]:
    return [m for m in store.outbox() if m.key != flag_key(m.flag_rule, m.story_id, m.recipient)]


def test_reminder_then_escalation_each_once(store: Store) -> None:
    article = _flag(store, "bai-1", T0)
    settings = _settings()
    assert escalate_due(store, settings, T0 + timedelta(hours=23, minutes=59)).reminded == []

    first = escalate_due(store, settings, T0 + timedelta(hours=24))
    assert len(first.reminded) == 2 and first.escalated == []
    reminders = _queued(store)
    assert sorted(m.recipient for m in reminders) == [POLICE, LEAD]
    mail = reminders[0]
    assert mail.flag_rule == "tin-sai" and mail.story_id == article.id and mail.status == "pending"
    assert mail.subject.startswith("[Hải Đăng][Nhắc lại][khẩn] Cảnh báo chưa có phương án xử lý sau 24 giờ")
    assert "Thứ hai, 02/03/2026 08:00" in mail.text and "Nếu sau 48 giờ" in mail.text
    assert "Công an tỉnh (cong-an@example.gov.vn)" in mail.text and TITLE in mail.text
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert 'href="https://mxh.example.vn/bai-1.html"' in mail.html

    for m in reminders:                              # delivered reminders are not flags themselves
        store.mark_sent(m.key, T0 + timedelta(hours=24))
    assert escalate_due(store, settings, T0 + timedelta(hours=30)).reminded == []

    second = escalate_due(store, settings, T0 + timedelta(hours=48))
    assert second.reminded == [] and len(second.escalated) == 1
    [escalation] = [m for m in _queued(store) if m.status == "pending"]
    assert escalation.recipient == LEAD and "[Cần chỉ đạo xử lý]" in escalation.subject
    assert "sau 48 giờ" in escalation.subject and "Kính gửi Sở Thông tin và Truyền thông" in escalation.text
    assert escalate_due(store, settings, T0 + timedelta(hours=72)).escalated == []
    assert len(_queued(store)) == 3

    audit = [e for e in store.audit() if e.kind == "escalation"]
    assert [e.detail["stage"] for e in audit] == ["reminder", "reminder", "escalation"]
    assert {e.target for e in audit} == {article.id}


def test_an_officer_action_stops_the_chain(store: Store) -> None:
    article = _flag(store, "bai-2", T0)
    store.record_action(ResponseAction(flag_key=flag_key("tin-sai", article.id, POLICE), story_id=article.id,
                                       article_id=article.id, rule="tin-sai", action="chuyen_cong_an",
                                       actor=POLICE, at=T0 + timedelta(hours=3)))
    report = escalate_due(store, _settings(), T0 + timedelta(hours=50))
    assert (report.reminded, report.escalated) == ([], [])
    assert _queued(store) == []


def test_old_flags_rules_over_many_articles_and_disabled_escalation_are_left_alone(store: Store) -> None:
    _flag(store, "bai-cu", T0 - timedelta(days=30))
    spike = OutboxMessage(key=flag_key("tang-dot-bien", "spike-1", LEAD), flag_rule="tang-dot-bien",
                          story_id="spike-1", recipient=LEAD, message_id="<s@haidang.local>", subject="Tăng đột biến",
                          text="…", html="<p>…</p>", created_at=T0)
    store.enqueue(spike)
    store.mark_sent(spike.key, T0)
    assert escalate_due(store, _settings(), T0 + timedelta(hours=49)).reminded == []
    _flag(store, "bai-3", T0)
    assert escalate_due(store, _settings(enabled=False), T0 + timedelta(hours=49)).reminded == []
    assert _queued(store) == []


def test_escalation_goes_where_configured() -> None:
    assert escalation_recipients(_settings()) == [("Sở Thông tin và Truyền thông", LEAD)]
    assert escalation_recipients(_settings(escalate_to=["cong-an-tinh", "truc-ban@example.gov.vn"])) == [
        ("Công an tỉnh", POLICE), ("truc-ban@example.gov.vn", "truc-ban@example.gov.vn")]
    with pytest.raises(ValueError, match="later than remind_after_hours"):
        EscalationSettings(remind_after_hours=48, escalate_after_hours=24)
