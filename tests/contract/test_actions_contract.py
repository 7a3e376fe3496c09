"""Officer actions and the audit log on every Store: append, list in order, filter, never rewrite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crawlers.dedup import band_keys, signature
from haidang.store.base import ACTION_NAMES, AuditEntry, KnownClaim, ResponseAction, Store

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
