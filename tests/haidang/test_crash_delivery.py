"""`haidang run` killed (SIGKILL) in the middle of an SMTP exchange, then run again: the message it
was sending goes out on that next run, once, instead of waiting for the dead process's lease to
lapse; every flag reaches the real SMTP server exactly once and the outbox ends with nothing pending."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from ruamel.yaml import YAML

from haidang.settings import load_settings
from haidang.store import open_store

RUMOUR_SOURCE = "forum-nguoiquang"      # its rumour thread raises a "khẩn" flag (no quiet hours)


@dataclass
class _Handler:
    """Accepts every message, except while `holding`: then DATA hangs (a server stalling mid-send)
    and, once let go, answers 451 without keeping the message."""

    holding: bool = True
    held: int = 0
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.holding:
            self.held += 1
            while self.holding:
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"
        self.envelopes.append(envelope)
        return "250 accepted"

    def message_ids(self) -> list[str]:
        return [line.split(":", 1)[1].strip() for env in self.envelopes
                for line in env.content.decode("utf-8", "replace").splitlines()
                if line.lower().startswith("message-id:")]


@pytest.fixture
def smtp() -> Iterator[tuple[_Handler, int]]:
    """aiosmtpd cannot bind port 0 (aio-libs/aiosmtpd#388): take a free port, retry on collision."""
    for _ in range(5):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        handler = _Handler()
        controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
        try:
            controller.start()
        except (OSError, RuntimeError):
            continue
        try:
            yield handler, port
        finally:
            handler.holding = False
            controller.stop()
        return
    pytest.fail("no free port for the SMTP server")


def _configure(config: Path, port: int) -> None:
    yaml = YAML()
    path = config / "sources.yaml"
    doc = yaml.load(path.read_text(encoding="utf-8"))
    doc["sources"] = [s for s in doc["sources"] if s["id"] == RUMOUR_SOURCE]
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    with (config / "haidang.yaml").open("a", encoding="utf-8") as f:
        f.write(f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  sender: haidang@example.gov.vn\n"
                f"  timeout_s: 60\n")


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _run(config: Path, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "haidang", "run", "--config", str(config)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kwargs)


@pytest.mark.slow
def test_a_run_killed_mid_send_delivers_that_message_on_the_next_run_once(
        demo_config: Path, smtp: tuple[_Handler, int]) -> None:
    handler, port = smtp
    _configure(demo_config, port)
    first = _run(demo_config)
    try:
        _wait(lambda: handler.held or first.poll() is not None, 120, "the first run to start sending")
        assert handler.held, f"the first run ended before sending: {first.communicate()[1][-2000:]}"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)     # the run and its crawl child, mid-SMTP exchange
        first.communicate()
    handler.holding = False

    second = _run(demo_config)
    _, err = second.communicate(timeout=180)
    assert second.returncode == 0, err[-3000:]
    assert "is gone; sending it now" in err          # the operator is told what happened

    settings = load_settings(demo_config, environ={})
    store = open_store(settings.app.store)
    try:
        messages = store.outbox()
    finally:
        store.close()
    assert messages, "the rumour thread raised no flag"
    assert [m for m in messages if m.status != "sent"] == []
    ids = handler.message_ids()
    assert sorted(ids) == sorted(m.message_id for m in messages)     # each flag exactly once
