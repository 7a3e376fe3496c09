"""Evidence at flag time: `haidang run` keeps the flagged page's bytes exactly as the crawler fetched
them (same hash the pipeline computed), once, or a feed-only item's feed entry; `haidang evidence`
lists and writes them, and `sha256sum -c` verifies every file written."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from alerts.dispatch import AlertDispatcher
from haidang.cli import app
from haidang.evidence.capture import FEED_ENTRY_TYPE, capture_flag_evidence, feed_entry_bytes
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
        feed_only = [a for a in flagged if not a.fetched.body_sha256]
        assert feed_only, "the demo flags the forum's feed-only item"
        for item in feed_only:
            [entry] = store.evidence(item.id)
            assert entry.html == feed_entry_bytes(item.fetched) and entry.content_type == FEED_ENTRY_TYPE
            assert entry.sha256 == hashlib.sha256(entry.html).hexdigest() != hashlib.sha256(b"").hexdigest()
            assert (entry.status_code, entry.url) == (200, item.fetched.url) and entry.text
            assert "feed item only" in (entry.note or "") and str(item.fetched.feed_url) in (entry.note or "")
            assert json.loads(entry.html)["title"] == item.fetched.feed_title
        AlertDispatcher(settings, store).catch_up(store)       # the same entry again adds nothing
        assert [len(store.evidence(a.id)) for a in feed_only] == [1] * len(feed_only)
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
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    sums = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    manifest = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
    assert sums[manifest[0]["file"]] == kept.sha256 and manifest[0]["file"].endswith(".html")
    assert sorted(sums) == sorted(p.name for p in folder.iterdir() if p.name != "SHA256SUMS")
    assert manifest[0]["url"] == kept.url and (folder / manifest[0]["text_file"]).read_text(encoding="utf-8") == kept.text
    _verify(folder)

    # The walkthrough's defect: a feed-only item's folder held an empty SHA256SUMS.
    forum = tmp_path / "forum"
    item = feed_only[0]
    result = CliRunner().invoke(app, ["evidence", item.id, "--out", str(forum), "-c", str(demo_config)])
    assert result.exit_code == 0, result.output
    [listed] = json.loads((forum / "evidence.json").read_text(encoding="utf-8"))
    assert listed["file"].endswith(".json") and listed["bytes"] == len(feed_entry_bytes(item.fetched))
    assert listed["content_type"] == FEED_ENTRY_TYPE and listed["status_code"] == 200
    names = [line.split("  ")[1] for line in (forum / "SHA256SUMS").read_text(encoding="utf-8").splitlines()]
    assert sorted(names) == sorted([listed["file"], listed["text_file"], "evidence.json"])
    _verify(forum)

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


def _verify(folder: Path) -> None:
    """What an officer runs: `sha256sum -c SHA256SUMS` in the folder (hashlib where coreutils is missing)."""
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    assert sums.endswith("\n") and all(len(line.split("  ")[0]) == 64 for line in sums.splitlines())
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count(": OK\n") == len(sums.splitlines())
    for line in sums.splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def _feed_item(summary: str) -> Article:
    """A stored feed-only item, as the pipeline builds it from a feed entry (no page fetched)."""
    url = "https://dien-dan.example.vn/threads/1001"
    fetched = Fetched(source_id="forum", url=url, final_url=url, status=200, fetched_at=T0,
                      feed_url="https://dien-dan.example.vn/feeds/latest.rss", feed_title="NÓNG: người lạ ở Lý Sơn",
                      feed_summary=summary, feed_published=datetime(2026, 3, 1, 21, 40, tzinfo=UTC),
                      feed_author="khach123")
    return Article(id="f1", fetched=fetched, content=Content(title="NÓNG: người lạ ở Lý Sơn", text=summary))


def test_a_feed_only_item_keeps_its_feed_entry_with_its_true_hash(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        article = _feed_item("Nghe nói có người lạ bắt cóc trẻ em, chia sẻ gấp!!!")
        assert store.upsert(article) == "new"
        assert capture_flag_evidence(store, article, None, now=T0) is not None
        [kept] = store.evidence("f1")
        entry = json.loads(kept.html)
        assert entry == {"feed_url": "https://dien-dan.example.vn/feeds/latest.rss",
                         "link": "https://dien-dan.example.vn/threads/1001", "title": "NÓNG: người lạ ở Lý Sơn",
                         "summary": "Nghe nói có người lạ bắt cóc trẻ em, chia sẻ gấp!!!",
                         "published": "2026-03-01T21:40:00+00:00", "author": "khach123", "comments": None}
        assert kept.sha256 == hashlib.sha256(kept.html).hexdigest() and kept.content_type == FEED_ENTRY_TYPE
        assert "HTTP 200" in (kept.note or "") and "raw XML is not kept" in (kept.note or "")
        # The stored copy (the start-up catch-up) gives the same bytes: not kept twice.
        stored = store.get("f1")
        assert stored is not None and capture_flag_evidence(store, stored, None, now=T0 + timedelta(hours=1)) is None
        # An entry edited after the flag is evidence too.
        edited = _feed_item("Bài đã được sửa: thông tin chưa kiểm chứng.")
        assert capture_flag_evidence(store, edited, None, now=T0 + timedelta(hours=2)) is not None
        assert json.loads(store.evidence("f1")[-1].html)["summary"].startswith("Bài đã được sửa")
    finally:
        store.close()


def test_a_page_whose_bytes_were_dropped_says_so_and_keeps_the_fetched_hash(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        fetched_hash = hashlib.sha256(b"<p>trang da xoa khoi kho</p>").hexdigest()
        article = Article(id="r1", fetched=Fetched(source_id="bao", url="https://bao.example.vn/a.html", fetched_at=T0,
                                                   body_sha256=fetched_hash, content_type="text/html"),
                          content=Content(title="Tin cũ", text="Nội dung"))
        assert capture_flag_evidence(store, article, None, now=T0) is not None
        [kept] = store.evidence("r1")
        assert (kept.html, kept.sha256) == (b"", fetched_hash) and "no bytes kept" in (kept.note or "")
    finally:
        store.close()
