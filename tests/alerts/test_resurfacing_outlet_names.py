"""Outlet names as sources.yaml may hold them, in the resurfacing emails: an ampersand ("Sức khỏe &
Đời sống" is a real title), markup, a line break. The HTML part shows each name once escaped (as
text, never as markup, never as "&amp;amp;"), the plain part as written, each on one line. Real
SQLite store file, real clustering, real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from alerts_testkit import SmtpServer, build_article

from alerts.dispatch import AlertDispatcher
from alerts.flag import flag_key
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from crawlers.dedup import assign_story
from haidang.settings import Agency, AlertRule, AppSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
POLICE, LEAD = "cong-an@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")
OUTLETS = {"forum": "Diễn đàn Người Quảng", "suc-khoe": "Sức khỏe & Đời sống",
           "mxh": "<b>Tin nóng</b>\n<script>alert(1)</script> miền Trung"}


def test_outlet_names_with_ampersands_markup_and_line_breaks(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = Settings(
        config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
        sources=[Source(id=sid, name=name, country="VN", language="vi", kind="platform") for sid, name in OUTLETS.items()],
        agencies=[Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                  Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE])],
        alert_rules=[AlertRule(name=RULE, relevant=True, min_risk_level="cao", severity="khẩn",
                               recipients=["cong-an-tinh"], immediate=True)])
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)

        def arrive(source: str, at: datetime) -> int:
            article = build_article(source, source=source, published=at, text=RUMOUR, title="Tin đồn vỡ đập ở Quảng Ngãi")
            article.content.first_seen = at
            assign_story(article, store)
            store.upsert(article)
            return dispatcher.on_stored(article, now=at)

        assert arrive("forum", T0) == 2
        deliver_due(store, notifier, T0)
        story = store.outbox()[0].story_id
        store.record_action(ResponseAction(flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id="x",
                                           rule=RULE, action="phan_bac", actor=POLICE, agency_id="cong-an-tinh",
                                           at=T0 + timedelta(hours=1), link_id="pb-1"))
        run_at = T0 + timedelta(hours=3)
        assert arrive("suc-khoe", run_at) == 2 and arrive("mxh", run_at + timedelta(minutes=1)) == 2
        assert len(deliver_due(store, notifier, run_at + timedelta(minutes=2)).sent) == 4

    mails = [message_from_bytes(e.original_content, policy=policy.default)  # type: ignore[misc]
             for e in smtp_server.handler.envelopes][2:]
    # The Subject ends "miền…": cut to keep within alerts.render.SUBJECT_CHARS (the body has it whole).
    last = [m for m in mails if "<script>alert(1)</script> miền…" in str(m["Subject"])]
    assert len(last) == 2
    for mail in last:
        html = mail.get_body(("html",)).get_content()                       # type: ignore[union-attr]
        text = mail.get_body(("plain",)).get_content()                      # type: ignore[union-attr]
        assert "<script>" not in html and "<b>Tin" not in html
        assert "&amp;amp;" not in html and "&amp;lt;" not in html, html
        assert "cũng đã xuất hiện trên: Sức khỏe &amp; Đời sống." in html
        assert "nguồn mới: <strong>&lt;b&gt;Tin nóng&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; miền Trung</strong>" \
            in html
        assert "cũng đã xuất hiện trên: Sức khỏe & Đời sống." in text
        assert "nguồn mới: <b>Tin nóng</b> <script>alert(1)</script> miền Trung." in text
        assert "\n" not in str(mail["Subject"])
