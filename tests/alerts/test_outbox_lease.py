"""Two processes delivering one outbox at once (as `haidang run` beside `serve`): each message
reaches the real SMTP server exactly once, because only the process that claims it sends it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

from alerts_testkit import T0, SmtpServer

from alerts.outbox import DeliveryPolicy, deliver_due, message_id_for
from alerts.smtp import SmtpNotifier
from haidang.store.base import OutboxMessage
from haidang.store.schema import migrate
from haidang.store.sqlite import SqliteStore

_MESSAGES = 40
_DEADLINE_S = 60

# Each child opens the store, says it is ready, waits for the go file (so both start delivering at
# the same moment), delivers everything due at T0 and prints its report. Variable parts come from argv.
_CHILD = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from haidang.store.sqlite import SqliteStore

db, port, now, ready, go, name = sys.argv[1:7]
store = SqliteStore(db)
notifier = SmtpNotifier("127.0.0.1", int(port), "none", sender="haidang@example.vn", timeout_s=10)
Path(ready).touch()
deadline = time.monotonic() + 30
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.01)
report = deliver_due(store, notifier, datetime.fromisoformat(now), owner=name)
store.close()
print(json.dumps({"sent": report.sent, "skipped": report.skipped, "retried": report.retried,
                  "failed": report.failed}))
"""


def _msg(i: int) -> OutboxMessage:
    key = f"k{i:03d}"
    return OutboxMessage(key=key, flag_rule="tin_sai_cao", story_id=f"story-{i}", recipient=f"r{i}@example.vn",
                         message_id=message_id_for(key), subject=f"Cờ {i}", text="nội dung", html="<p>nội dung</p>",
                         created_at=T0)


def _wait_for(paths: list[Path], procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + _DEADLINE_S
    while not all(p.exists() for p in paths):
        assert all(p.poll() is None for p in procs), "a delivering process died before it was ready"
        assert time.monotonic() < deadline, "the delivering processes did not get ready in time"
        time.sleep(0.01)


def test_two_processes_deliver_each_message_exactly_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    db = tmp_path / "h.sqlite3"
    with SqliteStore(db) as store:
        for i in range(_MESSAGES):
            store.enqueue(_msg(i))
    go = tmp_path / "go"
    names = ["host-a:1", "host-b:2"]
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(db), str(smtp_server.port), T0.isoformat(),
                               str(tmp_path / f"ready-{n}"), str(go), name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n, name in enumerate(names)]
    try:
        _wait_for([tmp_path / f"ready-{n}" for n in range(len(names))], procs)
        go.touch()
        outputs = [p.communicate(timeout=_DEADLINE_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outputs]
    reports = [json.loads(o.strip().splitlines()[-1]) for o, _ in outputs]
    sent = [set(r["sent"]) for r in reports]
    keys = {f"k{i:03d}" for i in range(_MESSAGES)}
    assert sent[0] | sent[1] == keys and not sent[0] & sent[1]
    assert all(not r["retried"] and not r["failed"] for r in reports)
    # what the server received: every Message-ID once, to its own recipient
    arrived = []
    for envelope in smtp_server.handler.envelopes:
        assert isinstance(envelope.content, bytes)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        arrived.append((str(mail["Message-ID"]), tuple(envelope.rcpt_tos)))
    assert sorted(arrived) == sorted((message_id_for(f"k{i:03d}"), (f"r{i}@example.vn",)) for i in range(_MESSAGES))
    with SqliteStore(db) as store:
        rows = store.outbox()
        assert {m.status for m in rows} == {"sent"} and {m.attempts for m in rows} == {1}
        assert all(m.lease_owner is None and m.lease_until is None for m in rows)


def test_a_crashed_owners_lease_expires_and_the_message_is_sent_once(tmp_path: Path,
                                                                    smtp_server: SmtpServer) -> None:
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=5)
    lease = DeliveryPolicy(lease=timedelta(minutes=5))
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        store.enqueue(_msg(1))
        # a process claimed it and died before sending: nobody else sends it while the lease holds
        assert store.claim("k001", "crashed:99", T0 + lease.lease, now=T0)
        held = deliver_due(store, notifier, T0 + timedelta(minutes=1), policy=lease)
        assert held.sent == [] and smtp_server.handler.envelopes == []
        # after the lease, the next pass sends it, once
        after = T0 + lease.lease + timedelta(seconds=1)
        assert deliver_due(store, notifier, after, policy=lease).sent == ["k001"]
        assert deliver_due(store, notifier, after + timedelta(hours=1), policy=lease).sent == []
    assert len(smtp_server.handler.envelopes) == 1


def test_an_outbox_queued_before_the_lease_migration_is_delivered_after_it(tmp_path: Path,
                                                                          smtp_server: SmtpServer) -> None:
    """A data folder from before migration 0009: its pending row gets pending_since = created_at."""
    path = tmp_path / "h.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=8)
    conn.execute("INSERT INTO outbox VALUES ('k001', 'tin_sai_cao', 'story-1', 'r1@example.vn', '<k001@haidang.local>', "
                 "'Cờ', 'nội dung', '<p>nội dung</p>', 'pending', 0, '2026-03-12T03:00:00.000000Z', NULL, "
                 "'2026-03-12T03:00:00.000000Z', NULL)")
    conn.close()
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=5)
    with SqliteStore(path) as store:
        [row] = store.outbox()
        assert row.pending_since == row.created_at == T0 and row.lease_owner is None and row.failed_at is None
        assert deliver_due(store, notifier, T0).sent == ["k001"]
    assert len(smtp_server.handler.envelopes) == 1


class _SlowNotifier:
    """Takes `seconds` per message; during each send, a second deliverer tries to take it."""

    def __init__(self, store: SqliteStore, seconds: float) -> None:
        self.store, self.seconds, self.began = store, seconds, time.monotonic()
        self.sent: list[str] = []
        self.stolen: list[str] = []

    def send(self, msg: OutboxMessage) -> None:
        time.sleep(self.seconds)
        at = T0 + timedelta(seconds=time.monotonic() - self.began)
        if self.store.claim(msg.key, "other-process", at + timedelta(minutes=5), now=at):
            self.stolen.append(msg.key)
        self.sent.append(msg.key)


def test_each_lease_runs_from_its_own_claim_not_from_the_start_of_a_slow_pass(tmp_path: Path) -> None:
    """Four 0.4 s sends under a 1 s lease: a pass that timed every lease from its start would let
    another process claim (and send again) the third and fourth while they are being sent."""
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        for i in range(4):
            store.enqueue(_msg(i))
        notifier = _SlowNotifier(store, 0.4)
        report = deliver_due(store, notifier, T0, policy=DeliveryPolicy(lease=timedelta(seconds=1)))
        assert len(report.sent) == 4 and notifier.stolen == []


def test_a_pass_stops_when_the_server_cannot_be_reached(tmp_path: Path) -> None:
    """A dead server: three tries, then the rest wait for the next pass, unclaimed, no attempt counted."""
    from alerts_testkit import free_port

    notifier = SmtpNotifier("127.0.0.1", free_port(), "none", sender="haidang@example.vn", timeout_s=2)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        for i in range(10):
            store.enqueue(_msg(i))
        report = deliver_due(store, notifier, T0)
        assert len(report.retried) == 3 and not report.sent and not report.failed
        attempts = sorted(m.attempts for m in store.outbox("pending"))
        assert attempts == [0] * 7 + [1] * 3
