"""Versioned SQLite schema: applies the numbered migrations/NNNN_*.sql files in order.

The version lives in `PRAGMA user_version`. Each migration runs in its own transaction together
with the version bump, so a crash leaves the database at the previous version, never half-way.
A database written by newer code is refused rather than misread.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from importlib import resources

from haidang.errors import PermanentStoreError
from haidang.store.fts import register_functions

__all__ = ["latest_version", "migrate", "migrations"]

_log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every shipped migration, in order; versions must be 1, 2, 3..."""
    found = []
    for entry in resources.files("haidang.store").joinpath("migrations").iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise PermanentStoreError(f"migration {name} is out of sequence: expected number {expected:04d}")
    return found


def latest_version() -> int:
    return len(migrations())


def _statements(sql: str) -> list[str]:
    """Split a script into statements; sqlite3.complete_statement knows about triggers and strings.

    We cannot use executescript: it commits any open transaction first, and a migration must
    share one transaction with its version bump.
    """
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buf.splitlines()):
        raise PermanentStoreError(f"migration ends with an incomplete statement: {buf.strip()[:80]!r}")
    return out


def migrate(conn: sqlite3.Connection, where: str, target: int | None = None) -> int:
    """Bring the database on `conn` (autocommit mode) to the latest version, or to `target` (a data
    folder as an older release left it: upgrade tests); return the version reached.

    Raise PermanentStoreError when the database is newer than this code.
    """
    available = migrations()
    latest = len(available) if target is None else min(target, len(available))
    register_functions(conn)
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > latest:
        raise PermanentStoreError(
            f"the database {where} has schema version {current}, newer than this Hải Đăng "
            f"(which knows up to {latest}): upgrade Hải Đăng, or restore a backup taken by this version"
        )
    for version, name, sql in available:
        if version <= current or version > latest:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            now = conn.execute("PRAGMA user_version").fetchone()[0]
            if now >= version:
                conn.execute("COMMIT")
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some errors (a full disk): a second ROLLBACK
            # would raise "no transaction is active" and hide the error that says what to fix.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        _log.info("applied migration %s to %s", name, where)
    return latest
