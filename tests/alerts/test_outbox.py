"""The outbox end to end with a real SQLite store and a real SMTP server: once, and only once."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

from alerts_testkit import T0, SmtpServer, build_article, build_flag

from alerts.flag import flag_key
from alerts.outbox import Backoff, deliver_due, queue_flag
from alerts.smtp import SmtpNotifier
from haidang.store.sqlite import SqliteStore

_A, _B = "so-tttt@example.vn", "cong-an@example.vn"


def _notifier(server: SmtpServer) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", server.port, "none", sender="haidang@example.vn", timeout_s=5)


def _arrived(server: SmtpServer) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of every delivered copy, parsed from what the server received."""
    out: list[tuple[str, str]] = []
    for envelope in server.handler.envelopes:
        assert isinstance(envelope.content, bytes)
        email = message_from_bytes(envelope.content, policy=policy.default)
        out.extend((rcpt, str(email["Message-ID"])) for rcpt in envelope.rcpt_tos)
    return out


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(first=timedelta(minutes=1), cap=timedelta(minutes=8))
    assert [backoff.delay(n) for n in range(1, 6)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 8)]
    # a long outage: hourly for days, never an overflow (2 ** 41 minutes does not fit a timedelta)
    assert Backoff().delay(500) == timedelta(minutes=60)


def test_flag_reaches_each_recipient_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    articles = [build_article("a"), build_article("b", source="tuoitre")]
    flag = build_flag(articles, [_A, _B, _A.upper()])
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        assert queue_flag(store, flag, articles, now=T0) == 2
        report = deliver_due(store, _notifier(smtp_server), T0)
        assert len(report.sent) == 2 and not report.retried and not report.failed
        assert deliver_due(store, _notifier(smtp_server), T0 + timedelta(days=1)).sent == []
    arrived = _arrived(smtp_server)
    key_a, key_b = (flag_key(flag.rule, flag.story_id, r) for r in (_A, _B))
    assert sorted(arrived) == sorted([(_A, f"<{key_a}@haidang.local>"), (_B, f"<{key_b}@haidang.local>")])
    content = smtp_server.handler.envelopes[0].content
    assert isinstance(content, bytes)
    email = message_from_bytes(content, policy=policy.default)
    assert str(email["Subject"]).startswith("[Hải Đăng][cao] Nguy cơ tin sai — «Tin đồn vỡ đập ở Quảng Ngãi» — "
                                            "an_ninh_trat_tu")
    plain, html = email.get_body(("plain",)), email.get_body(("html",))
    assert plain is not None and "«Quảng Ngãi»" in plain.get_content()
    assert html is not None and "<mark>Quảng Ngãi</mark>" in html.get_content()


def test_requeueing_the_same_flag_adds_nothing(tmp_path: Path, smtp_server: SmtpServer) -> None:
    articles = [build_article("a")]
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        assert queue_flag(store, build_flag(articles, [_A]), articles, now=T0) == 1
        deliver_due(store, _notifier(smtp_server), T0)
        again = [build_article("copy", source="tuoitre")]     # another outlet of the same story
        assert queue_flag(store, build_flag(again, [_A, _B]), again, now=T0 + timedelta(hours=1)) == 1
        deliver_due(store, _notifier(smtp_server), T0 + timedelta(hours=1))
    assert sorted(r for r, _ in _arrived(smtp_server)) == [_B, _A]


def test_server_down_then_up_delivers_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    articles = [build_article("a")]
    notifier = _notifier(smtp_server)
    smtp_server.stop()
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag(articles, [_A]), articles, now=T0)
        first = deliver_due(store, notifier, T0)
        assert len(first.retried) == 1
        [pending] = store.outbox("pending")
        assert pending.attempts == 1 and "cannot reach" in (pending.last_error or "")
        assert pending.next_attempt_at == T0 + timedelta(minutes=1)
        assert deliver_due(store, notifier, T0 + timedelta(seconds=30)).retried == []   # not due yet
        deliver_due(store, notifier, T0 + timedelta(minutes=1))                       # still down
        assert store.outbox("pending")[0].next_attempt_at == T0 + timedelta(minutes=3)
        smtp_server.start()
        assert len(deliver_due(store, notifier, T0 + timedelta(minutes=3)).sent) == 1
        assert deliver_due(store, notifier, T0 + timedelta(hours=5)).sent == []
        [sent] = store.outbox("sent")
        assert sent.attempts == 3
    assert [r for r, _ in _arrived(smtp_server)] == [_A]


def test_rejected_recipient_fails_visibly_others_delivered(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.reject(_B, "550 5.1.1 No such user")
    articles = [build_article("a")]
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag(articles, [_A, _B]), articles, now=T0)
        report = deliver_due(store, _notifier(smtp_server), T0)
        assert len(report.sent) == 1 and len(report.failed) == 1
        [failed] = store.outbox("failed")
        assert failed.recipient == _B and "550" in (failed.last_error or "")
        assert deliver_due(store, _notifier(smtp_server), T0 + timedelta(days=1)).failed == []
    assert [r for r, _ in _arrived(smtp_server)] == [_A]


def test_4xx_recipient_is_retried_later(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.reject(_A, "451 4.3.0 Mailbox busy, try later")
    articles = [build_article("a")]
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag(articles, [_A]), articles, now=T0)
        assert len(deliver_due(store, _notifier(smtp_server), T0).retried) == 1
        assert "451" in (store.outbox("pending")[0].last_error or "")
        smtp_server.accept(_A)
        assert len(deliver_due(store, _notifier(smtp_server), T0 + timedelta(minutes=1)).sent) == 1
    assert [r for r, _ in _arrived(smtp_server)] == [_A]


def test_killed_between_queueing_and_sending_delivers_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    path = tmp_path / "h.sqlite3"
    articles = [build_article("a")]
    first = SqliteStore(path)
    assert queue_flag(first, build_flag(articles, [_A, _B]), articles, now=T0) == 2
    first.close()                                # the process dies here, before any send

    with SqliteStore(path) as reopened:
        assert queue_flag(reopened, build_flag(articles, [_A, _B]), articles, now=T0) == 0  # rule re-ran
        assert len(deliver_due(reopened, _notifier(smtp_server), T0 + timedelta(minutes=1)).sent) == 2
    with SqliteStore(path) as again:
        assert deliver_due(again, _notifier(smtp_server), T0 + timedelta(hours=1)).sent == []
    assert sorted(r for r, _ in _arrived(smtp_server)) == sorted([_A, _B])


def test_quiet_hours_defer_without_dropping(tmp_path: Path, smtp_server: SmtpServer) -> None:
    articles = [build_article("a")]
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag(articles, [_A]), articles, now=T0, send_after=T0 + timedelta(hours=8))
        assert deliver_due(store, _notifier(smtp_server), T0 + timedelta(hours=7)).sent == []
        assert len(deliver_due(store, _notifier(smtp_server), T0 + timedelta(hours=8)).sent) == 1
