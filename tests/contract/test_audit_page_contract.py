"""`Store.audit_page` on every Store: the audit log paged by the store, newest first, with its counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from haidang.store.base import AUDIT_LIMIT_MAX, AuditEntry, Store

from .conftest import T0


def _log(store: Store, kinds: list[str], *, target: str = "-", hours: float = 0) -> list[str]:
    """Append one entry per kind, an hour apart from `hours` on; their ids in order."""
    return [store.append_audit(AuditEntry(at=T0 + timedelta(hours=hours + i), actor=f"u{i}", kind=kind,
                                          target=target, detail={"i": i}))
            for i, kind in enumerate(kinds)]


def test_pages_are_newest_first_and_cover_the_log_once(store: Store) -> None:
    _log(store, ["login", "login_failed", "action", "login", "report", "logout", "login"])
    newest_first = [e.id for e in reversed(store.audit())]
    pages = [store.audit_page(limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [e.id for page in pages for e in page.entries] == newest_first
    assert [len(p.entries) for p in pages] == [3, 3, 1]
    assert {p.total for p in pages} == {7}
    assert pages[0].kinds == {"login": 3, "login_failed": 1, "action": 1, "report": 1, "logout": 1}
    assert pages[0].entries[0].actor == "u6" and pages[0].entries[0].detail == {"i": 6}


def test_entries_at_the_same_moment_come_last_appended_first(store: Store) -> None:
    ids = [store.append_audit(AuditEntry(at=T0, actor=f"u{i}", kind="login", target="-", detail={}))
           for i in range(4)]
    assert [e.id for e in store.audit_page(limit=10).entries] == ids[::-1]
    assert [e.id for e in store.audit_page(limit=2, offset=1).entries] == ids[2:0:-1]


def test_a_kind_narrows_the_entries_and_total_but_not_the_counts(store: Store) -> None:
    _log(store, ["login", "login_failed", "login", "action", "login_failed", "login"])
    page = store.audit_page(kind="login", limit=2)
    assert [e.actor for e in page.entries] == ["u5", "u2"] and page.total == 3
    assert page.kinds == {"login": 3, "login_failed": 2, "action": 1}
    rest = store.audit_page(kind="login", limit=2, offset=2)
    assert [e.actor for e in rest.entries] == ["u0"] and rest.total == 3
    none = store.audit_page(kind="evidence")
    assert none.entries == [] and none.total == 0 and none.kinds["login"] == 3


def test_since_and_target_filter_the_entries_and_the_counts(store: Store) -> None:
    _log(store, ["login", "claim", "claim"], target="c1")
    _log(store, ["claim", "login"], target="c2", hours=10)
    late = store.audit_page(since=T0 + timedelta(hours=2))
    assert [e.actor for e in late.entries] == ["u1", "u0", "u2"]
    assert late.total == 3 and late.kinds == {"claim": 2, "login": 1}
    one = store.audit_page(target="c1", kind="claim")
    assert [e.actor for e in one.entries] == ["u2", "u1"] and one.total == 2
    assert one.kinds == {"login": 1, "claim": 2}
    assert [e.id for e in store.audit_page(kind="claim", target="c2", since=T0).entries] == \
        [e.id for e in store.audit(kind="claim", target="c2")]


def test_a_page_past_the_end_is_empty_and_still_counts(store: Store) -> None:
    _log(store, ["login", "logout"])
    for offset in (2, 50, 10**6, 10**30):
        page = store.audit_page(limit=10, offset=offset)
        assert page.entries == [] and page.total == 2 and page.kinds == {"login": 1, "logout": 1}, offset
    empty = store.audit_page(kind="login", since=T0 + timedelta(days=1))
    assert empty.entries == [] and empty.total == 0 and empty.kinds == {}


def test_limit_and_offset_must_be_whole_numbers(store: Store) -> None:
    for limit, offset in ((0, 0), (-1, 0), (1, -1), (True, 0), (1, False), ("10", 0), (1, 2.0), (None, 0)):
        with pytest.raises(ValueError, match="audit page"):
            store.audit_page(limit=limit, offset=offset)  # type: ignore[arg-type]


def test_a_limit_past_the_cap_is_cut(store: Store) -> None:
    _log(store, ["login"] * 3)
    page = store.audit_page(limit=AUDIT_LIMIT_MAX * 10**12)
    assert len(page.entries) == 3 and page.total == 3
