"""The start-up catch-up (rules re-run over the last 48 hours) survives one article whose rules
fail: the others' flags are queued and `haidang run` goes on to crawl. Before, one stored article
with a malformed label stopped every run (and `haidang serve` from starting) for 48 hours."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerts_testkit import build_article

from alerts.dispatch import AlertDispatcher
from haidang.record import Article
from haidang.service import run_once
from haidang.settings import load_settings
from haidang.store import open_store


def _malformed(now: datetime) -> Article:
    """Stored with a risk score that is not a number (an older release, an import, a hand edit)."""
    bad = build_article("nhan-sai", published=now - timedelta(days=1), labels={
        "topics": [{"id": "an_ninh_trat_tu", "score": 0.8, "evidence": ["vỡ đập"]}],
        "risk": {"score": "không rõ", "level": "cao", "reasons": []}})
    bad.story_id = "story-bad"
    bad.content.first_seen = now
    return bad


def test_catch_up_queues_the_good_flags_and_logs_the_bad_article(demo_config: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(demo_config, environ={})
    now = datetime.now(UTC)
    good = build_article("tin-tot", published=now - timedelta(days=1))
    good.content.first_seen = now
    bad = _malformed(now)
    store = open_store(settings.app.store)
    try:
        assert store.upsert(bad) == "new" and store.upsert(good) == "new"
        with caplog.at_level(logging.WARNING, logger="alerts.dispatch"):
            queued = AlertDispatcher(settings, store).catch_up(store)
        assert queued >= 1
        assert {m.story_id for m in store.outbox()} == {good.story_id}
    finally:
        store.close()
    assert any("catch-up" in r.getMessage() and bad.id in r.getMessage() for r in caplog.records)


def test_a_run_after_a_malformed_article_still_crawls_and_flags(demo_config: Path) -> None:
    settings = load_settings(demo_config, environ={})
    store = open_store(settings.app.store)
    try:
        store.upsert(_malformed(datetime.now(UTC)))
    finally:
        store.close()
    tallies = run_once(settings, settings.sources)
    assert sum(t.new for t in tallies.values()) > 0
    assert sum(t.flagged for t in tallies.values()) > 0
