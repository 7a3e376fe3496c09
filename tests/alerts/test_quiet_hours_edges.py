"""Quiet hours per recipient at their edges, on the real dispatch → outbox (SQLite file) → SMTP path:
one address listed by two agencies whose windows follow each other (the mail must wait for the
union of them, not go out inside the second), windows that together cover the whole day, and the
local midnight, stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts_testkit import SmtpServer, build_article

from alerts.dispatch import AlertDispatcher
from alerts.outbox import deliver_due
from alerts.rules import held_until
from alerts.smtp import SmtpNotifier
from crawlers.dedup import assign_story
from haidang.settings import Agency, AlertRule, AppSettings, QuietHours, Settings, Source, StoreSettings
from haidang.store.sqlite import SqliteStore

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=VN)
SHARED, LEAD = "truc-ban@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")


def _settings(tmp_path: Path, first: QuietHours, second: QuietHours) -> Settings:
    """The duty desk's address is listed by the police (upper case) and by the border guard, each
    with its own quiet hours; the rule sends to both agencies, and to the lead (no quiet hours)."""
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[SHARED.upper()], quiet_hours=first),
                Agency(id="bien-phong", name="Bộ đội Biên phòng tỉnh", emails=[SHARED], quiet_hours=second)]
    rule = AlertRule(name=RULE, relevant=True, min_risk_level="cao", severity="cao",
                     recipients=["cong-an-tinh", "bien-phong"], immediate=True)
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=[Source(id="forum", name="Diễn đàn", country="VN", language="vi", kind="platform")],
                    agencies=agencies, alert_rules=[rule])


def _arrive(store: SqliteStore, settings: Settings, at: datetime) -> int:
    article = build_article("goc", source="forum", published=at, text=RUMOUR, title="Tin đồn vỡ đập ở Quảng Ngãi")
    article.content.first_seen = at
    assign_story(article, store)
    store.upsert(article)
    return AlertDispatcher(settings, store).on_stored(article, now=at)


def _notifier(server: SmtpServer) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", server.port, "none", sender="haidang@example.gov.vn", timeout_s=10)


def test_an_address_of_two_agencies_waits_out_both_windows_back_to_back(tmp_path: Path,
                                                                        smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path, QuietHours(start="22:00", end="06:00"), QuietHours(start="05:00", end="08:00"))
    eight = NIGHT.replace(day=11, hour=8)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        assert _arrive(store, settings, NIGHT) == 2                          # one email to the shared address
        due = {m.recipient.lower(): m.next_attempt_at for m in store.outbox("pending")}
        assert due == {LEAD: NIGHT, SHARED: eight}, due
        deliver_due(store, _notifier(smtp_server), NIGHT)
        assert deliver_due(store, _notifier(smtp_server), NIGHT.replace(day=11, hour=6)).sent == []  # B's night
        assert len(deliver_due(store, _notifier(smtp_server), eight).sent) == 1
    assert [r.lower() for e in smtp_server.handler.envelopes for r in e.rcpt_tos] == [LEAD, SHARED]


def test_windows_covering_the_whole_day_still_let_the_mail_go(tmp_path: Path) -> None:
    settings = _settings(tmp_path, QuietHours(start="20:00", end="08:00"), QuietHours(start="07:00", end="21:00"))
    held = held_until(settings.alert_rules[0], settings.agencies, [SHARED], NIGHT, VN)
    assert NIGHT < held[SHARED] <= NIGHT + timedelta(days=1)                 # answered, and within a day


def test_local_midnight_is_stored_in_utc(tmp_path: Path) -> None:
    midnight = datetime(2026, 11, 11, 0, 0, tzinfo=VN)                      # 17:00 UTC the day before
    settings = _settings(tmp_path, QuietHours(start="00:00", end="07:00"), QuietHours(start="23:00", end="00:00"))
    assert held_until(None, settings.agencies, [SHARED], midnight, VN) == {SHARED: midnight.replace(hour=7)}
    before = midnight - timedelta(minutes=1)                                 # 23:59 in the second window
    assert held_until(None, settings.agencies, [SHARED], before, VN) == {SHARED: midnight.replace(hour=7)}
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        _arrive(store, settings, midnight)
        [message] = [m for m in store.outbox("pending") if m.recipient.lower() == SHARED]
        assert message.next_attempt_at == datetime(2026, 11, 11, 0, 0, tzinfo=UTC)   # 07:00 in Quảng Ngãi
