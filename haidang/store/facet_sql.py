"""SQLite SQL for `Store.facets`: one GROUP BY per field over the filtered articles, in one statement.

It reads only the label columns kept beside each document (migration 0010, `label_columns`) and
their covering index, never the documents; topics are expanded with json_each.
Local calendar buckets shift each UTC date key by its time zone's offset at that instant
(haidang.store.buckets.offset_periods), because SQLite knows no time zones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from haidang.store.base import FACET_FIELDS, NO_VALUE, Facets, SearchFilters
from haidang.store.buckets import Interval, offset_periods
from haidang.store.fts import UTC_FORMAT, filters_sql, utc_key

__all__ = ["facet_rows", "facets_sql", "label_columns"]

_INTERVALS = ("day", "week", "month")


def label_columns(labels: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(tone, risk_level, topics) as the articles table keeps them beside the document (migration
    0010 fills them the same way in SQL): non-empty strings only, topics a sorted JSON array of ids."""
    tone = labels.get("tone")
    tone = tone.get("label") if isinstance(tone, dict) else tone
    risk = labels.get("risk")
    level = risk.get("level") if isinstance(risk, dict) else None
    topics = labels.get("topics")
    ids = sorted({t["id"] for t in topics if isinstance(t, dict) and isinstance(t.get("id"), str) and t["id"]}
                 if isinstance(topics, list) else set())
    return (tone if isinstance(tone, str) and tone else None, level if isinstance(level, str) and level else None,
            json.dumps(ids, ensure_ascii=False, separators=(",", ":")))


def _seconds(offset: timedelta) -> str:
    return f"{int(offset.total_seconds()):+d} seconds"


def _bucket_expr(interval: Interval, tz: str, lo: datetime, hi: datetime,
                 params: list[Any]) -> str:
    """The local bucket start of `a.date_key` as an ISO date, for keys within [lo, hi]."""
    periods = offset_periods(ZoneInfo(tz), lo, hi)
    if len(periods) == 1:
        shift = "?"
        params.append(_seconds(periods[0][1]))
    else:
        whens = []
        for (_, offset), (until, _) in pairwise(periods):
            whens.append("WHEN a.date_key < ? THEN ?")
            params.extend([utc_key(until), _seconds(offset)])
        shift = "CASE " + " ".join(whens) + " ELSE ? END"
        params.append(_seconds(periods[-1][1]))
    if interval == "week":
        return f"date(a.date_key, {shift}, '-6 days', 'weekday 1')"
    if interval == "month":
        return f"strftime('%Y-%m-01', a.date_key, {shift})"
    return f"date(a.date_key, {shift})"


def facets_sql(filters: SearchFilters | None, fields: Sequence[str], interval: Interval | None, tz: str,
               key_range: tuple[str | None, str | None]) -> tuple[str, list[Any]]:
    """The statement whose rows are (field, bucket, value, articles); field '' is the total.

    `key_range` is the smallest and largest date key among the stored articles, which bounds the
    offset periods the bucket expression needs.
    """
    unknown = [f for f in fields if f not in FACET_FIELDS]
    if unknown:
        raise ValueError(f"unknown facet field(s) {unknown}: use any of {list(FACET_FIELDS)}")
    if interval is not None and interval not in _INTERVALS:
        raise ValueError(f"unknown facet interval {interval!r}: use day, week or month")
    params: list[Any] = []
    bucket = "''"
    first, last = key_range
    if interval is not None and first and last:
        lo, hi = (datetime.strptime(k, UTC_FORMAT).replace(tzinfo=UTC) for k in (first, last))
        bucket = _bucket_expr(interval, tz, lo, hi, params)
    where, where_params = filters_sql(filters)
    sql = (f"WITH s AS MATERIALIZED (SELECT {bucket} AS b, a.source_id AS source, COALESCE(a.lang, '') AS lang, "
           "COALESCE(a.tone, '') AS tone, COALESCE(a.risk_level, '') AS risk_level, a.topics AS topics "
           "FROM articles a" + (" WHERE " + " AND ".join(where) if where else "") + ")")
    params.extend(where_params)
    parts = ["SELECT '', b, '', count(*) FROM s GROUP BY b"]
    for name in dict.fromkeys(fields):
        if name == "topic":
            parts.append("SELECT 'topic', s.b, j.value, count(*) FROM s, json_each(s.topics) j GROUP BY 2, 3")
            parts.append("SELECT 'topic', b, '', count(*) FROM s WHERE topics = '[]' GROUP BY b")
        else:
            parts.append(f"SELECT '{name}', b, {name}, count(*) FROM s GROUP BY 2, 3")
    return sql + " " + " UNION ALL ".join(parts), params


def facet_rows(rows: Sequence[tuple[str, str, str, int]], fields: Sequence[str], interval: Interval | None
               ) -> Facets:
    """Facets from the statement's rows (see facets_sql)."""
    out = Facets(values={f: {} for f in fields})
    per_bucket: dict[str, Facets] = {}
    for field, bucket, value, n in rows:
        value = value or NO_VALUE
        if interval is not None:
            inner = per_bucket.setdefault(bucket, Facets(values={f: {} for f in fields}))
            if field:
                inner.values[field][value] = inner.values[field].get(value, 0) + int(n)
            else:
                inner.total = int(n)
        if field:
            counts = out.values[field]
            counts[value] = counts.get(value, 0) + int(n)
        else:
            out.total += int(n)
    out.buckets = dict(sorted(per_bucket.items()))
    return out
