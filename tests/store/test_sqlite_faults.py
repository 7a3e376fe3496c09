"""The SQLite store when the system refuses to write: a full disk, a file size limit, a read-only
database or data folder. Each error says what to fix (not "another process holds it", not "no
transaction is active"), and what was stored before is all there once the cause is gone.

Real files and real refusals: a small tmpfs in a private mount namespace (needs root and
`unshare`, skipped otherwise), RLIMIT_FSIZE (anywhere), and permission bits enforced by
dropping root's override with `setpriv` (or as an ordinary user).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from haidang.errors import PermanentStoreError
from haidang.store.sqlite import SqliteStore

# Opens the store at argv[1] (unless argv[2] says "count") and stores articles argv[3]... until one
# fails; prints one JSON line: what was stored and the error's class and message.
_WRITER = """
import json, resource, signal, sys
from datetime import UTC, datetime
from haidang.errors import HaidangError
from haidang.record import Article, Content, Fetched, article_id
from haidang.store.sqlite import SqliteStore

db, mode, first, last, fsize = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if fsize:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
stored, error = [], None
try:
    store = SqliteStore(db)
    if mode == "count":
        stored = [a.fetched.url for a in store.iter_articles()]
    for i in range(first, last):
        url = f"https://baoquangngai.example.vn/tin-{i}.html"
        store.upsert(Article(id=article_id(url), fetched=Fetched(source_id="qn", url=url, canonical_url=url),
                             content=Content(title=f"Tin {i} ở Quảng Ngãi", text=f"Nội dung số {i}. " * 400,
                                             first_seen=datetime(2026, 3, 1, tzinfo=UTC), language="vi")))
        stored.append(url)
except HaidangError as exc:
    error = [type(exc).__name__, str(exc)]
print(json.dumps({"stored": stored, "error": error}))
"""


def _write(db: Path, first: int, last: int, *, fsize: int = 0, mode: str = "write",
           prefix: tuple[str, ...] = ()) -> dict[str, object]:
    done = subprocess.run([*prefix, sys.executable, "-c", _WRITER, str(db), mode, str(first), str(last), str(fsize)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _urls(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {u for (u,) in conn.execute("SELECT url FROM articles")}


def _without_override() -> tuple[str, ...]:
    """A command prefix under which permission bits hold: none for an ordinary user; for root, drop
    CAP_DAC_OVERRIDE with setpriv (skip when that cannot be done here)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permission bits cannot be enforced")
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    if subprocess.run([*prefix, "true"], check=False, capture_output=True).returncode != 0:
        pytest.skip("setpriv cannot drop CAP_DAC_OVERRIDE here")
    return prefix


def test_a_file_size_limit_mid_run_is_named_and_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "haidang.sqlite3"
    before = _write(db, 0, 5)
    assert before["error"] is None
    limited = _write(db, 5, 200, fsize=db.stat().st_size + 256 * 1024)     # per file: the WAL hits it
    assert limited["error"] is not None, "the limit never bit"
    _, message = limited["error"]  # type: ignore[misc]
    assert "no transaction is active" not in message and "another process" not in message
    assert "file size limit" in message and str(db) in message
    # the limit gone, everything stored before (and during) is there and the store goes on
    assert _urls(db) >= set(before["stored"]) | set(limited["stored"])  # type: ignore[arg-type]
    assert _write(db, 200, 201)["error"] is None


def test_a_new_store_that_cannot_be_written_says_why_not_that_no_transaction_is_active(tmp_path: Path) -> None:
    """A migration the system stopped half-way is rolled back by SQLite itself; a second ROLLBACK
    used to hide the cause behind "cannot rollback - no transaction is active"."""
    db = tmp_path / "haidang.sqlite3"
    result = _write(db, 0, 1, fsize=100_000)
    assert result["error"] is not None
    kind, message = result["error"]  # type: ignore[misc]
    assert kind == "PermanentStoreError" and "no transaction is active" not in message
    assert "file size limit" in message
    assert _write(db, 0, 3)["error"] is None          # nothing half-made blocks the next start
    assert len(_urls(db)) == 3


def test_a_full_disk_says_so_and_keeps_what_was_stored(tmp_path: Path) -> None:
    if (os.geteuid() != 0 or shutil.which("unshare") is None
            or subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True).returncode != 0):
        pytest.skip("a small tmpfs needs root and unshare(1) (a private mount namespace)")
    data = tmp_path / "data"
    data.mkdir()
    db = data / "haidang.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER, encoding="utf-8")
    py = sys.executable
    # One mount namespace: fill a 1 MiB disk, then give it room and count what is there.
    shell = (f"mount -t tmpfs -o size=1m tmpfs {data} || exit 77; "
             f"{py} {script} {db} write 0 500 0; "
             f"mount -o remount,size=64m {data} && {py} {script} {db} count 500 501 0")
    done = subprocess.run(["unshare", "-m", "sh", "-c", shell], check=False, capture_output=True, text=True, timeout=180)
    if done.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    full, after = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert full["error"] is not None, "1 MiB never filled up"
    kind, message = full["error"]
    assert kind == "TransientStoreError" and "disk holding the data folder is full" in message
    assert "another process" not in message
    assert full["stored"], "nothing was stored before the disk filled up"
    assert set(full["stored"]) <= set(after["stored"])      # everything stored before is still there
    assert after["error"] is None and len(after["stored"]) == len(full["stored"]) + 1


@pytest.mark.parametrize("locked", ["file", "folder"])
def test_a_read_only_database_or_data_folder_is_named(tmp_path: Path, locked: str) -> None:
    prefix = _without_override()
    data = tmp_path / "data"
    db = data / "haidang.sqlite3"
    assert _write(db, 0, 2)["error"] is None
    target = db if locked == "file" else data
    mode = target.stat().st_mode
    target.chmod(0o444 if locked == "file" else 0o555)
    try:
        result = _write(db, 2, 4, prefix=prefix)
    finally:
        target.chmod(mode)
    assert result["error"] is not None
    kind, message = result["error"]  # type: ignore[misc]
    assert kind == "PermanentStoreError"
    assert f"{target} is not writable" in message and "HAIDANG_HOME" in message
    assert len(_urls(db)) == 2
    assert _write(db, 2, 4)["error"] is None            # writable again: it goes on


def test_a_data_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    prefix = _without_override()
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    try:
        result = _write(parent / "data" / "haidang.sqlite3", 0, 1, prefix=prefix)
    finally:
        parent.chmod(0o755)
    assert result["error"] is not None
    kind, message = result["error"]  # type: ignore[misc]
    assert kind == "PermanentStoreError" and f"cannot create the data folder {parent / 'data'}" in message


def test_sqlite_store_reports_the_cannot_create_error_as_a_store_error_in_process(tmp_path: Path) -> None:
    """The same check without a child: a data folder path through an existing file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(PermanentStoreError, match="cannot create the data folder"):
        SqliteStore(blocker / "data" / "haidang.sqlite3")
