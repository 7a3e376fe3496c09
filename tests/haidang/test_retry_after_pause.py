"""A Retry-After is remembered across runs: real `haidang run` processes, one after another, against
the fixture server on 127.0.0.1 and one SQLite file.

The fixture sites all live on one host and port, so the pause one source's 429 puts on that host
holds back every source there, as it would for several sources on one outlet's server
(crawlers.pauses says why pauses are per host).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haidang.settings import load_settings
from haidang.sites import FixtureServer
from haidang.store import open_store

WAIT_S = 20          # the outlet's Retry-After: longer than a run here takes, to see one run inside it
FEED = "/faults/status-429"


def haidang(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "haidang", *args, "-c", str(config)], check=False,
                          capture_output=True, text=True, timeout=180)


def configure(config: Path, base: str, query: str) -> None:
    """Download timeout 2 s, so a Retry-After of WAIT_S is too long to wait for within the run; and
    a source whose feed answers 429 with the Retry-After `query` asks for."""
    app = config / "haidang.yaml"
    app.write_text(app.read_text(encoding="utf-8").replace("download_timeout_s: 15", "download_timeout_s: 2"),
                   encoding="utf-8")
    sources = config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8") + (
        "  - id: ban-tin\n    name: Bản tin (429)\n    country: VN\n    language: vi\n    kind: national_press\n"
        f"    local: true\n    feeds: ['{base}{FEED}?{query}']\n"), encoding="utf-8")


def skipped_cell(output: str, source_id: str) -> str:
    """The "skipped" cell of a source's row in the run summary, its wrapped lines joined."""
    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("┃ source "))
    column = [c.strip() for c in header.split("┃")].index("skipped")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"│ {source_id} "))
    parts = [lines[start].split("│")[column].strip()]
    for line in lines[start + 1:]:
        cells = line.split("│")
        if len(cells) <= column or cells[1].strip():       # the table's end, or the next source's row
            break
        parts.append(cells[column].strip())
    return " ".join(p for p in parts if p)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_second_run_skips_the_paused_host_and_a_run_after_the_time_asks_again(
        demo_config: Path, fixture_server: FixtureServer, form: str) -> None:
    named = time.time() + WAIT_S                 # the time an HTTP-date Retry-After names (whole seconds)
    query = f"after={WAIT_S}" if form == "seconds" else f"until={named:.0f}"
    configure(demo_config, fixture_server.base_url, query)
    settings = load_settings(demo_config, environ={})
    both = ("run", "-s", "ban-tin", "-s", "baoquangngai")

    asked = len(fixture_server.requests_for(FEED))
    first = haidang(demo_config, *both)
    assert first.returncode == 0, first.stdout + first.stderr     # baoquangngai was read
    assert len(fixture_server.requests_for(FEED)) == asked + 1
    assert "(Retry-After), so not retried in this run" in first.stdout
    assert "is paused for" in first.stdout and "the next runs skip it until then" in first.stdout
    store = open_store(settings.app.store)
    try:
        (pause,) = store.host_pauses(datetime.now(UTC))
    finally:
        store.close()
    assert pause.host == fixture_server.base_url.removeprefix("http://") and pause.status == 429
    if form == "seconds":
        assert pause.until - pause.at == timedelta(seconds=WAIT_S) and pause.asked_s == WAIT_S
    else:
        assert abs(pause.until.timestamp() - round(named)) <= 1.0

    seen = len(fixture_server.requests)
    second = haidang(demo_config, *both)
    assert datetime.now(UTC) < pause.until, "the second run ended after the pause: this machine is too slow for it"
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(fixture_server.requests) == seen            # not the feed, not robots.txt, nothing on that host
    for sid in ("ban-tin", "baoquangngai"):
        cell = skipped_cell(second.stdout, sid)
        assert cell.startswith("paused until ") and cell.endswith("(Retry-After from the outlet)"), cell
    status = haidang(demo_config, "status")
    assert status.returncode == 0, status.stderr
    assert "ban-tin: paused until " in status.stdout and "(Retry-After from the outlet)" in status.stdout
    assert "answered HTTP 429" in status.stdout

    time.sleep(max(0.0, (pause.until - datetime.now(UTC)).total_seconds()) + 0.5)
    # Once the time has passed, each is asked again. One at a time: ban-tin's feed still answers 429,
    # which pauses the host at once for the rest of that run, other sources included.
    feed_before = len(fixture_server.requests_for("/baoquangngai/rss/home.rss"))
    third = haidang(demo_config, "run", "-s", "baoquangngai")
    assert third.returncode == 0, third.stdout + third.stderr
    assert len(fixture_server.requests_for("/baoquangngai/rss/home.rss")) == feed_before + 1
    assert "paused until" not in skipped_cell(third.stdout, "baoquangngai")
    fourth = haidang(demo_config, "run", "-s", "ban-tin")      # its one source unread: a failing exit
    assert len(fixture_server.requests_for(FEED)) >= asked + 2, fourth.stdout + fourth.stderr


def test_a_poll_of_the_service_skips_a_source_whose_host_asked_to_wait(demo_config: Path,
                                                                       fixture_server: FixtureServer) -> None:
    """`haidang serve` polls a source through Service.run_source, which reads the pause from the store
    at every poll: a restarted service knows it as well as the one that got the answer."""
    from haidang.service import Service
    from haidang.store.base import HostPause

    settings = load_settings(demo_config, environ={})
    now = datetime.now(UTC)
    host = fixture_server.base_url.removeprefix("http://")
    store = open_store(settings.app.store)
    try:
        store.set_host_pause(HostPause(host=host, until=now + timedelta(minutes=10), source_id="vnexpress",
                                       url=f"{fixture_server.base_url}/vnexpress/rss/tin-moi-nhat.rss", status=503,
                                       asked_s=600.0, at=now))
    finally:
        store.close()
    seen = len(fixture_server.requests)

    result = Service(settings).run_source("baoquangngai")

    assert result["skipped"].startswith("paused until ") and result["skipped"].endswith("(Retry-After from the outlet)")
    assert len(fixture_server.requests) == seen


def test_sources_check_keeps_a_pause_it_receives_and_then_asks_nothing(demo_config: Path,
                                                                         fixture_server: FixtureServer) -> None:
    """`haidang sources check` is a request like any other: a long Retry-After it gets pauses the host
    for the runs, and a paused host is not asked by the next check either."""
    from haidang.service import check_sources

    configure(demo_config, fixture_server.base_url, f"after={WAIT_S}")
    settings = load_settings(demo_config, environ={})
    (source,) = [s for s in settings.sources if s.id == "ban-tin"]

    asked = len(fixture_server.requests_for(FEED))
    (row,) = check_sources(settings, [source])
    assert len(fixture_server.requests_for(FEED)) == asked + 1
    assert row.reachable.startswith("no: paused until ") and row.reachable.endswith("(Retry-After from the outlet)")
    store = open_store(settings.app.store)
    try:
        (pause,) = store.host_pauses(datetime.now(UTC))
    finally:
        store.close()
    assert pause.status == 429 and pause.until - pause.at == timedelta(seconds=WAIT_S)

    seen = len(fixture_server.requests)
    (again,) = check_sources(settings, [source])
    assert datetime.now(UTC) < pause.until, "the check ended after the pause: this machine is too slow for it"
    assert len(fixture_server.requests) == seen                    # nothing on that host, not even robots.txt
    assert again.reachable.startswith("not asked: paused until ") and again.robots == "-"


def test_a_poll_that_reads_nothing_but_failures_is_not_ok(demo_config: Path, fixture_server: FixtureServer) -> None:
    """`haidang status` showed "ok failed 1" for a source whose feed could not be read at all."""
    from haidang.service import Service

    settings = load_settings(demo_config, environ={})
    source = next(s for s in settings.sources if s.id == "baoquangngai")
    dead = source.model_copy(update={"feeds": [f"{fixture_server.base_url}/faults/missing-feed.rss"], "crawl": None})
    settings = settings.model_copy(update={"sources": [dead]})
    result = Service(settings).run_source("baoquangngai")
    assert result["failed"] >= 1 and result["fetched"] == 0 and result["ok"] is False
    good = Service(load_settings(demo_config, environ={})).run_source("baoquangngai")
    assert good["fetched"] >= 1 and good["ok"] is True
