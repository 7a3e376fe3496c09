"""The whole pipeline on each backend: collect, enrich, store, flag, digest, report, search.

The contract suite checks the Store methods one by one with hand-made records; this runs the real
pipeline over the fixture sites, so what the shipped models really write is stored (a mapping that
refused a real label would fail here), and on Elasticsearch the results are compared with the
embedded store's for the same sites. The Elasticsearch case runs only with ELASTICSEARCH_URL (in CI,
against the noida-db stand-in, which is not Elasticsearch).
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path

import pytest

from alerts.digest import build_digest
from haidang.reports.report import build_report
from haidang.service import run_once
from haidang.settings import Settings, load_settings
from haidang.store import open_store
from haidang.store.base import SearchFilters

QUERIES = ("ly son", '"Dung Quất"', "dau tu -Khanh", 'quang ngai OR "Măng Đen"')


def _on(settings: Settings, backend: str) -> Settings:
    if backend == "sqlite":
        return settings
    store = settings.app.store.model_copy(update={
        "backend": "elasticsearch", "elasticsearch_url": os.environ["ELASTICSEARCH_URL"],
        "elasticsearch_prefix": f"hdpipe-{uuid.uuid4().hex[:10]}"})
    return settings.model_copy(update={"app": settings.app.model_copy(update={"store": store})})


def _observe(settings: Settings) -> dict[str, object]:
    first = run_once(settings, settings.sources)
    second = run_once(settings, settings.sources)
    store = open_store(settings.app.store)
    try:
        articles = list(store.iter_articles())
        digest = build_digest(store, settings, date(2026, 3, 11))
        report = build_report(store, settings, date(2026, 1, 1), date(2026, 6, 15))
        seen = {
            "errors": sum(t.errors for t in first.values()) + sum(t.errors for t in second.values()),
            "new": sum(t.new for t in first.values()),
            "again": sum(t.new + t.updated for t in second.values()),
            "count": store.count(),
            "relevant": store.count(SearchFilters(relevant_only=True)),
            "searches": {q: store.search(q).total for q in QUERIES},
            "flags": sorted({(m.flag_rule, m.story_id) for m in store.outbox()}),
            "digest_total": digest.total,
            "report_total": report.total,
            "labelled": sum(1 for a in articles if a.labels.get("risk")),
        }
        drop = getattr(store, "delete_all", None)
        if drop is not None:
            drop()
    finally:
        store.close()
    return seen


def test_pipeline_gives_the_same_results_on_each_backend(backend: str, demo_config: Path) -> None:
    if backend == "elasticsearch" and not os.environ.get("ELASTICSEARCH_URL"):
        pytest.skip("ELASTICSEARCH_URL is not set: the Elasticsearch half of the contract suite needs a cluster")
    settings = load_settings(demo_config, environ={})
    seen = _observe(_on(settings, backend))
    assert seen["errors"] == 0 and seen["again"] == 0
    assert seen["count"] == seen["new"] >= 10 and seen["labelled"] == seen["count"]
    assert seen["searches"]["ly son"] > 0 and seen["flags"]
    assert seen["report_total"] == seen["relevant"]
    if backend == "elasticsearch":
        sqlite_settings = settings.model_copy(update={"app": settings.app.model_copy(update={
            "store": settings.app.store.model_copy(update={"data_dir": str(demo_config.parent / "sqlite")})})})
        reference = _observe(sqlite_settings)
        assert seen == reference
