"""Evidence at flag time: `haidang run` keeps the flagged page's bytes exactly as the crawler fetched
them (same hash the pipeline computed), once; `haidang evidence` lists and writes them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from alerts.dispatch import AlertDispatcher
from haidang.cli import app
from haidang.evidence.capture import capture_flag_evidence
from haidang.record import Article, Content, Fetched
from haidang.service import run_once
from haidang.settings import load_settings
from haidang.store import open_store
from haidang.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_run_keeps_the_flagged_page_as_fetched_once(demo_config: Path, tmp_path: Path) -> None:
    settings = load_settings(demo_config, environ={})
    run_once(settings, settings.sources)
    store = open_store(settings.app.store)
    try:
        stories = {m.story_id for m in store.outbox()}
        flagged = [a for a in (store.get(s) for s in sorted(stories)) if a is not None]
        pages = [a for a in flagged if a.fetched.body_sha256]
        assert pages, "the demo flags at least one fetched page"
        for feed_only in (a for a in flagged if not a.fetched.body_sha256):
            [entry] = store.evidence(feed_only.id)
            assert entry.html == b"" and "feed item only" in (entry.note or "") and entry.text
        article = pages[0]
        [kept] = store.evidence(article.id)
        assert (kept.kind, kept.outcome, kept.status_code) == ("flag", "captured", 200)
        assert kept.sha256 == article.fetched.body_sha256 == hashlib.sha256(kept.html).hexdigest()
        assert article.content.title in kept.text and kept.content_type == article.fetched.content_type
        assert any(e.kind == "evidence" and e.target == article.id for e in store.audit())
        # The same bytes again (the start-up catch-up, a re-run) add nothing.
        AlertDispatcher(settings, store).on_stored(article, body=kept.html)
        AlertDispatcher(settings, store).catch_up(store)
        assert len(store.evidence(article.id)) == 1
    finally:
        store.close()

    folder = tmp_path / "bang-chung"
    result = CliRunner().invoke(app, ["evidence", article.id, "--out", str(folder), "-c", str(demo_config)])
    assert result.exit_code == 0, result.output
    assert "flag" in result.output and kept.sha256[:16] in result.output
    [line] = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    digest, name = line.split("  ")
    assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest == kept.sha256
    manifest = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
    assert manifest[0]["url"] == kept.url and (folder / manifest[0]["text_file"]).read_text(encoding="utf-8") == kept.text

    missing = CliRunner().invoke(app, ["evidence", "khong-co", "-c", str(demo_config)])
    assert missing.exit_code == 1


def test_without_the_fetched_bytes_the_stored_page_is_kept_once_and_said_so(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        url = "https://mxh.example.vn/bai.html"
        article = Article(id="a1", fetched=Fetched(source_id="mxh", url=url, fetched_at=T0,
                                                   html="<p>Nghe nói đập đã vỡ</p>"),
                          content=Content(title="Tin đồn", text="Nghe nói đập đã vỡ"))
        first = capture_flag_evidence(store, article, None, now=T0)
        assert first is not None
        assert capture_flag_evidence(store, article, None, now=T0 + timedelta(hours=1)) is None
        [kept] = store.evidence("a1")
        assert kept.html == "<p>Nghe nói đập đã vỡ</p>".encode() and "re-encoded as UTF-8" in (kept.note or "")
        assert kept.text == "Tin đồn\n\nNghe nói đập đã vỡ"
        # A page seen again with other bytes (edited after the flag) is evidence too.
        edited = b"<p>\xc4\x90\xc3\xa3 s\xe1\xbb\xada</p>"
        assert capture_flag_evidence(store, article, edited, now=T0 + timedelta(hours=2)) is not None
        assert capture_flag_evidence(store, article, edited, now=T0 + timedelta(hours=3)) is None
        assert [e.html for e in store.evidence("a1")][-1] == edited
    finally:
        store.close()
