"""ElasticStore behaviour that needs no cluster: bulk per-item errors, the start-up version check and
the audit log's page requests.

The server here is a STAND-IN, not Elasticsearch: a ThreadingHTTPServer on 127.0.0.1 that answers
the few requests these paths make with canned Elasticsearch 8 responses, so the official client
and its transport run for real. The store's behaviour against a cluster is the contract suite's job
(tests/contract, with ELASTICSEARCH_URL set).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch

from haidang.errors import PermanentStoreError
from haidang.record import Article, Content, Fetched, article_id
from haidang.store.elastic import ElasticStore
from haidang.store.es_setup import SMALL_INDICES, load_templates

Route = Callable[[str, str, bytes], tuple[int, Any]]


class _Handler(BaseHTTPRequestHandler):
    route: Route
    seen: list[tuple[str, str, bytes]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        self.seen.append((self.command, path, body))
        status, payload = self.route(self.command, path, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")      # the client refuses answers without it
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_es() -> Iterator[Callable[[Route], tuple[str, list[tuple[str, str, bytes]]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(route: Route) -> tuple[str, list[tuple[str, str, bytes]]]:
        seen: list[tuple[str, str, bytes]] = []
        handler = type("Handler", (_Handler,), {"route": staticmethod(route), "seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _template_answer(version: int) -> dict[str, Any]:
    return {"index_templates": [{"name": "hd-articles", "index_template": {
        "index_patterns": ["hd-articles-*"], "composed_of": [], "version": version}}]}


def _ready_cluster(version: int, extra: Route | None = None) -> Route:
    """A cluster where everything is installed at `version`; `extra` answers the rest."""
    def route(method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/_index_template/hd-articles":
            return 200, _template_answer(version)
        if method == "HEAD" and (path == "/_alias/hd-articles" or path.lstrip("/") in {f"hd-{k}" for k in SMALL_INDICES}):
            return 200, None
        if extra is not None:
            return extra(method, path, body)
        return 404, {"error": {"type": "not_found", "reason": f"{method} {path}"}, "status": 404}
    return route


def _article(slug: str, text: str) -> Article:
    url = f"https://baoquangngai.example.vn/{slug}.html"
    return Article(id=article_id(url), fetched=Fetched(source_id="baoquangngai", url=url, canonical_url=url),
                   content=Content(title=slug, text=text, language="vi"))


def test_bulk_records_a_rejected_document_and_stores_the_rest(fake_es) -> None:
    good, bad = _article("tot", "Bài hợp lệ"), _article("hong", "Bài bị từ chối")
    recorded: dict[str, Any] = {}

    def rest(method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/hd-articles-*/_search":                       # nothing stored yet
            return 200, {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
        if path == "/_bulk":
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            assert [next(iter(op)) for op in lines[::2]] == ["create", "create"]
            return 200, {"took": 1, "errors": True, "items": [
                {"create": {"_index": "hd-articles-000001", "_id": lines[0]["create"]["_id"], "status": 201,
                            "result": "created", "_seq_no": 0, "_primary_term": 1}},
                {"create": {"_index": "hd-articles-000001", "_id": lines[2]["create"]["_id"], "status": 400,
                            "error": {"type": "mapper_parsing_exception",
                                      "reason": "failed to parse field [labels.section]"}}}]}
        if path.startswith("/hd-rejected/_doc/"):
            recorded["rejected"] = json.loads(body)
            return 201, {"_index": "hd-rejected", "_id": path.rsplit("/", 1)[1], "result": "created"}
        if method == "GET" and path.startswith("/hd-failures/_doc/"):
            return 404, {"_index": "hd-failures", "_id": path.rsplit("/", 1)[1], "found": False}
        if method == "PUT" and path.startswith("/hd-failures/_doc/"):     # op_type=create
            recorded["failure"] = json.loads(body)
            return 201, {"_index": "hd-failures", "_id": path.rsplit("/", 1)[1], "result": "created"}
        return 404, {"error": {"type": "not_found", "reason": path}, "status": 404}

    url, seen = fake_es(_ready_cluster(load_templates().version, rest))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    try:
        assert store.upsert_many([good, bad]) == ["new", "rejected"]
    finally:
        store.close()
    rejected = recorded["rejected"]
    assert rejected["article_id"] == bad.id and rejected["error_type"] == "mapper_parsing_exception"
    kept = json.loads(rejected["document"])                       # the whole document, not lost
    assert kept["content"]["text"] == "Bài bị từ chối" and kept["id"] == bad.id
    failure = recorded["failure"]
    assert failure["stage"] == "store" and failure["url"] == bad.fetched.url
    assert "labels.section" in failure["message"]
    assert sum(1 for m, p, _ in seen if p == "/_bulk") == 1


def test_start_up_refuses_an_older_installed_template(fake_es) -> None:
    url, _ = fake_es(_ready_cluster(load_templates().version - 1))
    client = Elasticsearch(url)
    with pytest.raises(PermanentStoreError, match="haidang index setup"):
        ElasticStore(client, prefix="hd")
    client.close()


def test_start_up_refuses_a_newer_installed_template(fake_es) -> None:
    url, _ = fake_es(_ready_cluster(load_templates().version + 1))
    client = Elasticsearch(url)
    with pytest.raises(PermanentStoreError, match="upgrade"):
        ElasticStore(client, prefix="hd")
    client.close()


def test_start_up_with_the_current_template_touches_nothing(fake_es) -> None:
    url, seen = fake_es(_ready_cluster(load_templates().version))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    store.close()
    assert {m for m, _, _ in seen} <= {"GET", "HEAD"}


# -- the audit log paged by the cluster (Store.audit_page) ------------------------------------------------

_NEWEST_FIRST = [{"at": {"order": "desc"}}, {"seq": {"order": "desc"}}, {"id": {"order": "desc"}}]


def _audit_hit(i: int) -> dict[str, Any]:
    source = {"id": f"{i:020d}-abcd", "at": "2026-03-12T03:00:00.000000Z", "actor": f"u{i}", "kind": "login",
              "target": "web", "client": None, "seq": i, "detail": {}}
    return {"_index": "hd-audit", "_id": source["id"], "_source": source, "sort": [1773284400000, i, source["id"]]}


def _audit_cluster(bodies: list[dict[str, Any]], total: int) -> Route:
    """An audit index of `total` entries, numbered from `total` - 1 (the newest) down to 0; each
    search body is kept in `bodies` and answered from its size, from and search_after."""
    def route(method: str, path: str, body: bytes) -> tuple[int, Any]:
        assert path == "/hd-audit/_search", path
        request = json.loads(body)
        bodies.append(request)
        start = total - request["search_after"][1] if "search_after" in request else request.get("from", 0)
        numbers = range(total - 1 - start, max(-1, total - 1 - start - request["size"]), -1)
        answer: dict[str, Any] = {"hits": {"total": {"value": total, "relation": "eq"},
                                           "hits": [_audit_hit(i) for i in numbers]}}
        if "aggs" in request:
            answer["aggregations"] = {"kinds": {"buckets": [{"key": "login", "doc_count": total}]}}
        return 200, answer
    return route


def _sort_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    """A request's sort as the cluster reads it: {"at": "desc"} is short for {"at": {"order": "desc"}}."""
    return [{k: v if isinstance(v, dict) else {"order": v} for k, v in s.items()} for s in request["sort"]]


def test_an_audit_page_is_one_search_newest_first_with_a_post_filter_and_counts(fake_es) -> None:
    """The request against the official search API (no cluster here: see the module docstring): the
    kind narrows the hits only (post_filter), the terms aggregation counts every kind."""
    bodies: list[dict[str, Any]] = []
    url, _ = fake_es(_ready_cluster(load_templates().version, _audit_cluster(bodies, 7)))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    try:
        page = store.audit_page(kind="login", since=datetime(2026, 3, 1, tzinfo=UTC), limit=2, offset=4)
    finally:
        store.close()
    [request] = bodies
    assert _sort_of(request) == _NEWEST_FIRST
    assert request["from"] == 4 and request["size"] == 2 and request["track_total_hits"] is True
    assert request["post_filter"] == {"term": {"kind": "login"}}
    assert request["query"] == {"bool": {"filter": [{"range": {"at": {"gte": "2026-03-01T00:00:00.000000+00:00"}}}]}}
    assert request["aggs"] == {"kinds": {"terms": {"field": "kind", "size": 10000}}}
    assert [e.actor for e in page.entries] == ["u2", "u1"] and page.total == 7 and page.kinds == {"login": 7}


def test_an_audit_page_past_the_result_window_is_reached_with_search_after(fake_es) -> None:
    """from + size may not pass index.max_result_window (10,000): a deeper page skips there by
    search_after, reading sort values only, then asks for its own entries after the last one."""
    bodies: list[dict[str, Any]] = []
    url, _ = fake_es(_ready_cluster(load_templates().version, _audit_cluster(bodies, 25_050)))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    try:
        page = store.audit_page(limit=100, offset=25_000)
        past = store.audit_page(limit=100, offset=30_000)
    finally:
        store.close()
    skips, last = bodies[:3], bodies[3]
    assert [b["size"] for b in skips] == [10_000, 10_000, 5_000]
    assert all(b["_source"] is False and "from" not in b and "aggs" not in b for b in skips)
    assert "search_after" not in skips[0] and skips[1]["search_after"][1] == 15_050
    assert last["search_after"][1] == 50 and last["size"] == 100 and "from" not in last
    assert _sort_of(last) == _NEWEST_FIRST and last["track_total_hits"] is True
    assert [e.actor for e in page.entries] == [f"u{i}" for i in range(49, -1, -1)]
    assert page.total == 25_050
    assert past.entries == [] and past.total == 25_050 and bodies[-1]["size"] == 0


# -- the outbox: listings without bodies, documents from before the handed_over field ----------------

_LEGACY = "[may have been delivered already] "


def _outbox_doc(key: str, status: str, last_error: str) -> dict[str, Any]:
    """An outbox document as template version 4 stored it: no handed_over, the prefix in last_error."""
    return {"key": key, "flag_rule": "tin_sai", "story_id": "s1", "recipient": "a@example.vn",
            "message_id": f"<{key}@haidang.local>", "subject": "Cờ báo", "text": "nội dung", "html": "<p>nội dung</p>",
            "status": status, "attempts": 1, "next_attempt_at": "2026-03-02T01:00:00.000000+00:00",
            "last_error": last_error, "created_at": "2026-03-02T01:00:00.000000+00:00", "sent_at": None,
            "lease_owner": None, "lease_until": None, "pending_since": "2026-03-02T01:00:00.000000+00:00",
            "failed_at": None, "attachments": []}


_OLD_OUTBOX = {
    "k1": _outbox_doc("k1", "pending", _LEGACY + "SMTP server took the whole message but gave no answer"),
    "k2": _outbox_doc("k2", "failed", _LEGACY + "the server took the whole message twice without answering, so "
                                                "it may have arrived twice. Last error: timed out"),
    "k3": _outbox_doc("k3", "failed", "not delivered within 72 h (outbox.max_age_hours), 3 attempt(s); last error: "
                                      + _LEGACY + "cannot reach SMTP server"),
    "k4": _outbox_doc("k4", "failed", "550 no such user"),
}


def _outbox_cluster(searches: list[dict[str, Any]], written: dict[str, Any]) -> Route:
    """An outbox index holding _OLD_OUTBOX: searches answered with each source as asked for, writes kept."""
    def route(method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/hd-outbox/_search":
            request = json.loads(body)
            searches.append(request)
            asked = request.get("_source")
            left_out = set(asked.get("excludes", [])) if isinstance(asked, dict) else set()
            hits = [{"_index": "hd-outbox", "_id": k, "_source": {f: v for f, v in doc.items() if f not in left_out},
                     "sort": [1772413200000, k]} for k, doc in _OLD_OUTBOX.items()]
            return 200, {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}
        key = path.rsplit("/", 1)[1]
        if method == "GET" and path.startswith("/hd-outbox/_doc/"):
            return 200, {"_index": "hd-outbox", "_id": key, "_seq_no": 3, "_primary_term": 1, "found": True,
                         "_source": _OLD_OUTBOX[key]}
        if method == "PUT" and path.startswith("/hd-outbox/_doc/"):
            written[key] = json.loads(body)
            return 200, {"_index": "hd-outbox", "_id": key, "result": "updated", "_seq_no": 4, "_primary_term": 1}
        return 404, {"error": {"type": "not_found", "reason": path}, "status": 404}
    return route


def test_an_outbox_listing_without_bodies_asks_the_cluster_to_leave_them_out(fake_es) -> None:
    """The request against the official search API (no cluster here: see the module docstring)."""
    searches: list[dict[str, Any]] = []
    url, _ = fake_es(_ready_cluster(load_templates().version, _outbox_cluster(searches, {})))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    try:
        light = store.outbox(bodies=False)
        whole = store.outbox("failed")
    finally:
        store.close()
    assert searches[0]["_source"] == {"excludes": ["text", "html"]}
    assert searches[1]["_source"] is True
    assert searches[1]["query"] == {"bool": {"filter": [{"term": {"status": "failed"}}]}}
    assert [(m.text, m.html) for m in light] == [("", "")] * 4 and light[0].subject == "Cờ báo"
    assert whole[0].html == "<p>nội dung</p>"


def test_an_outbox_document_from_before_the_field_reads_with_its_handover_count(fake_es) -> None:
    """As SQLite migration 0014 moves the prefix into the column: 2 for the message stopped after
    the second silence, 1 for the others that carry it (also quoted inside a give-up message)."""
    url, _ = fake_es(_ready_cluster(load_templates().version, _outbox_cluster([], {})))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    try:
        rows = {m.key: m for m in store.outbox(bodies=False)}
    finally:
        store.close()
    assert {k: m.handed_over for k, m in rows.items()} == {"k1": 1, "k2": 2, "k3": 1, "k4": 0}
    assert rows["k1"].last_error == "SMTP server took the whole message but gave no answer"
    assert rows["k2"].last_error is not None and rows["k2"].last_error.startswith("the server took the whole")
    assert rows["k3"].last_error == ("not delivered within 72 h (outbox.max_age_hours), 3 attempt(s); "
                                     "last error: cannot reach SMTP server")
    assert rows["k4"].last_error == "550 no such user"


def test_rewriting_an_old_outbox_document_stores_the_field(fake_es) -> None:
    """A retry of an old document keeps its handover (the next error has no prefix to carry it) and
    counts a new one; putting one back keeps the count."""
    written: dict[str, Any] = {}
    url, _ = fake_es(_ready_cluster(load_templates().version, _outbox_cluster([], written)))
    store = ElasticStore(Elasticsearch(url), prefix="hd")
    try:
        store.mark_retry("k1", "cannot reach SMTP server", datetime(2026, 3, 2, 2, tzinfo=UTC))
        assert written["k1"]["handed_over"] == 1 and written["k1"]["attempts"] == 2
        assert written["k1"]["last_error"] == "cannot reach SMTP server"
        store.mark_failed("k1", "twice", datetime(2026, 3, 2, 2, tzinfo=UTC), handed_over=True)
        assert written["k1"]["handed_over"] == 2 and written["k1"]["status"] == "failed"
        assert store.requeue_failed("k2", datetime(2026, 3, 2, 3, tzinfo=UTC))
        assert written["k2"]["handed_over"] == 2 and written["k2"]["status"] == "pending"
        assert not written["k2"]["last_error"].startswith("[")
    finally:
        store.close()
    mapping = load_templates().small_indices["indices"]["outbox"]["properties"]
    assert mapping["handed_over"] == {"type": "integer"}
    assert set(written["k1"]) <= set(mapping) and set(written["k2"]) <= set(mapping)     # the index is strict
