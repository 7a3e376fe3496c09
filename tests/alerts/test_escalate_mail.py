"""Reminders and escalations as alert emails: their own re-signed action links (the flag's link ids,
so a used action stays used), a clear pointer for a leader who got no flag, Vietnamese numbers, the
rule's description, and delivery states that count the flag's own emails only. Real SQLite, a real
SMTP server; fixed times."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from alerts_testkit import SmtpServer, build_article

from alerts.digest import build_digest, render_digest
from alerts.escalate import escalate_due
from alerts.flag import Flag, flag_key, is_flag_message
from alerts.flag import follow_up_of as follow_up_stage
from alerts.links import LinkSigner
from alerts.outbox import deliver_due, queue_flag
from alerts.smtp import SmtpNotifier
from haidang.record import Article
from haidang.settings import Agency, AlertRule, AppSettings, EscalationSettings, Settings, StoreSettings
from haidang.store.base import ACTION_NAMES, ResponseAction, Store
from haidang.store.sqlite import SqliteStore
from haidang.web.respond import link_id, link_used

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)          # 08:00 in Quảng Ngãi, a Monday
POLICE, PRESS, LEAD = "cong-an@example.gov.vn", "bao@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
DESCRIPTION = "Tin có nguy cơ sai sự thật cao về tỉnh"
SECRET = "s" * 40


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = SqliteStore(tmp_path / "h.sqlite3")
    yield opened
    opened.close()


def _settings(tmp_path: Path, **escalation: object) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE]),
                Agency(id="bao-tinh", name="Báo Quảng Ngãi", emails=[PRESS])]
    rules = [AlertRule(name=RULE, description=DESCRIPTION, relevant=True, min_risk_level="cao", severity="khẩn",
                       recipients=["cong-an-tinh", "bao-tinh"], immediate=True)]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=[], agencies=agencies, alert_rules=rules,
                    escalation=EscalationSettings(**escalation))  # type: ignore[arg-type]


def _flagged(store: Store, signer: LinkSigner | None, recipients: list[str] = [POLICE, PRESS]) -> Article:  # noqa: B006
    """A stored article whose flag was sent to `recipients` at T0, with links when `signer` is given."""
    article = build_article("tin-don", published=T0,
                            title="Tin đồn vỡ đập thủy điện ở Sơn Tây, người dân phải sơ tán gấp trong đêm")
    article.story_id = article.id
    store.upsert(article)
    flag = Flag(rule=RULE, severity="khẩn", story_id=article.id, article_ids=[article.id], agencies=[],
                recipients=recipients, immediate=True, description=DESCRIPTION)
    assert queue_flag(store, flag, [article], now=T0, signer=signer) == len(recipients)
    for recipient in recipients:
        store.mark_sent(flag_key(RULE, article.id, recipient), T0)
    return article


def _follow_ups(store: Store) -> list:
    return sorted((m for m in store.outbox() if not is_flag_message(m)), key=lambda m: (m.created_at, m.recipient))


def _tokens(text: str) -> list[str]:
    return re.findall(r"/xu-ly/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", text)


def test_a_reminder_carries_the_recipients_own_re_signed_links(tmp_path: Path, store: Store,
                                                                smtp_server: SmtpServer) -> None:
    signer = LinkSigner(SECRET, "https://haidang.example.gov.vn")
    article = _flagged(store, signer)
    report = escalate_due(store, _settings(tmp_path), T0 + timedelta(hours=24), signer=signer)
    assert len(report.reminded) == 2
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.gov.vn", timeout_s=5)
    assert len(deliver_due(store, notifier, T0 + timedelta(hours=24)).sent) == 2

    received = {}
    for envelope in smtp_server.handler.envelopes:
        assert isinstance(envelope.content, bytes)
        email = message_from_bytes(envelope.content, policy=policy.default)
        [rcpt] = envelope.rcpt_tos
        received[rcpt] = email
    assert set(received) == {POLICE, PRESS}
    police = received[POLICE]
    plain = police.get_body(("plain",)).get_content()        # type: ignore[union-attr]
    html = police.get_body(("html",)).get_content()          # type: ignore[union-attr]
    tokens = _tokens(plain)
    assert len(tokens) == len(ACTION_NAMES) and set(_tokens(html)) == set(tokens)
    links = [signer.verify(t, now=T0 + timedelta(hours=24)) for t in tokens]
    # The flag's own key and this recipient: the same link as in the flag email, with a later expiry.
    assert {link.flag_key for link in links} == {flag_key(RULE, article.id, POLICE)}
    assert {link.recipient for link in links} == {POLICE} and {link.article_id for link in links} == {article.id}
    original = next(m for m in store.outbox() if m.key == flag_key(RULE, article.id, POLICE))
    first = {signer.verify(t, now=T0).action: signer.verify(t, now=T0) for t in _tokens(original.text)}
    for link in links:
        assert link_id(link) == link_id(first[link.action])
        assert link.expires > first[link.action].expires
    # An action recorded through the flag email's link uses up the reminder's link too.
    chosen = first["phan_bac"]
    store.record_action(ResponseAction(flag_key=chosen.flag_key, story_id=chosen.story_id, article_id=chosen.article_id,
                                       rule=chosen.rule, action=chosen.action, actor=POLICE,
                                       at=T0 + timedelta(hours=25)))
    assert link_used(store, next(link for link in links if link.action == "phan_bac"))
    # Press gets its own links, not the police's.
    press_tokens = _tokens(received[PRESS].get_body(("plain",)).get_content())   # type: ignore[union-attr]
    assert {signer.verify(t, now=T0 + timedelta(hours=24)).recipient for t in press_tokens} == {PRESS}
    assert "các liên kết trong thư cảnh báo gốc" not in plain
    # The rule reads as its description (no slug); the original subject names the article.
    assert f"Quy tắc: {DESCRIPTION}\n" in plain and DESCRIPTION in html and RULE not in plain and RULE not in html
    assert "Thư cảnh báo gốc: «[Hải Đăng][khẩn] Nguy cơ tin sai — «Tin đồn vỡ đập thủy điện" in plain
    assert "<script" not in html


def test_an_escalation_to_a_leader_who_got_no_flag_points_to_the_recipients(tmp_path: Path, store: Store) -> None:
    signer = LinkSigner(SECRET, "https://haidang.example.gov.vn")
    _flagged(store, signer)
    settings = _settings(tmp_path)
    escalate_due(store, settings, T0 + timedelta(hours=24), signer=signer)
    report = escalate_due(store, settings, T0 + timedelta(hours=48), signer=signer)
    assert len(report.escalated) == 1
    [escalation] = [m for m in _follow_ups(store) if follow_up_stage(m) == "escalation"]
    assert escalation.recipient == LEAD
    assert _tokens(escalation.text) == [] and _tokens(escalation.html) == []
    assert "không nằm trong danh sách nhận cảnh báo gốc" in escalation.text
    assert "Công an tỉnh (cong-an@example.gov.vn)" in escalation.text
    assert "không nằm trong danh sách nhận cảnh báo gốc" in escalation.html


def test_a_leader_who_got_the_flag_gets_their_links_in_the_escalation(tmp_path: Path, store: Store) -> None:
    signer = LinkSigner(SECRET, "https://haidang.example.gov.vn")
    article = _flagged(store, signer, [POLICE, LEAD])
    settings = _settings(tmp_path)
    escalate_due(store, settings, T0 + timedelta(hours=24), signer=signer)
    escalate_due(store, settings, T0 + timedelta(hours=48), signer=signer)
    [escalation] = [m for m in _follow_ups(store) if follow_up_stage(m) == "escalation"]
    links = [signer.verify(t, now=T0 + timedelta(hours=48)) for t in _tokens(escalation.text)]
    assert len(links) == len(ACTION_NAMES) and {link.flag_key for link in links} == {flag_key(RULE, article.id, LEAD)}


def test_without_a_signer_the_reminder_says_why_it_has_no_links(tmp_path: Path, store: Store) -> None:
    _flagged(store, None)
    escalate_due(store, _settings(tmp_path), T0 + timedelta(hours=24))
    reminder = _follow_ups(store)[0]
    assert "chưa được cấu hình khoá ký đường dẫn" in reminder.text and _tokens(reminder.text) == []


def test_fractional_hours_read_as_vietnamese_numbers(tmp_path: Path, store: Store) -> None:
    """A test deployment reminding after minutes: "0,05 giờ", never "0.05" or "0 giờ"."""
    _flagged(store, None)
    settings = _settings(tmp_path, remind_after_hours=0.05, escalate_after_hours=0.07)
    escalate_due(store, settings, T0 + timedelta(minutes=3))
    [reminder, _] = _follow_ups(store)
    assert "sau 0,05 giờ" in reminder.subject and "cách đây 0,05 giờ" in reminder.text
    assert "Nếu sau 0,07 giờ" in reminder.text and "Nếu sau 0,07 giờ" in reminder.html
    assert "0.0" not in reminder.text and "0.0" not in reminder.subject


def test_reminders_and_escalations_are_not_counted_as_flag_deliveries(tmp_path: Path, store: Store) -> None:
    """Sent to 2 recipients, reminded twice, escalated once: the flag was delivered twice."""
    article = _flagged(store, None)
    settings = _settings(tmp_path)
    escalate_due(store, settings, T0 + timedelta(hours=24))
    escalate_due(store, settings, T0 + timedelta(hours=48))
    follow_ups = _follow_ups(store)
    assert [follow_up_stage(m) for m in follow_ups] == ["reminder", "reminder", "escalation"]
    assert all(m.flag_rule == RULE for m in follow_ups)                 # the flag's rule, their own keys
    for m in follow_ups:
        store.mark_sent(m.key, T0 + timedelta(hours=48))
    assert [follow_up_stage(m) for m in store.outbox() if is_flag_message(m)] == [None, None]

    class _Rules:
        def flags_for(self, a: Article, now: datetime | None = None) -> list[Flag]:
            return [Flag(rule=RULE, severity="khẩn", story_id=a.id, article_ids=[a.id], agencies=[],
                         recipients=[POLICE, PRESS], immediate=True, description=DESCRIPTION)]

    digest = build_digest(store, settings, datetime(2026, 3, 3).date(), dispatcher=_Rules())
    [flag] = digest.flags
    assert flag.story_id == article.id and flag.states == {"sent": 2}
    assert flag.rule_labels == [DESCRIPTION]          # agencies read the description, not the slug
    _, text, html = render_digest(digest)
    assert "Trạng thái: đã gửi 2 thư" in text and "đã gửi 5" not in text
    assert f"Quy tắc: {DESCRIPTION} · " in text and DESCRIPTION in html and f"({RULE})" not in text + html


def _delete_article(path: Path, article_id: str) -> None:
    """Take an article out of the store as Elasticsearch's ILM or an operator would (the Store has no
    delete): its record and its search entry; its flag emails stay in the outbox."""
    conn = sqlite3.connect(path)
    with conn:
        [docno] = conn.execute("SELECT docno FROM articles WHERE id = ?", (article_id,)).fetchone()
        conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (docno,))
        conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
    conn.close()


def test_a_reminder_for_a_deleted_article_says_it_is_gone_and_names_it_by_the_flag(
        tmp_path: Path, store: Store, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    """The flag still goes unanswered, so the chain goes on (the post may still be online): the
    Subject names the title the flag's Subject quoted, not that Subject nested in its own, and the
    email says in Vietnamese that the article is no longer stored and where its address is."""
    signer = LinkSigner(SECRET, "https://haidang.example.gov.vn")
    article = _flagged(store, signer)
    flag_subject = next(m.subject for m in store.outbox() if is_flag_message(m))
    assert isinstance(store, SqliteStore)
    _delete_article(store.path, article.id)
    assert store.get(article.id) is None
    settings = _settings(tmp_path)
    with caplog.at_level(logging.INFO, logger="alerts.escalate"):
        assert len(escalate_due(store, settings, T0 + timedelta(hours=24), signer=signer).reminded) == 2
        assert len(escalate_due(store, settings, T0 + timedelta(hours=48), signer=signer).escalated) == 1
    assert sum("no longer in the store" in r.getMessage() for r in caplog.records) == 3
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.gov.vn", timeout_s=5)
    assert len(deliver_due(store, notifier, T0 + timedelta(hours=48)).sent) == 3

    received = [message_from_bytes(e.content, policy=policy.default) for e in smtp_server.handler.envelopes
                if isinstance(e.content, bytes)]
    assert len(received) == 3
    for email in received:
        subject = str(email["Subject"])
        assert subject.count("[Hải Đăng]") == 1 and "«" not in subject, subject
        assert " giờ — Tin đồn vỡ đập thủy điện ở Sơn Tây, người dân" in subject, subject
        plain = email.get_body(("plain",)).get_content()     # type: ignore[union-attr]
        html = email.get_body(("html",)).get_content()       # type: ignore[union-attr]
        # The title as the flag's Subject carried it (already cut there).
        assert "Tiêu đề bài viết (theo thư cảnh báo gốc): Tin đồn vỡ đập thủy điện ở Sơn Tây, người dân phải sơ tán…\n" in plain
        assert "Bài gốc: không còn trong kho dữ liệu của Hải Đăng." in plain
        assert "không có nghĩa là bài đã được gỡ khỏi nơi đăng" in plain
        assert "Không còn trong kho dữ liệu của Hải Đăng." in html and "(theo thư cảnh báo gốc)" in html
        assert f"Thư cảnh báo gốc: «{flag_subject}»" in plain            # to find the flag's email by
        assert f"Mã tin (dùng khi trao đổi với bộ phận theo dõi thông tin): {article.id}" in plain
        assert _tokens(plain) == [] and _tokens(html) == []
    reminders = [e for e in received if "[Nhắc lại]" in str(e["Subject"])]
    assert len(reminders) == 2
    for email in reminders:
        plain = email.get_body(("plain",)).get_content()     # type: ignore[union-attr]
        assert "vì bài viết không còn trong kho dữ liệu; đề nghị dùng các đường dẫn trong thư cảnh báo gốc" in plain
