"""Two new outlets carrying a story officers already rebutted each get their resurfacing email, in one
run (`haidang run` queues both, then delivers) as when the first email went out before the second
outlet was found (`haidang serve` delivers after each article): the second outlet is never lost, and
its email names the outlet found before it. Reruns and further copies from a told outlet add nothing;
`alerts.dispatch.reappearances` reads outlet, article and action back from the emails' keys. Real
SQLite store file, real near-duplicate clustering, real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from alerts_testkit import SmtpServer, build_article

from alerts.dispatch import AlertDispatcher, reappearances
from alerts.flag import flag_key, follow_up_of
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from crawlers.dedup import assign_story
from haidang.record import Article
from haidang.settings import Agency, AlertRule, AppSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction, Store
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)         # Tuesday 10/11, 08:00 in Quảng Ngãi
POLICE, LEAD = "cong-an@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")
OUTLETS = {"forum": "Diễn đàn Người Quảng", "trang-tin": "Trang tin Sông Trà",
           "mxh-a": "Nhóm Người Quảng Ngãi xa quê", "mxh-b": "Trang Tin nóng miền Trung"}


def _settings(tmp_path: Path) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE])]
    rules = [AlertRule(name=RULE, description="Tin có nguy cơ sai sự thật cao về tỉnh", relevant=True,
                       min_risk_level="cao", severity="khẩn", recipients=["cong-an-tinh"], immediate=True)]
    sources = [Source(id=sid, name=name, country="VN", language="vi", kind="platform") for sid, name in OUTLETS.items()]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=sources, agencies=agencies, alert_rules=rules)


def _arrive(store: Store, dispatcher: AlertDispatcher, slug: str, source: str, at: datetime) -> tuple[Article, int]:
    """What `haidang run` does with a new page: cluster it, store it, run the alert chain."""
    article = build_article(slug, source=source, published=at, text=RUMOUR,
                            title=f"Tin đồn vỡ đập thủy điện ở Quảng Ngãi ({OUTLETS[source]})")
    article.content.first_seen = at
    assign_story(article, store)
    store.upsert(article)
    return article, dispatcher.on_stored(article, now=at)


def _rebut(store: Store, article: Article, at: datetime) -> None:
    story = article.story_id or article.id
    store.record_action(ResponseAction(
        flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id=article.id, rule=RULE, action="phan_bac",
        actor=POLICE, agency_id="cong-an-tinh", rebuttal_url="https://baoquangngai.vn/bac-bo.html", at=at,
        link_id=f"phan_bac-{at.isoformat()}"))


def _mails(server: SmtpServer) -> list[EmailMessage]:
    return [message_from_bytes(e.original_content, policy=policy.default)  # type: ignore[misc]
            for e in server.handler.envelopes]


def _text(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()       # type: ignore[union-attr]


def _flagged_and_rebutted(store: Store, dispatcher: AlertDispatcher, notifier: SmtpNotifier) -> Article:
    rumour, queued = _arrive(store, dispatcher, "goc", "forum", T0)
    assert queued == 2
    assert len(deliver_due(store, notifier, T0 + timedelta(minutes=1)).sent) == 2
    _rebut(store, rumour, T0 + timedelta(hours=2))
    return rumour


def test_two_new_outlets_in_one_run_each_get_their_email(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path)
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        rumour = _flagged_and_rebutted(store, dispatcher, notifier)
        # One run finds it on two new outlets, a minute apart, and delivers at its end.
        run_at = T0 + timedelta(hours=6)
        first, n_first = _arrive(store, dispatcher, "trang-tin", "trang-tin", run_at)
        second, n_second = _arrive(store, dispatcher, "mxh-a", "mxh-a", run_at + timedelta(minutes=1))
        assert (n_first, n_second) == (2, 2)
        assert first.story_id == second.story_id == rumour.story_id
        # A rerun of the run, and a second page of a told outlet, add nothing.
        assert dispatcher.on_stored(first, now=run_at + timedelta(minutes=5)) == 0
        assert dispatcher.on_stored(second, now=run_at + timedelta(minutes=5)) == 0
        assert _arrive(store, dispatcher, "mxh-a-2", "mxh-a", run_at + timedelta(minutes=7))[1] == 0
        assert len(deliver_due(store, notifier, run_at + timedelta(minutes=8)).sent) == 4

        found = reappearances(store, store.outbox())
        assert [(r.source_id, r.article.id if r.article else None, r.at) for r in found] == [
            ("trang-tin", first.id, run_at), ("mxh-a", second.id, run_at + timedelta(minutes=1))]
        assert all([a.action for a in r.actions] == ["phan_bac"] and r.statuses == {"sent": 2} and r.rules == [RULE]
                   for r in found)

    mails = _mails(smtp_server)[2:]
    by_outlet = {name: [m for m in mails if str(m["Subject"]).endswith(f"— {name}")]
                 for name in ("Trang tin Sông Trà", "Nhóm Người Quảng Ngãi xa quê")}
    assert {name: sorted(str(m["To"]) for m in group) for name, group in by_outlet.items()} == {
        "Trang tin Sông Trà": [POLICE, LEAD], "Nhóm Người Quảng Ngãi xa quê": [POLICE, LEAD]}
    for mail in by_outlet["Trang tin Sông Trà"]:
        assert "nay xuất hiện trên nguồn mới: Trang tin Sông Trà." in _text(mail)
        assert "cũng đã xuất hiện trên" not in _text(mail)
    for mail in by_outlet["Nhóm Người Quảng Ngãi xa quê"]:
        text = _text(mail)
        assert "nay xuất hiện trên nguồn mới: Nhóm Người Quảng Ngãi xa quê." in text
        assert "Từ lần xử lý gần nhất, thông tin này cũng đã xuất hiện trên: Trang tin Sông Trà." in text
        html = mail.get_body(("html",)).get_content()    # type: ignore[union-attr]
        assert "cũng đã xuất hiện trên: Trang tin Sông Trà." in html


def test_a_new_outlet_found_after_the_first_email_went_out_is_told_too(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    """`haidang serve` delivers after each stored article: the first outlet's email is sent before
    the second outlet is found, and the second must still reach the officers."""
    settings = _settings(tmp_path)
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        _flagged_and_rebutted(store, dispatcher, notifier)
        for n, source in enumerate(["trang-tin", "mxh-b"], start=1):
            at = T0 + timedelta(hours=3 * n)
            assert _arrive(store, dispatcher, source, source, at)[1] == 2
            assert len(deliver_due(store, notifier, at + timedelta(seconds=5)).sent) == 2
        assert len([m for m in store.outbox() if follow_up_of(m) == "resurfacing"]) == 4
    subjects = sorted(str(m["Subject"]).rsplit("— ", 1)[1] for m in _mails(smtp_server)[2:])
    assert subjects == ["Trang Tin nóng miền Trung"] * 2 + ["Trang tin Sông Trà"] * 2
