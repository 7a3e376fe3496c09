"""The Elasticsearch store: articles in monthly indices behind a write alias, bookkeeping in small indices.

Same behaviour as SqliteStore (the contract suite in tests/contract/ states it for both). Writes
refresh the index they touch, so a read straight after a write sees it, as on SQLite; the bulk
path (`upsert_many`, used by `haidang migrate`) refreshes once per batch. Read-modify-write
updates (outbox, failures, labels) use sequence numbers, so two writers never lose an update.

Not verified against a real Elasticsearch cluster here: see README.md, "Elasticsearch and Kibana".
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError
from elasticsearch.helpers import scan

from haidang.errors import PermanentStoreError, StoreError, TransientStoreError
from haidang.record import Article, article_id
from haidang.store.base import (
    FACET_FIELDS,
    NO_VALUE,
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
    StoryCandidate,
    UpsertOutcome,
    Validators,
    check_audit_page,
    check_search_page,
    refreshed_engagement,
)
from haidang.store.buckets import Interval, offset_periods
from haidang.store.es_query import es_date, es_query
from haidang.store.es_setup import (
    SMALL_INDICES,
    check_templates,
    index_names,
    install_templates,
    load_templates,
)
from haidang.store.highlight import make_snippet, snippet_query
from haidang.store.query import Query, parse_query, proximity_query
from haidang.textnorm import fold, normalize

__all__ = ["BulkOutcome", "ElasticStore"]

_log = logging.getLogger(__name__)

BulkOutcome = Literal["new", "updated", "unchanged", "rejected"]

# The most stored articles checked per syndicated-copy lookup, as SqliteStore.
STORY_CANDIDATE_LIMIT = 50
# Documents per page when streaming (iter_articles, outbox listings, backup).
_PAGE = 200
# Articles per _bulk request in upsert_many.
BULK_BATCH = 500
# How often a read-modify-write is retried when another writer got there first.
_RETRIES = 5
# Id prefix of an action recorded from a signed link: the id carries its link_id (the index is strict).
_LINK_ID_PREFIX = "link-"
# Elasticsearch refuses bool queries with more clauses (indices.query.bool.max_clause_count).
_MAX_KEYS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)     # sorts rows without a creation time first
# Store.facets field -> the keyword it aggregates on (the haidang.* ones are derived by _label_fields).
_FACET_KEYWORDS = {"topic": "haidang.topics", "tone": "haidang.tone", "source": "fetched.source_id",
                   "lang": "content.language", "risk_level": "haidang.risk_level"}
# Terms buckets per facet: more than any deployment has sources or topics, so counts are exact.
_FACET_SIZE = 10000
# index.max_result_window's default: a search with from + size beyond it is refused, so a deeper
# page of the audit log is reached with search_after (ElasticStore._skip).
_RESULT_WINDOW = 10_000
# The audit log newest first: the reverse of `audit`'s order (at, then seq, then the unique id).
_AUDIT_NEWEST_FIRST: list[Any] = [{"at": "desc"}, {"seq": "desc"}, {"id": "desc"}]
# `source=` a list of fields: the search API takes one (as `_source`), but elasticsearch-py types the
# argument as bool | Mapping only, hence the `type: ignore[arg-type]` where a list is passed.
_HIT_SOURCE = ["id", "content.title", "content.text", "content.published", "fetched.source_id",
               "fetched.url", "fetched.final_url", "fetched.canonical_url"]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    """Aware datetimes as ISO strings with microseconds in UTC; naive ones are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)      # 3.11 reads a trailing Z
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _doc_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _claim_id(text: str) -> str:
    """The same derivation as SqliteStore: a stable id from the folded, space-collapsed text."""
    key = " ".join(fold(normalize(text)).split())
    return "claim-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _content_hash(article: Article) -> str:
    """The article's own content hash, or one over its normalised title and text (as SqliteStore)."""
    if article.content.content_hash:
        return article.content.content_hash
    text = normalize(article.content.title) + "\n" + normalize(article.content.text)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _derived(article: Article, doc: dict[str, Any], content_hash: str) -> dict[str, Any]:
    """The fields the store adds for filters, sorting and Kibana aggregations (never part of Article)."""
    provinces = {m.province_code for m in article.matches if m.province_code}
    if article.province_code:
        provinces.add(article.province_code)
    first_seen = doc["content"]["first_seen"]
    published = doc["content"].get("published")
    derived: dict[str, Any] = {
        "date_key": _iso(_parse(published or first_seen)),
        "first_seen": _iso(_parse(first_seen)),
        "provinces": sorted(provinces),
        "content_hash": content_hash,
        "updated_at": _iso(_now()),
    }
    derived.update(_label_fields(article.labels))
    return derived


def _label_fields(labels: dict[str, Any]) -> dict[str, Any]:
    """Flat keywords from the labels (topic ids, tone, risk level) that Kibana can aggregate on."""
    out: dict[str, Any] = {"topics": [], "tone": None, "risk_level": None}
    # Strings only, as SqliteStore.facets reads them (a tone may be a bare label, as Article.tone_label).
    topics = labels.get("topics")
    if isinstance(topics, list):
        out["topics"] = sorted({t["id"] for t in topics if isinstance(t, dict) and isinstance(t.get("id"), str)
                                and t["id"]})
    tone = labels.get("tone")
    tone = tone.get("label") if isinstance(tone, dict) else tone
    if isinstance(tone, str) and tone:
        out["tone"] = tone
    risk = labels.get("risk")
    if isinstance(risk, dict) and isinstance(risk.get("level"), str) and risk["level"]:
        out["risk_level"] = risk["level"]
    return out


def _facets(total: int, aggs: dict[str, Any], names: Sequence[str]) -> Facets:
    """Facets from one level of the facet aggregations (see ElasticStore.facets)."""
    out = Facets(total=total, values={name: {} for name in names})
    for name in names:
        counts = out.values[name]
        for bucket in (aggs.get(f"values_{name}") or {}).get("buckets", []):
            key = str(bucket["key"]) or NO_VALUE
            counts[key] = counts.get(key, 0) + int(bucket["doc_count"])
        missing = int((aggs.get(f"none_{name}") or {}).get("doc_count", 0))
        if missing:
            counts[NO_VALUE] = counts.get(NO_VALUE, 0) + missing
    return out


def _add_facets(into: Facets, more: Facets) -> None:
    into.total += more.total
    for name, counts in more.values.items():
        target = into.values.setdefault(name, {})
        for key, n in counts.items():
            target[key] = target.get(key, 0) + n


def _offset_text(offset: timedelta) -> str:
    """A UTC offset as Elasticsearch's time_zone takes it: "+07:00" (seconds only when needed)."""
    seconds = int(offset.total_seconds())
    sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _article(source: dict[str, Any]) -> Article:
    source = dict(source)
    source.pop("haidang", None)
    return Article.from_dict(source)


def _claim(src: dict[str, Any]) -> KnownClaim:
    return KnownClaim(id=src["id"], text=src["text"], rebuttal_url=src.get("rebuttal_url"),
                      source_article_id=src.get("source_article_id"), status=src["status"],
                      created_at=_parse(src.get("created_at")), signature=list(src.get("signature") or []))


# Before template version 5 an outbox document kept "the server took it whole without answering" as
# this prefix of last_error (SQLite migration 0014 says more); `_handed_over_field` reads such a
# document as if it had the handed_over field, and every rewrite of it stores the field.
_LEGACY_HANDED_OVER = "[may have been delivered already] "
_LEGACY_STOPPED = "the server took the whole message twice without answering"


def _handed_over_field(src: dict[str, Any]) -> dict[str, Any]:
    """`src` with `handed_over` set: as stored, or for a document written before the field, the
    count the old prefix stood for, with the prefix taken out of last_error (as migration 0014)."""
    if "handed_over" in src:
        return src
    error = src.get("last_error") or ""
    if _LEGACY_HANDED_OVER not in error:
        return {**src, "handed_over": 0}
    return {**src, "handed_over": 2 if _LEGACY_STOPPED in error else 1,
            "last_error": error.replace(_LEGACY_HANDED_OVER, "")}


def _outbox_message(src: dict[str, Any]) -> OutboxMessage:
    """A stored outbox document as a message; `text` and `html` empty when they were not fetched."""
    src = _handed_over_field(src)
    return OutboxMessage(key=src["key"], flag_rule=src["flag_rule"], story_id=src["story_id"],
                         recipient=src["recipient"], message_id=src["message_id"], subject=src["subject"],
                         text=src.get("text") or "", html=src.get("html") or "", status=src["status"],
                         attempts=int(src["attempts"]), next_attempt_at=_parse(src.get("next_attempt_at")),
                         last_error=src.get("last_error"), created_at=_parse(src.get("created_at")),
                         sent_at=_parse(src.get("sent_at")), lease_owner=src.get("lease_owner"),
                         lease_until=_parse(src.get("lease_until")), pending_since=_parse(src.get("pending_since")),
                         failed_at=_parse(src.get("failed_at")), attachments=list(src.get("attachments") or []),
                         handed_over=int(src.get("handed_over") or 0), article_id=src.get("article_id"))


def _audit_query(since: datetime | None, kind: str | None, target: str | None) -> dict[str, Any]:
    """The audit log filter as a bool query of filter clauses (no scoring: the log is sorted)."""
    filters: list[dict[str, Any]] = [{"term": {name: value}} for name, value in (("kind", kind), ("target", target))
                                     if value is not None]
    if since is not None:
        filters.append({"range": {"at": {"gte": _iso(since)}}})
    return {"bool": {"filter": filters}}


def _audit_entry(source: dict[str, Any]) -> AuditEntry:
    return AuditEntry(id=source["id"], at=_parse(source["at"]) or _now(), actor=source["actor"], kind=source["kind"],
                      target=source["target"], detail=dict(source.get("detail") or {}), client=source.get("client"))


class ElasticStore:
    """`Store` on an Elasticsearch 8 cluster, reached through the official client given to it.

    `prefix` names every index ("haidang-articles-000001", "haidang-outbox", ...), so several
    deployments (or test runs) can share one cluster. At start-up the installed index template
    must be this code's version (installed when missing; see es_setup.check_templates).
    """

    def __init__(self, client: Elasticsearch, *, prefix: str = "haidang", install_missing: bool = True,
                 delete_after_days: int | None = None) -> None:
        self._es = client
        self.prefix = prefix
        self._names = index_names(prefix)
        self._delete_after_days = delete_after_days
        self._templates = load_templates()
        with self._errors("checking the index templates"):
            self.template_version = check_templates(client, prefix, templates=self._templates,
                                                    install_missing=install_missing)
            missing = [k for k in SMALL_INDICES if not client.indices.exists(index=self._names[k])]
            if missing:
                install_templates(client, prefix, templates=self._templates, delete_after_days=delete_after_days)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate client errors into the project's tree: unreachable, overloaded and 5xx are transient."""
        try:
            yield
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise TransientStoreError(f"{doing}: Elasticsearch unreachable ({exc}); retry when it is back") from exc
        except ApiError as exc:
            if exc.meta.status in (429, 502, 503, 504):
                raise TransientStoreError(f"{doing}: Elasticsearch is busy ({exc}); retry later") from exc
            raise PermanentStoreError(f"{doing}: {exc}") from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _search_all(self, index: str, query: dict[str, Any], sort: list[Any],
                    source: list[str] | dict[str, Any] | bool = True) -> Iterator[dict[str, Any]]:
        """Every hit of `query`, in `sort` order (which must end on a unique field), page by page."""
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"index": index, "query": query, "sort": sort, "size": _PAGE,
                                      "source": source, "ignore_unavailable": True}
            if after is not None:
                kwargs["search_after"] = after
            hits = self._es.search(**kwargs)["hits"]["hits"]
            yield from hits
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]

    def _modify(self, index: str, doc_id: str, change: Callable[[dict[str, Any]], dict[str, Any]],
                missing: str) -> None:
        """Read, change and write back one document, retrying when another writer came between.

        Raises KeyError(`missing`) when there is no such document.
        """
        for _ in range(_RETRIES):
            try:
                found = self._es.get(index=index, id=doc_id)
            except NotFoundError:
                raise KeyError(missing) from None
            try:
                self._es.index(index=found["_index"], id=doc_id, document=change(dict(found["_source"])),
                               if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"], refresh=True)
                return
            except ConflictError:
                continue
        raise TransientStoreError(f"{index}/{doc_id}: changed by others {_RETRIES} times in a row; retry")

    # -- articles ---------------------------------------------------------------------------

    def _locate(self, ids: Sequence[str], source: list[str] | bool) -> dict[str, dict[str, Any]]:
        """The stored hit (index, seq_no, primary_term, _source) of each id found, whatever month it is in."""
        if not ids:
            return {}
        found = self._es.search(index=self._names["articles_pattern"], query={"ids": {"values": list(ids)}},
                                size=len(ids), seq_no_primary_term=True, ignore_unavailable=True,
                                source=source)  # type: ignore[arg-type]  # a field list: see _HIT_SOURCE
        return {hit["_id"]: hit for hit in found["hits"]["hits"]}

    def _prepare(self, article: Article, stored: dict[str, Any] | None
                 ) -> tuple[str, dict[str, Any], str] | None:
        """(id, document, content hash) to write, or None when the stored copy has the same content."""
        fetched = article.fetched
        canonical = fetched.canonical_url or fetched.final_url or fetched.url
        doc_id = article.id or article_id(canonical)
        content_hash = _content_hash(article)
        old = (stored or {}).get("_source") or {}
        if stored is not None and old.get("haidang", {}).get("content_hash") == content_hash:
            return None
        doc = article.to_dict()
        doc["id"] = doc_id
        old_first_seen = (old.get("content") or {}).get("first_seen")
        if old_first_seen:
            doc["content"]["first_seen"] = old_first_seen          # never moves once stored
        else:
            doc["content"]["first_seen"] = (article.content.first_seen or _now()).isoformat()
        doc["haidang"] = _derived(article, doc, content_hash)
        return doc_id, doc, content_hash

    def upsert(self, article: Article) -> UpsertOutcome:
        fetched = article.fetched
        doc_id = article.id or article_id(fetched.canonical_url or fetched.final_url or fetched.url)
        doing = f"storing article {doc_id} ({fetched.url})"
        with self._errors(doing):
            for _ in range(_RETRIES):
                stored = self._locate([doc_id], ["content.first_seen", "content.engagement",
                                                 "haidang.content_hash"]).get(doc_id)
                prepared = self._prepare(article, stored)
                if prepared is None:
                    assert stored is not None
                    counts = refreshed_engagement(((stored.get("_source") or {}).get("content") or {}).get("engagement"),
                                                  article.content.engagement)
                    if counts is not None:      # the same text, further spread: only the counts change
                        try:
                            self._es.update(index=stored["_index"], id=doc_id, doc={"content": {"engagement": counts}},
                                            if_seq_no=stored["_seq_no"], if_primary_term=stored["_primary_term"],
                                            refresh=True)
                        except ConflictError:
                            continue
                    return "unchanged"
                _, doc, _ = prepared
                try:
                    if stored is None:
                        self._es.index(index=self._names["articles"], id=doc_id, document=doc, op_type="create",
                                       refresh=True)
                        return "new"
                    self._es.index(index=stored["_index"], id=doc_id, document=doc, if_seq_no=stored["_seq_no"],
                                   if_primary_term=stored["_primary_term"], refresh=True)
                    return "updated"
                except ConflictError:
                    continue            # another writer stored it meanwhile: look again
                except ApiError as exc:
                    if exc.meta.status == 400:      # the cluster refused the document itself
                        self._reject(doc_id, fetched.source_id, fetched.url, doc, str(exc.error), str(exc))
                    raise
        raise TransientStoreError(f"{doing}: changed by others {_RETRIES} times in a row; retry")

    def upsert_many(self, articles: Sequence[Article]) -> list[BulkOutcome]:
        """Store many articles with one _bulk request per BULK_BATCH; one outcome per article, in order.

        Each item is checked on its own: a document the cluster rejects is recorded (the failures
        list, stage "store", and the whole document in the <prefix>-rejected index) and reported
        "rejected", and the others are stored. An item that lost a race with another writer is
        stored again through `upsert`. Re-running with the same articles adds nothing.
        """
        outcomes: list[BulkOutcome] = []
        for start in range(0, len(articles), BULK_BATCH):
            outcomes += self._bulk_batch(articles[start:start + BULK_BATCH])
        return outcomes

    def _bulk_batch(self, batch: Sequence[Article]) -> list[BulkOutcome]:
        outcomes: list[BulkOutcome] = ["unchanged"] * len(batch)
        ids = [a.id or article_id(a.fetched.canonical_url or a.fetched.final_url or a.fetched.url) for a in batch]
        last = {doc_id: n for n, doc_id in enumerate(ids)}            # a repeated id: the last copy wins
        with self._errors(f"storing {len(batch)} articles"):
            stored = self._locate(sorted(last), ["content.first_seen", "haidang.content_hash"])
            operations: list[dict[str, Any]] = []
            sent: list[tuple[int, dict[str, Any]]] = []
            for doc_id, n in last.items():
                prepared = self._prepare(batch[n], stored.get(doc_id))
                if prepared is None:
                    continue
                _, doc, _ = prepared
                hit = stored.get(doc_id)
                if hit is None:
                    operations.append({"create": {"_index": self._names["articles"], "_id": doc_id}})
                    outcomes[n] = "new"
                else:
                    operations.append({"index": {"_index": hit["_index"], "_id": doc_id,
                                                 "if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}})
                    outcomes[n] = "updated"
                operations.append(doc)
                sent.append((n, doc))
            if not operations:
                return outcomes
            response = self._es.bulk(operations=operations, refresh=True)
            items = response["items"]
        retry: list[int] = []
        for (n, doc), item in zip(sent, items, strict=True):
            result = next(iter(item.values()))
            error = result.get("error")
            if not error:
                continue
            if result.get("status") == 409:
                retry.append(n)
                continue
            outcomes[n] = "rejected"
            fetched = batch[n].fetched
            self._reject(ids[n], fetched.source_id, fetched.url, doc, str(error.get("type")),
                         str(error.get("reason")))
        for n in retry:
            try:
                outcomes[n] = self.upsert(batch[n])
            except StoreError as exc:
                outcomes[n] = "rejected"
                _log.warning("article %s not stored after a conflict: %s", ids[n], exc)
        return outcomes

    def _reject(self, doc_id: str, source_id: str, url: str, doc: dict[str, Any], error_type: str,
                reason: str) -> None:
        """Keep a refused document and say why, so nothing is lost: the failures list and <prefix>-rejected."""
        _log.error("Elasticsearch refused article %s (%s): %s: %s", doc_id, url, error_type, reason)
        at = _now()
        try:
            self._es.index(index=self._names["rejected"], id=doc_id, refresh=True, document={
                "article_id": doc_id, "source_id": source_id, "url": url, "error_type": error_type,
                "reason": reason, "at": _iso(at),
                "document": json.dumps(doc, ensure_ascii=False, separators=(",", ":"))})
            self.record_failure(FailureRecord(source_id=source_id, url=url, stage="store", error_class=error_type,
                                              message=f"Elasticsearch refused the document: {reason}", at=at))
        except (ApiError, TransportConnectionError, ConnectionTimeout, StoreError) as exc:
            _log.error("could not record the refused article %s either: %s", doc_id, exc)

    def rejected(self) -> list[dict[str, Any]]:
        """Documents the cluster refused, newest first, with the reason (for `haidang status`)."""
        with self._errors("reading refused documents"):
            hits = self._search_all(self._names["rejected"], {"match_all": {}},
                                    [{"at": "desc"}, {"article_id": "asc"}])
            return [hit["_source"] for hit in hits]

    def set_labels(self, article_id: str, labels: dict[str, Any]) -> bool:
        def change(src: dict[str, Any]) -> dict[str, Any]:
            src["labels"] = labels
            src.setdefault("haidang", {}).update(_label_fields(labels), updated_at=_iso(_now()))
            return src

        with self._errors(f"storing labels of {article_id}"):
            hit = self._locate([article_id], False).get(article_id)
            if hit is None:
                return False
            try:
                self._modify(hit["_index"], article_id, change, f"no article {article_id}")
            except KeyError:
                return False
            return True

    def get(self, article_id: str) -> Article | None:
        with self._errors(f"reading article {article_id}"):
            hit = self._locate([article_id], True).get(article_id)
        return _article(hit["_source"]) if hit else None

    def count(self, filters: SearchFilters | None = None) -> int:
        with self._errors("counting articles"):
            return int(self._es.count(index=self._names["articles_pattern"], query=es_query(None, filters),
                                      ignore_unavailable=True)["count"])

    def iter_articles(self, filters: SearchFilters | None = None, *, html: bool = True) -> Iterator[Article]:
        """Oldest first by first_seen (then id), page by page with search_after; not a snapshot:
        articles stored meanwhile may or may not appear. Without `html` the cluster leaves the
        page out of `_source`."""
        sort = [{"haidang.first_seen": {"order": "asc"}}, {"id": "asc"}]
        source: dict[str, Any] | bool = True if html else {"excludes": ["fetched.html"]}
        with self._errors("reading articles"):
            for hit in self._search_all(self._names["articles_pattern"], es_query(None, filters), sort, source):
                yield _article(hit["_source"])

    def facets(self, filters: SearchFilters | None, fields: Sequence[FacetField], *,
               interval: Interval | None = None, tz: str = "Asia/Ho_Chi_Minh") -> Facets:
        """terms and missing aggregations per field; with an interval, the same under date_histograms
        (calendar_interval, so weeks start on Monday).

        Each histogram covers one period of constant UTC offset of `tz` and is given that offset,
        not the zone's name: the buckets then match SqliteStore's to the second whatever time zone
        data the cluster has, and the CI stand-in, which understands only fixed offsets, runs the
        same requests. A local day split by a clock change is merged from its two periods.
        """
        unknown = [f for f in fields if f not in FACET_FIELDS]
        if unknown:
            raise ValueError(f"unknown facet field(s) {unknown}: use any of {list(FACET_FIELDS)}")
        if interval is not None and interval not in ("day", "week", "month"):
            raise ValueError(f"unknown facet interval {interval!r}: use day, week or month")
        names = list(dict.fromkeys(fields))
        index, query = self._names["articles_pattern"], es_query(None, filters)
        per_field: dict[str, Any] = {}
        for name in names:
            per_field[f"values_{name}"] = {"terms": {"field": _FACET_KEYWORDS[name], "size": _FACET_SIZE}}
            per_field[f"none_{name}"] = {"missing": {"field": _FACET_KEYWORDS[name]}}
        aggs = dict(per_field)
        periods: list[tuple[datetime, timedelta]] = []
        with self._errors("counting articles by facet"):
            if interval is not None:
                # The first and last date keys (sorted hits: the stand-in has no min/max on dates).
                ends = [self._es.search(index=index, query=query, size=1, source=False, ignore_unavailable=True,
                                        sort=[{"haidang.date_key": {"order": order}}])["hits"]["hits"]
                        for order in ("asc", "desc")]
                if ends[0] and ends[1]:
                    periods = offset_periods(ZoneInfo(tz), *(datetime.fromtimestamp(h[0]["sort"][0] / 1000, UTC)
                                                              for h in ends))
            for i, (_, offset) in enumerate(periods):
                dates = {"gte": es_date(periods[i][0])} if i else {}
                if i + 1 < len(periods):
                    dates["lt"] = es_date(periods[i + 1][0])
                aggs[f"period_{i}"] = {
                    "filter": {"range": {"haidang.date_key": dates}} if dates else {"match_all": {}},
                    "aggs": {"by_time": {"date_histogram": {
                        "field": "haidang.date_key", "calendar_interval": interval, "min_doc_count": 1,
                        "time_zone": _offset_text(offset)}, "aggs": per_field}}}
            found = self._es.search(index=index, query=query, size=0, aggs=aggs, track_total_hits=True,
                                    ignore_unavailable=True)
        total = found["hits"]["total"]
        results = found.get("aggregations") or {}
        out = _facets(int(total["value"] if isinstance(total, dict) else total), results, names)
        for i, (_, offset) in enumerate(periods):
            for bucket in results.get(f"period_{i}", {}).get("by_time", {}).get("buckets", []):
                if bucket["doc_count"]:
                    day = datetime.fromtimestamp(bucket["key"] / 1000, timezone(offset)).date().isoformat()
                    _add_facets(out.buckets.setdefault(day, Facets(values={n: {} for n in names})),
                                _facets(int(bucket["doc_count"]), bucket, names))
        out.buckets = dict(sorted(out.buckets.items()))
        return out

    # -- search -----------------------------------------------------------------------------

    def search(self, query: str, filters: SearchFilters | None = None, *, limit: int = 20,
               offset: int = 0) -> SearchResult:
        limit = check_search_page(limit, offset)
        parsed = parse_query(query)
        with self._errors(f"searching for {query!r}"):
            total = int(self._es.count(index=self._names["articles_pattern"], query=es_query(parsed, filters),
                                       ignore_unavailable=True)["count"])
            if total == 0 or offset >= total:
                return SearchResult(total=total, hits=[])
            strict = proximity_query(parsed)
            if strict is None:
                ranked = self._ranked(parsed, filters, limit, offset)
            else:
                rest = Query(clauses=parsed.clauses, exclusions=parsed.exclusions + strict.clauses[-1].alternatives)
                ranked = self._ranked_in_tiers(strict, rest, filters, limit, offset)
        marked = snippet_query(parsed)
        return SearchResult(total=total, hits=[self._hit(src, score, marked) for src, score in ranked])

    def _ranked(self, query: Query, filters: SearchFilters | None, limit: int,
                offset: int) -> list[tuple[dict[str, Any], float]]:
        """(source, score) by relevance (BM25, title boosted), ties by id, best first."""
        if limit <= 0:
            return []
        hits = self._es.search(index=self._names["articles_pattern"], query=es_query(query, filters),
                               sort=[{"_score": "desc"}, {"id": "asc"}], from_=offset, size=limit,
                               track_total_hits=False, ignore_unavailable=True,
                               source=_HIT_SOURCE)["hits"]["hits"]  # type: ignore[arg-type]  # a field list
        return [(hit["_source"], float(hit["_score"] or 0.0)) for hit in hits]

    def _ranked_in_tiers(self, strict: Query, rest: Query, filters: SearchFilters | None, limit: int,
                         offset: int) -> list[tuple[dict[str, Any], float]]:
        """Articles with query words side by side first, then the rest, as SqliteStore ranks them:
        1 + score in the first tier, score / (1 + score), below 1, in the second."""
        wanted = offset + limit
        first = self._ranked(strict, filters, wanted, 0)
        ranked = [(src, 1.0 + score) for src, score in first[offset:]]
        if len(first) < wanted:
            skip = max(0, offset - len(first))
            second = self._ranked(rest, filters, wanted - max(offset, len(first)), skip)
            ranked += [(src, score / (1.0 + score)) for src, score in second]
        return ranked

    @staticmethod
    def _hit(src: dict[str, Any], score: float, query: Query) -> SearchHit:
        content = src.get("content") or {}
        fetched = src.get("fetched") or {}
        title = normalize(content.get("title") or "")
        text = normalize(content.get("text") or "")
        snippet = make_snippet(text, query) or make_snippet(title, query)
        if snippet is None:     # matched only through analysis we cannot see; show the opening
            snippet = (text[:200].replace("\n", " "), [])
        published = content.get("published")
        return SearchHit(
            id=src["id"], title=title, source_id=fetched.get("source_id", ""),
            url=fetched.get("canonical_url") or fetched.get("final_url") or fetched.get("url", ""),
            published=datetime.fromisoformat(published) if published else None,
            score=float(score), snippet=snippet[0], highlights=snippet[1],
        )

    # -- syndicated-copy detection ------------------------------------------------------------

    def story_candidates(self, band_keys: list[str]) -> list[StoryCandidate]:
        """The stored articles sharing the most band keys (each shared key scores 1), at most
        STORY_CANDIDATE_LIMIT, ordered by article id."""
        keys = sorted(set(band_keys))[:_MAX_KEYS]
        if not keys:
            return []
        should = [{"constant_score": {"filter": {"term": {"band_keys": key}}, "boost": 1.0}} for key in keys]
        with self._errors("looking up story band keys"):
            hits = self._es.search(index=self._names["story-keys"],
                                   query={"bool": {"should": should, "minimum_should_match": 1}},
                                   sort=[{"_score": "desc"}, {"article_id": "asc"}], size=STORY_CANDIDATE_LIMIT,
                                   source=["article_id", "story_id", "signature"],  # type: ignore[arg-type]
                                   )["hits"]["hits"]
        found = [StoryCandidate(article_id=h["_source"]["article_id"], story_id=h["_source"]["story_id"],
                                signature=list(h["_source"]["signature"])) for h in hits]
        return sorted(found, key=lambda c: c.article_id)

    def add_story_keys(self, article_id: str, story_id: str, band_keys: list[str],
                       signature: list[int]) -> None:
        """Replace the article's band keys and signature; a stored article takes the story id too."""
        with self._errors(f"storing story keys for {article_id}"):
            self._es.index(index=self._names["story-keys"], id=article_id, refresh=True, document={
                "article_id": article_id, "story_id": story_id, "band_keys": sorted(set(band_keys)),
                "signature": list(signature)})
            hit = self._locate([article_id], ["story_id"]).get(article_id)
            if hit is not None and hit["_source"].get("story_id") != story_id:
                self._es.update(index=hit["_index"], id=article_id, doc={"story_id": story_id}, refresh=True)

    # -- known false claims -------------------------------------------------------------------

    def propose_claim(self, claim: KnownClaim, band_keys: Sequence[str] = ()) -> str:
        claim_id = claim.id or _claim_id(claim.text)
        with self._errors(f"proposing claim {claim_id}"):
            try:
                self._es.index(index=self._names["claims"], id=claim_id, op_type="create", refresh=True, document={
                    "id": claim_id, "text": normalize(claim.text), "rebuttal_url": claim.rebuttal_url,
                    "source_article_id": claim.source_article_id, "status": "proposed",
                    "created_at": _iso(claim.created_at or _now()), "signature": list(claim.signature),
                    "band_keys": sorted(set(band_keys))})
            except ConflictError:
                pass            # proposing an existing id changes nothing
        return claim_id

    def confirm_claim(self, claim_id: str) -> None:
        with self._errors(f"confirming claim {claim_id}"):
            self._modify(self._names["claims"], claim_id, lambda src: {**src, "status": "confirmed"},
                         f"no known claim with id {claim_id!r} in {self.prefix}-claims")

    def dismiss_claim(self, claim_id: str) -> None:
        with self._errors(f"dismissing claim {claim_id}"):
            self._modify(self._names["claims"], claim_id, lambda src: {**src, "status": "dismissed"},
                         f"no known claim with id {claim_id!r} in {self.prefix}-claims")

    def known_claims(self, status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        query = {"term": {"status": status}} if status is not None else {"match_all": {}}
        with self._errors("reading known claims"):
            return [_claim(h["_source"]) for h in self._search_all(
                self._names["claims"], query, [{"created_at": "asc"}, {"id": "asc"}])]

    def get_claim(self, claim_id: str) -> KnownClaim | None:
        with self._errors(f"reading claim {claim_id}"):
            try:
                return _claim(self._es.get(index=self._names["claims"], id=claim_id)["_source"])
            except NotFoundError:
                return None

    def claim_candidates(self, band_keys: Sequence[str],
                         status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        keys = sorted(set(band_keys))
        if not keys:
            return []
        found: dict[str, KnownClaim] = {}
        with self._errors("looking up claim band keys"):
            for i in range(0, len(keys), _MAX_KEYS):
                filters: list[dict[str, Any]] = [{"terms": {"band_keys": keys[i:i + _MAX_KEYS]}}]
                if status is not None:
                    filters.append({"term": {"status": status}})
                for hit in self._search_all(self._names["claims"], {"bool": {"filter": filters}}, [{"id": "asc"}]):
                    found[hit["_source"]["id"]] = _claim(hit["_source"])
        return [found[k] for k in sorted(found)]

    # -- email outbox ------------------------------------------------------------------------

    def enqueue(self, msg: OutboxMessage) -> bool:
        created = msg.created_at or _now()
        with self._errors(f"queueing outbox message {msg.key}"):
            try:
                self._es.index(index=self._names["outbox"], id=msg.key, op_type="create", refresh=True, document={
                    "key": msg.key, "flag_rule": msg.flag_rule, "story_id": msg.story_id, "recipient": msg.recipient,
                    "message_id": msg.message_id, "subject": msg.subject, "text": msg.text, "html": msg.html,
                    "status": "pending", "attempts": 0, "next_attempt_at": _iso(msg.next_attempt_at or created),
                    "last_error": None, "created_at": _iso(created), "sent_at": None, "lease_owner": None,
                    "lease_until": None, "pending_since": _iso(msg.next_attempt_at or created), "failed_at": None,
                    "attachments": list(msg.attachments), "handed_over": 0, "article_id": msg.article_id})
            except ConflictError:
                return False
        return True

    def due_messages(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        unleased = {"bool": {"should": [{"bool": {"must_not": {"exists": {"field": "lease_until"}}}},
                                        {"range": {"lease_until": {"lt": _iso(now)}}}], "minimum_should_match": 1}}
        query = {"bool": {"filter": [{"term": {"status": "pending"}},
                                     {"range": {"next_attempt_at": {"lte": _iso(now)}}}, unleased]}}
        with self._errors("reading due outbox messages"):
            hits = self._es.search(index=self._names["outbox"], query=query, size=int(limit),
                                   sort=[{"next_attempt_at": "asc"}, {"created_at": "asc"}, {"key": "asc"}])
        return [_outbox_message(h["_source"]) for h in hits["hits"]["hits"]]

    def _update_outbox(self, key: str, doing: str, fields: dict[str, Any], *, handed_over: bool = False) -> None:
        """Write `fields` into the message and count the attempt (and the handover, when there was one)."""
        def change(src: dict[str, Any]) -> dict[str, Any]:
            src = _handed_over_field(src)
            return {**src, **fields, "attempts": int(src.get("attempts") or 0) + 1,
                    "handed_over": int(src.get("handed_over") or 0) + int(handed_over)}

        with self._errors(f"{doing} outbox message {key}"):
            self._modify(self._names["outbox"], key, change, f"no outbox message with key {key!r} in {self.prefix}-outbox")

    def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        # Read, check, write back with if_seq_no/if_primary_term: when two processes claim at once,
        # the second write is refused (409) and its re-read finds the lease taken.
        at = now or _now()
        with self._errors(f"claiming outbox message {key}"):
            for _ in range(_RETRIES):
                try:
                    found = self._es.get(index=self._names["outbox"], id=key)
                except NotFoundError:
                    return False
                src = found["_source"]
                lease = _parse(src.get("lease_until"))
                due = _parse(src.get("next_attempt_at"))
                if src.get("status") != "pending" or (due is not None and due > at) or (lease is not None
                                                                                         and lease >= at):
                    return False
                try:
                    self._es.index(index=found["_index"], id=key, refresh=True,
                                   document={**src, "lease_owner": owner, "lease_until": _iso(until)},
                                   if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
                    return True
                except ConflictError:
                    continue
        return False

    def mark_sent(self, key: str, at: datetime) -> None:
        self._update_outbox(key, "marking sent", {"status": "sent", "sent_at": _iso(at), "last_error": None,
                                                  "lease_owner": None, "lease_until": None})

    def mark_retry(self, key: str, error: str, next_attempt_at: datetime, *, handed_over: bool = False) -> None:
        self._update_outbox(key, "scheduling retry of", {"status": "pending", "last_error": error,
                                                         "next_attempt_at": _iso(next_attempt_at),
                                                         "lease_owner": None, "lease_until": None},
                            handed_over=handed_over)

    def mark_failed(self, key: str, error: str, at: datetime | None = None, *, handed_over: bool = False) -> None:
        self._update_outbox(key, "marking failed", {"status": "failed", "last_error": error,
                                                    "failed_at": _iso(at or _now()),
                                                    "lease_owner": None, "lease_until": None},
                            handed_over=handed_over)

    def requeue_failed(self, key: str, now: datetime) -> bool:
        changed = False

        def change(src: dict[str, Any]) -> dict[str, Any]:
            nonlocal changed
            changed = src.get("status") == "failed"
            if not changed:
                return src
            return {**_handed_over_field(src), "status": "pending", "next_attempt_at": _iso(now),
                    "pending_since": _iso(now), "failed_at": None, "lease_owner": None, "lease_until": None}

        with self._errors(f"putting back outbox message {key}"):
            self._modify(self._names["outbox"], key, change, f"no outbox message with key {key!r} in {self.prefix}-outbox")
        return changed

    def outbox(self, status: OutboxStatus | None = None, *, keys: Sequence[str] | None = None,
               sent_since: datetime | None = None, bodies: bool = True) -> list[OutboxMessage]:
        if keys is not None and len(keys) > _MAX_KEYS:      # stay within the query limits
            found = [m for i in range(0, len(keys), _MAX_KEYS)
                     for m in self.outbox(status, keys=keys[i:i + _MAX_KEYS], sent_since=sent_since,
                                          bodies=bodies)]
            return sorted({m.key: m for m in found}.values(), key=lambda m: (m.created_at or _EPOCH, m.key))
        filters: list[dict[str, Any]] = []
        if status is not None:
            filters.append({"term": {"status": status}})
        if keys is not None:
            filters.append({"terms": {"key": list(keys)}})
        if sent_since is not None:
            filters.append({"range": {"sent_at": {"gte": _iso(sent_since)}}})
        query = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        source: dict[str, Any] | bool = True if bodies else {"excludes": ["text", "html"]}
        with self._errors("reading the outbox"):
            return [_outbox_message(h["_source"]) for h in self._search_all(
                self._names["outbox"], query, [{"created_at": "asc"}, {"key": "asc"}], source=source)]

    # -- state of the scheduled alert rules --------------------------------------------------

    def get_alert_state(self, key: str) -> dict[str, Any] | None:
        with self._errors(f"reading alert state {key}"):
            try:
                found = self._es.get(index=self._names["alert-state"], id=_doc_id(key))
            except NotFoundError:
                return None
        return dict(found["_source"]["value"])

    def set_alert_state(self, key: str, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"alert state {key!r} must be a dict, not {type(value).__name__}")
        value = json.loads(json.dumps(value, ensure_ascii=False))     # TypeError early if not JSON-able
        with self._errors(f"storing alert state {key}"):
            self._es.index(index=self._names["alert-state"], id=_doc_id(key), refresh=True,
                           document={"key": key, "value": value, "updated_at": _iso(_now())})

    # -- officer actions and the audit log (append-only) -------------------------------------

    @staticmethod
    def _new_id() -> tuple[str, int]:
        """A unique id that sorts in creation order within this process, and its sequence number."""
        seq = time.time_ns()
        return f"{seq:020d}-{uuid.uuid4().hex[:8]}", seq

    @staticmethod
    def _audit_doc(entry: AuditEntry, entry_id: str, seq: int) -> dict[str, Any]:
        return {"id": entry_id, "at": _iso(entry.at), "actor": entry.actor, "kind": entry.kind,
                "target": entry.target, "client": entry.client, "seq": seq,
                "detail": json.loads(json.dumps(entry.detail, ensure_ascii=False, default=str))}

    def record_action(self, action: ResponseAction) -> str:
        """Append the action and its "action" audit entry, both with op_type create.

        Without a link_id both go in one _bulk request. With one, the action's document id is
        "link-<link_id>" and it is created first: a conflict means another process recorded that
        link, so AlreadyRecorded is raised and no second audit entry is written. The actions index
        is strict, so the key lives only in the id (`actions` reads it back from there).
        Elasticsearch has no transactions: if the cluster takes the action and refuses its audit
        entry, this raises; the retry then finds the action and writes the missing entry.
        """
        action_id, seq = self._new_id()
        if action.link_id is not None:
            action_id = f"{_LINK_ID_PREFIX}{action.link_id}"
        doc = {"id": action_id, "flag_key": action.flag_key, "story_id": action.story_id,
               "article_id": action.article_id, "rule": action.rule, "action": action.action, "actor": action.actor,
               "agency_id": action.agency_id, "note": action.note, "rebuttal_url": action.rebuttal_url,
               "client": action.client, "at": _iso(action.at), "seq": seq}
        audit_id = f"action-{action_id}"
        doing = f"recording action {action.action} on flag {action.flag_key}"
        if action.link_id is None:
            with self._errors(doing):
                response = self._es.bulk(refresh=True, operations=[
                    {"create": {"_index": self._names["actions"], "_id": action_id}}, doc,
                    {"create": {"_index": self._names["audit"], "_id": audit_id}},
                    self._audit_doc(self._action_entry(action, action_id), audit_id, seq)])
            errors = [v["error"] for item in response["items"] for v in item.values() if v.get("error")]
            if errors:
                raise PermanentStoreError(f"recording action {action_id}: the cluster refused part of it: {errors}")
            return action_id
        with self._errors(doing):
            try:
                self._es.index(index=self._names["actions"], id=action_id, op_type="create", refresh=True,
                               document=doc)
            except ConflictError:
                kept = self._es.get(index=self._names["actions"], id=action_id)["_source"]
                self._create_action_audit(self._action_from(kept), int(kept.get("seq") or 0))
                raise AlreadyRecorded(action.link_id, action_id) from None
            self._create_action_audit(self._action_from(doc), seq)
        return action_id

    @staticmethod
    def _action_entry(action: ResponseAction, action_id: str) -> AuditEntry:
        return AuditEntry(
            at=action.at, actor=action.actor, kind="action", target=action.flag_key, client=action.client,
            detail={"action_id": action_id, "action": action.action, "story_id": action.story_id,
                    "article_id": action.article_id, "rule": action.rule, "agency_id": action.agency_id,
                    "note": action.note, "rebuttal_url": action.rebuttal_url})

    def _create_action_audit(self, action: ResponseAction, seq: int) -> None:
        """The audit entry of a stored action under a fixed id; already there is fine."""
        action_id = action.id or ""
        audit_id = f"action-{action_id}"
        try:
            self._es.index(index=self._names["audit"], id=audit_id, op_type="create", refresh=True,
                           document=self._audit_doc(self._action_entry(action, action_id), audit_id, seq))
        except ConflictError:
            pass

    @staticmethod
    def _action_from(s: dict[str, Any]) -> ResponseAction:
        link_id = s["id"].removeprefix(_LINK_ID_PREFIX) if s["id"].startswith(_LINK_ID_PREFIX) else None
        return ResponseAction(id=s["id"], flag_key=s["flag_key"], story_id=s["story_id"],
                              article_id=s["article_id"], rule=s["rule"], action=s["action"], actor=s["actor"],
                              agency_id=s.get("agency_id"), note=s.get("note"),
                              rebuttal_url=s.get("rebuttal_url"), client=s.get("client"),
                              at=_parse(s["at"]) or _now(), link_id=link_id)

    def actions(self, *, since: datetime | None = None, until: datetime | None = None,
                story_id: str | None = None) -> list[ResponseAction]:
        filters: list[dict[str, Any]] = []
        dates: dict[str, str] = {}
        if since is not None:
            dates["gte"] = _iso(since) or ""
        if until is not None:
            dates["lt"] = _iso(until) or ""
        if dates:
            filters.append({"range": {"at": dates}})
        if story_id is not None:
            filters.append({"term": {"story_id": story_id}})
        with self._errors("reading officer actions"):
            hits = self._search_all(self._names["actions"], {"bool": {"filter": filters}},
                                    [{"at": "asc"}, {"seq": "asc"}, {"id": "asc"}])
            return [self._action_from(h["_source"]) for h in hits]

    def append_audit(self, entry: AuditEntry) -> str:
        """Append only: op_type=create under a fresh id, so nothing here can overwrite an entry."""
        entry_id, seq = self._new_id()
        with self._errors(f"appending a {entry.kind} audit entry"):
            self._es.index(index=self._names["audit"], id=entry_id, op_type="create", refresh=True,
                           document=self._audit_doc(entry, entry_id, seq))
        return entry_id

    def audit(self, *, since: datetime | None = None, kind: str | None = None,
              target: str | None = None) -> list[AuditEntry]:
        with self._errors("reading the audit log"):
            hits = self._search_all(self._names["audit"], _audit_query(since, kind, target),
                                    [{"at": "asc"}, {"seq": "asc"}, {"id": "asc"}])
            return [_audit_entry(h["_source"]) for h in hits]

    def audit_page(self, *, since: datetime | None = None, kind: str | None = None, target: str | None = None,
                   limit: int = 100, offset: int = 0) -> AuditPage:
        """One search: `since` and `target` as the query, a terms aggregation on kind for the counts,
        and `kind` as a post_filter, which narrows the hits and their total but not the aggregation.
        A page within index.max_result_window is taken with from/size, a deeper one after `_skip`."""
        limit, offset = check_audit_page(limit, offset)
        index = self._names["audit"]
        query = _audit_query(since, None, target)
        post = {"term": {"kind": kind}} if kind is not None else None
        request: dict[str, Any] = {"index": index, "query": query, "sort": _AUDIT_NEWEST_FIRST, "size": limit,
                                   "track_total_hits": True, "ignore_unavailable": True,
                                   "aggs": {"kinds": {"terms": {"field": "kind", "size": _FACET_SIZE}}}}
        if post is not None:
            request["post_filter"] = post
        with self._errors("reading a page of the audit log"):
            if offset + limit <= _RESULT_WINDOW:
                request["from_"] = offset
            elif (after := self._skip(index, query, post, _AUDIT_NEWEST_FIRST, offset)) is not None:
                request["search_after"] = after
            else:                                  # past the last entry: only the counts
                request["size"] = 0
            found = self._es.search(**request)
        buckets = ((found.get("aggregations") or {}).get("kinds") or {}).get("buckets", [])
        return AuditPage(entries=[_audit_entry(h["_source"]) for h in found["hits"]["hits"]],
                         total=int(found["hits"]["total"]["value"]),
                         kinds={str(b["key"]): int(b["doc_count"]) for b in buckets})

    def _skip(self, index: str, query: dict[str, Any], post_filter: dict[str, Any] | None, sort: list[Any],
              offset: int) -> list[Any] | None:
        """The sort values of the `offset`-th hit (search_after starts the next page there), read
        _RESULT_WINDOW hits at a time without their sources; None when there are fewer hits."""
        after: list[Any] | None = None
        left = offset
        while left > 0:
            size = min(left, _RESULT_WINDOW)
            request: dict[str, Any] = {"index": index, "query": query, "sort": sort, "size": size, "source": False,
                                       "track_total_hits": False, "ignore_unavailable": True}
            if post_filter is not None:
                request["post_filter"] = post_filter
            if after is not None:
                request["search_after"] = after
            hits = self._es.search(**request)["hits"]["hits"]
            if len(hits) < size:
                return None
            after, left = hits[-1]["sort"], left - size
        return after

    # -- evidence of flagged pages (append-only) ----------------------------------------------

    def save_evidence(self, evidence: Evidence) -> str:
        """Append one record; the body is kept gzip-compressed (mtime 0) and base64-encoded (a binary field)."""
        evidence_id, seq = self._new_id()
        blob = base64.b64encode(gzip.compress(evidence.html, mtime=0)).decode("ascii") if evidence.html else None
        with self._errors(f"saving {evidence.kind} evidence of {evidence.article_id}"):
            self._es.index(index=self._names["evidence"], id=evidence_id, op_type="create", refresh=True, document={
                "id": evidence_id, "article_id": evidence.article_id, "url": evidence.url,
                "fetched_at": _iso(evidence.fetched_at), "sha256": evidence.sha256, "html_gz": blob,
                "text": evidence.text, "status_code": evidence.status_code, "kind": evidence.kind,
                "outcome": evidence.outcome, "content_type": evidence.content_type, "note": evidence.note,
                "seq": seq})
        return evidence_id

    def evidence(self, article_id: str) -> list[Evidence]:
        with self._errors(f"reading evidence of {article_id}"):
            hits = self._search_all(self._names["evidence"], {"term": {"article_id": article_id}},
                                    [{"fetched_at": "asc"}, {"seq": "asc"}, {"id": "asc"}])
            return [Evidence(id=s["id"], article_id=s["article_id"], url=s["url"],
                             fetched_at=_parse(s["fetched_at"]) or _now(), sha256=s["sha256"],
                             html=gzip.decompress(base64.b64decode(s["html_gz"])) if s.get("html_gz") else b"",
                             text=s.get("text") or "", status_code=s.get("status_code"), kind=s["kind"],
                             outcome=s.get("outcome"), content_type=s.get("content_type"), note=s.get("note"))
                    for s in (h["_source"] for h in hits)]

    # -- validators, runs, failures ---------------------------------------------------------

    def get_validators(self, urls: list[str] | None = None, *,
                       source_id: str | None = None) -> dict[str, Validators]:
        with self._errors("reading validators"):
            if urls is None:
                query: dict[str, Any] = {"match_all": {}} if source_id is None else {"bool": {"should": [
                    {"term": {"source_id": source_id}},
                    {"bool": {"must_not": {"exists": {"field": "source_id"}}}}], "minimum_should_match": 1}}
                sources = [h["_source"] for h in self._search_all(self._names["validators"], query, [{"url": "asc"}])]
            else:
                wanted = sorted(set(urls))
                sources = []
                for i in range(0, len(wanted), _MAX_KEYS):
                    docs = self._es.mget(index=self._names["validators"],
                                         ids=[_doc_id(u) for u in wanted[i:i + _MAX_KEYS]])["docs"]
                    sources += [d["_source"] for d in docs if d.get("found")]
                if source_id is not None:
                    sources = [s for s in sources if s.get("source_id") in (None, source_id)]
        return {s["url"]: Validators(url=s["url"], etag=s.get("etag"), last_modified=s.get("last_modified"))
                for s in sources}

    def set_validators(self, validators: Validators, source_id: str | None = None) -> None:
        """Keep the URL's validators; `source_id`, once given, stays attached to the URL."""
        doc_id = _doc_id(validators.url)
        with self._errors(f"storing validators for {validators.url}"):
            if source_id is None:
                try:
                    source_id = self._es.get(index=self._names["validators"], id=doc_id,
                                             source=["source_id"])["_source"].get("source_id")
                except NotFoundError:
                    pass
            self._es.index(index=self._names["validators"], id=doc_id, refresh=True, document={
                "url": validators.url, "source_id": source_id, "etag": validators.etag,
                "last_modified": validators.last_modified, "updated_at": _iso(_now())})

    def record_run(self, run: SourceRun) -> None:
        with self._errors(f"recording a run of {run.source_id}"):
            self._es.index(index=self._names["runs"], refresh=True, document={
                "source_id": run.source_id, "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
                "fetched": run.fetched, "new": run.new, "updated": run.updated, "duplicates": run.duplicates,
                "skipped": dict(run.skipped), "errors": run.errors, "last_error": run.last_error,
                "success": run.fetched > 0 or run.errors == 0})

    def set_host_pause(self, pause: HostPause) -> None:
        """Keep the pause of its host; a stored pause that ends later is left as it is (a write
        conditioned on the document's sequence number, so two writers never shorten one)."""
        doc_id = _doc_id(pause.host)
        new = {"host": pause.host, "until": _iso(pause.until), "source_id": pause.source_id, "url": pause.url,
               "status": int(pause.status), "asked_s": float(pause.asked_s), "at": _iso(pause.at)}

        def change(src: dict[str, Any]) -> dict[str, Any]:
            stored = _parse(src.get("until"))
            return new if stored is None or pause.until > stored else src

        with self._errors(f"storing the Retry-After pause of {pause.host}"):
            for _ in range(_RETRIES):
                try:
                    self._modify(self._names["host-pauses"], doc_id, change, "")
                    return
                except KeyError:
                    try:
                        self._es.index(index=self._names["host-pauses"], id=doc_id, document=new, op_type="create",
                                       refresh=True)
                        return
                    except ConflictError:
                        continue
        raise TransientStoreError(f"storing the Retry-After pause of {pause.host}: changed by others; retry")

    def host_pauses(self, at: datetime | None = None) -> list[HostPause]:
        query = {"range": {"until": {"gt": _iso(at)}}} if at is not None else {"match_all": {}}
        with self._errors("reading the Retry-After pauses"):
            hits = list(self._search_all(self._names["host-pauses"], query, [{"host": "asc"}]))
        return [HostPause(host=s["host"], until=_parse(s["until"]) or _now(), source_id=s["source_id"], url=s["url"],
                          status=int(s["status"]), asked_s=float(s["asked_s"]), at=_parse(s["at"]) or _now())
                for s in (h["_source"] for h in hits)]

    def record_failure(self, failure: FailureRecord) -> None:
        """Keep one record per (source, URL, stage): a repeat replaces the error and adds an attempt."""
        doc_id = _doc_id(failure.source_id, failure.url, failure.stage)
        new = {"source_id": failure.source_id, "url": failure.url, "stage": failure.stage,
               "error_class": failure.error_class, "message": failure.message, "at": _iso(failure.at),
               "attempts": failure.attempts, "seq": time.time_ns()}

        def change(src: dict[str, Any]) -> dict[str, Any]:
            return {**new, "seq": src.get("seq", new["seq"]),
                    "attempts": max(int(src.get("attempts") or 0) + 1, failure.attempts)}

        with self._errors(f"recording a failure of {failure.url}"):
            for _ in range(_RETRIES):
                try:
                    self._modify(self._names["failures"], doc_id, change, "")
                    return
                except KeyError:
                    try:
                        self._es.index(index=self._names["failures"], id=doc_id, document=new, op_type="create",
                                       refresh=True)
                        return
                    except ConflictError:
                        continue
        raise TransientStoreError(f"recording a failure of {failure.url}: changed by others; retry")

    def failures(self, source_id: str | None = None) -> list[FailureRecord]:
        """Most recent first."""
        query = {"term": {"source_id": source_id}} if source_id is not None else {"match_all": {}}
        with self._errors("reading failures"):
            hits = list(self._search_all(self._names["failures"], query, [{"at": "desc"}, {"seq": "desc"}]))
        return [FailureRecord(source_id=s["source_id"], url=s["url"], stage=s["stage"], error_class=s["error_class"],
                              message=s["message"], at=_parse(s["at"]) or _now(), attempts=int(s["attempts"]))
                for s in (h["_source"] for h in hits)]

    def _latest_per_source(self, index: str, query: dict[str, Any], at_field: str,
                           fields: list[str]) -> dict[str, dict[str, Any]]:
        """For each source id, the _source of its latest document matching `query`."""
        aggs = {"by_source": {"terms": {"field": "source_id", "size": 10000},
                              "aggs": {"latest": {"top_hits": {"size": 1, "sort": [{at_field: "desc"}],
                                                               "_source": fields}}}}}
        found = self._es.search(index=index, query=query, size=0, aggs=aggs)
        return {b["key"]: b["latest"]["hits"]["hits"][0]["_source"]
                for b in found["aggregations"]["by_source"]["buckets"]}

    def _counts_per(self, index: str, field: str, query: dict[str, Any]) -> dict[str, int]:
        found = self._es.search(index=index, query=query, size=0, ignore_unavailable=True,
                                aggs={"n": {"terms": {"field": field, "size": 10000}}})
        return {b["key"]: int(b["doc_count"]) for b in found["aggregations"]["n"]["buckets"]}

    def source_status(self) -> list[SourceStatus]:
        """One entry per source id the store has seen, as SqliteStore.source_status."""
        with self._errors("reading source status"):
            articles = self._counts_per(self._names["articles_pattern"], "fetched.source_id", {"match_all": {}})
            validators = self._counts_per(self._names["validators"], "source_id", {"bool": {
                "filter": [{"exists": {"field": "source_id"}}],
                "should": [{"exists": {"field": "etag"}}, {"exists": {"field": "last_modified"}}],
                "minimum_should_match": 1}})
            runs = self._counts_per(self._names["runs"], "source_id", {"match_all": {}})
            success = self._latest_per_source(self._names["runs"], {"term": {"success": True}}, "finished_at",
                                              ["finished_at"])
            run_errors = self._latest_per_source(
                self._names["runs"],
                {"bool": {"should": [{"exists": {"field": "last_error"}}, {"range": {"errors": {"gt": 0}}}],
                          "minimum_should_match": 1}},
                "finished_at", ["finished_at", "last_error", "errors"])
            failed = self._latest_per_source(self._names["failures"], {"match_all": {}}, "at",
                                             ["at", "stage", "error_class", "message", "url"])
        errors: dict[str, tuple[datetime, str]] = {}
        for sid, src in run_errors.items():
            at = _parse(src["finished_at"])
            if at is not None:
                errors[sid] = (at, src.get("last_error") or f"{src.get('errors')} errors")
        for sid, src in failed.items():
            at = _parse(src["at"])
            if at is not None and (sid not in errors or at > errors[sid][0]):
                errors[sid] = (at, f"{src['stage']}: {src['error_class']}: {src['message']} ({src['url']})")
        seen = set(runs) | set(failed) | set(articles) | set(validators)
        return [
            SourceStatus(
                source_id=sid,
                last_success=_parse(success[sid]["finished_at"]) if sid in success else None,
                last_error_at=errors[sid][0] if sid in errors else None,
                last_error=errors[sid][1] if sid in errors else None,
                articles=articles.get(sid, 0), validators=validators.get(sid, 0),
            )
            for sid in sorted(seen)
        ]

    # -- retention ----------------------------------------------------------------------------

    def drop_bodies(self, before: datetime) -> int:
        """Drop raw HTML, lead and text of articles first seen before `before`; keep everything else.

        Documents are rewritten one page at a time with sequence-number checks (no scripts), so a
        concurrent update wins and the article is simply dropped on the next run. Returns how
        many articles lost their bodies. ILM cannot do this: it handles whole indices only.
        """
        query = {"bool": {"filter": [{"range": {"haidang.first_seen": {"lt": es_date(before)}}}],
                          "must_not": [{"exists": {"field": "haidang.bodies_dropped_at"}}]}}
        dropped = 0
        now = _iso(_now())
        with self._errors("dropping old article bodies"):
            while True:
                hits = self._es.search(index=self._names["articles_pattern"], query=query, size=_PAGE,
                                       seq_no_primary_term=True, sort=[{"id": "asc"}],
                                       ignore_unavailable=True)["hits"]["hits"]
                if not hits:
                    return dropped
                operations: list[dict[str, Any]] = []
                for hit in hits:
                    src = hit["_source"]
                    src["fetched"]["html"] = None
                    src["content"]["lead"] = ""
                    src["content"]["text"] = ""
                    src["haidang"]["bodies_dropped_at"] = now
                    operations += [{"index": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                                              "if_primary_term": hit["_primary_term"]}}, src]
                items = self._es.bulk(operations=operations, refresh=True)["items"]
                done = sum(1 for item in items if not next(iter(item.values())).get("error"))
                dropped += done
                if done == 0:
                    _log.warning("retention: %d articles could not be rewritten; next run retries", len(hits))
                    return dropped

    # -- imports (haidang migrate): records written whole, under the source's ids -----------------

    def _create(self, key: str, doc_id: str, document: dict[str, Any]) -> bool:
        """op_type=create: False when the id is already there, so a re-run adds nothing."""
        with self._errors(f"importing {key} {doc_id}"):
            try:
                self._es.index(index=self._names[key], id=doc_id, op_type="create", refresh=True, document=document)
            except ConflictError:
                return False
        return True

    def import_outbox(self, msg: OutboxMessage) -> bool:
        """Copy one outbox message with its status, attempts and times exactly as they were."""
        created = msg.created_at or _now()
        return self._create("outbox", msg.key, {
            "key": msg.key, "flag_rule": msg.flag_rule, "story_id": msg.story_id, "recipient": msg.recipient,
            "message_id": msg.message_id, "subject": msg.subject, "text": msg.text, "html": msg.html,
            "status": msg.status, "attempts": msg.attempts, "next_attempt_at": _iso(msg.next_attempt_at or created),
            "last_error": msg.last_error, "created_at": _iso(created), "sent_at": _iso(msg.sent_at),
            "lease_owner": None, "lease_until": None,   # a lease belongs to a running process, not the copy
            "pending_since": _iso(msg.pending_since or created), "failed_at": _iso(msg.failed_at),
            "attachments": list(msg.attachments), "handed_over": msg.handed_over,
            "article_id": msg.article_id})

    def import_failure(self, failure: FailureRecord) -> bool:
        return self._create("failures", _doc_id(failure.source_id, failure.url, failure.stage), {
            "source_id": failure.source_id, "url": failure.url, "stage": failure.stage,
            "error_class": failure.error_class, "message": failure.message, "at": _iso(failure.at),
            "attempts": failure.attempts, "seq": int(failure.at.timestamp() * 1e9)})

    def import_action(self, action: ResponseAction, source_id: str) -> bool:
        """An action under id "import-<source_id>" ("link-<link_id>" when it has one, so the link stays
        used here); its audit entry is imported with the audit log."""
        doc_id = f"{_LINK_ID_PREFIX}{action.link_id}" if action.link_id else f"import-{source_id}"
        return self._create("actions", doc_id, {
            "id": doc_id, "flag_key": action.flag_key, "story_id": action.story_id, "article_id": action.article_id,
            "rule": action.rule, "action": action.action, "actor": action.actor, "agency_id": action.agency_id,
            "note": action.note, "rebuttal_url": action.rebuttal_url, "client": action.client,
            "at": _iso(action.at), "seq": int(source_id) if source_id.isdigit() else 0})

    def import_audit(self, entry: AuditEntry, source_id: str) -> bool:
        doc_id = f"import-{source_id}"
        return self._create("audit", doc_id, self._audit_doc(entry, doc_id, int(source_id) if source_id.isdigit() else 0))

    def import_evidence(self, evidence: Evidence, source_id: str) -> bool:
        doc_id = f"import-{source_id}"
        blob = base64.b64encode(gzip.compress(evidence.html, mtime=0)).decode("ascii") if evidence.html else None
        return self._create("evidence", doc_id, {
            "id": doc_id, "article_id": evidence.article_id, "url": evidence.url,
            "fetched_at": _iso(evidence.fetched_at), "sha256": evidence.sha256, "html_gz": blob,
            "text": evidence.text, "status_code": evidence.status_code, "kind": evidence.kind,
            "outcome": evidence.outcome, "content_type": evidence.content_type, "note": evidence.note,
            "seq": int(source_id) if source_id.isdigit() else 0})

    # -- lifecycle --------------------------------------------------------------------------

    def backup(self, target: str) -> None:
        """Copy every index of this store into a store with prefix `target` (same cluster).

        Not a point-in-time snapshot: each index is copied page by page, so a write during the
        copy may or may not be in it. For real backups of a cluster, use Elasticsearch snapshots
        (README.md); this is the portable copy the Store contract asks for.
        """
        if target == self.prefix:
            raise StoreError(f"backup target {target!r} is this store's own prefix: choose another")
        with self._errors(f"backing up to {target}"):
            install_templates(self._es, target, templates=self._templates,
                              delete_after_days=self._delete_after_days)
            copy = index_names(target)
            self._copy_index(self._names["articles_pattern"], copy["articles"])
            for key in SMALL_INDICES:
                self._copy_index(self._names[key], copy[key])
        _log.info("copied store %s to %s", self.prefix, target)

    def _copy_index(self, source: str, dest: str) -> None:
        """Copy with a scroll (the client's scan helper): search_after needs a unique sort field,
        which the run records do not have."""
        operations: list[dict[str, Any]] = []
        for hit in scan(self._es, index=source, query={"query": {"match_all": {}}}, size=BULK_BATCH,
                        ignore_unavailable=True):
            operations += [{"index": {"_index": dest, "_id": hit["_id"]}}, hit["_source"]]
            if len(operations) >= 2 * BULK_BATCH:
                self._bulk_checked(operations)
                operations = []
        if operations:
            self._bulk_checked(operations)
        self._es.indices.refresh(index=dest)

    def _bulk_checked(self, operations: list[dict[str, Any]]) -> None:
        response = self._es.bulk(operations=operations)
        if response.get("errors"):
            first = next(v["error"] for item in response["items"] for v in item.values() if v.get("error"))
            raise PermanentStoreError(f"copying documents: the cluster refused some: {first}")

    def delete_all(self) -> None:
        """Delete every index and template of this store (tests, and starting over); irreversible."""
        with self._errors(f"deleting the {self.prefix} indices"):
            found = self._es.indices.get(index=f"{self.prefix}-*", ignore_unavailable=True, allow_no_indices=True)
            for name in sorted(found):
                self._es.indices.delete(index=name)
            client = self._es.options(ignore_status=404)
            client.indices.delete_index_template(name=self._names["articles"])
            for key in ("settings_component", "mappings_component"):
                client.cluster.delete_component_template(name=self._names[key])
            try:
                client.ilm.delete_lifecycle(name=self._names["articles"])
            except ApiError as exc:
                _log.debug("no ILM policy deleted: %s", exc)

    def close(self) -> None:
        self._es.close()
