"""Kibana saved objects: fills in index_templates/kibana/saved_objects.ndjson for a deployment and
imports it through Kibana's saved objects API (`haidang kibana setup`).

Not verified against a real Kibana here (README.md, "Elasticsearch and Kibana"); the unit tests
check the NDJSON and the request this module sends, against a local HTTP server.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from haidang.errors import PermanentStoreError, TransientStoreError
from haidang.store.es_setup import templates_dir

__all__ = ["FOREIGN_PRESS_MARK", "discover_url", "import_saved_objects", "render_saved_objects", "saved_objects_path"]

# Placeholder in the foreign-press saved search, replaced by the source ids of kind foreign_press.
FOREIGN_PRESS_MARK = "__FOREIGN_PRESS__"
_NONE = '"(không có nguồn nước ngoài)"'


def discover_url(kibana_url: str, article_id: str) -> str:
    """Kibana Discover on the articles data view, filtered to one record: the link a flag email
    carries when the store is Elasticsearch (the embedded store's emails name `haidang explain`)."""
    from urllib.parse import quote

    app_state = quote(f"(index:'haidang-articles',query:(language:kuery,query:'id:\"{article_id}\"'))",
                      safe="(),:'")
    return f"{kibana_url.rstrip('/')}/app/discover#/?_g=(time:(from:now-5y,to:now))&_a={app_state}"


def saved_objects_path() -> Path:
    return templates_dir() / "kibana" / "saved_objects.ndjson"


def _kql_list(values: Sequence[str]) -> str:
    return " or ".join(json.dumps(v, ensure_ascii=False) for v in sorted(values)) or _NONE


def render_saved_objects(ndjson: str, *, prefix: str = "haidang", foreign_sources: Sequence[str] = ()) -> str:
    """The NDJSON for this deployment: data views point at `prefix` indices, and the foreign-press
    search lists `foreign_sources`. Object ids keep the "haidang-" stem so re-importing overwrites."""
    out = []
    for line in ndjson.splitlines():
        if not line.strip():
            continue
        obj: dict[str, Any] = json.loads(line)
        attrs = obj.get("attributes", {})
        if obj.get("type") == "index-pattern" and prefix != "haidang":
            attrs["title"] = prefix + attrs["title"].removeprefix("haidang")
        meta = attrs.get("kibanaSavedObjectMeta", {})
        if FOREIGN_PRESS_MARK in meta.get("searchSourceJSON", ""):
            meta["searchSourceJSON"] = meta["searchSourceJSON"].replace(
                FOREIGN_PRESS_MARK, _kql_list(foreign_sources).replace('"', '\\"'))
        out.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(out) + "\n"


def import_saved_objects(kibana_url: str, ndjson: str, *, username: str | None = None,
                         password: str | None = None, api_key: str | None = None,
                         timeout_s: float = 30.0) -> dict[str, Any]:
    """POST the NDJSON to /api/saved_objects/_import?overwrite=true; return Kibana's answer.

    Raises PermanentStoreError when Kibana refuses the request or reports objects it could not import.
    """
    boundary = "haidang-" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"haidang.ndjson\"\r\n"
            f"Content-Type: application/ndjson\r\n\r\n").encode() + ndjson.encode("utf-8") + \
        f"\r\n--{boundary}--\r\n".encode()
    headers = {"kbn-xsrf": "true", "Content-Type": f"multipart/form-data; boundary={boundary}"}
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif password:
        headers["Authorization"] = "Basic " + b64encode(f"{username or 'elastic'}:{password}".encode()).decode()
    url = kibana_url.rstrip("/") + "/api/saved_objects/_import?overwrite=true"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer: dict[str, Any] = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise PermanentStoreError(f"Kibana at {kibana_url} refused the saved objects: HTTP {exc.code}: {detail}") from exc
    except OSError as exc:
        raise TransientStoreError(f"Kibana at {kibana_url} unreachable: {exc}; is it up?") from exc
    if not answer.get("success", False):
        errors = [f"{e.get('type')}/{e.get('id')}: {e.get('error')}" for e in answer.get("errors", [])]
        raise PermanentStoreError(f"Kibana imported {answer.get('successCount', 0)} objects but not: {errors}")
    return answer
