"""SQLite-only: outbox rows written before migration 14 keep what their error's prefix said, in the
handed_over column (tests/alerts/test_smtp_ending.py sends such a row to a real server)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from haidang.store.schema import migrate
from haidang.store.sqlite import SqliteStore

_T0 = "2026-03-02T01:00:00.000000Z"
_PREFIX = "[may have been delivered already] "
# (key, status, last_error) as alerts.outbox wrote them before the column.
_OLD_ROWS = [
    ("once", "pending", _PREFIX + "SMTP server took the whole message but gave no answer: it may have been delivered"),
    ("outage", "pending", _PREFIX + "cannot reach SMTP server 127.0.0.1:25: ConnectionRefusedError"),
    ("stopped", "failed", _PREFIX + "the server took the whole message twice without answering, so it may have "
                                    "arrived twice: not sent again automatically. Last error: timed out"),
    ("given-up", "failed", "not delivered within 72 h (outbox.max_age_hours), 4 attempt(s); last error: "
                           + _PREFIX + "cannot reach SMTP server"),
    ("refused", "failed", "550 5.1.1 no such user"),
    ("fresh", "pending", None),
]


def _old_store(path: Path) -> None:
    """A data folder as schema version 13 left it, with the rows above."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, str(path), target=13)
    for key, status, error in _OLD_ROWS:
        conn.execute("INSERT INTO outbox (key, flag_rule, story_id, recipient, message_id, subject, text, html, status, "
                     "attempts, next_attempt_at, last_error, created_at, pending_since) "
                     "VALUES (?, 'tin_sai', 's1', 'a@example.vn', ?, 'Cờ', 'nội dung', '<p>nội dung</p>', ?, 1, ?, ?, ?, ?)",
                     (key, f"<{key}@haidang.local>", status, _T0, error, _T0, _T0))
    conn.close()


def test_migration_14_moves_the_prefix_into_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_store(path)
    with SqliteStore(path) as store:
        rows = {m.key: m for m in store.outbox()}
    assert {k: m.handed_over for k, m in rows.items()} == {
        "once": 1, "outage": 1, "stopped": 2, "given-up": 1, "refused": 0, "fresh": 0}
    assert not any(_PREFIX.strip() in (m.last_error or "") for m in rows.values())
    assert rows["outage"].last_error == "cannot reach SMTP server 127.0.0.1:25: ConnectionRefusedError"
    assert rows["given-up"].last_error == ("not delivered within 72 h (outbox.max_age_hours), 4 attempt(s); "
                                           "last error: cannot reach SMTP server")
    assert rows["refused"].last_error == "550 5.1.1 no such user" and rows["fresh"].last_error is None
    assert rows["stopped"].text == "nội dung" and rows["stopped"].attempts == 1
