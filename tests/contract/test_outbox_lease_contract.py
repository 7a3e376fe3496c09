"""The outbox delivery lease and put-back of every Store: one claimant wins, leases clear and expire."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from haidang.settings import StoreSettings
from haidang.store import open_store
from haidang.store.base import OutboxMessage, Store

from .conftest import T0

_LEASE = timedelta(minutes=5)


def _msg(key: str, **kw: object) -> OutboxMessage:
    return OutboxMessage(key=key, flag_rule="tin_sai", story_id="story-1", recipient="a@example.vn",
                         message_id=f"<{key}@haidang.local>", subject="Tiêu đề", text="nội dung",
                         html="<p>nội dung</p>", **kw)  # type: ignore[arg-type]


def _row(store: Store, key: str) -> OutboxMessage:
    [row] = [m for m in store.outbox() if m.key == key]
    return row


def test_backend_implements_lease_methods(store: Store) -> None:
    for name in ("claim", "requeue_failed"):
        assert callable(getattr(store, name))


def test_a_new_message_is_unleased_and_pending_since_it_is_due(store: Store) -> None:
    store.enqueue(_msg("now", created_at=T0))
    store.enqueue(_msg("later", created_at=T0, next_attempt_at=T0 + timedelta(hours=8)))   # quiet hours
    assert _row(store, "now").lease_owner is None and _row(store, "now").lease_until is None
    assert _row(store, "now").pending_since == T0
    assert _row(store, "later").pending_since == T0 + timedelta(hours=8)


def test_only_the_first_claim_wins_until_the_lease_expires(store: Store) -> None:
    store.enqueue(_msg("k1", created_at=T0))
    assert store.claim("k1", "host-a:1", T0 + _LEASE, now=T0) is True
    assert store.claim("k1", "host-b:2", T0 + _LEASE, now=T0) is False
    assert store.claim("k1", "host-b:2", T0 + _LEASE, now=T0 + timedelta(minutes=4)) is False
    row = _row(store, "k1")
    assert (row.lease_owner, row.lease_until, row.status) == ("host-a:1", T0 + _LEASE, "pending")
    # a claimed message is not offered to other deliverers while its lease holds
    assert store.due_messages(T0 + timedelta(minutes=1)) == []
    # the owner crashed: after the lease the message is due again and can be claimed once more
    later = T0 + _LEASE + timedelta(seconds=1)
    assert [m.key for m in store.due_messages(later)] == ["k1"]
    assert store.claim("k1", "host-b:2", later + _LEASE, now=later) is True
    assert _row(store, "k1").lease_owner == "host-b:2"


def test_mark_methods_clear_the_lease(store: Store) -> None:
    for key in ("sent", "retry", "failed"):
        store.enqueue(_msg(key, created_at=T0))
        assert store.claim(key, "me", T0 + _LEASE, now=T0)
    store.mark_sent("sent", T0)
    store.mark_retry("retry", "421 bận", T0 + timedelta(minutes=1))
    store.mark_failed("failed", "550 không có hộp thư", T0 + timedelta(seconds=5))
    for key in ("sent", "retry", "failed"):
        row = _row(store, key)
        assert row.lease_owner is None and row.lease_until is None and row.attempts == 1
    assert _row(store, "failed").failed_at == T0 + timedelta(seconds=5)
    assert _row(store, "sent").failed_at is None and _row(store, "retry").failed_at is None
    # a retried message is claimable again once due, with no lease left over
    assert store.claim("retry", "other", T0 + _LEASE, now=T0 + timedelta(minutes=1)) is True


@pytest.mark.parametrize("setup", ["sent", "failed", "not_due", "missing"])
def test_claim_refuses_what_is_not_due_and_pending(store: Store, setup: str) -> None:
    if setup != "missing":
        store.enqueue(_msg("k1", created_at=T0, next_attempt_at=T0 + timedelta(minutes=10)
                           if setup == "not_due" else None))
    if setup == "sent":
        store.mark_sent("k1", T0)
    elif setup == "failed":
        store.mark_failed("k1", "550")
    assert store.claim("k1", "me", T0 + _LEASE, now=T0) is False


def test_requeue_failed_puts_a_failed_message_back_with_its_message_id(store: Store) -> None:
    store.enqueue(_msg("k1", created_at=T0))
    store.enqueue(_msg("ok", created_at=T0))
    store.mark_retry("k1", "421", T0 + timedelta(minutes=1))
    store.mark_failed("k1", "gave up", T0 + timedelta(days=3))
    store.mark_sent("ok", T0)
    back = T0 + timedelta(days=4)
    assert store.requeue_failed("k1", back) is True
    row = _row(store, "k1")
    assert (row.status, row.message_id, row.attempts) == ("pending", "<k1@haidang.local>", 2)
    assert row.next_attempt_at == back and row.pending_since == back and row.lease_until is None
    assert row.failed_at is None and row.last_error == "gave up"
    assert [m.key for m in store.due_messages(back)] == ["k1"]
    assert store.requeue_failed("k1", back) is False        # already pending: nothing changes
    assert store.requeue_failed("ok", back) is False         # a sent message is never sent again
    assert _row(store, "ok").status == "sent"
    with pytest.raises(KeyError):
        store.requeue_failed("nope", back)


def _sibling(store: Store, tmp_path: Path) -> Store:
    """Another connection to the same data, as a second process or host would open it."""
    prefix = getattr(store, "prefix", None)
    if prefix is None:
        return open_store(StoreSettings(backend="sqlite", data_dir=str(tmp_path / "data")))
    return open_store(StoreSettings(backend="elasticsearch", elasticsearch_url=os.environ["ELASTICSEARCH_URL"],
                                    elasticsearch_prefix=prefix, data_dir=str(tmp_path / "data")))


def test_concurrent_claims_have_exactly_one_winner(store: Store, tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(5)]
    for key in keys:
        store.enqueue(_msg(key, created_at=T0))
    contenders = 4
    start = threading.Barrier(contenders)
    wins: dict[str, list[str]] = {key: [] for key in keys}

    def contend(name: str) -> None:
        own = _sibling(store, tmp_path)          # one connection per thread, as per process
        try:
            start.wait(timeout=30)
            for key in keys:
                if own.claim(key, name, T0 + _LEASE, now=T0):
                    wins[key].append(name)
        finally:
            own.close()

    with ThreadPoolExecutor(contenders) as pool:
        list(pool.map(contend, [f"worker-{n}" for n in range(contenders)]))
    assert all(len(w) == 1 for w in wins.values()), wins
    assert {key: _row(store, key).lease_owner for key in keys} == {key: w[0] for key, w in wins.items()}
