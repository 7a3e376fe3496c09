"""The crawl lock against what an operator or a damaged disk does to `<data>/crawl.lock` while a
crawler holds it: the file deleted (as one deletes a stale pid file) or replaced, its text garbage or
hostile. Another real process holds the lock; the refused `haidang run` is a real process too, on a
data folder whose path has spaces, quotes and Vietnamese letters. A refused run always exits 3 in
one line and fetches nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from haidang.cli import EXIT_LOCKED
from haidang.demo import write_demo_config
from haidang.service import LOCK_FILE, CrawlLock
from haidang.sites import FixtureServer

HOLD = ("import sys; from pathlib import Path; from haidang.service import CrawlLock; "
        "lock = CrawlLock(Path(sys.argv[1]), 'serve', 'Asia/Ho_Chi_Minh'); lock.acquire(); "
        "print('held', flush=True); sys.stdin.read()")


@pytest.fixture()
def config(fixture_server: FixtureServer, tmp_path: Path) -> Path:
    return write_demo_config(fixture_server.base_url, tmp_path / "cấu hình", tmp_path / "Dữ liệu 'Hải Đăng'" / "data x")


@pytest.fixture()
def data(config: Path) -> Path:
    from haidang.settings import load_settings
    folder = load_settings(config, environ={}).data_dir
    folder.mkdir(parents=True)
    return folder


@pytest.fixture()
def holder(data: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data folder's crawl lock (as `haidang serve` does) until the test ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.communicate(input="", timeout=30)


def run(config: Path, fixture_server: FixtureServer) -> subprocess.CompletedProcess[str]:
    before = len(fixture_server.requests)
    done = subprocess.run([sys.executable, "-m", "haidang", "run", "--config", str(config), "-s", "vnexpress"],
                          check=False, capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "80"})
    done.fetched = len(fixture_server.requests) - before  # type: ignore[attr-defined]
    return done


def assert_refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == EXIT_LOCKED, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.fetched == 0       # type: ignore[attr-defined]
    [line] = done.stderr.strip().splitlines()
    assert "already running" in line and "\x1b" not in line
    return line


def test_a_held_folder_with_spaces_quotes_and_vietnamese_letters_refuses_a_run(
        config: Path, data: Path, holder: subprocess.Popen[str], fixture_server: FixtureServer) -> None:
    line = assert_refused(run(config, fixture_server))
    assert f"another `haidang serve` (pid {holder.pid} on " in line and str(data) in line


@pytest.mark.parametrize("text", [
    '{"command": "serve", "pid": 1, "host": "h", "since": "9999-12-31T23:59:59+00:00"}',   # past any clock
    '{"command": "serve", "pid": 1, "host": "h", "since": "0001-01-01T00:00:00-05:00"}',
    '{"command": "serve\\u001b[2J", "pid": "1", "host": "evil\\nsecond line", "since": "2026-01-01T00:00:00"}',
    '{"since": 5}', "[1, 2]", "null", "\ufeff\x00\xff garbage",
])
def test_garbage_in_the_lock_file_still_refuses_in_one_line(
        config: Path, data: Path, holder: subprocess.Popen[str], fixture_server: FixtureServer, text: str) -> None:
    with open(data / LOCK_FILE, "r+", encoding="utf-8") as lock_file:      # the same file, its text replaced
        lock_file.truncate(0)
        lock_file.write(text)
    assert_refused(run(config, fixture_server))


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_lock_file_deleted_or_replaced_while_held_still_refuses(
        config: Path, data: Path, holder: subprocess.Popen[str], fixture_server: FixtureServer, how: str) -> None:
    lock_file = data / LOCK_FILE
    if how == "deleted":          # an operator "cleaning a stale lock file" while the service runs
        lock_file.unlink()
    else:                         # restored from a backup, or rewritten by an editor (a new inode)
        (data / "restored").write_text(lock_file.read_text(encoding="utf-8"), encoding="utf-8")
        os.replace(data / "restored", lock_file)
    line = assert_refused(run(config, fixture_server))
    assert "another `haidang" in line


def test_the_lock_is_free_again_when_its_holder_ends(config: Path, data: Path, fixture_server: FixtureServer) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    (data / LOCK_FILE).unlink()
    proc.kill()
    proc.communicate(timeout=30)
    with CrawlLock(data, "run"):
        assert (data / LOCK_FILE).exists()
