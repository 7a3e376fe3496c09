"""ElasticStore behaviour that needs no cluster: bulk per-item errors and the start-up version check.

The server here is a STAND-IN, not Elasticsearch: a ThreadingHTTPServer on 127.0.0.1 that answers
the few requests these paths make with canned Elasticsearch 8 responses, so the official client
and its transport run for real. The store's behaviour against a cluster is the contract suite's job
(tests/contract, with ELASTICSEARCH_URL set).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
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
