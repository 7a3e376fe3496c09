"""SqliteStore only: migration 0010 fills the label columns of articles stored before it, and
facets read the covering index, never the documents."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from haidang.record import Article, Content, Fetched, article_id
from haidang.store.base import NO_VALUE, SearchFilters
from haidang.store.facet_sql import facets_sql
from haidang.store.schema import latest_version
from haidang.store.sqlite import SqliteStore

VN = timezone(timedelta(hours=7))


def _article(slug: str, labels: dict[str, object]) -> Article:
    url = f"https://baoquangngai.example.vn/{slug}.html"
    return Article(id=article_id(url), fetched=Fetched(source_id="baoquangngai", url=url, canonical_url=url),
                   content=Content(title=slug, text=slug, language="vi",
                                   published=datetime(2025, 7, 1, 8, tzinfo=VN)),
                   relevant=True, labels=labels)


def test_migration_fills_label_columns_of_stored_articles(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with SqliteStore(path) as store:
        store.upsert(_article("a", {"topics": [{"id": "bien_dao"}, {"id": "bien_dao"}, {"id": "doi_ngoai"}],
                                    "tone": {"label": "negative"}, "risk": {"level": "cao"}}))
        store.upsert(_article("b", {"topics": [{"id": ""}, {"score": 1}], "tone": {"label": ""}}))
        store.upsert(_article("c", {}))
    # Put the file back as version 9 wrote it: no label columns, no facet index.
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX articles_facets")
    for column in ("tone", "risk_level", "topics"):
        conn.execute(f"ALTER TABLE articles DROP COLUMN {column}")
    conn.execute("ALTER TABLE outbox DROP COLUMN attachments")      # version 11
    conn.execute("DROP TABLE host_pauses")                          # version 12
    conn.execute("DROP INDEX audit_log_target")                     # version 13
    conn.execute("ALTER TABLE outbox DROP COLUMN handed_over")      # version 14
    conn.execute("ALTER TABLE outbox DROP COLUMN article_id")       # version 16
    conn.execute("PRAGMA user_version = 9")
    conn.commit()
    conn.close()

    with SqliteStore(path) as store:
        assert store.schema_version == latest_version() >= 10
        got = store.facets(None, ["topic", "tone", "risk_level"])
    assert got.total == 3
    assert got.values == {"topic": {"bien_dao": 1, "doi_ngoai": 1, NO_VALUE: 2},
                          "tone": {"negative": 1, NO_VALUE: 2}, "risk_level": {"cao": 1, NO_VALUE: 2}}


def test_facets_read_only_the_covering_index(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite3") as store:
        store.upsert(_article("a", {"topics": [{"id": "bien_dao"}]}))
    conn = sqlite3.connect(tmp_path / "s.sqlite3")
    key_range = conn.execute("SELECT min(date_key), max(date_key) FROM articles").fetchone()
    for filters in (None, SearchFilters(since=datetime(2025, 1, 1, tzinfo=VN), relevant_only=True, lang="vi")):
        sql, params = facets_sql(filters, ["topic", "tone", "source", "lang", "risk_level"], "week",
                                 "Asia/Ho_Chi_Minh", key_range)
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "COVERING INDEX articles_facets" in plan, plan
    conn.close()
