"""The embedded store: one SQLite file in WAL mode with an FTS5 index over folded text.

Thread-safety: a `SqliteStore` owns one connection and must be used only by the thread that
opened it (sqlite3 enforces this and raises). Open one store per thread or process; WAL lets
many readers and one writer share the file, and `busy_timeout` makes writers wait their turn.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from haidang.errors import PermanentStoreError, StoreError, TransientStoreError
from haidang.record import Article, article_id
from haidang.store.base import (
    AlreadyRecorded,
    AuditEntry,
    AuditPage,
    ClaimStatus,
    Evidence,
    FacetField,
    Facets,
    FailureRecord,
    HostPause,
    KnownClaim,
    OutboxMessage,
    OutboxStatus,
    ResponseAction,
    SearchFilters,
    SearchHit,
    SearchResult,
    SourceRun,
    SourceStatus,
    StoreMissing,
    StoryCandidate,
    UpsertOutcome,
    Validators,
    check_audit_page,
    check_search_page,
    refreshed_engagement,
)
from haidang.store.buckets import Interval
from haidang.store.facet_sql import facet_rows, facets_sql, label_columns
from haidang.store.fts import UTC_FORMAT, filters_sql, fts_expression, index_form, search_from, utc_key
from haidang.store.highlight import make_snippet, snippet_query
from haidang.store.query import Query, parse_query, proximity_query
from haidang.store.schema import migrate
from haidang.textnorm import fold, normalize

__all__ = ["SqliteStore"]

_log = logging.getLogger(__name__)

# bm25 column weights (title, text): a word in the headline says more about what an article is
# about than the same word deep in the body. 3.0 is a starting point, not yet tuned against
# judged results; tune it with an evaluation, not by eye.
_BM25 = "bm25(articles_fts, 3.0, 1.0)"
# SQLite allows 32766 host parameters; stay far below it when expanding IN (...) lists.
# Candidates checked per lookup: the first few by shared band keys hold every true copy.
STORY_CANDIDATE_LIMIT = 50
_CHUNK = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)     # sorts rows without a creation time first
# Rows fetched per round trip by iter_articles; each round is its own short read transaction.
_PAGE = 200
_KEY_PAGE = 10_000      # iter_articles: keys per range scan (a few hundred kB)


# What an operator can do when the data folder cannot be written; nothing is lost meanwhile.
_FIX_ACCESS = ("give the user running Hải Đăng write access to it, or point HAIDANG_HOME (store.data_dir in "
               "config/haidang.yaml) at a writable folder; nothing stored was changed")


def _from_key(value: str | None) -> datetime | None:
    """A stored key (UTC_FORMAT, always with microseconds and "Z") back to an aware datetime.
    fromisoformat reads that form exactly, at a fiftieth of strptime's cost (the flag list parses
    thousands of them per view)."""
    return datetime.fromisoformat(value) if value else None


def _now() -> datetime:
    return datetime.now(UTC)


_CLAIM_COLUMNS = "id, text, rebuttal_url, source_article_id, status, created_at, signature"


def _claim_id(text: str) -> str:
    """A stable id from the folded, space-collapsed text: re-proposing a claim finds its row."""
    key = " ".join(fold(normalize(text)).split())
    return "claim-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _claim(row: tuple[Any, ...]) -> KnownClaim:
    return KnownClaim(id=row[0], text=row[1], rebuttal_url=row[2], source_article_id=row[3], status=row[4],
                      created_at=_from_key(row[5]), signature=json.loads(row[6]))


_OUTBOX_FIELDS = ("key", "flag_rule", "story_id", "recipient", "message_id", "subject", "text", "html", "status",
                  "attempts", "next_attempt_at", "last_error", "created_at", "sent_at", "lease_owner", "lease_until",
                  "pending_since", "failed_at", "attachments", "handed_over", "article_id")
_OUTBOX_COLUMNS = ", ".join(_OUTBOX_FIELDS)
# The same row with empty bodies (Store.outbox(bodies=False)): text and html are most of its bytes.
_OUTBOX_NO_BODIES = ", ".join("''" if f in ("text", "html") else f for f in _OUTBOX_FIELDS)


def _outbox_message(row: tuple[Any, ...]) -> OutboxMessage:
    return OutboxMessage(key=row[0], flag_rule=row[1], story_id=row[2], recipient=row[3], message_id=row[4],
                         subject=row[5], text=row[6], html=row[7], status=row[8], attempts=int(row[9]),
                         next_attempt_at=_from_key(row[10]), last_error=row[11], created_at=_from_key(row[12]),
                         sent_at=_from_key(row[13]), lease_owner=row[14], lease_until=_from_key(row[15]),
                         pending_since=_from_key(row[16]), failed_at=_from_key(row[17]),
                         attachments=list(json.loads(row[18] or "[]")), handed_over=int(row[19]),
                         article_id=row[20])


_ACTION_COLUMNS = ("id, flag_key, story_id, article_id, rule, action, actor, agency_id, note, rebuttal_url, "
                   "client, at, link_id")


def _action(row: tuple[Any, ...]) -> ResponseAction:
    return ResponseAction(id=str(row[0]), flag_key=row[1], story_id=row[2], article_id=row[3], rule=row[4],
                          action=row[5], actor=row[6], agency_id=row[7], note=row[8], rebuttal_url=row[9],
                          client=row[10], at=_from_key(row[11]), link_id=row[12])  # type: ignore[arg-type]


def _insert_audit(conn: sqlite3.Connection, entry: AuditEntry) -> str:
    return str(conn.execute(
        "INSERT INTO audit_log (at, actor, kind, target, detail, client) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (utc_key(entry.at), entry.actor, entry.kind, entry.target,
         json.dumps(entry.detail, ensure_ascii=False, sort_keys=True, default=str), entry.client),
    ).fetchone()[0])


_EVIDENCE_COLUMNS = ("id, article_id, url, fetched_at, sha256, html_gz, text, status_code, kind, outcome, "
                     "content_type, note")


def _evidence(row: tuple[Any, ...]) -> Evidence:
    return Evidence(id=str(row[0]), article_id=row[1], url=row[2], fetched_at=_from_key(row[3]),  # type: ignore[arg-type]
                    sha256=row[4], html=gzip.decompress(row[5]) if row[5] else b"", text=row[6],
                    status_code=row[7], kind=row[8], outcome=row[9], content_type=row[10], note=row[11])


_AUDIT_COLUMNS = "id, at, actor, kind, target, detail, client"


def _audit_where(*, since: datetime | None, kind: str | None = None,
                 target: str | None = None) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space, or empty) and parameters of an audit log filter."""
    where, params = [], []
    for condition, value in (("at >= ?", utc_key(since) if since else None), ("kind = ?", kind),
                             ("target = ?", target)):
        if value is not None:
            where.append(condition)
            params.append(value)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _audit_entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(id=str(row[0]), at=_from_key(row[1]), actor=row[2], kind=row[3], target=row[4],  # type: ignore[arg-type]
                      detail=json.loads(row[5]), client=row[6])


def _content_hash(article: Article) -> str:
    """The article's own content hash, or one over its normalised title and text when unset."""
    if article.content.content_hash:
        return article.content.content_hash
    text = normalize(article.content.title) + "\n" + normalize(article.content.text)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class SqliteStore:
    """`Store` on one SQLite file (see the module docstring for the threading rule).

    Durability: WAL with synchronous=NORMAL. A killed process (SIGKILL, OOM) loses no committed
    transaction, because committed frames are already in the WAL file in the OS page cache;
    only a power cut or OS crash can lose the last few commits, and never corrupts the file.
    Those articles are fetched again by the next crawl (upserts are idempotent), so FULL's
    fsync on every commit would cost throughput for nothing we need.
    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 10.0, cache_mib: int = 64,
                 mmap_mib: int = 2048, create: bool = True) -> None:
        """Open (creating and migrating if needed) the database at `path`; with `create` False, raise
        StoreMissing instead of creating a missing file or folder (read-only commands).

        `cache_mib` and `mmap_mib` size SQLite's page cache and memory-mapped reads: search
        walks multi-megabyte doclists of common folded syllables, and with the 2 MiB default
        cache every query re-copied them from the OS (bench/search.py, filtered queries).
        Memory-mapping is for reads only; writes still go through the WAL.
        """
        self.path = Path(path)
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise PermanentStoreError(f"cannot create the data folder {self.path.parent}: "
                                          f"{exc.strerror or exc}: {_FIX_ACCESS}") from exc
        elif not self.path.is_file():
            raise StoreMissing(str(self.path))
        # mode=rw: open an existing file only, even if it is removed between the check and here.
        target, uri = (str(self.path), False) if create else (self.path.resolve().as_uri() + "?mode=rw", True)
        with self._errors(f"opening {self.path}"):
            self._conn = sqlite3.connect(target, timeout=busy_timeout_s, isolation_level=None, uri=uri)
        try:
            with self._errors(f"opening {self.path}"):
                self._check_fts5()
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise PermanentStoreError(
                        f"{self.path}: SQLite refused WAL mode (got {mode!r}); put the data folder on a "
                        f"local file system (HAIDANG_HOME or store.data_dir in config/haidang.yaml)"
                    )
                self._conn.execute("PRAGMA synchronous = NORMAL")
                self._conn.execute("PRAGMA foreign_keys = ON")
                self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000):d}")
                self._conn.execute(f"PRAGMA cache_size = {-1024 * int(cache_mib):d}")
                self._conn.execute(f"PRAGMA mmap_size = {2**20 * int(mmap_mib):d}")
                self.schema_version = migrate(self._conn, str(self.path))
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def _check_fts5(self) -> None:
        options = {row[0] for row in self._conn.execute("PRAGMA compile_options")}
        if "ENABLE_FTS5" in options:
            return
        try:    # some builds load FTS5 without advertising it
            self._conn.execute("CREATE VIRTUAL TABLE temp._fts5_probe USING fts5(x)")
            self._conn.execute("DROP TABLE temp._fts5_probe")
        except sqlite3.OperationalError:
            raise PermanentStoreError(
                f"the SQLite library in this Python (version {sqlite3.sqlite_version}) was built without "
                f"FTS5, which search needs: use a Python whose sqlite3 has FTS5 (python.org and most "
                f"distribution builds do), or set store.backend to elasticsearch"
            ) from None

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate sqlite3 errors into the project's tree: busy/locked/full are transient. Each
        message names the cause an operator can act on: a full disk or a data folder that cannot
        be written is not "another process"."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" in text or "busy" in text:
                raise TransientStoreError(f"{doing}: {exc} (another process holds {self.path}; retry)") from exc
            if "full" in text:
                raise TransientStoreError(
                    f"{doing}: {exc} ({self.path}): the disk holding the data folder is full, or a file size "
                    f"limit was reached; free space and run again: what was stored before is kept") from exc
            if "disk i/o error" in text:
                raise PermanentStoreError(
                    f"{doing}: {exc} ({self.path}): the system refused a write to the data folder (a full disk, "
                    f"a file size limit or a failing disk: see `df`, `ulimit -f` and the system log); fix it and "
                    f"run again: what was stored before is kept") from exc
            if "readonly" in text or "unable to open" in text:
                raise PermanentStoreError(f"{doing}: {exc}: {self._why_not_writable()}") from exc
            raise PermanentStoreError(f"{doing}: {exc} ({self.path})") from exc
        except sqlite3.ProgrammingError as exc:
            raise StoreError(f"{doing}: {exc} ({self.path}; was the store closed or shared between threads?)") from exc
        except sqlite3.Error as exc:
            raise PermanentStoreError(
                f"{doing}: {exc} ({self.path}; run `PRAGMA integrity_check` or restore a backup)"
            ) from exc

    def _why_not_writable(self) -> str:
        """Which of the data folder or the database file cannot be written, and what to do."""
        folder = self.path.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            what = f"the data folder {folder} is not writable (permissions, or a read-only file system)"
        elif self.path.exists() and not os.access(self.path, os.W_OK):
            what = f"the database {self.path} is not writable (permissions, or a read-only file system)"
        else:
            what = f"the database {self.path} could not be opened for writing"
        return f"{what}; {_FIX_ACCESS}"

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock up front, so no deadlock."""
        with self._errors(doing):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _snapshot(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One read transaction: in WAL its reads all see the same state, whatever others write meanwhile."""
        with self._errors(doing):
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- articles ---------------------------------------------------------------------------

    def upsert(self, article: Article) -> UpsertOutcome:
        fetched = article.fetched
        canonical = fetched.canonical_url or fetched.final_url or fetched.url
        doc_id = article.id or article_id(canonical)
        content_hash = _content_hash(article)
        doc = article.to_dict()
        doc["id"] = doc_id
        title = normalize(article.content.title)
        text = normalize(article.content.text)
        folded_title, folded_text = index_form(fold(title)), index_form(fold(text))
        provinces = {m.province_code for m in article.matches if m.province_code}
        if article.province_code:
            provinces.add(article.province_code)
        published = utc_key(article.content.published) if article.content.published else None
        with self._transaction(f"storing article {doc_id} ({fetched.url})") as conn:
            row = conn.execute(
                "SELECT docno, content_hash, json_extract(doc, '$.content.first_seen'), "
                "json_extract(doc, '$.content.engagement') FROM articles WHERE id = ?",
                (doc_id,),
            ).fetchone()
            if row is not None and row[1] == content_hash:
                counts = refreshed_engagement(json.loads(row[3]) if row[3] else None, article.content.engagement)
                if counts is not None:      # the same text, further spread: only the counts change
                    conn.execute("UPDATE articles SET doc = json_set(doc, '$.content.engagement', json(?)) "
                                 "WHERE docno = ?", (json.dumps(counts), row[0]))
                return "unchanged"
            if row is not None and row[2]:
                first_seen = datetime.fromisoformat(row[2])     # never moves once stored
            else:
                first_seen = article.content.first_seen or _now()
            doc["content"]["first_seen"] = first_seen.isoformat()
            first_seen_key = utc_key(first_seen)
            values = (
                doc_id, fetched.source_id, canonical, fetched.url, title, published, first_seen_key,
                published or first_seen_key, article.content.language, article.province_code,
                int(article.relevant), article.story_id, content_hash,
                json.dumps(doc, ensure_ascii=False, separators=(",", ":")), utc_key(_now()),
                *label_columns(article.labels),
            )
            if row is None:
                docno = conn.execute(
                    "INSERT INTO articles (id, source_id, canonical_url, url, title, published, first_seen, "
                    "date_key, lang, province_code, relevant, story_id, content_hash, doc, updated_at, "
                    "tone, risk_level, topics) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING docno",
                    values,
                ).fetchone()[0]
            else:
                docno = row[0]
                conn.execute(
                    "UPDATE articles SET id = ?, source_id = ?, canonical_url = ?, url = ?, title = ?, "
                    "published = ?, first_seen = ?, date_key = ?, lang = ?, province_code = ?, relevant = ?, "
                    "story_id = ?, content_hash = ?, doc = ?, updated_at = ?, tone = ?, risk_level = ?, "
                    "topics = ? WHERE docno = ?",
                    (*values, docno),
                )
                conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (docno,))
                conn.execute("DELETE FROM article_provinces WHERE docno = ?", (docno,))
            conn.execute(
                "INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)", (docno, folded_title, folded_text)
            )
            conn.executemany(
                "INSERT INTO article_provinces (docno, province_code) VALUES (?, ?)",
                [(docno, code) for code in sorted(provinces)],
            )
        return "new" if row is None else "updated"

    def set_labels(self, article_id: str, labels: dict[str, Any]) -> bool:
        with self._transaction(f"storing labels of {article_id}") as conn:
            cur = conn.execute(
                "UPDATE articles SET doc = json_set(doc, '$.labels', json(?)), updated_at = ?, tone = ?, "
                "risk_level = ?, topics = ? WHERE id = ?",
                (json.dumps(labels, ensure_ascii=False), utc_key(_now()), *label_columns(labels), article_id),
            )
            return cur.rowcount > 0

    def get(self, article_id: str) -> Article | None:
        with self._errors(f"reading article {article_id}"):
            row = self._conn.execute("SELECT doc FROM articles WHERE id = ?", (article_id,)).fetchone()
        return Article.from_dict(json.loads(row[0])) if row else None

    def count(self, filters: SearchFilters | None = None) -> int:
        where, params = filters_sql(filters)
        sql = "SELECT count(*) FROM articles a" + (" WHERE " + " AND ".join(where) if where else "")
        with self._errors("counting articles"):
            return int(self._conn.execute(sql, params).fetchone()[0])

    def iter_articles(self, filters: SearchFilters | None = None, *, html: bool = True) -> Iterator[Article]:
        """Oldest first by `first_seen`, in pages, so no read transaction stays open between pages
        and the caller may write to the store while iterating. Without `html` the page is cut out
        by SQLite (json_remove), so Python never decodes it."""
        doc = "doc" if html else "json_remove(doc, '$.fetched.html')"
        where, params = filters_sql(filters)
        after: tuple[str, int] = ("", -1)
        while True:
            conditions = [*where, "(a.first_seen, a.docno) > (?, ?)"]
            # Keys in large pages, documents in small ones: with a date filter SQLite visits every
            # row of the range and sorts them for each key page, so a year read 200 keys at a time
            # scanned the year 300 times (a year's report: 27 s). Keys are small; documents are not.
            sql = (
                "SELECT a.first_seen, a.docno FROM articles a WHERE " + " AND ".join(conditions)
                + " ORDER BY a.first_seen, a.docno LIMIT ?"
            )
            with self._errors("reading articles"):
                keys = self._conn.execute(sql, [*params, *after, _KEY_PAGE]).fetchall()
            for i in range(0, len(keys), _PAGE):
                docnos = [docno for _, docno in keys[i:i + _PAGE]]
                with self._errors("reading articles"):
                    docs = dict(self._conn.execute(
                        f"SELECT docno, {doc} FROM articles WHERE docno IN ({','.join('?' * len(docnos))})", docnos
                    ).fetchall())
                for docno in docnos:
                    if docno in docs:           # deleted meanwhile (retention): skipped
                        yield Article.from_dict(json.loads(docs[docno]))
            if len(keys) < _KEY_PAGE:
                return
            after = (keys[-1][0], keys[-1][1])

    def facets(self, filters: SearchFilters | None, fields: Sequence[FacetField], *,
               interval: Interval | None = None, tz: str = "Asia/Ho_Chi_Minh") -> Facets:
        """One GROUP BY statement over the label columns' covering index (haidang/store/facet_sql.py)."""
        with self._errors("counting articles by facet"):
            # Two subqueries, so each is one index lookup (min and max together scan the table).
            key_range = self._conn.execute(
                "SELECT (SELECT min(date_key) FROM articles), (SELECT max(date_key) FROM articles)"
            ).fetchone() if interval is not None else (None, None)
            sql, params = facets_sql(filters, fields, interval, tz, key_range)
            rows = self._conn.execute(sql, params).fetchall()
        return facet_rows(rows, fields, interval)

    # -- search -----------------------------------------------------------------------------

    def search(self, query: str, filters: SearchFilters | None = None, *, limit: int = 20,
               offset: int = 0) -> SearchResult:
        limit = check_search_page(limit, offset)
        parsed = parse_query(query)
        match = fts_expression(parsed)
        where, params = filters_sql(filters)
        with self._errors(f"searching for {query!r}"):
            total = int(self._conn.execute("SELECT count(*)" + search_from(where), [match, *params]).fetchone()[0])
            if total == 0 or offset >= total:
                return SearchResult(total=total, hits=[])
            strict = proximity_query(parsed)
            if strict is None:
                ranked = self._ranked(match, where, params, limit, offset)
            else:
                # the rest: the query with the neighbouring pairs excluded, i.e. words only apart
                rest = Query(clauses=parsed.clauses, exclusions=parsed.exclusions + strict.clauses[-1].alternatives)
                ranked = self._ranked_in_tiers(fts_expression(strict), fts_expression(rest), where, params,
                                               limit, offset)
            details = self._hit_details([docno for docno, _ in ranked])
        marked = snippet_query(parsed)
        hits = [self._hit(details[docno], score, marked) for docno, score in ranked if docno in details]
        return SearchResult(total=total, hits=hits)

    def _ranked(self, match: str, where: list[str], params: list[Any], limit: int,
                offset: int) -> list[tuple[int, float]]:
        """(docno, score) by bm25, best first; -bm25 is positive and higher is better."""
        return self._conn.execute(
            f"SELECT articles_fts.rowid, -{_BM25} AS score" + search_from(where)
            + " ORDER BY score DESC LIMIT ? OFFSET ?",
            [match, *params, limit, offset],
        ).fetchall()

    def _ranked_in_tiers(self, strict: str, rest: str, where: list[str], params: list[Any], limit: int,
                         offset: int) -> list[tuple[int, float]]:
        """Documents with query words side by side first, then the rest, each tier by bm25.

        Besides ranking compounds first, this bounds the cost: folded syllables such as "tu" or
        "dong" occur in most articles, and bm25 over every match was the slowest part of a
        search (bench/search.py: p95 46 ms before, 23 ms after); the adjacent matches are far
        fewer and usually fill the page. Scores stay monotonic down the list: 1 + bm25 in the
        first tier, bm25 / (1 + bm25), below 1, in the second.
        """
        wanted = offset + limit
        first = self._ranked(strict, where, params, wanted, 0)
        ranked = [(docno, 1.0 + score) for docno, score in first[offset:]]
        if len(first) < wanted:
            skip = max(0, offset - len(first))
            second = self._ranked(rest, where, params, wanted - max(offset, len(first)), skip)
            ranked += [(docno, score / (1.0 + score)) for docno, score in second]
        return ranked

    def _hit_details(self, docnos: list[int]) -> dict[int, tuple[Any, ...]]:
        marks = ",".join("?" * len(docnos))
        rows = self._conn.execute(
            "SELECT a.docno, a.id, a.title, a.source_id, a.canonical_url, "
            "json_extract(a.doc, '$.content.published'), json_extract(a.doc, '$.content.text'), "
            f"f.title, f.text FROM articles a JOIN articles_fts f ON f.rowid = a.docno WHERE a.docno IN ({marks})",
            docnos,
        ).fetchall()
        return {row[0]: row for row in rows}

    @staticmethod
    def _hit(row: tuple[Any, ...], score: float, query: Query) -> SearchHit:
        _, doc_id, title, source_id, url, published, text, folded_title, folded_text = row
        text = normalize(text or "")
        snippet = make_snippet(text, query, folded=folded_text) or make_snippet(title, query, folded=folded_title)
        if snippet is None:     # matched only through folding we cannot see; show the opening
            snippet = (text[:200].replace("\n", " "), [])
        return SearchHit(
            id=doc_id, title=title, source_id=source_id, url=url,
            published=datetime.fromisoformat(published) if published else None,
            score=float(score), snippet=snippet[0], highlights=snippet[1],
        )

    # -- syndicated-copy detection ------------------------------------------------------------

    def story_candidates(self, band_keys: list[str]) -> list[StoryCandidate]:
        """The stored articles sharing the most band keys, at most STORY_CANDIDATE_LIMIT.

        Shared bands track similarity, so the closest copies are always among the first; without
        the cap, text sharing boilerplate sentences makes every lookup slower as the store grows.
        """
        keys = sorted(set(band_keys))
        if not keys:
            return []
        shared: dict[str, int] = {}
        with self._errors("looking up story band keys"):
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i:i + _CHUNK]
                for aid, n in self._conn.execute(
                    "SELECT article_id, count(*) FROM story_keys "
                    f"WHERE band_key IN ({','.join('?' * len(chunk))}) GROUP BY article_id",
                    chunk,
                ):
                    shared[aid] = shared.get(aid, 0) + n
            best = sorted(shared, key=lambda a: (-shared[a], a))[:STORY_CANDIDATE_LIMIT]
            found: dict[str, StoryCandidate] = {}
            for i in range(0, len(best), _CHUNK):
                chunk = best[i:i + _CHUNK]
                for aid, story, signature in self._conn.execute(
                    "SELECT article_id, story_id, signature FROM story_signatures "
                    f"WHERE article_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    found[aid] = StoryCandidate(article_id=aid, story_id=story, signature=json.loads(signature))
        return [found[k] for k in sorted(found)]

    def add_story_keys(self, article_id: str, story_id: str, band_keys: list[str],
                       signature: list[int]) -> None:
        """Replace the article's band keys and signature; a stored article takes the story id too."""
        with self._transaction(f"storing story keys for {article_id}") as conn:
            conn.execute(
                "INSERT INTO story_signatures (article_id, story_id, signature) VALUES (?, ?, ?) "
                "ON CONFLICT (article_id) DO UPDATE SET story_id = excluded.story_id, signature = excluded.signature",
                (article_id, story_id, json.dumps(list(signature))),
            )
            conn.execute("DELETE FROM story_keys WHERE article_id = ?", (article_id,))
            conn.executemany(
                "INSERT OR IGNORE INTO story_keys (band_key, article_id) VALUES (?, ?)",
                [(key, article_id) for key in band_keys],
            )
            conn.execute(
                "UPDATE articles SET story_id = ?1, doc = json_set(doc, '$.story_id', ?1) "
                "WHERE id = ?2 AND story_id IS NOT ?1",
                (story_id, article_id),
            )

    # -- known false claims -------------------------------------------------------------------

    def propose_claim(self, claim: KnownClaim, band_keys: Sequence[str] = ()) -> str:
        claim_id = claim.id or _claim_id(claim.text)
        created = utc_key(claim.created_at or _now())
        with self._transaction(f"proposing claim {claim_id}") as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO known_claims (id, text, rebuttal_url, source_article_id, status, "
                "created_at, signature) VALUES (?, ?, ?, ?, 'proposed', ?, ?)",
                (claim_id, normalize(claim.text), claim.rebuttal_url, claim.source_article_id, created,
                 json.dumps(list(claim.signature))),
            ).rowcount
            if inserted:
                conn.executemany(
                    "INSERT OR IGNORE INTO claim_keys (band_key, claim_id) VALUES (?, ?)",
                    [(key, claim_id) for key in sorted(set(band_keys))],
                )
        return claim_id

    def confirm_claim(self, claim_id: str) -> None:
        with self._transaction(f"confirming claim {claim_id}") as conn:
            changed = conn.execute("UPDATE known_claims SET status = 'confirmed' WHERE id = ?",
                                   (claim_id,)).rowcount
        if not changed:
            raise KeyError(f"no known claim with id {claim_id!r} in {self.path}")

    def dismiss_claim(self, claim_id: str) -> None:
        with self._transaction(f"dismissing claim {claim_id}") as conn:
            changed = conn.execute("UPDATE known_claims SET status = 'dismissed' WHERE id = ?",
                                   (claim_id,)).rowcount
        if not changed:
            raise KeyError(f"no known claim with id {claim_id!r} in {self.path}")

    def known_claims(self, status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        sql = f"SELECT {_CLAIM_COLUMNS} FROM known_claims"
        params: tuple[str, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            params = (status,)
        with self._errors("reading known claims"):
            rows = self._conn.execute(sql + " ORDER BY created_at, id", params).fetchall()
        return [_claim(row) for row in rows]

    def get_claim(self, claim_id: str) -> KnownClaim | None:
        with self._errors(f"reading claim {claim_id}"):
            row = self._conn.execute(f"SELECT {_CLAIM_COLUMNS} FROM known_claims WHERE id = ?", (claim_id,)).fetchone()
        return _claim(row) if row else None

    def claim_candidates(self, band_keys: Sequence[str],
                         status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        found: dict[str, KnownClaim] = {}
        keys = sorted(set(band_keys))
        with self._errors("looking up claim band keys"):
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i:i + _CHUNK]
                sql = (f"SELECT DISTINCT {_CLAIM_COLUMNS} FROM claim_keys k JOIN known_claims c "
                       f"ON c.id = k.claim_id WHERE k.band_key IN ({','.join('?' * len(chunk))})")
                params: list[str] = list(chunk)
                if status is not None:
                    sql += " AND c.status = ?"
                    params.append(status)
                for row in self._conn.execute(sql, params).fetchall():
                    found[row[0]] = _claim(row)
        return [found[k] for k in sorted(found)]

    # -- email outbox ------------------------------------------------------------------------

    def enqueue(self, msg: OutboxMessage) -> bool:
        created = utc_key(msg.created_at or _now())
        due = utc_key(msg.next_attempt_at) if msg.next_attempt_at else created
        with self._transaction(f"queueing outbox message {msg.key}") as conn:
            inserted = conn.execute(
                f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, ?, NULL, NULL, NULL, ?, NULL, ?, 0, ?)",
                (msg.key, msg.flag_rule, msg.story_id, msg.recipient, msg.message_id, msg.subject,
                 msg.text, msg.html, due, created, due, json.dumps(list(msg.attachments), ensure_ascii=False),
                 msg.article_id),
            ).rowcount
        return bool(inserted)

    def due_messages(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        with self._errors("reading due outbox messages"):
            rows = self._conn.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                "AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, created_at, key LIMIT ?",
                (utc_key(now), utc_key(now), int(limit)),
            ).fetchall()
        return [_outbox_message(row) for row in rows]

    def _update_outbox(self, key: str, doing: str, sql: str, params: tuple[Any, ...]) -> None:
        with self._transaction(f"{doing} outbox message {key}") as conn:
            changed = conn.execute(sql + " WHERE key = ?", (*params, key)).rowcount
        if not changed:
            raise KeyError(f"no outbox message with key {key!r} in {self.path}")

    def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        # One conditional UPDATE: SQLite serialises writers, so of several processes trying at
        # once exactly one sees its row change (rowcount 1); the others find the lease taken.
        at = utc_key(now or _now())
        with self._transaction(f"claiming outbox message {key}") as conn:
            won = conn.execute(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE key = ? AND status = 'pending' "
                "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)",
                (owner, utc_key(until), key, at, at),
            ).rowcount
        return bool(won)

    def mark_sent(self, key: str, at: datetime) -> None:
        self._update_outbox(key, "marking sent", "UPDATE outbox SET status = 'sent', attempts = attempts + 1, "
                            "sent_at = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL",
                            (utc_key(at),))

    def mark_retry(self, key: str, error: str, next_attempt_at: datetime, *, handed_over: bool = False) -> None:
        self._update_outbox(key, "scheduling retry of", "UPDATE outbox SET status = 'pending', "
                            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?, "
                            "handed_over = handed_over + ?, lease_owner = NULL, lease_until = NULL",
                            (error, utc_key(next_attempt_at), int(handed_over)))

    def mark_failed(self, key: str, error: str, at: datetime | None = None, *, handed_over: bool = False) -> None:
        self._update_outbox(key, "marking failed", "UPDATE outbox SET status = 'failed', "
                            "attempts = attempts + 1, last_error = ?, failed_at = ?, "
                            "handed_over = handed_over + ?, lease_owner = NULL, lease_until = NULL",
                            (error, utc_key(at or _now()), int(handed_over)))

    def requeue_failed(self, key: str, now: datetime) -> bool:
        at = utc_key(now)
        with self._transaction(f"putting back outbox message {key}") as conn:
            changed = conn.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, pending_since = ?, failed_at = NULL, "
                "lease_owner = NULL, lease_until = NULL WHERE key = ? AND status = 'failed'",
                (at, at, key),
            ).rowcount
            known = changed or conn.execute("SELECT 1 FROM outbox WHERE key = ?", (key,)).fetchone()
        if not known:
            raise KeyError(f"no outbox message with key {key!r} in {self.path}")
        return bool(changed)

    def outbox(self, status: OutboxStatus | None = None, *, keys: Sequence[str] | None = None,
               sent_since: datetime | None = None, bodies: bool = True) -> list[OutboxMessage]:
        if keys is not None and len(keys) > _CHUNK:
            found = [m for i in range(0, len(keys), _CHUNK)
                     for m in self.outbox(status, keys=keys[i:i + _CHUNK], sent_since=sent_since,
                                          bodies=bodies)]
            return sorted({m.key: m for m in found}.values(), key=lambda m: (m.created_at or _EPOCH, m.key))
        where: list[str] = []
        params: list[str] = []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if keys is not None:
            where.append(f"key IN ({', '.join('?' * len(keys))})" if keys else "0")
            params.extend(keys)
        if sent_since is not None:
            where.append("sent_at >= ?")
            params.append(utc_key(sent_since))
        columns = _OUTBOX_COLUMNS if bodies else _OUTBOX_NO_BODIES
        sql = f"SELECT {columns} FROM outbox" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self._errors("reading the outbox"):
            rows = self._conn.execute(sql + " ORDER BY created_at, key", params).fetchall()
        return [_outbox_message(row) for row in rows]

    # -- state of the scheduled alert rules --------------------------------------------------

    def get_alert_state(self, key: str) -> dict[str, Any] | None:
        with self._errors(f"reading alert state {key}"):
            row = self._conn.execute("SELECT value FROM alert_state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_alert_state(self, key: str, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"alert state {key!r} must be a dict, not {type(value).__name__}")
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)   # TypeError early if not JSON-able
        with self._transaction(f"storing alert state {key}") as conn:
            conn.execute("INSERT INTO alert_state (key, value, updated_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                         (key, text, utc_key(_now())))

    # -- officer actions and the audit log ---------------------------------------------------

    def record_action(self, action: ResponseAction) -> str:
        """Insert the action and its "action" audit entry in one transaction.

        A second action with the same link_id hits the UNIQUE index (migration 0008), even from
        another process: nothing is written and AlreadyRecorded names the kept action.
        """
        with self._transaction(f"recording action {action.action} on flag {action.flag_key}") as conn:
            if action.link_id is not None:
                # BEGIN IMMEDIATE holds the write lock, so this read and the INSERT are one step.
                kept = conn.execute("SELECT id FROM response_actions WHERE link_id = ?", (action.link_id,)).fetchone()
                if kept is not None:
                    raise AlreadyRecorded(action.link_id, str(kept[0]))
            action_id = str(conn.execute(
                f"INSERT INTO response_actions ({_ACTION_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (action.flag_key, action.story_id, action.article_id, action.rule, action.action, action.actor,
                 action.agency_id, action.note, action.rebuttal_url, action.client, utc_key(action.at),
                 action.link_id),
            ).fetchone()[0])
            _insert_audit(conn, AuditEntry(
                at=action.at, actor=action.actor, kind="action", target=action.flag_key, client=action.client,
                detail={"action_id": action_id, "action": action.action, "story_id": action.story_id,
                        "article_id": action.article_id, "rule": action.rule, "agency_id": action.agency_id,
                        "note": action.note, "rebuttal_url": action.rebuttal_url},
            ))
        return action_id

    def actions(self, *, since: datetime | None = None, until: datetime | None = None,
                story_id: str | None = None) -> list[ResponseAction]:
        where, params = [], []
        if since is not None:
            where.append("at >= ?")
            params.append(utc_key(since))
        if until is not None:
            where.append("at < ?")
            params.append(utc_key(until))
        if story_id is not None:
            where.append("story_id = ?")
            params.append(story_id)
        sql = f"SELECT {_ACTION_COLUMNS} FROM response_actions" + (" WHERE " + " AND ".join(where) if where else "")
        with self._errors("reading officer actions"):
            rows = self._conn.execute(sql + " ORDER BY at, id", params).fetchall()
        return [_action(row) for row in rows]

    def append_audit(self, entry: AuditEntry) -> str:
        with self._transaction(f"appending a {entry.kind} audit entry") as conn:
            return _insert_audit(conn, entry)

    def audit(self, *, since: datetime | None = None, kind: str | None = None,
              target: str | None = None) -> list[AuditEntry]:
        where, params = _audit_where(since=since, kind=kind, target=target)
        with self._errors("reading the audit log"):
            rows = self._conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit_log{where} ORDER BY at, id",
                                      params).fetchall()
        return [_audit_entry(r) for r in rows]

    def audit_page(self, *, since: datetime | None = None, kind: str | None = None, target: str | None = None,
                   limit: int = 100, offset: int = 0) -> AuditPage:
        """LIMIT/OFFSET on the `at` index; the counts come from one GROUP BY over the same filters,
        read in the same transaction as the page so they agree with it."""
        limit, offset = check_audit_page(limit, offset)
        others, others_params = _audit_where(since=since, target=target)
        where, params = _audit_where(since=since, kind=kind, target=target)
        with self._snapshot("reading a page of the audit log") as conn:
            kinds = dict(conn.execute(f"SELECT kind, COUNT(*) FROM audit_log{others} GROUP BY kind",
                                      others_params).fetchall())
            rows = conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit_log{where} ORDER BY at DESC, id DESC "
                                "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        total = kinds.get(kind, 0) if kind is not None else sum(kinds.values())
        return AuditPage(entries=[_audit_entry(r) for r in rows], total=total, kinds=kinds)

    # -- evidence of flagged pages -------------------------------------------------------------

    def save_evidence(self, evidence: Evidence) -> str:
        """Append one record; the body is kept gzip-compressed (mtime 0, so equal bodies give equal blobs)."""
        blob = gzip.compress(evidence.html, mtime=0) if evidence.html else b""
        with self._transaction(f"saving {evidence.kind} evidence of {evidence.article_id}") as conn:
            return str(conn.execute(
                f"INSERT INTO evidence ({_EVIDENCE_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (evidence.article_id, evidence.url, utc_key(evidence.fetched_at), evidence.sha256, blob,
                 evidence.text, evidence.status_code, evidence.kind, evidence.outcome, evidence.content_type,
                 evidence.note),
            ).fetchone()[0])

    def evidence(self, article_id: str) -> list[Evidence]:
        with self._errors(f"reading evidence of {article_id}"):
            rows = self._conn.execute(
                f"SELECT {_EVIDENCE_COLUMNS} FROM evidence WHERE article_id = ? ORDER BY fetched_at, id",
                (article_id,),
            ).fetchall()
        return [_evidence(row) for row in rows]

    # -- validators, runs, failures ---------------------------------------------------------

    def get_validators(self, urls: list[str] | None = None, *,
                       source_id: str | None = None) -> dict[str, Validators]:
        sql = "SELECT url, etag, last_modified FROM validators WHERE 1"
        params: list[str] = []
        if source_id is not None:
            sql += " AND (source_id = ? OR source_id IS NULL)"      # index validators_source
            params.append(source_id)
        with self._errors("reading validators"):
            if urls is None:
                rows = self._conn.execute(sql, params).fetchall()
            else:
                rows = []
                wanted = sorted(set(urls))
                for i in range(0, len(wanted), _CHUNK):
                    chunk = wanted[i:i + _CHUNK]
                    rows += self._conn.execute(sql + f" AND url IN ({','.join('?' * len(chunk))})", [*params, *chunk])
        return {url: Validators(url=url, etag=etag, last_modified=lm) for url, etag, lm in rows}

    def set_validators(self, validators: Validators, source_id: str | None = None) -> None:
        """Keep the URL's validators; `source_id`, once given, stays attached to the URL."""
        with self._transaction(f"storing validators for {validators.url}") as conn:
            conn.execute(
                "INSERT INTO validators (url, source_id, etag, last_modified, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET source_id = coalesce(excluded.source_id, validators.source_id), "
                "etag = excluded.etag, last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                (validators.url, source_id, validators.etag, validators.last_modified, utc_key(_now())),
            )

    def record_run(self, run: SourceRun) -> None:
        with self._transaction(f"recording a run of {run.source_id}") as conn:
            conn.execute(
                "INSERT INTO source_runs (source_id, started_at, finished_at, fetched, new, updated, duplicates, "
                "skipped, errors, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.source_id, utc_key(run.started_at), utc_key(run.finished_at), run.fetched, run.new, run.updated,
                 run.duplicates, json.dumps(run.skipped, ensure_ascii=False, sort_keys=True), run.errors,
                 run.last_error),
            )

    def set_host_pause(self, pause: HostPause) -> None:
        """Keep the pause of its host; a stored pause that ends later is left as it is."""
        with self._transaction(f"storing the Retry-After pause of {pause.host}") as conn:
            conn.execute(
                "INSERT INTO host_pauses (host, until, source_id, url, status, asked_s, at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (host) DO UPDATE SET until = excluded.until, source_id = excluded.source_id, "
                "url = excluded.url, status = excluded.status, asked_s = excluded.asked_s, at = excluded.at "
                "WHERE excluded.until > host_pauses.until",
                (pause.host, utc_key(pause.until), pause.source_id, pause.url, int(pause.status),
                 float(pause.asked_s), utc_key(pause.at)),
            )

    def host_pauses(self, at: datetime | None = None) -> list[HostPause]:
        sql = "SELECT host, until, source_id, url, status, asked_s, at FROM host_pauses"
        params: list[Any] = []
        if at is not None:
            sql += " WHERE until > ?"
            params.append(utc_key(at))
        with self._errors("reading the Retry-After pauses"):
            rows = self._conn.execute(sql + " ORDER BY host", params).fetchall()
        return [HostPause(host=h, until=_from_key(u), source_id=sid, url=url, status=int(st),  # type: ignore[arg-type]
                          asked_s=float(asked), at=_from_key(when))  # type: ignore[arg-type]
                for h, u, sid, url, st, asked, when in rows]

    def record_failure(self, failure: FailureRecord) -> None:
        """Keep one record per (source, URL, stage): a repeat replaces the error and adds an attempt."""
        with self._transaction(f"recording a failure of {failure.url}") as conn:
            conn.execute(
                "INSERT INTO failures (source_id, url, stage, error_class, message, at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_id, url, stage) DO UPDATE SET "
                "error_class = excluded.error_class, message = excluded.message, at = excluded.at, "
                "attempts = max(failures.attempts + 1, excluded.attempts)",
                (failure.source_id, failure.url, failure.stage, failure.error_class, failure.message,
                 utc_key(failure.at), failure.attempts),
            )

    def failures(self, source_id: str | None = None) -> list[FailureRecord]:
        """Most recent first."""
        sql = "SELECT source_id, url, stage, error_class, message, at, attempts FROM failures"
        params: list[Any] = []
        if source_id is not None:
            sql += " WHERE source_id = ?"
            params.append(source_id)
        with self._errors("reading failures"):
            rows = self._conn.execute(sql + " ORDER BY at DESC, id DESC", params).fetchall()
        return [
            FailureRecord(source_id=s, url=u, stage=st, error_class=ec, message=m,
                          at=datetime.strptime(at, UTC_FORMAT).replace(tzinfo=UTC), attempts=n)
            for s, u, st, ec, m, at, n in rows
        ]

    def source_status(self) -> list[SourceStatus]:
        """One entry per source id the store has seen (runs, articles, validators or failures).

        A run counts as a success when it fetched anything or had no error; the last error is
        the latest of a run's `last_error` and the failures recorded for the source.
        """
        with self._errors("reading source status"):
            articles = dict(self._conn.execute("SELECT source_id, count(*) FROM articles GROUP BY source_id"))
            validators = dict(self._conn.execute(
                "SELECT source_id, count(*) FROM validators WHERE source_id IS NOT NULL "
                "AND (etag IS NOT NULL OR last_modified IS NOT NULL) GROUP BY source_id"
            ))
            success = dict(self._conn.execute(
                "SELECT source_id, max(finished_at) FROM source_runs WHERE fetched > 0 OR errors = 0 "
                "GROUP BY source_id"
            ))
            errors: dict[str, tuple[str, str]] = {}
            for sid, at, message in self._conn.execute(
                "SELECT source_id, max(finished_at), coalesce(last_error, errors || ' errors') FROM source_runs "
                "WHERE last_error IS NOT NULL OR errors > 0 GROUP BY source_id"
            ):
                errors[sid] = (at, message)
            for sid, at, message in self._conn.execute(
                "SELECT source_id, max(at), stage || ': ' || error_class || ': ' || message || ' (' || url || ')' "
                "FROM failures GROUP BY source_id"
            ):
                if sid not in errors or at > errors[sid][0]:
                    errors[sid] = (at, message)
            seen = {row[0] for row in self._conn.execute("SELECT DISTINCT source_id FROM source_runs")}
            seen |= {row[0] for row in self._conn.execute("SELECT DISTINCT source_id FROM failures")}
        seen |= set(articles) | set(validators)
        return [
            SourceStatus(
                source_id=sid, last_success=_from_key(success.get(sid)),
                last_error_at=_from_key(errors[sid][0]) if sid in errors else None,
                last_error=errors[sid][1] if sid in errors else None,
                articles=int(articles.get(sid, 0)), validators=int(validators.get(sid, 0)),
            )
            for sid in sorted(seen)
        ]

    # -- retention (haidang.store.retention) ----------------------------------------------------

    def drop_bodies(self, before: datetime) -> int:
        """Drop raw HTML, lead and text of articles first seen before `before`; keep everything else.

        The full-text row keeps the title only, so old articles stay findable by headline. The
        content hash is kept, so a re-crawl of an unchanged page does not bring the text back.
        Works in chunks of _CHUNK articles, one transaction each. Returns how many were changed.
        """
        dropped = 0
        while True:
            with self._transaction("dropping old article bodies") as conn:
                rows = conn.execute(
                    "SELECT docno, title FROM articles WHERE first_seen < ? AND ("
                    "coalesce(json_extract(doc, '$.content.text'), '') != '' OR "
                    "coalesce(json_extract(doc, '$.content.lead'), '') != '' OR "
                    "json_extract(doc, '$.fetched.html') IS NOT NULL) LIMIT ?",
                    (utc_key(before), _CHUNK),
                ).fetchall()
                for docno, title in rows:
                    conn.execute(
                        "UPDATE articles SET doc = json_set(doc, '$.fetched.html', json('null'), '$.content.text', '', "
                        "'$.content.lead', ''), updated_at = ? WHERE docno = ?", (utc_key(_now()), docno))
                    conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (docno,))
                    conn.execute("INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, '')",
                                 (docno, index_form(fold(title or ""))))
            dropped += len(rows)
            if len(rows) < _CHUNK:
                return dropped

    # -- lifecycle --------------------------------------------------------------------------

    def backup(self, target: str) -> None:
        """Copy the database with SQLite's online backup API into `target` (a file path).

        The copy is taken in one step inside one read transaction, so it is a consistent snapshot
        even while other connections write (WAL lets them go on meanwhile). It is written beside
        the target and renamed into place, so `target` never holds a half-written copy.
        """
        final = Path(target)
        if final.resolve() == self.path.resolve():
            raise StoreError(f"backup target {final} is the live database itself: choose another path")
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(final.name + ".partial")
        partial.unlink(missing_ok=True)
        with self._errors(f"backing up to {final}"):
            dest = sqlite3.connect(str(partial))
            try:
                self._conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")    # one self-contained file
            finally:
                dest.close()
        os.replace(partial, final)
        _log.info("backed up %s to %s", self.path, final)

    def close(self) -> None:
        """Close the connection; further calls raise StoreError. Closing twice is harmless."""
        try:
            self._conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass
        self._conn.close()
