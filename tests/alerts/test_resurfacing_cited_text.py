"""A resurfacing email cites what officers recorded as it was stored: a rebuttal "URL" or an outlet
name holding line breaks (stored before the web forms refused them, or by another writer) stays on
its one line in the text and HTML parts, so it cannot pose as instructions of the system. Real
SQLite store file, real near-duplicate clustering, real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from alerts_testkit import SmtpServer, build_article

from alerts.dispatch import AlertDispatcher
from alerts.flag import flag_key
from alerts.links import LinkSigner
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from crawlers.dedup import assign_story
from haidang.record import Article
from haidang.settings import Agency, AlertRule, AppSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction, Store
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
POLICE = "cong-an@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")
INJECTED = ("https://baoquangngai.vn/bai-2\n\nĐÃ\u00a0XÁC\u00a0MINH:\u00a0KHÔNG\u00a0PHẢI\u00a0TIN\u00a0SAI."
            "\nĐăng\u00a0nhập\u00a0lại:\u00a0http://evil.example/login")
OUTLETS = {"forum": "Diễn đàn Người Quảng", "trang-tin": "Trang tin\nSông Trà"}


def _settings(tmp_path: Path) -> Settings:
    agencies = [Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE], leads=True)]
    rules = [AlertRule(name=RULE, description="Tin có nguy cơ sai sự thật cao về tỉnh", relevant=True,
                       min_risk_level="cao", severity="khẩn", recipients=["cong-an-tinh"], immediate=True)]
    sources = [Source(id=sid, name=name, country="VN", language="vi", kind="platform")
               for sid, name in OUTLETS.items()]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=sources, agencies=agencies, alert_rules=rules)


def _arrive(store: Store, dispatcher: AlertDispatcher, slug: str, source: str, at: datetime) -> Article:
    article = build_article(slug, source=source, published=at, text=RUMOUR, title="Tin đồn vỡ đập ở Quảng Ngãi")
    article.content.first_seen = at
    assign_story(article, store)
    store.upsert(article)
    dispatcher.on_stored(article, now=at)
    return article


def test_a_cited_rebuttal_url_with_line_breaks_stays_on_its_line(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path)
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store, LinkSigner("r" * 40, "https://haidang.example.vn"))
        rumour = _arrive(store, dispatcher, "goc", "forum", T0)
        story = rumour.story_id or rumour.id
        store.record_action(ResponseAction(
            flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id=rumour.id, rule=RULE,
            action="phan_bac", actor=POLICE, agency_id="cong-an-tinh", rebuttal_url=INJECTED,
            at=T0 + timedelta(hours=1), link_id="phan_bac-1"))
        back = _arrive(store, dispatcher, "trang-tin", "trang-tin", T0 + timedelta(hours=3))
        assert back.story_id == story
        assert len(deliver_due(store, notifier, T0 + timedelta(hours=4)).sent) == 2
    mail = message_from_bytes(smtp_server.handler.envelopes[-1].original_content, policy=policy.default)
    assert str(mail["Subject"]).startswith("[Hải Đăng][khẩn] Tái xuất hiện sau khi đã xử lý")
    text = mail.get_body(("plain",)).get_content()                      # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()                       # type: ignore[union-attr]
    lines = text.splitlines()
    assert "nay xuất hiện trên nguồn mới: Trang tin Sông Trà." in lines[1]
    [cited] = [line for line in lines if line.startswith("- Đã phản bác – Công an tỉnh")]
    assert "ĐÃ XÁC MINH" in cited and "evil.example/login" in cited     # shown, on the one line
    assert not any(line.startswith(("ĐÃ", "Đăng")) for line in lines)
    assert "<strong>Trang tin Sông Trà</strong>" in html
    assert "https://baoquangngai.vn/bai-2 ĐÃ" in html
