"""A message whose sender was killed mid-send (SIGKILL, OOM) is taken over by the next pass on the
same machine at once, not only when the dead process's lease lapses; a live sender's lease, or one
held on another machine, is still waited out. Real processes, a real SQLite file, real SMTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts_testkit import SmtpServer

from alerts.outbox import DeliveryPolicy, deliver_due, message_id_for
from alerts.smtp import SmtpNotifier
from haidang.store.base import OutboxMessage
from haidang.store.sqlite import SqliteStore

# The sender: claims the message as `deliver_due` would, says so, then hangs as if in the middle
# of an SMTP exchange until it is killed.
_SENDER = """
import sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from alerts.outbox import delivery_owner
from haidang.store.sqlite import SqliteStore

db, key, ready = sys.argv[1:4]
store = SqliteStore(db)
now = datetime.now(UTC)
assert store.claim(key, delivery_owner(), now + timedelta(minutes=5), now=now)
Path(ready).write_text("claimed")
time.sleep(120)
"""

_LEASE = DeliveryPolicy(lease=timedelta(minutes=5))


def _queue(store: SqliteStore, key: str = "k001") -> None:
    store.enqueue(OutboxMessage(key=key, flag_rule="tin-sai", story_id="story-1", recipient="so-ttt@example.vn",
                                message_id=message_id_for(key), subject="Cờ báo", text="nội dung",
                                html="<p>nội dung</p>", created_at=datetime.now(UTC) - timedelta(seconds=1)))


def _start_sender(db: Path, tmp_path: Path, key: str = "k001") -> subprocess.Popen[bytes]:
    ready = tmp_path / f"ready-{key}"
    proc = subprocess.Popen([sys.executable, "-c", _SENDER, str(db), key, str(ready)])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "the sender died before claiming"
        assert time.monotonic() < deadline, "the sender never claimed the message"
        time.sleep(0.05)
    return proc


def _notifier(server: SmtpServer) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", server.port, "none", sender="haidang@example.vn", timeout_s=10)


def _message_ids(server: SmtpServer) -> list[str]:
    return [line.split(":", 1)[1].strip() for env in server.handler.envelopes
            for line in env.content.decode("utf-8", "replace").splitlines() if line.lower().startswith("message-id:")]


def test_a_killed_senders_message_is_sent_by_the_next_pass_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    db = tmp_path / "haidang.sqlite3"
    with SqliteStore(db) as store:
        _queue(store)
        sender = _start_sender(db, tmp_path)
        try:
            # alive and mid-send: nobody else may send it
            alive = deliver_due(store, _notifier(smtp_server), datetime.now(UTC), policy=_LEASE)
            assert alive.skipped == [] and alive.sent == [] and smtp_server.handler.envelopes == []
        finally:
            sender.send_signal(signal.SIGKILL)
            sender.wait()
        # killed: the next pass sends it now, well inside the dead process's five-minute lease
        report = deliver_due(store, _notifier(smtp_server), datetime.now(UTC), policy=_LEASE)
        assert report.sent == ["k001"]
        again = deliver_due(store, _notifier(smtp_server), datetime.now(UTC), policy=_LEASE)
        assert again.sent == [] and again.skipped == []
        [row] = store.outbox()
        assert row.status == "sent" and row.lease_owner is None
    assert _message_ids(smtp_server) == [message_id_for("k001")]


def test_a_killed_sender_not_yet_reaped_is_dead_too(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """A process killed but not yet waited for by its parent (a zombie) sends nothing more."""
    db = tmp_path / "haidang.sqlite3"
    with SqliteStore(db) as store:
        _queue(store)
        sender = _start_sender(db, tmp_path)
        sender.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{sender.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        try:
            report = deliver_due(store, _notifier(smtp_server), datetime.now(UTC), policy=_LEASE)
        finally:
            sender.wait()
        assert report.sent == ["k001"]
    assert _message_ids(smtp_server) == [message_id_for("k001")]


def test_a_lease_held_elsewhere_is_waited_out(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """A holder on another machine (or from before owners said where they run) cannot be checked:
    its lease is waited out, as before."""
    now = datetime.now(UTC)
    with SqliteStore(tmp_path / "haidang.sqlite3") as store:
        for key, owner in (("k001", "otherhost:1:0badc0de@0123456789ab.4026531836"), ("k002", "crashed:99")):
            _queue(store, key)
            assert store.claim(key, owner, now + timedelta(minutes=5), now=now)
        held = deliver_due(store, _notifier(smtp_server), now + timedelta(minutes=1), policy=_LEASE)
        assert held.sent == [] and smtp_server.handler.envelopes == []
        lapsed = deliver_due(store, _notifier(smtp_server), now + timedelta(minutes=6), policy=_LEASE)
        assert sorted(lapsed.sent) == ["k001", "k002"]


def test_two_passes_taking_over_one_dead_senders_message_claim_it_once(tmp_path: Path) -> None:
    """The take-over is still one conditional claim, made as at the end of the dead lease; the new
    lease ends after the old one, so a second pass that saw the same dead holder loses."""
    db = tmp_path / "haidang.sqlite3"
    with SqliteStore(db) as first, SqliteStore(db) as second:
        _queue(first)
        sender = _start_sender(db, tmp_path)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        [stale] = first.outbox("pending")
        assert stale.lease_until is not None
        at = stale.lease_until + timedelta(microseconds=1)
        assert first.claim("k001", "first", stale.lease_until + _LEASE.lease, now=at)
        assert not second.claim("k001", "second", stale.lease_until + _LEASE.lease, now=at)
        [row] = second.outbox("pending")
        assert row.lease_owner == "first"
