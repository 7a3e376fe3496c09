"""Elasticsearch only: `index setup` names the article indices created under an older analysis chain.

An index keeps the analysers it was created with, so a template update (version 6 split Chinese,
Japanese and Korean characters apart) reaches only later indices; the older ones must be named,
not silently left behind. Runs only with ELASTICSEARCH_URL (in CI, the noida-db stand-in).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from haidang.settings import StoreSettings
from haidang.store import open_store
from haidang.store.es_setup import Templates, install_templates, load_templates, stale_analysis

pytestmark = pytest.mark.elasticsearch


@pytest.fixture
def cluster() -> Iterator[tuple[Elasticsearch, str]]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        pytest.skip("ELASTICSEARCH_URL is not set: this test needs a cluster")
    prefix = f"hdtest-{uuid.uuid4().hex[:12]}"
    es = Elasticsearch(url)
    yield es, prefix
    store = open_store(StoreSettings(backend="elasticsearch", elasticsearch_url=url, elasticsearch_prefix=prefix))
    store.delete_all()      # type: ignore[attr-defined]
    store.close()
    es.close()


def _before_cjk(current: Templates) -> Templates:
    """The templates as version 5 had them: no cjk_chars char filter."""
    settings = copy.deepcopy(current.settings_component)
    analysis = settings["template"]["settings"]["analysis"]
    del analysis["char_filter"]["cjk_chars"]
    for analyzer in analysis["analyzer"].values():
        analyzer["char_filter"] = [f for f in analyzer.get("char_filter", []) if f != "cjk_chars"]
    return dataclasses.replace(current, settings_component=settings)


def test_setup_names_the_indices_created_before_the_current_analysis(cluster: tuple[Elasticsearch, str]) -> None:
    es, prefix = cluster
    current = load_templates()
    install_templates(es, prefix, templates=_before_cjk(current))
    assert stale_analysis(es, prefix, templates=current) == [(f"{prefix}-articles-000001", ["cjk_chars"])]
    done = install_templates(es, prefix, templates=current)
    assert any(line.startswith(f"index {prefix}-articles-000001 keeps an older analysis chain (without cjk_chars)")
               for line in done)
    # an index created under the current templates is not named
    es.indices.create(index=f"{prefix}-articles-000002")
    assert [name for name, _ in stale_analysis(es, prefix, templates=current)] == [f"{prefix}-articles-000001"]


def test_a_fresh_setup_names_nothing(cluster: tuple[Elasticsearch, str]) -> None:
    es, prefix = cluster
    done = install_templates(es, prefix)
    assert not any("older analysis chain" in line for line in done)
    assert stale_analysis(es, prefix) == []
