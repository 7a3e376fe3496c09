"""SQLite SQL for searches: the FTS5 MATCH expression built from a parsed query, and filter conditions.

Kept apart from the store so the one place that writes FTS5 syntax is small enough to audit:
every term and phrase leaves here as a quoted string, so user text never becomes an operator.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from haidang.store.base import SearchFilters
from haidang.store.query import Alternative, Phrase, Query
from haidang.textnorm import CJK_RE

__all__ = ["UTC_FORMAT", "filters_sql", "fts_expression", "index_form", "register_functions", "search_from",
           "utc_key"]


# Fixed-width UTC ISO strings: text comparison of two keys is time comparison.
UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_key(value: datetime) -> str:
    """A datetime as a sortable UTC key. Naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(UTC_FORMAT)


def index_form(folded: str) -> str:
    """Folded text as the FTS5 index stores it: each CJK character set apart by spaces.

    unicode61 splits only on what is not a letter or digit, so 越南广义省 would be one token; spaced,
    it is five, as query.WORD_RE splits queries. Other text comes back unchanged (same object).
    """
    if folded.isascii() or CJK_RE.search(folded) is None:
        return folded
    return CJK_RE.sub(r" \g<0> ", folded)


def register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions the migrations call (0015 re-spaces stored rows with index_form)."""
    conn.create_function("haidang_index_form", 1, lambda text: None if text is None else index_form(text),
                         deterministic=True)


def _quote(words: tuple[str, ...] | list[str]) -> str:
    """One FTS5 string: our words hold only letters and digits, but escape quotes all the same."""
    return '"' + " ".join(words).replace('"', '""') + '"'


def _fts_alternative(alt: Alternative) -> str:
    return _quote(alt.words) if isinstance(alt, Phrase) else _quote([alt.word])


def fts_expression(query: Query) -> str:
    """The FTS5 MATCH expression for a parsed query; every term and phrase is a quoted string.

    Quoting everything means no user text is ever read as an FTS5 operator (NEAR, *, ^, column
    filters, AND/OR/NOT): only the structure we emit here is.
    """
    clauses = []
    for clause in query.clauses:
        alts = [_fts_alternative(a) for a in clause.alternatives]
        clauses.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
    expression = " AND ".join(clauses)
    if query.exclusions:
        excluded = " OR ".join(_fts_alternative(a) for a in query.exclusions)
        expression = f"({expression}) NOT ({excluded})"
    return expression


def search_from(where: list[str]) -> str:
    """FROM/WHERE of a full-text search; the join to articles only when a filter needs it."""
    if not where:
        return " FROM articles_fts WHERE articles_fts MATCH ?"
    return (
        " FROM articles_fts JOIN articles a ON a.docno = articles_fts.rowid"
        " WHERE articles_fts MATCH ? AND " + " AND ".join(where)
    )


def filters_sql(filters: SearchFilters | None) -> tuple[list[str], list[Any]]:
    """WHERE conditions on `articles a` for the filters, with their parameters."""
    where: list[str] = []
    params: list[Any] = []
    if filters is None:
        return where, params
    if filters.province:
        where.append("a.docno IN (SELECT docno FROM article_provinces WHERE province_code = ?)")
        params.append(filters.province)
    if filters.source:
        where.append("a.source_id = ?")
        params.append(filters.source)
    if filters.since is not None:
        where.append("a.date_key >= ?")
        params.append(utc_key(filters.since))
    if filters.until is not None:
        where.append("a.date_key < ?")
        params.append(utc_key(filters.until))
    if filters.first_seen_since is not None:
        where.append("a.first_seen >= ?")
        params.append(utc_key(filters.first_seen_since))
    if filters.lang:
        where.append("a.lang = ?")
        params.append(filters.lang)
    if filters.relevant_only:
        where.append("a.relevant = 1")
    return where, params
