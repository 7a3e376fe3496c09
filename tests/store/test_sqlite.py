"""SQLite-only behaviour: schema versions, FTS5 quoting, online backup, and surviving SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haidang.errors import PermanentStoreError, QueryError, StoreError
from haidang.record import Article, Content, Fetched, article_id
from haidang.settings import StoreSettings
from haidang.store import SQLITE_FILE_NAME, open_store, schema
from haidang.store.base import OutboxMessage, StoreMissing
from haidang.store.fts import fts_expression
from haidang.store.query import parse_query
from haidang.store.schema import latest_version, migrations
from haidang.store.sqlite import SqliteStore

T0 = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)


def _article(i: int, variant: int = 0) -> Article:
    url = f"https://baoquangngai.example.vn/tin-{i}.html"
    return Article(
        id=article_id(url),
        fetched=Fetched(source_id="qn", url=url, canonical_url=url),
        content=Content(title=f"Tin số {i} ở Quảng Ngãi", text=f"Nội dung mã{i} bản {variant}. " * 20,
                        first_seen=T0 + timedelta(seconds=i), language="vi"),
    )


@pytest.fixture
def store(tmp_path: Path):
    opened = SqliteStore(tmp_path / "db.sqlite3")
    yield opened
    opened.close()


# -- opening and schema ------------------------------------------------------------------------------

def test_pragmas_and_schema_version(store: SqliteStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version() == store.schema_version
    finally:
        conn.close()
    assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1      # NORMAL


def test_reopening_keeps_data_and_migrates_nothing(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "db.sqlite3") as first:
        first.upsert(_article(1))
    with SqliteStore(tmp_path / "db.sqlite3") as again:
        assert again.count() == 1 and again.schema_version == latest_version()


def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    with pytest.raises(PermanentStoreError, match="newer than this Hải Đăng"):
        SqliteStore(path)


def test_older_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    conn = sqlite3.connect(path)
    version, _, sql = migrations()[0]
    conn.executescript(sql)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    with SqliteStore(path) as store:
        assert store.schema_version == latest_version() >= 2
        assert store._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'articles_filter'").fetchone()[0] == 1
        store.upsert(_article(1))
        assert store.search("quang ngai").total == 1


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = migrations()
    broken = [*good, (len(good) + 1, f"{len(good) + 1:04d}_broken.sql",
                      "CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;\n")]
    monkeypatch.setattr(schema, "migrations", lambda: broken)
    path = tmp_path / "db.sqlite3"
    with pytest.raises(StoreError):
        SqliteStore(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(good)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    finally:
        conn.close()


def test_not_a_database_is_a_permanent_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(PermanentStoreError, match="db.sqlite3"):
        SqliteStore(path)


def test_closed_store_and_other_threads_raise_store_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    caught: list[BaseException] = []
    worker = threading.Thread(target=lambda: _catch(caught, lambda: store.count()))
    worker.start()
    worker.join()
    assert caught and isinstance(caught[0], StoreError)
    store.close()
    with pytest.raises(StoreError):
        store.count()


def _catch(into: list[BaseException], call) -> None:
    try:
        call()
    except BaseException as exc:     # noqa: BLE001 - handed to the test thread
        into.append(exc)


def test_migration_15_sets_apart_the_cjk_characters_of_stored_rows(tmp_path: Path) -> None:
    """Rows indexed before version 15 kept 越南广义省 as one token: after the upgrade 广义省 finds them."""
    path = tmp_path / "db.sqlite3"
    zh = _article(1)
    zh.content.title, zh.content.text = "越南广义省李山岛", "越南广义省李山岛吸引大量游客。"
    with SqliteStore(path) as store:
        store.upsert(zh)
        store.upsert(_article(2))
        vi_row = store._conn.execute("SELECT title, text FROM articles_fts WHERE rowid = 2").fetchone()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE articles_fts SET title = ?, text = ? WHERE rowid = 1", (zh.content.title, zh.content.text))
    conn.execute("ALTER TABLE outbox DROP COLUMN article_id")       # what version 16 added
    conn.execute("PRAGMA user_version = 14")
    # what version 14 indexed: the run is one word, and no character of it is one
    assert conn.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '\"李\"'").fetchone() == (0,)
    conn.close()
    with SqliteStore(path) as store:
        assert store.schema_version == latest_version() >= 15
        assert [h.id for h in store.search("李山岛").hits] == [zh.id]
        assert store._conn.execute("SELECT title, text FROM articles_fts WHERE rowid = 2").fetchone() == vi_row


def test_migration_16_keeps_older_outbox_messages_without_an_article(tmp_path: Path) -> None:
    """Messages queued before version 16 recorded no article: they read as None (readers fall back
    to the story id) and are sent as before; new ones keep theirs."""
    path = tmp_path / "db.sqlite3"
    with SqliteStore(path) as store:
        store.enqueue(OutboxMessage(key="k1", flag_rule="tin_sai", story_id="s1", recipient="a@example.vn",
                                    message_id="<k1@haidang.local>", subject="Cờ", text="t", html="<p>t</p>"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE outbox DROP COLUMN article_id")
    conn.execute("PRAGMA user_version = 15")
    conn.close()
    with SqliteStore(path) as store:
        assert store.schema_version == latest_version() >= 16
        [old] = store.outbox()
        assert (old.key, old.status, old.article_id) == ("k1", "pending", None)
        store.enqueue(OutboxMessage(key="k2", flag_rule="tin_sai", story_id="s1", recipient="b@example.vn",
                                    message_id="<k2@haidang.local>", subject="Cờ", text="t", html="<p>t</p>",
                                    article_id="a2"))
        assert [m.article_id for m in store.outbox()][-1] == "a2"


# -- FTS5 quoting --------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "NEAR(quang ngai, 2)", "near(quang ngai)", "quang*", "*", "^quang", "title:quang", "text : ngai",
    "{title text}: quang", "quang AND ngai", "quang and ngai", "quang NOT ngai", "quang not ngai",
    "quang + ngai", "(quang OR ngai", "quang) ngai", "quang ngai\"\"", "\"quang\"\"ngai\"", "'quang'",
    "rowid:1", "articles_fts:quang", "quang -- ngai", "quang; DROP TABLE articles; --", "\\\"quang",
    "\u0000quang", "quang\x1angai",
])
def test_fts5_syntax_in_queries_is_inert(store: SqliteStore, query: str) -> None:
    store.upsert(_article(1))
    try:
        result = store.search(query)
    except QueryError:
        return          # our own language may refuse it, but never with an SQLite error
    assert result.total in (0, 1)
    assert store.count() == 1


def test_fts_expression_quotes_every_word() -> None:
    expr = fts_expression(parse_query('NEAR(a) b* "c d" OR e -f -"g h"'))
    assert expr == '("near a" AND "b" AND ("c d" OR "e")) NOT ("f" OR "g h")'


def test_uppercase_and_lowercase_operator_words_are_searched_as_words(store: SqliteStore) -> None:
    article = _article(1)
    article.content.text = "Cá NOT và cá AND ở cảng NEAR biển."
    store.upsert(article)
    assert store.search("not and near").total == 1
    assert store.search("NOT AND NEAR").total == 1


# -- backup --------------------------------------------------------------------------------------------

def _writer(path: Path, stop: threading.Event, busy: threading.Event, written: list[int]) -> None:
    with SqliteStore(path) as writer:
        i = 0
        while not stop.is_set():
            writer.upsert(_article(1000 + i))
            i += 1
            written.append(i)
            if i == 20:
                busy.set()


def test_backup_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with SqliteStore(path) as store:
        for i in range(50):
            store.upsert(_article(i))
        stop, busy, written = threading.Event(), threading.Event(), []
        thread = threading.Thread(target=_writer, args=(path, stop, busy, written))
        thread.start()
        try:
            assert busy.wait(timeout=10), "the writer thread never got going"
            counts = []
            for round_ in range(5):
                target = tmp_path / f"copy{round_}.sqlite3"
                store.backup(str(target))
                conn = sqlite3.connect(target)
                try:
                    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                    articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
                    indexed = conn.execute("SELECT count(*) FROM articles_fts").fetchone()[0]
                    assert articles == indexed        # a snapshot between transactions, never inside one
                    counts.append(articles)
                finally:
                    conn.close()
                assert not Path(str(target) + ".partial").exists()
        finally:
            stop.set()
            thread.join()
    assert len(written) >= 20 and counts[0] >= 70
    assert counts == sorted(counts)


def test_backup_refuses_its_own_file(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="live database"):
        store.backup(str(store.path))


# -- crash safety ----------------------------------------------------------------------------------

_ARTICLES = 120


def _crawl(path: str, variant: int, start: int, progress) -> None:     # runs in a forked child
    with SqliteStore(Path(path)) as child:
        for k in range(_ARTICLES):
            i = (start + k) % _ARTICLES
            # even articles change on every pass (updates), odd ones never do (unchanged)
            child.upsert(_article(i, variant if i % 2 == 0 else 0))
            with progress.get_lock():
                progress.value += 1


def test_sigkill_at_random_moments_loses_nothing_and_corrupts_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite3")
    SqliteStore(Path(path)).close()
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(7)
    killed_mid_run = 0
    for round_ in range(30):
        progress = ctx.Value("i", 0)
        child = ctx.Process(target=_crawl, args=(path, round_, rng.randrange(_ARTICLES), progress))
        child.start()
        target = rng.randrange(0, _ARTICLES // 2)
        deadline = time.monotonic() + 20
        while progress.value < target and child.is_alive() and time.monotonic() < deadline:
            pass        # spin: the kill lands wherever the child happens to be
        for _ in range(rng.randrange(0, 20000)):
            pass        # a random extra delay, so kills do not line up with progress updates
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        killed_mid_run += child.exitcode == -signal.SIGKILL
    assert killed_mid_run >= 25

    # the crawl runs again to the end, as the next scheduled run would
    progress = ctx.Value("i", 0)
    final = ctx.Process(target=_crawl, args=(path, 999, 0, progress))
    final.start()
    final.join()
    assert final.exitcode == 0

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        ids = [row[0] for row in conn.execute("SELECT id FROM articles")]
        assert conn.execute("SELECT count(*) FROM articles_fts").fetchone()[0] == _ARTICLES
    finally:
        conn.close()
    assert sorted(ids) == sorted({_article(i).id for i in range(_ARTICLES)})
    with SqliteStore(Path(path)) as store:
        for i in (0, 1, _ARTICLES - 1):
            found = store.search(f"ma{i}")
            assert [h.id for h in found.hits] == [_article(i).id]
        assert "bản 999" in store.get(_article(0).id).content.text
        assert store.get(_article(1).id).content.first_seen == T0 + timedelta(seconds=1)


# -- open_store --------------------------------------------------------------------------------------

def test_open_store_puts_the_database_in_the_data_folder(tmp_path: Path) -> None:
    store = open_store(StoreSettings(backend="sqlite", data_dir=str(tmp_path / "home")))
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "home" / SQLITE_FILE_NAME
    finally:
        store.close()


def test_open_store_for_reading_creates_no_store(tmp_path: Path) -> None:
    """Read-only commands open with create=False: a missing file is StoreMissing naming its path, and
    neither the file nor its folder appears; once a writer made it, the same call opens it."""
    settings = StoreSettings(backend="sqlite", data_dir=str(tmp_path / "wrong" / "data"))
    with pytest.raises(StoreMissing) as caught:
        open_store(settings, create=False)
    assert caught.value.path == str(tmp_path / "wrong" / "data" / SQLITE_FILE_NAME)
    assert "haidang run" in str(caught.value) and not caught.value.transient
    assert not (tmp_path / "wrong").exists()
    (tmp_path / "wrong" / "data").mkdir(parents=True)      # an empty data folder holds no store either
    with pytest.raises(StoreMissing):
        open_store(settings, create=False)
    assert list((tmp_path / "wrong" / "data").iterdir()) == []
    open_store(settings).close()
    store = open_store(settings, create=False)
    try:
        assert store.count() == 0
    finally:
        store.close()


def test_open_store_elasticsearch_unreachable_is_transient(tmp_path: Path) -> None:
    # port 9 (discard) is closed on 127.0.0.1: the Elasticsearch store is selected and says it cannot connect
    with pytest.raises(StoreError, match="unreachable") as caught:
        open_store(StoreSettings(backend="elasticsearch", elasticsearch_url="http://127.0.0.1:9",
                                 elasticsearch_timeout_s=2))
    assert caught.value.transient


def test_iter_articles_pages_keys_and_documents_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are read in large pages and documents in small ones: every article once, in order,
    across both page boundaries, with and without a date filter."""
    import haidang.store.sqlite as sqlite_module
    from haidang.store.base import SearchFilters
    from tests.contract.conftest import T0, build_article

    monkeypatch.setattr(sqlite_module, "_KEY_PAGE", 7)
    monkeypatch.setattr(sqlite_module, "_PAGE", 3)
    store = sqlite_module.SqliteStore(tmp_path / "s.sqlite3")
    try:
        for i in range(20):
            store.upsert(build_article(f"p{i}", f"Tin {i}", published=T0 + timedelta(days=i),
                                       first_seen=T0 + timedelta(days=i, hours=1)))
        assert [a.content.title for a in store.iter_articles()] == [f"Tin {i}" for i in range(20)]
        since = SearchFilters(since=T0 + timedelta(days=4), until=T0 + timedelta(days=15))
        assert [a.content.title for a in store.iter_articles(since)] == [f"Tin {i}" for i in range(4, 15)]
    finally:
        store.close()
