"""Retention on every Store: old articles lose raw HTML and text, and keep everything else."""

from __future__ import annotations

from datetime import timedelta

from haidang.settings import StoreSettings
from haidang.store.base import Store
from haidang.store.retention import apply_retention

from .conftest import T0, build_article


def _old_and_new(store: Store) -> tuple[str, str]:
    old = build_article("cu", "Lý Sơn mùa tỏi", "Nông dân Lý Sơn thu hoạch tỏi sớm.", first_seen=T0,
                        story_id="story-old", relevant=True, province="51")
    old.fetched.html = "<html><body>Nông dân Lý Sơn thu hoạch tỏi sớm.</body></html>"
    old.content.lead = "Nông dân Lý Sơn"
    old.labels = {"tone": {"label": "positive", "score": 0.8}}
    new = build_article("moi", "Lý Sơn đón khách", "Đảo Lý Sơn đón khách dịp lễ.", first_seen=T0 + timedelta(days=100))
    new.fetched.html = "<html>mới</html>"
    store.upsert(old)
    store.upsert(new)
    return old.id, new.id


def test_retention_drops_old_bodies_and_keeps_metadata(store: Store) -> None:
    old_id, new_id = _old_and_new(store)
    before = store.get(old_id)
    assert apply_retention(store, StoreSettings(retention_text_days=30), T0 + timedelta(days=60)) == 1  # type: ignore[arg-type]
    old = store.get(old_id)
    assert old.fetched.html is None and old.content.text == "" and old.content.lead == ""
    assert old.content.title == before.content.title and old.labels == before.labels
    assert old.story_id == "story-old" and old.relevant and old.content.first_seen == T0
    assert old.fetched.url == before.fetched.url
    new = store.get(new_id)
    assert new.fetched.html == "<html>mới</html>" and new.content.text
    # found by its headline still, no longer by its text
    assert old_id in {h.id for h in store.search("mua toi").hits}
    assert old_id not in {h.id for h in store.search("thu hoach").hits}
    assert store.count() == 2


def test_retention_is_repeatable_and_off_by_default(store: Store) -> None:
    old_id, _ = _old_and_new(store)
    now = T0 + timedelta(days=60)
    assert apply_retention(store, StoreSettings(), now) == 0  # type: ignore[arg-type]
    assert store.get(old_id).content.text
    settings = StoreSettings(retention_text_days=30)
    assert apply_retention(store, settings, now) == 1  # type: ignore[arg-type]
    assert apply_retention(store, settings, now) == 0  # type: ignore[arg-type]


def test_recrawl_of_unchanged_page_does_not_bring_text_back(store: Store) -> None:
    old_id, _ = _old_and_new(store)
    apply_retention(store, StoreSettings(retention_text_days=30), T0 + timedelta(days=60))  # type: ignore[arg-type]
    again = build_article("cu", "Lý Sơn mùa tỏi", "Nông dân Lý Sơn thu hoạch tỏi sớm.", first_seen=T0)
    assert store.upsert(again) == "unchanged"
    assert store.get(old_id).content.text == ""
