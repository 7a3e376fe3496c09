"""`haidang serve`: the scheduled service against the fixture sites and a real SMTP server.

A flag reaches the server once; SIGTERM stops the service cleanly (exit 0) and a restart sends
nothing twice; the job store persists; missed runs coalesce into one; a second service on the
same data folder is refused. Waits are conditions with deadlines, never fixed sleeps.
"""

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from ruamel.yaml import YAML
from typer.testing import CliRunner

from crawlers.events import CrawlFailure, FetchedDoc, SourceFinished
from haidang.cli import app
from haidang.service import JOBS_FILE, LOG_FILE, Service, ServiceLockedError, _Interruptible, scheduled_jobs
from haidang.settings import Settings, load_settings
from haidang.store import open_store
from haidang.store.base import OutboxMessage

RUMOUR_SOURCE = "forum-nguoiquang"      # its rumour thread raises the "khẩn" flag (no quiet hours)
RUMOUR_RULE = "tin-sai-su-that-rui-ro-cao"


@dataclass
class _Handler:
    envelopes: list[tuple[float, Envelope]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append((time.time(), envelope))
        return "250 accepted"

    def message_ids(self) -> list[str]:
        ids = []
        for _, env in self.envelopes:
            for line in env.content.decode("utf-8", "replace").splitlines():
                if line.lower().startswith("message-id:"):
                    ids.append(f"{line.split(':', 1)[1].strip()} {','.join(env.rcpt_tos)}")
        return ids


@pytest.fixture
def smtp() -> Iterator[tuple[_Handler, int]]:
    """aiosmtpd cannot bind port 0 (aio-libs/aiosmtpd#388): take a free port, retry on collision."""
    for _ in range(5):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        handler = _Handler()
        controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)  # as most servers
        try:
            controller.start()
        except (OSError, RuntimeError):
            continue
        try:
            yield handler, port
        finally:
            controller.stop()
        return
    pytest.fail("no free port for the SMTP server")


def _configure(config: Path, port: int, sources: tuple[str, ...] = (RUMOUR_SOURCE,)) -> Settings:
    """The demo config with only `sources` enabled and mail going to the test's SMTP server."""
    yaml = YAML()
    path = config / "sources.yaml"
    doc = yaml.load(path.read_text(encoding="utf-8"))
    doc["sources"] = [s for s in doc["sources"] if s["id"] in sources]
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    with (config / "haidang.yaml").open("a", encoding="utf-8") as f:
        f.write(f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  sender: haidang@example.gov.vn\n"
                f"  timeout_s: 5\n")
    return load_settings(config, environ={})


def _wait(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def _job_lines(data: Path, job: str | None = None) -> list[dict[str, Any]]:
    path = data / LOG_FILE
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e for e in lines if job is None or e["job"] == job]


def _next_runs(settings: Settings) -> dict[str, datetime | None]:
    store = open_store(settings.app.store)
    try:
        return {j.id: j.next_run for j in scheduled_jobs(settings, store)}
    finally:
        store.close()


def test_service_delivers_a_flag_once_in_seconds(demo_config: Path, smtp: tuple[_Handler, int]) -> None:
    handler, port = smtp
    settings = _configure(demo_config, port)
    service = Service(settings)
    service.start()
    try:
        assert service.job_ids() == sorted([f"source:{RUMOUR_SOURCE}", "watch", "digest", "outbox", "escalate",
                                            "recheck", "reports"])
        [run] = _wait(lambda: _job_lines(settings.data_dir, f"source:{RUMOUR_SOURCE}"), what="the source job")
        assert run["ok"] and run["stored"] >= 1 and run["flagged"] >= 1 and run["mail_sent"] >= 1
        urgent = [(t, e) for t, e in handler.envelopes if "cong-an-tinh@example.gov.vn" in e.rcpt_tos]
        assert urgent, "the khẩn flag reaches the police"
        # Latency, article fetched -> accepted by the server (figure for the report, not an assertion).
        store = open_store(settings.app.store)
        try:
            first_seen = min(a.content.first_seen for a in store.iter_articles() if a.content.first_seen)
            assert {m.flag_rule for m in store.outbox("sent")} >= {RUMOUR_RULE}
        finally:
            store.close()
        print(f"\nfetch-to-accept latency: {urgent[0][0] - first_seen.timestamp():.2f} s")

        # The same source polled again (as the next interval would): nothing new, nothing resent.
        before = len(handler.envelopes)
        again = service.run_source(RUMOUR_SOURCE)
        assert again["new"] == 0 and again["mail_sent"] == 0
        assert len(handler.envelopes) == before
        assert len(set(handler.message_ids())) == len(handler.message_ids())
    finally:
        service.stop()
    assert service.job_ids() == []


def test_a_second_service_on_the_same_data_folder_is_refused(demo_config: Path, smtp: tuple[_Handler, int]) -> None:
    settings = _configure(demo_config, smtp[1], sources=())
    first = Service(settings)
    first.start()
    try:
        with pytest.raises(ServiceLockedError, match="already running"):
            Service(settings).start()
    finally:
        first.stop()
    second = Service(settings)           # the lock goes with the service that held it
    second.start()
    second.stop()


def test_missed_runs_coalesce_into_one(demo_config: Path, smtp: tuple[_Handler, int]) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = _configure(demo_config, smtp[1])
    job = f"source:{RUMOUR_SOURCE}"
    service = Service(settings)
    service.start()
    _wait(lambda: _job_lines(settings.data_dir, job), what="the first poll")
    service.stop()

    # Five poll intervals of downtime: the persisted next run lies five hours in the past.
    # Edited through the job store alone: a started scheduler would run the job itself.
    jobstore = SQLAlchemyJobStore(url=f"sqlite:///{settings.data_dir / JOBS_FILE}")
    jobstore.start(BackgroundScheduler(timezone=UTC), "default")
    persisted = jobstore.lookup_job(job)
    persisted._modify(next_run_time=datetime.now(UTC) - timedelta(hours=5))
    jobstore.update_job(persisted)
    jobstore.shutdown()
    assert _next_runs(settings)[job] < datetime.now(UTC) - timedelta(hours=4)

    service = Service(settings)
    service.start()
    try:
        _wait(lambda: len(_job_lines(settings.data_dir, job)) >= 2, what="the missed poll")
        _wait(lambda: _next_runs(settings)[job] > datetime.now(UTC), what="the next poll to be scheduled")
    finally:
        service.stop()
    assert len(_job_lines(settings.data_dir, job)) == 2, "five missed polls ran once"
    assert _next_runs(settings)[job] > datetime.now(UTC) + timedelta(minutes=50)


def test_digest_and_watch_jobs_queue_and_send_once(demo_config: Path, smtp: tuple[_Handler, int]) -> None:
    handler, port = smtp
    settings = _configure(demo_config, port, sources=(RUMOUR_SOURCE, "tuoitre"))
    service = Service(settings)                         # the job bodies, called directly (not started)
    morning = datetime(2026, 3, 12, 0, 5, tzinfo=UTC)   # 07:05 in Asia/Ho_Chi_Minh
    first = service.run_digest(morning)
    assert first == {"day": "2026-03-12", "queued": 1, "mail_sent": 1, "mail_retried": 0, "mail_failed": 0}
    assert handler.envelopes[-1][1].rcpt_tos == ["so-ttt@example.gov.vn"]
    assert service.run_digest(morning + timedelta(hours=1))["queued"] == 0, "one digest per day"

    assert service.run_watch(morning)["flagged"] == 0           # silence: the grace period starts now
    later = service.run_watch(morning + timedelta(days=3))      # nothing stored: both sources silent
    assert later["flagged"] == 2 and later["rules"] == ["nguon-ngung-cap-nhat"]
    assert later["queued"] == 0                                 # digest-only rule: nothing emailed
    assert service.run_watch(morning + timedelta(days=3, minutes=5))["flagged"] == 0
    assert len(handler.envelopes) == 1


def test_stopping_ends_the_crawl_between_documents() -> None:
    stopping = threading.Event()
    now = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)
    docs = [FetchedDoc(source_id="a", url=f"http://x/{i}", final_url=f"http://x/{i}", status=200, headers={},
                       body=b"", fetched_at=now) for i in range(3)]
    closed: list[bool] = []

    def events() -> Iterator[Any]:
        try:
            yield from docs
            yield SourceFinished(source_id="a")
        finally:
            closed.append(True)

    wrapped = _Interruptible(events(), ["a"], stopping)
    seen = []
    for event in wrapped:
        seen.append(event)
        stopping.set()                     # SIGTERM while the first document is in hand
    assert seen[0] is docs[0]
    assert isinstance(seen[1], CrawlFailure) and seen[1].error_class == "Interrupted" and seen[1].transient
    assert isinstance(seen[2], SourceFinished) and len(seen) == 3
    assert wrapped.interrupted and closed == [True]


def test_status_lists_failed_and_pending_mail(demo_config: Path) -> None:
    settings = load_settings(demo_config, environ={})
    store = open_store(settings.app.store)
    try:
        for key in ("k-failed", "k-pending"):
            store.enqueue(OutboxMessage(key=key, flag_rule="tin-sai-su-that-rui-ro-cao", story_id="s1",
                                        recipient="cong-an-tinh@example.gov.vn", message_id=f"<{key}@haidang.local>",
                                        subject="Tiêu đề", text="nội dung", html="<p>nội dung</p>",
                                        created_at=datetime(2026, 3, 12, 3, 0, tzinfo=UTC)))
        store.mark_failed("k-failed", "550 5.1.1 mailbox unavailable")
        store.set_alert_state("job:outbox", {"job": "outbox", "at": "2026-03-12T03:00:00+00:00", "ok": True,
                                             "mail_sent": 2})
    finally:
        store.close()
    result = CliRunner().invoke(app, ["status", "--config", str(demo_config)])
    assert result.exit_code == 0, result.output
    assert "1 pending, 1 failed for good" in result.output
    assert "550 5.1.1 mailbox unavailable" in result.output and "cong-an-tinh@example.gov.vn" in result.output


def _serve(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "haidang", "serve", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"haidang serve did not stop on SIGTERM:\n{stderr}")
    return proc.returncode, stderr


@pytest.mark.slow
def test_serve_command_stops_on_sigterm_and_restarts_without_resending(demo_config: Path,
                                                                        smtp: tuple[_Handler, int]) -> None:
    handler, port = smtp
    settings = _configure(demo_config, port)
    job = f"source:{RUMOUR_SOURCE}"
    proc = _serve(demo_config)
    try:
        _wait(lambda: _job_lines(settings.data_dir, job) or proc.poll() is not None, what="the first poll")
        assert proc.poll() is None, proc.communicate()[1]
        # A second `haidang serve` on the same data folder refuses instead of sending twice.
        second = subprocess.run([sys.executable, "-m", "haidang", "serve", "--config", str(demo_config)],
                                check=False, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3 and "already running" in second.stderr    # cli.EXIT_LOCKED
    finally:
        code, stderr = _stop(proc)
    assert code == 0, stderr
    assert "stopped cleanly" in stderr and "Traceback" not in stderr and "ERROR" not in stderr
    sent = handler.message_ids()
    assert sent and any("cong-an-tinh@example.gov.vn" in m for m in sent)
    persisted = _next_runs(settings)
    assert set(persisted) == {job, "watch", "digest", "outbox", "escalate", "recheck", "reports"}

    proc = _serve(demo_config)
    try:
        _wait(lambda: len(_job_lines(settings.data_dir, "catch-up")) >= 2 or proc.poll() is not None,
              what="the restart's catch-up")
        assert proc.poll() is None, proc.communicate()[1]
        assert _next_runs(settings)[job] == persisted[job], "the source keeps its persisted schedule"
    finally:
        code, stderr = _stop(proc)
    assert code == 0 and "Traceback" not in stderr, stderr
    assert _job_lines(settings.data_dir, "catch-up")[-1]["queued"] == 0
    assert handler.message_ids() == sent, "nothing is sent twice after a restart"


@pytest.mark.slow
def test_sigterm_mid_crawl_stops_between_articles_and_the_restart_resumes(demo_config: Path,
                                                                         smtp: tuple[_Handler, int]) -> None:
    import sqlite3

    from haidang.store import SQLITE_FILE_NAME

    handler, port = smtp
    settings = _configure(demo_config, port, sources=(RUMOUR_SOURCE, "tuoitre", "vnexpress", "baoquangngai"))
    ids = [f"source:{s.id}" for s in settings.sources]

    def last_runs() -> dict[str, dict[str, Any]]:
        return {e["job"]: e for e in _job_lines(settings.data_dir) if e["job"] in ids}

    proc = _serve(demo_config)
    try:
        _wait(lambda: last_runs() or proc.poll() is not None, what="a first source job")
    finally:
        code, stderr = _stop(proc)           # the other sources are crawling or waiting for a worker
    assert code == 0 and "Traceback" not in stderr, stderr
    cut_short = sorted(j for j, e in last_runs().items() if e.get("interrupted"))
    print(f"\ncut short by SIGTERM: {cut_short}")

    proc = _serve(demo_config)
    try:
        _wait(lambda: len(last_runs()) == len(ids) and not any(e.get("interrupted") for e in last_runs().values()),
              timeout=120, what=f"the restart to finish the sources cut short ({cut_short})")
    finally:
        code, stderr = _stop(proc)
    assert code == 0 and "Traceback" not in stderr, stderr
    with sqlite3.connect(settings.data_dir / SQLITE_FILE_NAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT canonical_url, count(*) FROM articles GROUP BY canonical_url").fetchall()
    assert rows and all(n == 1 for _, n in rows)
    assert len(set(handler.message_ids())) == len(handler.message_ids()), "no message sent twice"


@pytest.mark.slow
def test_serve_mails_a_flag_whose_action_link_opens_in_its_web_app(demo_config: Path,
                                                                   smtp: tuple[_Handler, int]) -> None:
    """The whole chain in one process tree: poll → flag email with signed links → the page behind a link."""
    import email
    import re
    import urllib.request
    from email.policy import default

    handler, port = smtp
    _configure(demo_config, port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        web_port = sock.getsockname()[1]
    with (demo_config / "haidang.yaml").open("a", encoding="utf-8") as f:
        f.write(f"web:\n  port: {web_port}\n  base_url: http://127.0.0.1:{web_port}\n")
    proc = subprocess.Popen([sys.executable, "-m", "haidang", "serve", "--config", str(demo_config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "HAIDANG_LINK_SECRET": "s" * 40})
    try:
        _wait(lambda: handler.envelopes or proc.poll() is not None, what="the flag email")
        assert proc.poll() is None, proc.communicate()[1]
        message = email.message_from_bytes(handler.envelopes[0][1].content, policy=default)
        text = message.get_body(("plain",)).get_content()
        links = re.findall(rf"http://127\.0\.0\.1:{web_port}/\S+", text)
        assert links, text
        with urllib.request.urlopen(links[0], timeout=10) as response:
            page = response.read().decode("utf-8")
            assert response.status == 200
        assert "<form" in page and "csrf" in page.lower()
    finally:
        code, stderr = _stop(proc)
    assert code == 0, stderr
    assert "web app on" in stderr and "stopped cleanly" in stderr and "Traceback" not in stderr


def test_jobs_for_escalation_rechecks_reports_and_retention_run_and_log(demo_config: Path,
                                                                        smtp: tuple[_Handler, int]) -> None:
    _, port = smtp
    _configure(demo_config, port)
    text = (demo_config / "haidang.yaml").read_text(encoding="utf-8")
    (demo_config / "haidang.yaml").write_text(text.replace("store:\n", "store:\n  retention_text_days: 365\n", 1),
                                              encoding="utf-8")
    settings = load_settings(demo_config, environ={})
    service = Service(settings)
    now = datetime(2026, 6, 13, 1, 0, tzinfo=UTC)            # 3 days before the 15/6 deadline (local 08:00)
    assert service.run_escalate(now) == {"reminded": 0, "escalated": 0, "mail_sent": 0, "mail_retried": 0,
                                         "mail_failed": 0}
    assert service.run_recheck(now) == {"checked": 0}
    assert service.run_retention(now) == {"bodies_dropped": 0}
    reports = service.run_reports(now)
    assert reports["queued"] >= 1 and reports["mail_sent"] == reports["queued"]
    assert service.run_reports(now)["queued"] == 0                    # once per deadline
    assert {"retention", "escalate", "recheck", "reports"} <= set(service._wanted_jobs())
