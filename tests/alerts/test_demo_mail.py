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


def _parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=default)


@pytest.mark.slow
def test_demo_sends_its_flags_and_digest_over_smtp(tmp_path: Path, smtp_server):
    data = tmp_path / "data"
    out = Console(file=(tmp_path / "out.txt").open("w"), width=200)
    run_demo(out, Console(stderr=True, quiet=True), data_dir=data, smtp=f"127.0.0.1:{smtp_server.port}")
    out.file.close()
    printed = (tmp_path / "out.txt").read_text(encoding="utf-8")

    arrived = [_parse(e.content) for e in smtp_server.handler.envelopes]
    ids = [m["Message-ID"] for m in arrived]
    assert len(ids) == len(set(ids)), "a message arrived twice"
    digests = [m for m in arrived if "Bản tin" in m["Subject"]]
    assert len(digests) == 1, [m["Subject"] for m in arrived]
    assert any("Cờ" in m["Subject"] or "[" in m["Subject"] for m in arrived if m not in digests)

    # What the outbox says was sent is exactly what arrived; quiet hours may hold some flags back
    # (depending on the hour the test runs), and those wait in the outbox, never lost.
    settings_dir = next(Path(p) for p in printed.split() if p.endswith("/config"))
    store = open_store(load_settings(settings_dir, environ={}).app.store)
    try:
        messages = store.outbox()
    finally:
        store.close()
    sent = {m.message_id for m in messages if m.status == "sent"}
    assert {i.strip("<>") for i in ids} == {i.strip("<>") for i in sent}
    assert {m.status for m in messages} <= {"sent", "pending"}
    assert not (data / "outbox-eml").exists()
    html = next(data.glob("digest-*.html")).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert f"{len(sent)} message(s) sent to the SMTP server 127.0.0.1:{smtp_server.port}" in printed
    assert "to be retried" not in printed and "could not be sent" not in printed
