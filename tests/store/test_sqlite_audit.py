"""SQLite-only: the audit and action tables refuse UPDATE and DELETE, and claims survive migration 6."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from haidang.store.base import AuditEntry, ResponseAction
from haidang.store.schema import migrate
from haidang.store.sqlite import SqliteStore

_AT = datetime(2025, 7, 1, tzinfo=UTC)


def test_audit_and_action_rows_cannot_be_changed(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with SqliteStore(path) as store:
        store.append_audit(AuditEntry(at=_AT, actor="a", kind="login", target="-", detail={}))
        store.record_action(ResponseAction(flag_key="f", story_id="s", article_id="a", rule="r",
                                           action="phan_bac", actor="x@example.vn", at=_AT))
    conn = sqlite3.connect(path)
    try:
        for sql in ("UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log",
                    "UPDATE response_actions SET note = 'x'", "DELETE FROM response_actions"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


def test_claims_and_keys_survive_migration_6(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, str(path), target=5)
    conn.execute("INSERT INTO known_claims VALUES ('c1', 'tin', NULL, NULL, 'confirmed', "
                 "'2025-07-01T00:00:00.000000Z', '[1, 2]')")
    conn.execute("INSERT INTO claim_keys VALUES ('k1', 'c1')")
    conn.close()
    with SqliteStore(path) as store:
        assert [c.id for c in store.claim_candidates(["k1"])] == ["c1"]
        store.dismiss_claim("c1")
        assert [c.status for c in store.known_claims(None)] == ["dismissed"]
