"""Evidence behaviour of every Store: append, keep the bytes exactly, list per article in time order."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from haidang.store.base import Evidence, Store

from .conftest import T0

_HTML = "<html><head><meta charset='windows-1258'></head><body><p>Tin đồn vỡ đập</p></body></html>"


def _evidence(article_id: str = "a1", **kw: object) -> Evidence:
    body = kw.pop("html", _HTML.encode("cp1258", errors="replace"))
    fields: dict[str, object] = {"fetched_at": T0, "status_code": 200, "text": "Tin đồn vỡ đập",
                                 "content_type": "text/html; charset=windows-1258", **kw}
    return Evidence(article_id=article_id, url=f"https://mxh.example.vn/{article_id}",
                    sha256=hashlib.sha256(body).hexdigest(), html=body, **fields)  # type: ignore[arg-type]


def test_backend_implements_evidence_methods(store: Store) -> None:
    for name in ("save_evidence", "evidence"):
        assert callable(getattr(store, name))


def test_saved_evidence_comes_back_byte_for_byte(store: Store) -> None:
    saved = _evidence(note="quy tắc tin-sai")
    evidence_id = store.save_evidence(saved)
    assert evidence_id
    [back] = store.evidence("a1")
    assert back.id == evidence_id
    assert back.html == saved.html and hashlib.sha256(back.html).hexdigest() == back.sha256
    assert (back.article_id, back.url, back.fetched_at, back.text, back.status_code, back.kind, back.note,
            back.content_type, back.outcome) == (
        "a1", saved.url, T0, "Tin đồn vỡ đập", 200, "flag", "quy tắc tin-sai",
        "text/html; charset=windows-1258", None)


def test_evidence_is_listed_per_article_oldest_first_and_never_merged(store: Store) -> None:
    store.save_evidence(_evidence(kind="recheck", outcome="gone", html=b"", status_code=404,
                                  fetched_at=T0 + timedelta(hours=12)))  # type: ignore[arg-type]
    store.save_evidence(_evidence())
    store.save_evidence(_evidence())                       # the same bytes again: a second record
    store.save_evidence(_evidence("a2"))
    rows = store.evidence("a1")
    assert [(r.kind, r.outcome) for r in rows] == [("flag", None), ("flag", None), ("recheck", "gone")]
    assert rows[-1].html == b"" and rows[-1].status_code == 404
    assert len({r.id for r in rows}) == 3
    assert [r.article_id for r in store.evidence("a2")] == ["a2"]
    assert store.evidence("unknown") == []
