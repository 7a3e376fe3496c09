"""The checks the Store protocol module makes for every backend: the limit and offset of search and
of the audit log's pages."""

from __future__ import annotations

import pytest

from haidang.errors import QueryError
from haidang.store.base import (
    AUDIT_LIMIT_MAX,
    SEARCH_LIMIT_MAX,
    SEARCH_WINDOW,
    check_audit_page,
    check_search_page,
)


def test_a_large_limit_is_cut_to_the_maximum_and_to_the_window() -> None:
    assert check_search_page(20, 0) == 20
    assert check_search_page(10**30, 0) == SEARCH_LIMIT_MAX
    assert check_search_page(SEARCH_LIMIT_MAX, SEARCH_WINDOW - 5) == 5


@pytest.mark.parametrize(("limit", "offset", "named"), [
    ("20", 0, "limit"), (20.0, 0, "limit"), (None, 0, "limit"), (True, 0, "limit"), (0, 0, "limit"),
    (-10**5000, 0, "limit"), (20, "0", "offset"), (20, -1, "offset"), (20, SEARCH_WINDOW, "offset"),
    (20, 10**5000, "offset"),
], ids=["str", "float", "none", "bool", "zero", "huge-negative", "offset-str", "offset-negative",
        "offset-window", "offset-huge"])
def test_a_bad_limit_or_offset_is_a_query_error_naming_it(limit: object, offset: object, named: str) -> None:
    with pytest.raises(QueryError) as caught:
        check_search_page(limit, offset)
    assert caught.value.kind == named and str(caught.value).startswith(named)
    assert len(str(caught.value)) < 300          # a number of thousands of digits is not echoed back


def test_an_audit_page_limit_is_cut_and_a_huge_offset_stays_past_any_end() -> None:
    assert check_audit_page(100, 200) == (100, 200)
    assert check_audit_page(10**30, 0) == (AUDIT_LIMIT_MAX, 0)
    assert check_audit_page(1, 10**5000) == (1, 2**63 - 1)        # SQLite binds 64-bit integers at most
    for limit, offset in (("1", 0), (0, 0), (True, 0), (1, -1), (1, 1.0), (-10**5000, 0)):
        with pytest.raises(ValueError, match="audit page (limit|offset)") as caught:
            check_audit_page(limit, offset)
        assert len(str(caught.value)) < 300
