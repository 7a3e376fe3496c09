"""Kibana saved objects (index_templates/kibana/saved_objects.ndjson) and their import request.

The import test talks to a STAND-IN: a local HTTP server that checks the request the saved
objects API expects and answers as Kibana 8 documents it. Not verified against a real Kibana.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from haidang.errors import PermanentStoreError
from haidang.kibana import FOREIGN_PRESS_MARK, import_saved_objects, render_saved_objects, saved_objects_path


def _objects(text: str | None = None) -> list[dict[str, Any]]:
    text = text if text is not None else saved_objects_path().read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_ndjson_parses_and_ids_are_unique() -> None:
    objects = _objects()
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids))
    assert {o["type"] for o in objects} == {"index-pattern", "search", "visualization", "dashboard"}


def test_every_reference_points_at_an_object_in_the_file() -> None:
    objects = _objects()
    present = {(o["type"], o["id"]) for o in objects}
    for o in objects:
        for ref in o.get("references", []):
            assert (ref["type"], ref["id"]) in present, (o["id"], ref)
        for key in ("visState", "panelsJSON", "optionsJSON"):
            if key in o["attributes"]:
                json.loads(o["attributes"][key])
        meta = o["attributes"].get("kibanaSavedObjectMeta")
        if meta:
            json.loads(meta["searchSourceJSON"])


def test_required_objects_are_there() -> None:
    by_id = {o["id"]: o for o in _objects()}
    assert by_id["haidang-articles"]["attributes"]["title"] == "haidang-articles-*"
    assert by_id["haidang-articles"]["attributes"]["timeFieldName"] == "haidang.date_key"
    assert by_id["haidang-flags"]["type"] == by_id["haidang-foreign-press"]["type"] == "search"
    dashboard = by_id["haidang-overview"]
    panels = {ref["id"] for ref in dashboard["references"]}
    assert panels == {"haidang-volume-topic", "haidang-volume-tone", "haidang-volume-source"}
    splits = {json.loads(by_id[p]["attributes"]["visState"])["aggs"][2]["params"]["field"] for p in panels}
    assert splits == {"haidang.topics", "haidang.tone", "fetched.source_id"}


def test_render_fills_foreign_sources_and_prefix() -> None:
    text = saved_objects_path().read_text(encoding="utf-8")
    assert FOREIGN_PRESS_MARK in text
    rendered = render_saved_objects(text, prefix="qn", foreign_sources=["rfa", "bbc-vietnamese"])
    assert FOREIGN_PRESS_MARK not in rendered
    by_id = {o["id"]: o for o in _objects(rendered)}
    query = json.loads(by_id["haidang-foreign-press"]["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert query["query"]["query"] == 'fetched.source_id : ("bbc-vietnamese" or "rfa")'
    assert by_id["haidang-articles"]["attributes"]["title"] == "qn-articles-*"
    assert by_id["haidang-outbox"]["attributes"]["title"] == "qn-outbox"


@pytest.fixture
def fake_kibana() -> Iterator[tuple[str, list[dict[str, Any]], list[int]]]:
    seen: list[dict[str, Any]] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
            count = body.count(b'"type":')
            answer = ({"success": True, "successCount": count} if status[0] == 200
                      else {"statusCode": status[0], "error": "Bad Request", "message": "bad file"})
            data = json.dumps(answer).encode()
            self.send_response(status[0])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen, status
    server.shutdown()
    server.server_close()


def test_import_posts_the_ndjson_as_kibana_expects(fake_kibana) -> None:
    url, seen, _ = fake_kibana
    ndjson = render_saved_objects(saved_objects_path().read_text(encoding="utf-8"), foreign_sources=["rfa"])
    answer = import_saved_objects(url, ndjson, username="elastic", password="s3cret")
    assert answer["success"] is True
    [request] = seen
    assert request["path"] == "/api/saved_objects/_import?overwrite=true"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["kbn-xsrf"] == "true"
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert headers["authorization"].startswith("Basic ")
    assert ndjson.encode("utf-8") in request["body"]


def test_import_refused_says_so(fake_kibana) -> None:
    url, _, status = fake_kibana
    status[0] = 400
    with pytest.raises(PermanentStoreError, match="HTTP 400"):
        import_saved_objects(url, "{}\n")


def test_cli_kibana_setup_imports_with_the_foreign_press_sources(fake_kibana, monkeypatch) -> None:
    from typer.testing import CliRunner

    from haidang.cli import app
    from haidang.settings import DEFAULT_CONFIG_DIR, load_settings

    url, seen, _ = fake_kibana
    for name in ("HAIDANG_ES_PASSWORD", "HAIDANG_ES_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["kibana", "setup", "--config", str(DEFAULT_CONFIG_DIR), "--kibana-url", url])
    assert result.exit_code == 0, result.output
    assert "imported" in result.output
    [request] = seen
    foreign = [s.id for s in load_settings(DEFAULT_CONFIG_DIR).sources if s.kind == "foreign_press"]
    sent = _objects("\n".join(line for line in request["body"].decode().splitlines() if line.startswith("{")))
    search = next(o for o in sent if o["id"] == "haidang-foreign-press")
    query = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
    assert foreign and all(f'"{sid}"' in query for sid in foreign)
