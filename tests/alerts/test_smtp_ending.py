"""How an SMTP exchange ends, against a real aiosmtpd server: a message the server accepted is sent,
whatever it answers to QUIT; a connection dropped after the whole message and before the server's
answer is the ambiguous case (RFC 1047): kept and sent once more with the same Message-ID, said so,
and never a third time; a slow answer is waited for, not taken for silence."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from alerts_testkit import T0, RecordingHandler, SmtpServer, free_port

from alerts.digest import failure_words
from alerts.outbox import deliver_due, message_id_for
from alerts.smtp import SmtpNotifier
from haidang.errors import DeliveryUncertain, ServerUnavailable
from haidang.store.base import OutboxMessage
from haidang.store.schema import migrate
from haidang.store.sqlite import SqliteStore


@dataclass
class _Handler(RecordingHandler):
    """Records accepted messages like RecordingHandler; `quit_reply` answers QUIT, and `drop`
    ("rcpt" or "data") hangs up without a reply at that step ("data": after keeping the message)."""

    quit_reply: str = "221 Bye"
    drop: str = ""
    answer_after_s: float = 0.0         # seconds the answer to the message's end takes (a content scan)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.drop == "rcpt":
            assert server.transport is not None
            server.transport.abort()
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.answer_after_s)
        if self.drop == "data":
            assert server.transport is not None
            server.transport.abort()            # kept, but the client never hears "250"
        return reply

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.quit_reply


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    """aiosmtpd 1.4 cannot bind port 0 (aio-libs/aiosmtpd#388): a free port, retried on collision."""
    for _ in range(5):
        smtp = SmtpServer(_Handler(), free_port())
        try:
            smtp.start()
        except (OSError, RuntimeError):
            continue
        try:
            yield smtp
        finally:
            smtp.stop()
        return
    pytest.fail("no free port for the SMTP server")


def _handler(server: SmtpServer) -> _Handler:
    assert isinstance(server.handler, _Handler)
    return server.handler


def _msg(key: str = "k1") -> OutboxMessage:
    return OutboxMessage(key=key, flag_rule="tin-sai", story_id="s1", recipient="so-ttt@example.vn",
                         message_id=message_id_for(key), subject="[Hải Đăng] Cờ báo", text="nội dung",
                         html="<p>nội dung</p>", created_at=T0)


def _notifier(server: SmtpServer, **timeouts: float) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", server.port, "none", sender="haidang@example.vn",
                        **({"timeout_s": 5} | timeouts))


def _message_ids(server: SmtpServer) -> list[str]:
    return [line.split(":", 1)[1].strip() for env in server.handler.envelopes
            for line in env.content.decode("utf-8", "replace").splitlines() if line.lower().startswith("message-id:")]


@pytest.mark.parametrize("quit_reply", ["500 5.5.1 unrecognised command", "421 4.3.2 closing", "250 OK"])
def test_an_accepted_message_is_sent_once_whatever_the_server_answers_to_quit(
        server: SmtpServer, tmp_path, quit_reply: str) -> None:
    """A 5xx to QUIT marked a delivered message failed; a 4xx had it sent again."""
    _handler(server).quit_reply = quit_reply
    with SqliteStore(tmp_path / "haidang.sqlite3") as store:
        store.enqueue(_msg())
        report = deliver_due(store, _notifier(server), T0)
        assert report.sent == ["k1"] and report.failed == [] and report.retried == []
        assert deliver_due(store, _notifier(server), T0 + timedelta(hours=2)).sent == []
        [row] = store.outbox()
        assert row.status == "sent" and row.last_error is None and row.handed_over == 0
    assert _message_ids(server) == [message_id_for("k1")]


def test_a_connection_dropped_after_the_whole_message_is_kept_and_said_to_be_ambiguous(
        server: SmtpServer, tmp_path) -> None:
    handler = _handler(server)
    handler.drop = "data"
    with pytest.raises(ServerUnavailable, match="may have been delivered") as caught:
        _notifier(server).send(_msg())
    assert message_id_for("k1") in str(caught.value) and "twice" in str(caught.value)

    with SqliteStore(tmp_path / "haidang.sqlite3") as store:
        store.enqueue(_msg("k2"))
        report = deliver_due(store, _notifier(server), T0)
        assert report.retried == ["k2"] and report.failed == []         # not lost
        [row] = store.outbox()
        assert row.status == "pending" and row.handed_over == 1
        assert "may have been delivered" in (row.last_error or "")     # the notifier's own words
        handler.drop = ""
        later = T0 + timedelta(minutes=2)
        assert deliver_due(store, _notifier(server), later).sent == ["k2"]
    # The documented duplicate: the server kept both copies, with one Message-ID.
    assert _message_ids(server) == [message_id_for("k1"), message_id_for("k2"), message_id_for("k2")]


def test_a_connection_dropped_before_the_message_was_sent_is_no_ambiguity(server: SmtpServer) -> None:
    _handler(server).drop = "rcpt"
    with pytest.raises(ServerUnavailable) as caught:
        _notifier(server).send(_msg())
    assert "cannot reach SMTP server" in str(caught.value)
    assert "may have been delivered" not in str(caught.value)
    assert server.handler.envelopes == []


def test_a_server_that_keeps_dropping_after_the_message_gets_it_twice_at_most(server: SmtpServer, tmp_path) -> None:
    """Each silence after the message may be a delivery: resent once, then stopped and said so."""
    handler = _handler(server)
    handler.drop = "data"
    with SqliteStore(tmp_path / "haidang.sqlite3") as store:
        store.enqueue(_msg())
        assert deliver_due(store, _notifier(server), T0).retried == ["k1"]
        handler.drop = "rcpt"                       # an outage in between changes nothing
        assert deliver_due(store, _notifier(server), T0 + timedelta(minutes=2)).retried == ["k1"]
        [row] = store.outbox()
        # The outage's error replaced the text; the handover is still counted.
        assert row.handed_over == 1 and (row.last_error or "").startswith("cannot reach")
        handler.drop = "data"
        assert deliver_due(store, _notifier(server), T0 + timedelta(minutes=10)).failed == ["k1"]
        for hours in (1, 24, 100):
            assert deliver_due(store, _notifier(server), T0 + timedelta(hours=hours)).sent == []
        [row] = store.outbox()
        assert row.status == "failed" and row.handed_over == 2 and "may have arrived twice" in (row.last_error or "")
        assert "haidang outbox retry k1" in (row.last_error or "")
        words = failure_words(row)          # the digest's line: the team is asked to check, in Vietnamese
        assert words.startswith("có thể đã đến nơi") and "haidang outbox retry k1" in words
        assert "[may have been delivered already]" not in words and "may have arrived twice" in words
        assert _message_ids(server) == [message_id_for("k1")] * 2

        # A person asked, and it had not come: put back, it goes once more; the count stays.
        handler.drop = ""
        assert store.requeue_failed("k1", T0 + timedelta(hours=101))
        assert store.outbox()[0].handed_over == 2
        assert deliver_due(store, _notifier(server), T0 + timedelta(hours=101)).sent == ["k1"]
    assert _message_ids(server) == [message_id_for("k1")] * 3


def test_a_message_put_back_after_a_refusal_is_not_handed_over_a_third_time(server: SmtpServer, tmp_path) -> None:
    """The handover is remembered whatever error comes after it: once it was only kept while every
    later error carried it, so a refusal (5xx) and `outbox retry` let the server take it twice more."""
    handler = _handler(server)
    handler.drop = "data"
    with SqliteStore(tmp_path / "haidang.sqlite3") as store:
        store.enqueue(_msg())
        assert deliver_due(store, _notifier(server), T0).retried == ["k1"]
        handler.drop, handler.replies = "", {"so-ttt@example.vn": "550 5.1.1 no such user"}
        assert deliver_due(store, _notifier(server), T0 + timedelta(minutes=2)).failed == ["k1"]
        [row] = store.outbox()
        assert row.handed_over == 1 and "550" in failure_words(row)       # a refusal reads as the server's words
        assert not failure_words(row).startswith("có thể đã đến nơi")
        store.requeue_failed("k1", T0 + timedelta(hours=1))
        handler.drop, handler.replies = "data", {}
        assert deliver_due(store, _notifier(server), T0 + timedelta(hours=1)).failed == ["k1"]
        [row] = store.outbox()
        assert row.status == "failed" and row.handed_over == 2 and failure_words(row).startswith("có thể đã đến nơi")
    assert _message_ids(server) == [message_id_for("k1")] * 2


def test_a_slow_answer_to_the_message_is_waited_for_not_taken_for_silence(server: SmtpServer, tmp_path) -> None:
    """A server scanning the message answers after the per-command timeout: sent once, no copy."""
    _handler(server).answer_after_s = 1.5
    with pytest.raises(DeliveryUncertain):                     # what a single timeout made of it
        _notifier(server, timeout_s=0.5, reply_timeout_s=0.5).send(_msg("k0"))
    with SqliteStore(tmp_path / "haidang.sqlite3") as store:
        store.enqueue(_msg())
        report = deliver_due(store, _notifier(server, timeout_s=0.5, reply_timeout_s=10), T0)
        assert report.sent == ["k1"] and report.retried == []
    assert _message_ids(server) == [message_id_for("k0"), message_id_for("k1")]


def test_a_row_the_old_prefix_marked_is_handed_over_once_more_at_most(server: SmtpServer, tmp_path) -> None:
    """A data folder from before schema 14: the pending row's error began with the prefix that then
    said "handed over once"; migrated, one more silence stops it, as before."""
    path = tmp_path / "haidang.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=13)
    conn.execute("INSERT INTO outbox (key, flag_rule, story_id, recipient, message_id, subject, text, html, status, "
                 "attempts, next_attempt_at, last_error, created_at, pending_since) VALUES ('k1', 'tin-sai', 's1', "
                 "'so-ttt@example.vn', ?, 'Cờ báo', 'nội dung', '<p>nội dung</p>', 'pending', 2, "
                 "'2026-03-02T01:00:00.000000Z', '[may have been delivered already] cannot reach SMTP server', "
                 "'2026-03-02T01:00:00.000000Z', '2026-03-02T01:00:00.000000Z')", (message_id_for("k1"),))
    conn.close()
    _handler(server).drop = "data"
    with SqliteStore(path) as store:
        assert store.outbox()[0].handed_over == 1
        assert deliver_due(store, _notifier(server), T0 + timedelta(minutes=5)).failed == ["k1"]
        [row] = store.outbox()
        assert row.handed_over == 2 and failure_words(row).startswith("có thể đã đến nơi")
    assert _message_ids(server) == [message_id_for("k1")]
