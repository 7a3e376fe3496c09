"""Officer actions and the audit log on every Store: append, list in order, filter, never rewrite."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from crawlers.dedup import band_keys, signature
from haidang.settings import StoreSettings
from haidang.store import open_store
from haidang.store.base import ACTION_NAMES, AlreadyRecorded, AuditEntry, KnownClaim, ResponseAction, Store

from .conftest import T0


def _action(at_hours: float = 0, **kw: object) -> ResponseAction:
    fields: dict[str, object] = {"flag_key": "flag-1", "story_id": "story-1", "article_id": "a1",
                                 "rule": "tin_sai", "action": "phan_bac", "actor": "canbo@sotttt.example.vn",
                                 "at": T0 + timedelta(hours=at_hours)}
    fields.update(kw)
    return ResponseAction(**fields)  # type: ignore[arg-type]


def test_backend_implements_action_methods(store: Store) -> None:
    for name in ("record_action", "actions", "append_audit", "audit", "dismiss_claim"):
        assert callable(getattr(store, name))


def test_action_names_cover_every_kind() -> None:
    assert set(ACTION_NAMES) == {"phan_bac", "de_nghi_cai_chinh", "de_nghi_go_bo", "chuyen_cong_an",
                                 "tang_cuong_thong_tin", "khong_phai_tin_sai"}


def test_record_action_round_trips_and_audits(store: Store) -> None:
    action_id = store.record_action(_action(note="Đã đăng bài bác bỏ", rebuttal_url="https://x.example.vn/b",
                                            client="127.0.0.1", agency_id="sotttt"))
    assert action_id
    [got] = store.actions()
    assert got.id == action_id and got.action == "phan_bac" and got.at == T0
    assert got.note == "Đã đăng bài bác bỏ" and got.rebuttal_url == "https://x.example.vn/b"
    assert got.client == "127.0.0.1" and got.agency_id == "sotttt" and got.actor == "canbo@sotttt.example.vn"
    [entry] = store.audit()
    assert entry.kind == "action" and entry.actor == "canbo@sotttt.example.vn" and entry.target == "flag-1"
    assert entry.detail["action"] == "phan_bac" and entry.detail["note"] == "Đã đăng bài bác bỏ"
    assert entry.client == "127.0.0.1" and entry.at == T0


def test_actions_filter_and_order(store: Store) -> None:
    store.record_action(_action(2, story_id="story-2", action="de_nghi_go_bo"))
    store.record_action(_action(0))
    store.record_action(_action(5, action="khong_phai_tin_sai"))
    assert [a.action for a in store.actions()] == ["phan_bac", "de_nghi_go_bo", "khong_phai_tin_sai"]
    assert [a.action for a in store.actions(since=T0 + timedelta(hours=2))] == ["de_nghi_go_bo",
                                                                                 "khong_phai_tin_sai"]
    assert [a.action for a in store.actions(until=T0 + timedelta(hours=2))] == ["phan_bac"]
    assert [a.story_id for a in store.actions(story_id="story-2")] == ["story-2"]


def test_audit_appends_and_filters(store: Store) -> None:
    first = store.append_audit(AuditEntry(at=T0, actor="admin", kind="login", target="-", detail={}))
    second = store.append_audit(AuditEntry(at=T0 + timedelta(days=2), actor="canbo", kind="label_correction",
                                           target="a1", detail={"field": "tone", "from": "neutral",
                                                                "to": "negative", "ghi chú": "đúng"},
                                           client="10.0.0.5"))
    assert first != second
    assert [e.kind for e in store.audit()] == ["login", "label_correction"]
    [late] = store.audit(since=T0 + timedelta(days=1))
    assert late.id == second and late.detail["ghi chú"] == "đúng" and late.client == "10.0.0.5"


def test_audit_filters_by_kind_and_target(store: Store) -> None:
    for i, (kind, target) in enumerate([("claim", "c1"), ("claim", "c2"), ("action", "c1"), ("claim", "c1")]):
        store.append_audit(AuditEntry(at=T0 + timedelta(hours=i), actor=f"u{i}", kind=kind, target=target, detail={}))
    assert [e.actor for e in store.audit(kind="claim", target="c1")] == ["u0", "u3"]
    assert [e.actor for e in store.audit(target="c1")] == ["u0", "u2", "u3"]
    assert [e.actor for e in store.audit(kind="claim", since=T0 + timedelta(hours=1))] == ["u1", "u3"]
    assert store.audit(kind="claim", target="c9") == []


def test_dismiss_claim(store: Store) -> None:
    text = "Đập thủy điện Sông Tranh 2 bị vỡ, người dân hạ du phải sơ tán gấp trong đêm"
    sig = signature(text)
    claim_id = store.propose_claim(KnownClaim(text=text, signature=sig), band_keys(sig))
    store.dismiss_claim(claim_id)
    assert [c.status for c in store.known_claims("dismissed")] == ["dismissed"]
    assert [c.id for c in store.claim_candidates(band_keys(sig), status="dismissed")] == [claim_id]
    assert store.known_claims() == []
    store.confirm_claim(claim_id)                   # the latest human decision wins
    assert [c.id for c in store.known_claims()] == [claim_id]


def test_dismiss_unknown_claim_raises(store: Store) -> None:
    with pytest.raises(KeyError):
        store.dismiss_claim("claim-none")


def _opener(store: Store, tmp_path: Path) -> Callable[[], Store]:
    """Opens another, separate connection to the same store, as another process would hold
    (a SqliteStore belongs to the thread that opened it, so each writer opens its own)."""
    path = getattr(store, "path", None)
    if path is not None:
        return lambda: open_store(StoreSettings(backend="sqlite", data_dir=str(Path(path).parent)))
    prefix = store.prefix  # type: ignore[attr-defined]
    return lambda: open_store(StoreSettings(backend="elasticsearch", elasticsearch_url=os.environ["ELASTICSEARCH_URL"],
                                            elasticsearch_prefix=prefix, data_dir=str(tmp_path / "twin")))


def test_a_link_id_is_recorded_once(store: Store) -> None:
    first = store.record_action(_action(link_id="flag-1-phan_bac", note="lần đầu"))
    with pytest.raises(AlreadyRecorded) as raised:
        store.record_action(_action(1, link_id="flag-1-phan_bac", note="lần hai"))
    assert raised.value.action_id == first and raised.value.link_id == "flag-1-phan_bac"
    [kept] = store.actions()
    assert kept.id == first and kept.note == "lần đầu" and kept.link_id == "flag-1-phan_bac"
    assert [e.detail["note"] for e in store.audit()] == ["lần đầu"]      # the refused one left no trace


def test_actions_without_link_id_or_with_other_ids_all_count(store: Store) -> None:
    store.record_action(_action(0))
    store.record_action(_action(1))
    store.record_action(_action(2, link_id="flag-1-phan_bac"))
    store.record_action(_action(3, link_id="flag-1-de_nghi_go_bo", action="de_nghi_go_bo"))
    assert [a.link_id for a in store.actions()] == [None, None, "flag-1-phan_bac", "flag-1-de_nghi_go_bo"]
    assert len(store.audit()) == 4


def test_two_connections_racing_on_one_link_record_once(store: Store, tmp_path: Path) -> None:
    """Two writers, each with its own connection, submit the same links at the same moment."""
    open_twin = _opener(store, tmp_path)
    rounds = 10
    results: dict[int, list[str]] = {0: [], 1: []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=30)

    def submit(who: int) -> None:
        try:
            with contextlib.closing(open_twin()) as target:
                for n in range(rounds):
                    barrier.wait()
                    try:
                        target.record_action(_action(n, link_id=f"flag-{n}-phan_bac", actor=f"worker-{who}"))
                        results[who].append("recorded")
                    except AlreadyRecorded:
                        results[who].append("refused")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=submit, args=(who,)) for who in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for n in range(rounds):
        assert sorted([results[0][n], results[1][n]]) == ["recorded", "refused"]
    kept = store.actions()
    assert sorted(a.link_id or "" for a in kept) == sorted(f"flag-{n}-phan_bac" for n in range(rounds))
    assert len([e for e in store.audit() if e.kind == "action"]) == rounds
