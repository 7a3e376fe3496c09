"""Messages that keep failing transiently: given up after outbox.max_age_hours, kept and visible,
and put back by `haidang outbox retry` with the same Message-ID, against a real SMTP server."""

from __future__ import annotations

from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from alerts_testkit import T0, SmtpServer, build_article, build_flag
from typer.testing import CliRunner

from alerts.digest import build_digest
from alerts.flag import flag_key
from alerts.outbox import DeliveryPolicy, deliver_due, message_id_for, queue_flag
from alerts.smtp import SmtpNotifier
from haidang.cli import app
from haidang.demo import write_demo_config
from haidang.settings import Settings, load_settings
from haidang.store import open_store
from haidang.store.base import Store

_A = "so-tttt@example.vn"


def _notifier(server: SmtpServer) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", server.port, "none", sender="haidang@example.vn", timeout_s=5)


def _config(tmp_path: Path, server: SmtpServer, max_age_hours: int = 60) -> Settings:
    """A config folder with the test's SMTP server and a short give-up age."""
    folder = write_demo_config("http://127.0.0.1:9", tmp_path / "config", tmp_path / "data",
                               smtp=f"127.0.0.1:{server.port}")
    with (folder / "haidang.yaml").open("a", encoding="utf-8") as f:
        f.write(f"outbox:\n  max_age_hours: {max_age_hours}\n")
    return load_settings(folder, environ={})


def _queue(store: Store, **kw: object) -> str:
    articles = [build_article("a")]
    queue_flag(store, build_flag(articles, [_A]), articles, now=T0, **kw)  # type: ignore[arg-type]
    return flag_key("tin_sai_cao", "story-1", _A)


def _keep_failing(store: Store, notifier: SmtpNotifier, policy_: DeliveryPolicy, until: timedelta) -> list[str]:
    """Deliver at every due time from T0 up to T0 + `until`, as the service's outbox job would."""
    failed: list[str] = []
    now = T0
    while now <= T0 + until:
        failed += deliver_due(store, notifier, now, policy=policy_).failed
        due = [m.next_attempt_at for m in store.outbox("pending") if m.next_attempt_at]
        if not due:
            break
        now = max(min(due), now + timedelta(seconds=1))
    return failed


def test_a_message_failing_past_max_age_is_marked_failed_and_kept(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _config(tmp_path, smtp_server)
    policy_ = DeliveryPolicy.from_settings(settings.app.outbox)
    assert policy_.max_age == timedelta(hours=60)           # from haidang.yaml, not the 72 h default
    smtp_server.stop()                                      # down for the whole time
    store = open_store(settings.app.store)
    try:
        key = _queue(store)
        assert _keep_failing(store, _notifier(smtp_server), policy_, timedelta(hours=59, minutes=59)) == []
        [pending] = store.outbox("pending")
        assert pending.attempts >= 60                       # backoff 1, 2, 4 … 60 min, then hourly
        assert _keep_failing(store, _notifier(smtp_server), policy_, timedelta(hours=64)) == [key]
        [failed] = store.outbox("failed")
        assert failed.key == key and failed.message_id == message_id_for(key)
        assert failed.failed_at is not None and failed.failed_at >= T0 + timedelta(hours=60)
        assert failed.failed_at <= T0 + timedelta(hours=61)  # the first attempt past the age (hourly at most)
        assert "not delivered within 60 h" in (failed.last_error or "") and "cannot reach" in (failed.last_error or "")
        # the digest after the give-up (14/3 ~22:00) lists it, though it was queued on 12/3, before its
        # window; the one a day later no longer does
        assert [m.recipient for m in build_digest(store, settings, date(2026, 3, 16)).failed] == [_A]
        assert build_digest(store, settings, date(2026, 3, 17)).failed == []
    finally:
        store.close()
    shown = CliRunner().invoke(app, ["status", "-c", str(tmp_path / "config")])
    assert shown.exit_code == 0, shown.output
    assert "1 failed for good" in shown.output and "not delivered within 60 h" in shown.output


def test_quiet_hours_do_not_count_towards_max_age(tmp_path: Path, smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    policy_ = DeliveryPolicy(max_age=timedelta(hours=6))
    store = open_store(_config(tmp_path, smtp_server).app.store)
    try:
        _queue(store, send_after=T0 + timedelta(hours=10))       # deferred past the night
        [row] = store.outbox()
        assert row.pending_since == T0 + timedelta(hours=10)
        report = deliver_due(store, _notifier(smtp_server), T0 + timedelta(hours=10), policy=policy_)
        assert report.retried and not report.failed             # one failure after the deferral: retried
    finally:
        store.close()


def test_outbox_list_and_retry_send_the_same_message_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _config(tmp_path, smtp_server)
    config = str(tmp_path / "config")
    runner = CliRunner()
    smtp_server.reject(_A, "550 5.1.1 no such mailbox")     # refused for good
    store = open_store(settings.app.store)
    try:
        key = _queue(store)
        assert deliver_due(store, _notifier(smtp_server), T0).failed == [key]
    finally:
        store.close()
    listed = runner.invoke(app, ["outbox", "list", "--status", "failed", "-c", config])
    assert listed.exit_code == 0, listed.output
    assert f"{key} failed tin_sai_cao → {_A}" in listed.output and "550" in listed.output
    assert "1 message(s) failed" in listed.output
    assert runner.invoke(app, ["outbox", "list", "--status", "sent", "-c", config]).output.strip() == "0 message(s) sent"

    still = runner.invoke(app, ["outbox", "retry", key, "--send", "-c", config])      # not fixed yet
    assert still.exit_code == 1 and "1 failed" in still.output and "not everything was delivered" in still.output

    smtp_server.accept(_A)                                  # the address was fixed
    retried = runner.invoke(app, ["outbox", "retry", key, "--send", "-c", config])
    assert retried.exit_code == 0, retried.output
    assert "1 message(s) put back to pending" in retried.output and "1 sent" in retried.output
    [envelope] = smtp_server.handler.envelopes
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=policy.default)
    assert str(mail["Message-ID"]) == message_id_for(key) and envelope.rcpt_tos == [_A]
    store = open_store(settings.app.store)
    try:
        [row] = store.outbox()
        assert row.status == "sent" and row.failed_at is None and row.attempts == 3
    finally:
        store.close()
    # a sent message cannot be put back; a second retry sends nothing
    again = runner.invoke(app, ["outbox", "retry", key, "--send", "-c", config])
    assert again.exit_code == 1 and "not failed" in again.output
    assert len(smtp_server.handler.envelopes) == 1


def test_retry_all_failed_puts_every_failed_message_back(tmp_path: Path, smtp_server: SmtpServer) -> None:
    settings = _config(tmp_path, smtp_server)
    config = str(tmp_path / "config")
    others = ["cong-an@example.vn", "ngoai-vu@example.vn"]
    for r in others:
        smtp_server.reject(r, "550 5.7.1 refused")
    store = open_store(settings.app.store)
    try:
        articles = [build_article("a")]
        queue_flag(store, build_flag(articles, [_A, *others]), articles, now=T0)
        report = deliver_due(store, _notifier(smtp_server), T0)
        assert len(report.sent) == 1 and len(report.failed) == 2
    finally:
        store.close()
    for r in others:
        smtp_server.accept(r)
    result = CliRunner().invoke(app, ["outbox", "retry", "--all-failed", "--send", "-c", config])
    assert result.exit_code == 0, result.output
    assert "2 message(s) put back to pending" in result.output and "2 sent" in result.output
    assert sorted(r for e in smtp_server.handler.envelopes for r in e.rcpt_tos) == sorted([_A, *others])


@pytest.mark.parametrize("args, code, says", [
    (["outbox", "retry"], 2, "KEY or --all-failed"),
    (["outbox", "retry", "abc", "--all-failed"], 2, "KEY or --all-failed"),
    (["outbox", "retry", "no-such-key"], 1, "no outbox message with key no-such-key"),
    (["outbox", "list", "--status", "lost"], 2, "pending, sent or failed"),
])
def test_outbox_commands_refuse_bad_arguments(tmp_path: Path, smtp_server: SmtpServer, args: list[str], code: int,
                                              says: str) -> None:
    _config(tmp_path, smtp_server)
    open_store(load_settings(tmp_path / "config", environ={}).app.store).close()   # `outbox retry` creates none
    result = CliRunner().invoke(app, [*args, "-c", str(tmp_path / "config")])
    assert result.exit_code == code and says in " ".join(result.output.split()), result.output


def test_outbox_list_shows_a_message_the_server_may_have_received(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """The count survives a later error that replaces the text, so the list shows it from the field."""
    settings = _config(tmp_path, smtp_server)
    store = open_store(settings.app.store)
    try:
        key = _queue(store)
        store.mark_retry(key, "no answer after the message's end", T0 + timedelta(minutes=5), handed_over=True)
        store.mark_retry(key, "421 4.3.0 try later", T0 + timedelta(minutes=10))
    finally:
        store.close()
    listed = CliRunner().invoke(app, ["outbox", "list", "-c", str(tmp_path / "config")])
    assert listed.exit_code == 0, listed.output
    words = " ".join(listed.output.split())          # the console wraps long lines
    assert f"{key} pending" in words and "handed over 1x without an answer" in words and "421 4.3.0" in words
