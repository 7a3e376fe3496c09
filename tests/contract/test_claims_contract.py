"""Known-false-claim behaviour of every Store: propose, confirm, list, and LSH candidates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crawlers.dedup import band_keys, signature
from haidang.store.base import KnownClaim, Store

from .conftest import T0

_TEXT = "Đập thủy điện Sông Tranh 2 bị vỡ, người dân hạ du phải sơ tán gấp trong đêm"
_OTHER = "Uống nước chanh nóng mỗi sáng chữa khỏi bệnh ung thư giai đoạn cuối"


def _claim(text: str, **kw: object) -> tuple[KnownClaim, list[str]]:
    sig = signature(text)
    return KnownClaim(text=text, signature=sig, **kw), band_keys(sig)  # type: ignore[arg-type]


def test_backend_implements_claim_methods(store: Store) -> None:
    for name in ("propose_claim", "confirm_claim", "known_claims", "get_claim", "claim_candidates"):
        assert callable(getattr(store, name))


def test_get_claim_by_id_whatever_its_status(store: Store) -> None:
    claim, keys = _claim(_TEXT, rebuttal_url="https://baoquangnam.example.vn/bac-bo.html", created_at=T0)
    claim_id = store.propose_claim(claim, keys)
    got = store.get_claim(claim_id)
    assert got is not None and got.id == claim_id and got.status == "proposed" and got.text == _TEXT
    store.dismiss_claim(claim_id)
    assert store.get_claim(claim_id).status == "dismissed"  # type: ignore[union-attr]
    assert store.get_claim("claim-none") is None


def test_propose_then_confirm(store: Store) -> None:
    claim, keys = _claim(_TEXT, rebuttal_url="https://baoquangnam.example.vn/bac-bo.html",
                         source_article_id="a1", created_at=T0)
    claim_id = store.propose_claim(claim, keys)
    assert claim_id
    assert store.known_claims() == []
    [proposed] = store.known_claims("proposed")
    assert proposed.id == claim_id and proposed.status == "proposed"
    assert proposed.text == _TEXT and proposed.rebuttal_url == "https://baoquangnam.example.vn/bac-bo.html"
    assert proposed.source_article_id == "a1" and proposed.signature == claim.signature
    assert proposed.created_at == T0

    store.confirm_claim(claim_id)
    [confirmed] = store.known_claims()
    assert confirmed.id == claim_id and confirmed.status == "confirmed"
    assert store.known_claims("proposed") == []
    assert [c.id for c in store.known_claims(None)] == [claim_id]


def test_propose_is_idempotent_and_never_unconfirms(store: Store) -> None:
    claim, keys = _claim(_TEXT)
    first = store.propose_claim(claim, keys)
    store.confirm_claim(first)
    again, _ = _claim(_TEXT.upper())            # same folded text, so the same derived id
    assert store.propose_claim(again, keys) == first
    assert [c.status for c in store.known_claims(None)] == ["confirmed"]


def test_status_given_by_caller_is_ignored(store: Store) -> None:
    claim, keys = _claim(_TEXT, status="confirmed")
    store.propose_claim(claim, keys)
    assert store.known_claims() == []


def test_explicit_id_is_kept(store: Store) -> None:
    claim, keys = _claim(_TEXT, id="claim-manual-1")
    assert store.propose_claim(claim, keys) == "claim-manual-1"


def test_confirm_unknown_claim_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.confirm_claim("claim-does-not-exist")


def test_known_claims_oldest_first(store: Store) -> None:
    ids = []
    for i, text in enumerate((_OTHER, _TEXT)):
        claim, keys = _claim(text, created_at=T0 + timedelta(hours=i))
        ids.append(store.propose_claim(claim, keys))
    assert [c.id for c in store.known_claims("proposed")] == ids


def test_claim_candidates_by_band_keys(store: Store) -> None:
    claim, keys = _claim(_TEXT)
    other, other_keys = _claim(_OTHER)
    cid = store.propose_claim(claim, keys)
    oid = store.propose_claim(other, other_keys)
    assert store.claim_candidates(keys) == []           # proposed claims flag nothing
    assert [c.id for c in store.claim_candidates(keys, status="proposed")] == [cid]
    store.confirm_claim(cid)
    store.confirm_claim(oid)
    found = store.claim_candidates(keys[:5] + ["999:none"])
    assert [c.id for c in found] == [cid]
    assert found[0].signature == claim.signature
    assert store.claim_candidates([]) == []
    assert store.claim_candidates(["0:absent"]) == []


def test_many_keys_are_chunked(store: Store) -> None:
    claim, keys = _claim(_TEXT)
    cid = store.propose_claim(claim, keys)
    store.confirm_claim(cid)
    noise = [f"{i % 40}:{i:016x}" for i in range(2000)]
    assert [c.id for c in store.claim_candidates(noise + keys[-1:])] == [cid]


def test_created_at_defaults_to_now(store: Store) -> None:
    claim, keys = _claim(_TEXT)
    store.propose_claim(claim, keys)
    [stored] = store.known_claims("proposed")
    assert stored.created_at is not None
    assert abs((stored.created_at - datetime.now(stored.created_at.tzinfo)).total_seconds()) < 600
