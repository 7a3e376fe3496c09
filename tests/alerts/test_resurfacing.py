"""A rumour officers already acted on that reappears on a new outlet is flagged again: once per
recipient, rule, story, last action and new outlet, through the outbox, with signed links of its own, citing the
earlier action and naming the new outlet. Copies from outlets that already carried it, reruns and
restarts add nothing; a new action re-arms it; a story nobody acted on behaves as before. Reminders,
escalations, the digest and the report do not count it as a new flag. Real SQLite, real SMTP server,
stories assigned by the real near-duplicate clustering."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from alerts_testkit import SmtpServer, build_article

from alerts.digest import build_digest, render_digest
from alerts.dispatch import AlertDispatcher
from alerts.escalate import escalate_due
from alerts.flag import flag_key, follow_up_of, is_flag_message
from alerts.links import LinkSigner
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from crawlers.dedup import assign_story
from haidang.record import Article
from haidang.reports.report import build_report
from haidang.settings import Agency, AlertRule, AppSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction, Store
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)         # Tuesday 10/11, 08:00 in Quảng Ngãi
POLICE, LEAD = "cong-an@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-sai-su-that-rui-ro-cao"
DESCRIPTION = "Tin có nguy cơ sai sự thật cao về tỉnh"
SECRET = "r" * 40
REBUTTAL = "https://baoquangngai.vn/bac-bo-tin-don-vo-dap.html"
RUMOUR = ("Nhiều tài khoản lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, nước lũ tràn về "
          "các xã hạ du và người dân phải sơ tán gấp, chưa có xác nhận nào của cơ quan chức năng.")
OUTLETS = {"forum": "Diễn đàn Người Quảng", "dantri": "Dân trí", "trang-tin": "Trang tin Sông Trà",
           "mxh-a": "Nhóm Người Quảng Ngãi xa quê", "mxh-b": "Trang Tin nóng miền Trung"}


def _settings(tmp_path: Path) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE])]
    rules = [AlertRule(name=RULE, description=DESCRIPTION, relevant=True, min_risk_level="cao", severity="khẩn",
                       recipients=["cong-an-tinh"], immediate=True)]
    sources = [Source(id=sid, name=name, country="VN", language="vi", kind="platform")
               for sid, name in OUTLETS.items()]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=sources, agencies=agencies, alert_rules=rules)


def _rumour(slug: str, source: str, at: datetime, text: str = RUMOUR) -> Article:
    article = build_article(slug, source=source, published=at, text=text,
                            title=f"Tin đồn vỡ đập thủy điện ở Quảng Ngãi ({OUTLETS[source]})")
    article.content.first_seen = at
    return article


def _arrive(store: Store, dispatcher: AlertDispatcher, article: Article, at: datetime) -> int:
    """What `haidang run` does with a new page: cluster it, store it, run the alert chain."""
    assign_story(article, store)
    store.upsert(article)
    return dispatcher.on_stored(article, now=at)


def _act(store: Store, article: Article, action: str, at: datetime, *, agency: str = "cong-an-tinh",
         rebuttal_url: str | None = None) -> None:
    store.record_action(ResponseAction(
        flag_key=flag_key(RULE, article.story_id or article.id, POLICE), story_id=article.story_id or article.id,
        article_id=article.id, rule=RULE, action=action, actor=POLICE, agency_id=agency,  # type: ignore[arg-type]
        rebuttal_url=rebuttal_url, at=at, link_id=f"{action}-{at.isoformat()}"))


def _mails(server: SmtpServer) -> list[EmailMessage]:
    return [message_from_bytes(e.original_content, policy=policy.default)  # type: ignore[misc]
            for e in server.handler.envelopes]


def test_a_rebutted_rumour_back_on_a_new_outlet_is_flagged_again_once_per_action_and_outlet(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path)
    signer = LinkSigner(SECRET, "https://haidang.example.vn")
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
    path = tmp_path / "h.sqlite3"
    with SqliteStore(path) as store:
        dispatcher = AlertDispatcher(settings, store, signer)
        rumour = _rumour("goc", "forum", T0)
        assert _arrive(store, dispatcher, rumour, T0) == 2                  # the police and the lead
        story = rumour.story_id
        copy = _rumour("dantri-1", "dantri", T0 + timedelta(minutes=30))
        assert _arrive(store, dispatcher, copy, T0 + timedelta(minutes=30)) == 0
        assert copy.story_id == story
        deliver_due(store, notifier, T0 + timedelta(hours=1))
        assert len(smtp_server.handler.envelopes) == 2

        # The police rebut it at 10:00; a repost by an outlet that already carried it is no news.
        _act(store, rumour, "phan_bac", T0 + timedelta(hours=2), rebuttal_url=REBUTTAL)
        again = _rumour("dantri-2", "dantri", T0 + timedelta(hours=5))
        assert _arrive(store, dispatcher, again, T0 + timedelta(hours=5)) == 0

        # A new outlet carries it: both recipients hear the claim is back, once.
        back_at = T0 + timedelta(hours=14)                                   # 22:00, night
        back = _rumour("trang-tin", "trang-tin", back_at)
        assert _arrive(store, dispatcher, back, back_at) == 2
        assert back.story_id == story
        assert dispatcher.on_stored(back, now=back_at + timedelta(minutes=5)) == 0     # rerun
        # A second new outlet before any new action is told too (alerts.flag.Resurfacing says why), once.
        later = _rumour("mxh-a", "mxh-a", back_at + timedelta(hours=1))
        assert _arrive(store, dispatcher, later, back_at + timedelta(hours=1)) == 2
        assert _arrive(store, dispatcher, _rumour("mxh-a-bis", "mxh-a", back_at + timedelta(hours=1, minutes=10)),
                       back_at + timedelta(hours=1, minutes=10)) == 0
        report = deliver_due(store, notifier, back_at + timedelta(hours=1, minutes=11))
        assert len(report.sent) == 4

        resurfacings = [m for m in store.outbox() if follow_up_of(m) == "resurfacing"]
        assert len(resurfacings) == 4 and not any(is_flag_message(m) for m in resurfacings)
        assert sorted(m.recipient for m in resurfacings) == sorted([POLICE, LEAD] * 2)
        assert all(m.flag_rule == RULE and m.story_id == story for m in resurfacings)
        resurfacings = [m for m in resurfacings if m.created_at == back_at]

    mails = [m for m in _mails(smtp_server)[2:] if str(m["Subject"]).endswith("— Trang tin Sông Trà")]
    assert len(mails) == 2
    for mail in mails:
        subject = str(mail["Subject"])
        assert subject.startswith("[Hải Đăng][khẩn] Tái xuất hiện sau khi đã xử lý — «Tin đồn vỡ đập")
        assert subject.endswith("— Trang tin Sông Trà")
        text = mail.get_body(("plain",)).get_content()                     # type: ignore[union-attr]
        html = mail.get_body(("html",)).get_content()                      # type: ignore[union-attr]
        assert text.startswith("TÁI XUẤT HIỆN SAU KHI ĐÃ XỬ LÝ\n")
        assert "nay xuất hiện trên nguồn mới: Trang tin Sông Trà." in text
        assert (f"- Đã phản bác – Công an tỉnh, Thứ ba, 10/11/2026 10:00; bài phản bác: {REBUTTAL}"
                in text)
        assert "Tái xuất hiện sau khi đã xử lý" in html and f'href="{REBUTTAL}"' in html
        assert "cong-an-tinh" not in text + html and "phan_bac" not in text + html    # names, not ids
        # Its own signed links: a response already recorded from the first email can be recorded again.
        tokens = re.findall(r"/xu-ly/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", text)
        assert len(tokens) == 6
        links = [signer.verify(t, now=back_at) for t in tokens]
        recipient = str(mail["To"])
        key = next(m.key for m in resurfacings if m.recipient == recipient)
        assert {link.flag_key for link in links} == {key} and key != flag_key(RULE, story, recipient)
        assert {link.article_id for link in links} == {back.id} and {link.recipient for link in links} == {recipient}

    # A restart (new store handle, new dispatcher) and every article again: nothing new.
    with SqliteStore(path) as store:
        dispatcher = AlertDispatcher(settings, store, signer)
        before = len(store.outbox())
        for article in (rumour, copy, again, back, later):
            assert dispatcher.on_stored(store.get(article.id) or article, now=back_at + timedelta(hours=2)) == 0
        assert len(store.outbox()) == before

        # A new action re-arms it: the next new outlet (not one seen before that action) is told again.
        _act(store, rumour, "de_nghi_go_bo", back_at + timedelta(hours=10), agency="so-ttt")
        newest = _rumour("mxh-b", "mxh-b", back_at + timedelta(hours=12))
        assert _arrive(store, dispatcher, newest, back_at + timedelta(hours=12)) == 2
        assert _arrive(store, dispatcher, _rumour("mxh-a-2", "mxh-a", back_at + timedelta(hours=13)),
                       back_at + timedelta(hours=13)) == 0            # mxh-a carried it before that action
        second = [m for m in store.outbox() if follow_up_of(m) == "resurfacing"]
        assert len(second) == 6 and len({m.key for m in second}) == 6
        newest_text = next(m.text for m in second if m.created_at == back_at + timedelta(hours=12))
        assert "- Đã đề nghị gỡ bỏ – Sở Thông tin và Truyền thông, Thứ tư, 11/11/2026 08:00" in newest_text
        assert "- Đã phản bác – Công an tỉnh" in newest_text


def test_reminders_digest_and_report_do_not_count_a_resurfacing_as_a_new_flag(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        rumour = _rumour("goc", "forum", T0)
        _arrive(store, dispatcher, rumour, T0)
        for m in store.outbox():
            store.mark_sent(m.key, T0)
        _act(store, rumour, "phan_bac", T0 + timedelta(hours=2), rebuttal_url=REBUTTAL)
        back_at = T0 + timedelta(days=1, hours=3)                # Wednesday 11/11 11:00
        assert _arrive(store, dispatcher, _rumour("trang-tin", "trang-tin", back_at), back_at) == 2
        for m in store.outbox("pending"):
            store.mark_sent(m.key, back_at)

        # The story has an action: no reminder or escalation, and the resurfacing starts no chain.
        escalation = escalate_due(store, settings, back_at + timedelta(hours=49))
        assert (escalation.reminded, escalation.escalated) == ([], [])

        # Thursday's digest: the story is listed apart, under its first article, not as a new flag.
        digest = build_digest(store, settings, date(2026, 11, 12), dispatcher=dispatcher)
        assert digest.article_flags == [] and len(digest.earlier_flags) == 1
        [earlier] = digest.earlier_flags
        assert earlier.title == rumour.content.title and earlier.states == {"sent": 2}
        assert earlier.resurfaced == {"sent": 2} and earlier.new_outlets == ["Trang tin Sông Trà"]
        subject, text, html = render_digest(digest)
        assert "0 tin có cảnh báo" in subject and "TIN CÓ CẢNH BÁO (0)" in text
        assert "TIN ĐÃ CẢNH BÁO TRƯỚC ĐÓ, CÓ THÊM BÀI MỚI (1)" in text
        assert "Đã xử lý: đã phản bác – Công an tỉnh, 10/11" in text
        assert "Cảnh báo tái xuất hiện trong kỳ: đã gửi 2 thư" in text and "tái xuất hiện trong kỳ" in html

        # The week's report: one flag, delivered to its two recipients (the resurfacing is not a flag).
        week = build_report(store, settings, date(2026, 11, 9), date(2026, 11, 15), now=back_at + timedelta(days=5))
        assert [(f.story_id, f.statuses) for f in week.flags] == [(rumour.story_id, {"sent": 2})]


def test_a_story_nobody_acted_on_is_not_flagged_again_on_a_new_outlet(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        assert _arrive(store, dispatcher, _rumour("goc", "forum", T0), T0) == 2
        for n, source in enumerate(["dantri", "trang-tin", "mxh-a"], start=1):
            at = T0 + timedelta(days=n)
            assert _arrive(store, dispatcher, _rumour(f"copy-{n}", source, at), at) == 0
        assert len(store.outbox()) == 2 and all(is_flag_message(m) for m in store.outbox())
