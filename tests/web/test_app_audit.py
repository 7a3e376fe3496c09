"""The audit page (/nhat-ky) reads only the page it shows: the store pages the log (Store.audit_page)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from haidang.store.base import AuditEntry, AuditPage, Store
from haidang.web import create_app

from .conftest import PASSWORDS, SECRET, WebKit
from .test_app_search import _login


class _Watched:
    """A store that notes each read of the audit log, so the test sees how much the page asked for."""

    def __init__(self, store: Store, reads: list[tuple[str, dict[str, Any]]]) -> None:
        self._store, self._reads = store, reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def audit(self, **kw: Any) -> list[AuditEntry]:
        self._reads.append(("audit", kw))
        return self._store.audit(**kw)

    def audit_page(self, **kw: Any) -> AuditPage:
        self._reads.append(("audit_page", kw))
        return self._store.audit_page(**kw)


@pytest.fixture
def watched(kit: WebKit) -> Iterator[tuple[WebKit, list[tuple[str, dict[str, Any]]]]]:
    """The kit's app again, on a store that notes its audit reads; 230 failed logins a minute apart
    and one label correction in the log."""
    store = kit.open()
    try:
        for n in range(230):
            store.append_audit(AuditEntry(at=kit.clock.now - timedelta(minutes=n), actor=f"may-{n}", kind="login_failed",
                                          target="web", detail={}, client="10.0.0.9"))
        store.append_audit(AuditEntry(at=kit.clock.now - timedelta(days=40), actor="cu", kind="logout", target="web",
                                      detail={}))
    finally:
        store.close()
    reads: list[tuple[str, dict[str, Any]]] = []
    app = create_app(kit.settings, lambda: _Watched(kit.open(), reads), SECRET, now=kit.clock)  # type: ignore[arg-type, return-value]
    with TestClient(app, base_url="http://testserver") as client:
        yield dataclasses.replace(kit, client=client), reads


def test_the_audit_page_reads_one_page_from_the_store(watched: tuple[WebKit, list[tuple[str, dict[str, Any]]]]) -> None:
    kit, reads = watched
    assert _login(kit, "quantri", PASSWORDS["quantri"]).status_code == 303
    reads.clear()
    html = kit.client.get("/nhat-ky", params={"trang": "2"}).text
    assert [name for name, _ in reads] == ["audit_page"]          # never the whole 30 days
    [(_, asked)] = reads
    assert asked["limit"] == 100 and asked["offset"] == 100 and asked["kind"] is None
    assert asked["since"] == kit.clock.now - timedelta(days=30)
    # Newest first: the login above, then the failures from may-0 on; page 2 starts at may-99.
    assert "231 mục · trang 2/3" in html and html.count('<td class="kind"') == 100
    assert ">may-99<" in html and ">may-198<" in html and ">may-98<" not in html and ">may-199<" not in html
    assert html.index(">may-99<") < html.index(">may-198<")
    assert ">cu<" not in html                                       # older than 30 days


def test_a_page_past_the_end_shows_the_last_one(watched: tuple[WebKit, list[tuple[str, dict[str, Any]]]]) -> None:
    kit, reads = watched
    assert _login(kit, "quantri", PASSWORDS["quantri"]).status_code == 303
    reads.clear()
    html = kit.client.get("/nhat-ky", params={"trang": "50", "loai": "login_failed"}).text
    assert [(name, kw["offset"]) for name, kw in reads] == [("audit_page", 4900), ("audit_page", 200)]
    assert "230 mục · trang 3/3" in html and html.count('<td class="kind"') == 30 and ">may-229<" in html
    assert '<option value="login_failed" selected>Đăng nhập sai</option>' in html
    assert 'id="audit-prev"' in html and 'id="audit-next"' not in html
