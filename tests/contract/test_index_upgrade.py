"""Elasticsearch only: `index setup` names the article indices created under an older analysis chain,
and adds new fields of the bookkeeping indices to the existing ones.

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


def test_setup_adds_the_outbox_article_field_to_an_older_outbox_index(cluster: tuple[Elasticsearch, str]) -> None:
    """Version 7 added `article_id` to the (strict) outbox index: `index setup` puts it into the
    existing index in place, a message queued before reads None, and new ones keep theirs."""
    from haidang.store.base import OutboxMessage

    es, prefix = cluster
    current = load_templates()
    older = copy.deepcopy(current.small_indices)
    del older["indices"]["outbox"]["properties"]["article_id"]
    install_templates(es, prefix, templates=dataclasses.replace(current, small_indices=older))
    outbox = f"{prefix}-outbox"
    assert "article_id" not in es.indices.get_mapping(index=outbox)[outbox]["mappings"]["properties"]
    es.index(index=outbox, id="k0", refresh=True, document={
        "key": "k0", "flag_rule": "tin_sai", "story_id": "s1", "recipient": "a@example.vn",
        "message_id": "<k0@haidang.local>", "subject": "Cờ", "text": "t", "html": "<p>t</p>", "status": "pending",
        "attempts": 0, "next_attempt_at": "2026-03-12T03:00:00+00:00", "created_at": "2026-03-12T03:00:00+00:00",
        "pending_since": "2026-03-12T03:00:00+00:00", "attachments": [], "handed_over": 0})
    install_templates(es, prefix, templates=current)
    assert "article_id" in es.indices.get_mapping(index=outbox)[outbox]["mappings"]["properties"]
    store = open_store(StoreSettings(backend="elasticsearch", elasticsearch_url=os.environ["ELASTICSEARCH_URL"],
                                     elasticsearch_prefix=prefix))
    try:
        store.enqueue(OutboxMessage(key="k1", flag_rule="tin_sai", story_id="s1", recipient="b@example.vn",
                                    message_id="<k1@haidang.local>", subject="Cờ", text="t", html="<p>t</p>",
                                    article_id="copy-2"))
        assert [(m.key, m.article_id) for m in store.outbox()] == [("k0", None), ("k1", "copy-2")]
    finally:
        store.close()
