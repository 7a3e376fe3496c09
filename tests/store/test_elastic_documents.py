"""The documents ElasticStore writes, built from articles the real pipeline enriched, fit the mapping.

The contract suite stores hand-made labels; this test takes what the shipped models really write
(section, topics, tone, risk with reasons and debunks, language) and checks every value against the
strict types of index_templates/, as a cluster would when indexing. A mismatch there is a document
the cluster refuses (it was: `labels.language` is an object, not a keyword).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from haidang.service import run_once
from haidang.settings import load_settings
from haidang.store import open_store
from haidang.store.elastic import _content_hash, _derived
from haidang.store.es_setup import load_templates

_NUMBERS = {"float", "double", "long", "integer", "short", "byte", "scaled_float", "half_float"}
_STRINGS = {"keyword", "text", "match_only_text", "wildcard", "constant_keyword"}


def _problems(value: Any, mapping: dict[str, Any], path: str) -> list[str]:
    """Where `value` would not index under `mapping` (None and unmapped fields of non-strict objects pass)."""
    if value is None:
        return []
    kind = mapping.get("type", "object")
    if kind in ("object", "nested"):
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if not isinstance(item, dict):
                return [f"{path}: {kind} expected, got {type(item).__name__} {item!r:.60}"]
            props = mapping.get("properties", {})
            for key, sub in item.items():
                if key in props:
                    out += _problems(sub, props[key], f"{path}.{key}")
                elif mapping.get("dynamic") == "strict":
                    out.append(f"{path}.{key}: not in a strict mapping")
        return out
    items = value if isinstance(value, list) else [value]
    for item in items:
        if kind in _STRINGS and not isinstance(item, str):
            return [f"{path}: {kind} expected a string, got {type(item).__name__} {item!r:.60}"]
        if kind in _NUMBERS and (isinstance(item, bool) or not isinstance(item, (int, float))):
            return [f"{path}: {kind} expected a number, got {type(item).__name__} {item!r:.60}"]
        if kind == "boolean" and not isinstance(item, bool):
            return [f"{path}: boolean expected, got {item!r:.60}"]
        if kind == "date":
            try:
                datetime.fromisoformat(str(item))
            except ValueError:
                return [f"{path}: date expected, got {item!r:.60}"]
    return []


def test_documents_of_enriched_articles_fit_the_mapping(demo_config) -> None:
    settings = load_settings(demo_config, environ={})
    run_once(settings, settings.sources)
    mapping = {"type": "object", "dynamic": "strict",
               "properties": load_templates().mappings_component["template"]["mappings"]["properties"]}
    store = open_store(settings.app.store)
    try:
        articles = list(store.iter_articles())
    finally:
        store.close()
    assert len(articles) >= 5 and any(a.labels.get("risk", {}).get("reasons") for a in articles)
    problems: list[str] = []
    for article in articles:
        doc = article.to_dict()
        doc["haidang"] = _derived(article, doc, _content_hash(article))
        problems += [f"{article.id}: {p}" for p in _problems(doc, mapping, "")]
    assert not problems, "\n".join(problems[:20])
