"""The data folder's crawl lock: a second `haidang run` (or a run beside `haidang serve`) says who
holds the folder in one line and exits 3 without fetching anything; a lock left by a killed run is
taken over at once; commands that do not crawl are never blocked.

Two real processes on a real data folder. The first run's crawl is held open by a gate: a feed on
127.0.0.1 that answers only when the test lets it, so nothing here depends on timing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haidang.cli import EXIT_LOCKED, app
from haidang.service import LOCK_FILE, CrawlLock
from haidang.settings import load_settings

EMPTY_FEED = (b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Gate</title>'
              b"<link>http://127.0.0.1/</link><description>gate</description></channel></rss>")


class _Gate:
    """A feed that holds each request until `open()` (or a minute): the run fetching it stays mid-crawl."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.feed_requests = 0
        self.requested = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/feed.rss":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                gate.feed_requests += 1
                gate.requested.set()
                gate.opened.wait(60)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(EMPTY_FEED)))
                self.end_headers()
                self.wfile.write(EMPTY_FEED)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def open(self) -> None:
        self.opened.set()


@pytest.fixture()
def gate() -> Iterator[_Gate]:
    g = _Gate()
    thread = threading.Thread(target=g.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield g
    finally:
        g.open()
        g.server.shutdown()
        g.server.server_close()


@pytest.fixture()
def config(demo_config: Path, gate: _Gate) -> Path:
    """The demo config (fixture sites) plus a `gated` source, with a download timeout above the gate's wait."""
    sources = demo_config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8") + (
        "  - id: gated\n    name: Gated feed\n    country: VN\n    language: vi\n    kind: national_press\n"
        f"    local: true\n    follow_links: false\n    feeds: ['{gate.url}/feed.rss']\n"), encoding="utf-8")
    app_file = demo_config / "haidang.yaml"
    app_file.write_text(app_file.read_text(encoding="utf-8").replace("download_timeout_s: 15", "download_timeout_s: 90"),
                        encoding="utf-8")
    return demo_config


def _start_run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "haidang", "run", "--config", str(config), "--source", "gated"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "COLUMNS": "1000"})


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haidang", "run", "--config", str(config), "--source", "gated"],
                          check=False, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "80"})


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _crawling(proc: subprocess.Popen[str], gate: _Gate) -> None:
    """Wait until `proc` is mid-crawl (its feed request reached the gate): it holds the lock by then."""
    _wait(lambda: gate.requested.is_set() or proc.poll() is not None, "the first run to reach the gated feed")
    assert proc.poll() is None, proc.communicate()


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)          # the run and its crawl child
    proc.communicate(timeout=30)


def test_a_second_run_is_refused_in_one_line_while_the_first_crawls(config: Path, gate: _Gate) -> None:
    data = load_settings(config, environ={}).data_dir
    first = _start_run(config)
    try:
        _crawling(first, gate)
        holder = json.loads((data / LOCK_FILE).read_text(encoding="utf-8"))
        assert holder["command"] == "run" and holder["pid"] == first.pid and holder["host"] == socket.gethostname()

        second = _run(config)
        assert second.returncode == EXIT_LOCKED == 3, second.stderr
        [line] = second.stderr.strip().splitlines()       # one line, even on an 80-column terminal
        assert f"another `haidang run` (pid {first.pid} on {socket.gethostname()}, since " in line
        assert "already running" in line and str(data) in line and "Traceback" not in second.stderr
        assert gate.feed_requests == 1, "the refused run fetched nothing"

        # Commands that do not crawl go on while the folder is held.
        runner = CliRunner()
        status = runner.invoke(app, ["status", "--config", str(config)])
        assert status.exit_code == 0, status.output
        search = runner.invoke(app, ["search", "--config", str(config), "ly son", "--json"])
        assert search.exit_code == 0, search.output
        analyzed = runner.invoke(app, ["analyze", "-", "--config", str(config)],
                                 input=json.dumps({"text": "Tỉnh Quảng Ngãi khai mạc lễ hội."}, ensure_ascii=False))
        assert analyzed.exit_code == 0, analyzed.output
        assert json.loads(analyzed.stdout.splitlines()[0])["relevant"] is True

        gate.open()
        _, stderr = first.communicate(timeout=120)
        assert first.returncode == 0, stderr
    finally:
        gate.open()
        _kill(first)
    with CrawlLock(data, "test"):                           # the lock went with the run that held it
        pass


def test_the_lock_of_a_killed_run_is_taken_over_at_once(config: Path, gate: _Gate) -> None:
    data = load_settings(config, environ={}).data_dir
    first = _start_run(config)
    try:
        _crawling(first, gate)
    finally:
        _kill(first)                                        # SIGKILL: no chance to release anything
    assert json.loads((data / LOCK_FILE).read_text(encoding="utf-8"))["pid"] == first.pid   # its record stays
    gate.open()
    started = time.monotonic()
    again = _run(config)
    assert again.returncode == 0, again.stderr
    assert "already running" not in again.stderr
    assert time.monotonic() - started < 60
    assert json.loads((data / LOCK_FILE).read_text(encoding="utf-8"))["pid"] != first.pid


def test_run_is_refused_while_serve_holds_the_folder(config: Path, gate: _Gate) -> None:
    settings = load_settings(config, environ={})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with CrawlLock(settings.data_dir, "serve", settings.app.timezone):   # as Service.start takes it
        result = CliRunner().invoke(app, ["run", "--config", str(config), "--source", "gated"])
    assert result.exit_code == EXIT_LOCKED, result.output
    assert f"another `haidang serve` (pid {os.getpid()}" in result.output
    assert gate.feed_requests == 0


@pytest.mark.slow
def test_demo_is_not_blocked_by_a_held_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with CrawlLock(data, "serve"):
        done = subprocess.run([sys.executable, "-m", "haidang", "demo", "--data", str(data)], check=False,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "already running" not in done.stderr
