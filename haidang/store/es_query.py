"""Elasticsearch query DSL built from a parsed query (haidang.store.query) and the search filters.

The counterpart of store/fts.py: the one place that writes Elasticsearch query syntax. User text
only ever arrives here as folded words inside match / match_phrase queries, never as
query_string syntax, so nothing a user types becomes an Elasticsearch operator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from haidang.store.base import SearchFilters
from haidang.store.query import Alternative, Phrase, Query

__all__ = ["TEXT_FIELDS", "TITLE_BOOST", "es_date", "es_filters", "es_query"]

# Searched fields, analysed with vi_folded (index_templates/articles-settings.component.json).
TEXT_FIELDS = ("content.title", "content.text")
# A word in the headline says more than one deep in the body; the same weight as SQLite's
# bm25 column weights (store/sqlite.py), not yet tuned against judged results.
TITLE_BOOST = 3.0


def es_date(value: datetime) -> str:
    """A datetime as the UTC ISO string the range queries compare (naive is taken as UTC).

    Elasticsearch `date` fields keep milliseconds: microseconds are cut, not rounded.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _alternative(alt: Alternative) -> dict[str, Any]:
    """A term or phrase in the title or the text; title matches score TITLE_BOOST times more."""
    if isinstance(alt, Phrase):
        text = " ".join(alt.words)
        title = {"match_phrase": {TEXT_FIELDS[0]: {"query": text, "boost": TITLE_BOOST}}}
        body = {"match_phrase": {TEXT_FIELDS[1]: {"query": text}}}
    else:
        title = {"match": {TEXT_FIELDS[0]: {"query": alt.word, "operator": "and", "boost": TITLE_BOOST}}}
        body = {"match": {TEXT_FIELDS[1]: {"query": alt.word, "operator": "and"}}}
    return {"bool": {"should": [title, body], "minimum_should_match": 1}}


def es_filters(filters: SearchFilters | None) -> list[dict[str, Any]]:
    """Filter clauses (no scoring) for the search filters; the same meaning as fts.filters_sql."""
    if filters is None:
        return []
    out: list[dict[str, Any]] = []
    if filters.province:
        out.append({"term": {"haidang.provinces": filters.province}})
    if filters.source:
        out.append({"term": {"fetched.source_id": filters.source}})
    dates: dict[str, str] = {}
    if filters.since is not None:
        dates["gte"] = es_date(filters.since)
    if filters.until is not None:
        dates["lt"] = es_date(filters.until)
    if dates:
        out.append({"range": {"haidang.date_key": dates}})
    if filters.first_seen_since is not None:
        out.append({"range": {"haidang.first_seen": {"gte": es_date(filters.first_seen_since)}}})
    if filters.lang:
        out.append({"term": {"content.language": filters.lang}})
    if filters.relevant_only:
        out.append({"term": {"relevant": True}})
    return out


def es_query(query: Query | None, filters: SearchFilters | None = None) -> dict[str, Any]:
    """One bool query: every clause must match (each clause any of its alternatives), no exclusion
    may, and the filters hold. `query` None gives the filters alone (count, iteration)."""
    must: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    if query is not None:
        for clause in query.clauses:
            alts = [_alternative(a) for a in clause.alternatives]
            must.append(alts[0] if len(alts) == 1 else {"bool": {"should": alts, "minimum_should_match": 1}})
        must_not = [_alternative(a) for a in query.exclusions]
    body: dict[str, Any] = {}
    if must:
        body["must"] = must
    if must_not:
        body["must_not"] = must_not
    filter_clauses = es_filters(filters)
    if filter_clauses:
        body["filter"] = filter_clauses
    if not body:
        return {"match_all": {}}
    return {"bool": body}
