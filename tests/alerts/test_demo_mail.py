"""`haidang demo --smtp`: the demo's flags and digest reach a real SMTP server, once each."""

from __future__ import annotations

import email
from email.message import Message
from email.policy import default
from pathlib import Path

import pytest
from rich.console import Console

from haidang.demo import run_demo
from haidang.settings import load_settings
from haidang.store import open_store
from haidang.store.base import OutboxMessage


def _parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=default)


def _demo(tmp_path: Path, data: Path, smtp: str | None = None, name: str = "out") -> tuple[str, list[OutboxMessage], int]:
    """Run the demo; what it printed, its outbox afterwards, and how many articles it holds."""
    out = Console(file=(tmp_path / f"{name}.txt").open("w"), width=200)
    run_demo(out, Console(stderr=True, quiet=True), data_dir=data, smtp=smtp)
    out.file.close()
    printed = (tmp_path / f"{name}.txt").read_text(encoding="utf-8")
    settings_dir = next(Path(p) for p in printed.split() if p.endswith("/config"))
    store = open_store(load_settings(settings_dir, environ={}).app.store)
    try:
        return printed, store.outbox(), store.count()
    finally:
        store.close()


@pytest.mark.slow
def test_demo_sends_its_flags_and_digest_over_smtp(tmp_path: Path, smtp_server):
    data = tmp_path / "data"
    printed, messages, _ = _demo(tmp_path, data, f"127.0.0.1:{smtp_server.port}")

    arrived = [_parse(e.content) for e in smtp_server.handler.envelopes]
    ids = [m["Message-ID"] for m in arrived]
    assert len(ids) == len(set(ids)), "a message arrived twice"
    digests = [m for m in arrived if "Bản tin" in m["Subject"]]
    assert len(digests) == 1, [m["Subject"] for m in arrived]
    assert any("Cờ" in m["Subject"] or "[" in m["Subject"] for m in arrived if m not in digests)

    # What the outbox says was sent is exactly what arrived; quiet hours may hold some flags back
    # (depending on the hour the test runs), and those wait in the outbox, never lost.
    sent = {m.message_id for m in messages if m.status == "sent"}
    assert {i.strip("<>") for i in ids} == {i.strip("<>") for i in sent}
    assert {m.status for m in messages} <= {"sent", "pending"}
    assert not (data / "outbox-eml").exists()
    html = next(data.glob("digest-*.html")).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert f"{len(sent)} message(s) sent to the SMTP server 127.0.0.1:{smtp_server.port}" in printed
    assert "to be retried" not in printed and "could not be sent" not in printed


@pytest.mark.slow
def test_demo_with_a_dead_smtp_server_says_what_waits_and_why(tmp_path: Path):
    """Messages left untried after the server kept refusing used to be reported as held by quiet hours.

    Run as at 10:00 in Vietnam: at night (22:00-06:00) quiet hours hold every flag but the "khẩn"
    ones, the only ones tried, so no message would be left due and untried for the test to see."""
    import socket
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    import time_machine

    with socket.socket() as probe:          # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    morning = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(hour=10, minute=0, second=0, microsecond=0)
    with time_machine.travel(morning - timedelta(days=1) if morning > datetime.now(UTC) else morning, tick=True):
        printed, messages, _ = _demo(tmp_path, tmp_path / "data", f"127.0.0.1:{port}")
        now = datetime.now(UTC)
    assert messages and {m.status for m in messages} == {"pending"}, "nothing is lost or given up"
    assert "0 message(s) sent to the SMTP server" in printed and "to be retried" in printed
    untried = [m for m in messages if not m.attempts]
    held = [m for m in untried if m.next_attempt_at and m.next_attempt_at > now]
    waiting = len(untried) - len(held)
    assert waiting > 0 and f"{waiting} message(s) not tried yet" in printed
    assert ("held by quiet hours" in printed) == bool(held)


@pytest.mark.slow
def test_a_second_demo_on_the_same_data_folder_stores_and_sends_nothing_again(tmp_path: Path):
    """Articles are keyed by URL, and the fixture sites' URLs hold their port: the demo reuses the
    folder's last port, so a re-run finds every article already stored (it used to store them all again
    and send their flags a second time)."""
    data = tmp_path / "data"
    _, first, stored = _demo(tmp_path, data, name="first")
    written = sorted(p.name for p in (data / "outbox-eml").glob("*.eml"))
    _, second, stored_again = _demo(tmp_path, data, name="second")
    assert stored_again == stored > 0 and [m.key for m in second] == [m.key for m in first]
    # At night quiet hours hold some flags (pending, not written): none is written a second time.
    assert sorted(p.name for p in (data / "outbox-eml").glob("*.eml")) == written
    assert len(written) == sum(m.status == "sent" for m in second) > 0
