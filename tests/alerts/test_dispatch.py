"""The alert chain inside `haidang run`: rumour on the province → flag emails, once, to the right agencies."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from typer.testing import CliRunner

from haidang.cli import app
from haidang.service import run_once
from haidang.settings import load_settings
from haidang.store import open_store
from haidang.store.query import matches_text, parse_query


def _emails(data: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted((data / "outbox-eml").glob("*.eml"))]


def test_run_flags_the_rumour_once_to_the_police_and_the_lead(demo_config: Path):
    settings = load_settings(demo_config, environ={})
    first = run_once(settings, settings.sources)
    assert first["forum-nguoiquang"].flagged >= 1
    mails = _emails(settings.data_dir)
    rumour = [m for m in mails if "khẩn" in m["Subject"]]
    assert {m["To"] for m in rumour} >= {"cong-an-tinh@example.gov.vn", "so-ttt@example.gov.vn"}
    body = rumour[0].get_body(("plain",)).get_content()
    assert "Dấu hiệu tin đồn, chưa kiểm chứng" in body and "Phản bác" in body
    assert "rumour_cue" not in body and "haidang explain" not in body         # agencies read names, not ids
    assert "Quy tắc: Tin có nguy cơ sai sự thật cao về tỉnh\n" in body and "tin-sai-su-that-rui-ro-cao" not in body
    assert rumour[0].get_body(("html",)) is not None
    # Critical but well-sourced coverage and the police's own debunk raise no risk flag.
    assert not any("bác bỏ" in m["Subject"] for m in rumour)

    again = run_once(settings, settings.sources)
    assert sum(t.flagged for t in again.values()) == 0
    assert len(_emails(settings.data_dir)) == len(mails), "nothing is sent twice"
    store = open_store(settings.app.store)
    try:
        messages = store.outbox()
        assert messages and "failed" not in {m.status for m in messages}
        # What is still pending was deferred past a rule's quiet hours (the test may run at night).
        assert all(m.next_attempt_at is not None and m.next_attempt_at > m.created_at
                   for m in messages if m.status == "pending")
        assert any(m.status == "sent" for m in messages)
    finally:
        store.close()


def test_alerts_test_replays_without_sending(demo_config: Path):
    settings = load_settings(demo_config, environ={})
    run_once(settings, settings.sources)
    before = len(_emails(settings.data_dir))
    result = CliRunner().invoke(app, ["alerts", "test", "tin-sai-su-that-rui-ro-cao", "--since", "3650d",
                                      "-c", str(demo_config)])
    assert result.exit_code == 0, result.output
    assert "cong-an-tinh@example.gov.vn" in result.output
    assert len(_emails(settings.data_dir)) == before
    # The fixture pages are dated years back: a week replays none, and says so rather than an empty table.
    week = CliRunner().invoke(app, ["alerts", "test", "tin-sai-su-that-rui-ro-cao", "-c", str(demo_config)])
    assert week.exit_code == 0 and "cong-an-tinh" not in week.output
    assert "0 of " in week.output and "older ones: --since 2000-01-01" in week.output
    bad = CliRunner().invoke(app, ["alerts", "test", "no-such-rule", "-c", str(demo_config)])
    assert bad.exit_code != 0


def test_rule_queries_use_the_search_language():
    q = parse_query('"Lý Sơn" -"bóng đá" bat OR coc')
    assert matches_text(q, "Tin đồn bắt cóc ở ly son")
    assert not matches_text(q, "Đội bóng đá Lý Sơn bắt đầu mùa giải")


def test_catch_up_flags_an_old_story_stored_lately(demo_config: Path):
    """Killed between storing and queueing: the next run's catch-up must queue the flag, also for
    a story published weeks before it was found (the catch-up goes by first seen, not published)."""
    from datetime import UTC, datetime, timedelta

    from alerts_testkit import build_article

    from alerts.dispatch import AlertDispatcher

    settings = load_settings(demo_config, environ={})
    now = datetime.now(UTC)
    article = build_article("tin-cu", published=now - timedelta(days=30))
    article.content.first_seen = now
    store = open_store(settings.app.store)
    try:
        assert store.upsert(article) == "new"          # stored; the process died before on_stored
        dispatcher = AlertDispatcher(settings, store)
        assert dispatcher.catch_up(store) >= 1
        assert dispatcher.catch_up(store) == 0           # idempotent
        assert {m.story_id for m in store.outbox()} == {article.story_id}
    finally:
        store.close()
