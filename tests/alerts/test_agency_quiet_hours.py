"""An agency's quiet hours (agencies.yaml `quiet_hours`) hold its own copy of a flag, and of the
reminders, escalations and resurfacing emails that follow, until the window ends, while the other
recipients get theirs at once; "khẩn" ignores them; with the rule's quiet hours too, the later end
wins. Real SQLite store file, the real dispatch → outbox → SMTP path, a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts_testkit import SmtpServer, build_article

from alerts.digest import queue_digest
from alerts.dispatch import AlertDispatcher
from alerts.escalate import escalate_due
from alerts.flag import flag_key, follow_up_of
from alerts.outbox import deliver_due
from alerts.rules import held_until
from alerts.smtp import SmtpNotifier
from alerts.watch import Watcher
from crawlers.dedup import assign_story
from haidang.record import Article
from haidang.settings import (
    Agency,
    AlertRule,
    AppSettings,
    DigestSettings,
    EscalationSettings,
    QuietHours,
    Settings,
    SilenceCondition,
    Source,
    SpikeCondition,
    StoreSettings,
)
from haidang.store.base import ResponseAction, Store
from haidang.store.sqlite import SqliteStore

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHT = datetime(2026, 11, 10, 23, 0, tzinfo=VN)          # Tuesday 23:00 in Quảng Ngãi
MORNING = datetime(2026, 11, 11, 6, 0, tzinfo=VN)         # when the police's quiet hours end
POLICE, LEAD = "cong-an@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")
OUTLETS = {"forum": "Diễn đàn Người Quảng", "trang-tin": "Trang tin Sông Trà", "baoquangngai": "Báo Quảng Ngãi"}


def _settings(tmp_path: Path, *, severity: str = "cao", rule_quiet: QuietHours | None = None,
              rules: list[AlertRule] | None = None, **escalation: object) -> Settings:
    """The lead (no quiet hours) and the police (quiet 22:00-06:00); the rule sends to the police,
    and a "cao" or "khẩn" flag reaches the lead too (alerts.routing.LEAD_SEVERITIES)."""
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE.upper()],
                       quiet_hours=QuietHours(start="22:00", end="06:00"))]
    rule = AlertRule(name=RULE, relevant=True, min_risk_level="cao", severity=severity,  # type: ignore[arg-type]
                     recipients=["cong-an-tinh"], immediate=True, quiet_hours=rule_quiet)
    sources = [Source(id=sid, name=name, country="VN", language="vi", kind="platform") for sid, name in OUTLETS.items()]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=sources, agencies=agencies, alert_rules=rules or [rule],
                    digest=DigestSettings(recipients=["cong-an-tinh", "so-ttt"]),
                    escalation=EscalationSettings(**escalation))  # type: ignore[arg-type]


def _notifier(server: SmtpServer) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", server.port, "none", sender="haidang@example.gov.vn", timeout_s=10)


def _arrived(server: SmtpServer) -> list[str]:
    return [rcpt.lower() for envelope in server.handler.envelopes for rcpt in envelope.rcpt_tos]


def _rumour(slug: str, source: str, at: datetime) -> Article:
    article = build_article(slug, source=source, published=at, text=RUMOUR,
                            title=f"Tin đồn vỡ đập thủy điện ở Quảng Ngãi ({OUTLETS[source]})")
    article.content.first_seen = at
    return article


def _arrive(store: Store, dispatcher: AlertDispatcher, article: Article, at: datetime) -> int:
    """What `haidang run` does with a new page: cluster it, store it, run the alert chain."""
    assign_story(article, store)
    store.upsert(article)
    return dispatcher.on_stored(article, now=at)


def _due(store: Store) -> dict[str, datetime]:
    """Recipient -> when its pending message may go, in local time."""
    return {m.recipient.lower(): m.next_attempt_at.astimezone(VN)              # type: ignore[union-attr]
            for m in store.outbox("pending")}


def test_a_flag_at_night_waits_for_the_quiet_agency_only(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path)
    path = tmp_path / "h.sqlite3"
    with SqliteStore(path) as store:
        assert _arrive(store, AlertDispatcher(settings, store), _rumour("goc", "forum", NIGHT), NIGHT) == 2
        assert _due(store) == {LEAD: NIGHT, POLICE: MORNING}
        assert len(deliver_due(store, _notifier(smtp_server), NIGHT).sent) == 1
        assert _arrived(smtp_server) == [LEAD]                                   # the lead at once
    with SqliteStore(path) as store:                                             # held across a restart
        assert deliver_due(store, _notifier(smtp_server), MORNING - timedelta(minutes=1)).sent == []
        assert len(deliver_due(store, _notifier(smtp_server), MORNING).sent) == 1
        assert store.outbox("pending") == []
    assert _arrived(smtp_server) == [LEAD, POLICE]


def test_khan_ignores_the_agencys_quiet_hours(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path, severity="khẩn", rule_quiet=QuietHours(start="21:00", end="07:00"))
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        assert _arrive(store, AlertDispatcher(settings, store), _rumour("goc", "forum", NIGHT), NIGHT) == 2
        assert _due(store) == {LEAD: NIGHT, POLICE: NIGHT}
        assert len(deliver_due(store, _notifier(smtp_server), NIGHT).sent) == 2
    assert sorted(_arrived(smtp_server)) == sorted([LEAD, POLICE])


def test_the_later_end_of_rule_and_agency_quiet_hours_wins(tmp_path: Path) -> None:
    rule_ends_later = _settings(tmp_path, rule_quiet=QuietHours(start="22:30", end="07:00"))
    rule_ends_sooner = _settings(tmp_path, rule_quiet=QuietHours(start="21:00", end="05:00"))
    seven, five = MORNING.replace(hour=7), MORNING.replace(hour=5)
    for settings, lead, police in ((rule_ends_later, seven, seven), (rule_ends_sooner, five, MORNING)):
        held = held_until(settings.alert_rules[0], settings.agencies, [LEAD, POLICE, "ban@example.vn"], NIGHT, VN)
        assert held == {LEAD: lead, POLICE: police, "ban@example.vn": lead}     # an address no agency lists: the rule's
        with SqliteStore(tmp_path / f"{lead.hour}.sqlite3") as store:
            assert _arrive(store, AlertDispatcher(settings, store), _rumour("goc", "forum", NIGHT), NIGHT) == 2
            assert _due(store) == {LEAD: lead, POLICE: police}
    # Outside every window nothing is held; "khẩn" is never held.
    noon = NIGHT.replace(hour=12)
    assert held_until(rule_ends_later.alert_rules[0], rule_ends_later.agencies, [LEAD, POLICE], noon, VN) == {}
    urgent = _settings(tmp_path, severity="khẩn").alert_rules[0]
    assert held_until(urgent, rule_ends_later.agencies, [LEAD, POLICE], NIGHT, "Asia/Ho_Chi_Minh") == {}


def test_spike_and_silence_flags_wait_for_the_quiet_agency_only(tmp_path: Path, smtp_server: SmtpServer) -> None:
    spike = AlertRule(name="tang-dot-bien", severity="trung bình", recipients=["cong-an-tinh", "so-ttt"],
                      immediate=True, spike=SpikeCondition(window_minutes=60, factor=3, min_count=10,
                                                           cooldown_minutes=360, baseline_days=1))
    silence = AlertRule(name="nguon-ngung", severity="thấp", recipients=["cong-an-tinh", "so-ttt"], immediate=True,
                        silence=SilenceCondition(hours=1))
    settings = _settings(tmp_path, rules=[spike, silence])
    settings.sources[:] = [s.model_copy(update={"enabled": True}) for s in settings.sources if s.id == "baoquangngai"]
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        watcher = Watcher(settings, store, "51")
        watcher.run(NIGHT - timedelta(hours=2))                   # the silence rule starts watching: grace period
        for i in range(11):
            store.upsert(build_article(f"dem-{i}", source="forum", published=NIGHT - timedelta(minutes=i + 1),
                                       title=f"Tin số {i} về Quảng Ngãi"))
        report = watcher.run(NIGHT)
        assert sorted(f.rule for f in report.flags) == ["nguon-ngung", "tang-dot-bien"] and report.queued == 4
        due = [(m.flag_rule, m.recipient.lower(), m.next_attempt_at.astimezone(VN))  # type: ignore[union-attr]
               for m in store.outbox("pending")]
        assert sorted(due) == sorted([("nguon-ngung", LEAD, NIGHT), ("nguon-ngung", POLICE, MORNING),
                                      ("tang-dot-bien", LEAD, NIGHT), ("tang-dot-bien", POLICE, MORNING)])
        assert len(deliver_due(store, _notifier(smtp_server), NIGHT).sent) == 2
        assert _arrived(smtp_server) == [LEAD, LEAD]
        assert len(deliver_due(store, _notifier(smtp_server), MORNING).sent) == 2
    assert _arrived(smtp_server) == [LEAD, LEAD, POLICE, POLICE]


def test_reminders_and_escalations_wait_for_the_quiet_agency_only(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path, remind_after_hours=12, escalate_after_hours=13,
                         escalate_to=["cong-an-tinh", "so-ttt"])
    sent_at = NIGHT - timedelta(hours=13)                                      # 10:00 the same day
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        assert _arrive(store, AlertDispatcher(settings, store), _rumour("goc", "forum", sent_at), sent_at) == 2
        assert len(deliver_due(store, _notifier(smtp_server), sent_at).sent) == 2
        report = escalate_due(store, settings, NIGHT)
        assert len(report.reminded) == 2 and len(report.escalated) == 2
        due = [(follow_up_of(m), m.recipient.lower(), m.next_attempt_at.astimezone(VN))  # type: ignore[union-attr]
               for m in store.outbox("pending")]
        assert sorted(due) == sorted([("escalation", POLICE, MORNING), ("escalation", LEAD, NIGHT),
                                      ("reminder", POLICE, MORNING), ("reminder", LEAD, NIGHT)])
        assert len(deliver_due(store, _notifier(smtp_server), NIGHT).sent) == 2
        assert sorted(_arrived(smtp_server)[2:]) == [LEAD, LEAD]
        assert len(deliver_due(store, _notifier(smtp_server), MORNING).sent) == 2
    assert sorted(_arrived(smtp_server)[4:]) == [POLICE, POLICE]


def test_a_resurfacing_at_night_waits_for_the_quiet_agency_only(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path)
    day = NIGHT.replace(hour=9)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        rumour = _rumour("goc", "forum", day)
        assert _arrive(store, dispatcher, rumour, day) == 2
        assert len(deliver_due(store, _notifier(smtp_server), day).sent) == 2
        story = rumour.story_id or rumour.id
        store.record_action(ResponseAction(
            flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id=rumour.id, rule=RULE,
            action="phan_bac", actor=POLICE, agency_id="cong-an-tinh", at=day + timedelta(hours=2), link_id="pb-1"))
        assert _arrive(store, dispatcher, _rumour("trang-tin", "trang-tin", NIGHT), NIGHT) == 2
        back = [m for m in store.outbox("pending") if follow_up_of(m) == "resurfacing"]
        assert {m.recipient.lower(): m.next_attempt_at.astimezone(VN) for m in back} == {  # type: ignore[union-attr]
            LEAD: NIGHT, POLICE: MORNING}
        assert len(deliver_due(store, _notifier(smtp_server), NIGHT).sent) == 1
        assert _arrived(smtp_server)[2:] == [LEAD]
        assert len(deliver_due(store, _notifier(smtp_server), MORNING).sent) == 1
    assert _arrived(smtp_server)[2:] == [LEAD, POLICE]


def test_the_digest_keeps_its_own_time(tmp_path: Path) -> None:
    """The digest goes at `digest.time` to everyone it names: a time the deployment chose, not a flag."""
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        assert queue_digest(store, settings, date(2026, 11, 10), now=NIGHT.astimezone(UTC)) == 2
        assert _due(store) == {LEAD: NIGHT, POLICE: NIGHT}
