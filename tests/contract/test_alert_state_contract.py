"""Alert-state behaviour of every Store: the small JSON memory of the scheduled rules (alerts/watch.py)."""

from __future__ import annotations

import pytest

from haidang.settings import StoreSettings
from haidang.store import open_store
from haidang.store.base import Store


def test_backend_implements_alert_state_methods(store: Store) -> None:
    for name in ("get_alert_state", "set_alert_state"):
        assert callable(getattr(store, name))


def test_missing_key_is_none(store: Store) -> None:
    assert store.get_alert_state("spike:nothing") is None


def test_state_round_trips_json_values(store: Store) -> None:
    value = {"last_fired": "2025-07-01T01:00:00+00:00", "count": 3, "ratio": 2.5, "on": True,
             "none": None, "silent": {"vnexpress": "2025-07-01T01:00:00+00:00"}, "ids": ["a", "b"],
             "ghi_chú": "Quảng Ngãi"}
    store.set_alert_state("spike:tang-dot-bien", value)
    assert store.get_alert_state("spike:tang-dot-bien") == value


def test_set_replaces_the_whole_object_per_key(store: Store) -> None:
    store.set_alert_state("k", {"a": 1, "b": 2})
    store.set_alert_state("k", {"c": 3})
    store.set_alert_state("other", {"a": 9})
    assert store.get_alert_state("k") == {"c": 3}
    assert store.get_alert_state("other") == {"a": 9}


def test_state_survives_reopening(backend: str, tmp_path) -> None:
    if backend != "sqlite":
        pytest.skip("reopening is covered by the sqlite half; Elasticsearch state lives in the cluster")
    settings = StoreSettings(backend="sqlite", data_dir=str(tmp_path / "data"))
    first = open_store(settings)
    first.set_alert_state("silence:nguon", {"silent": {"tuoitre": "2025-07-01T00:00:00+00:00"}})
    first.close()
    second = open_store(settings)
    try:
        assert second.get_alert_state("silence:nguon") == {"silent": {"tuoitre": "2025-07-01T00:00:00+00:00"}}
    finally:
        second.close()
