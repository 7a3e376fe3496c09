"""Every error of the search parser reaches officers in Vietnamese, with where it is in the query."""

from __future__ import annotations

import logging
import re

import pytest

from haidang.errors import QueryError
from haidang.store.query import parse_query
from haidang.web.query_errors import GENERAL, explain_query_error

# One query per error that haidang/store/query.py raises, and the words the officer must read.
CASES = {
    " ": "chưa có từ khoá",
    '"vo dap': "dấu ngoặc kép ở ký tự thứ 1 chưa được đóng",
    'ly "unclosed': "dấu ngoặc kép ở ký tự thứ 4 chưa được đóng",
    "ly - mua": "dấu - ở ký tự thứ 4 đứng riêng",
    'ly ""': "cụm từ trong ngoặc kép ở ký tự thứ 4 không có từ nào",
    "ly -!!": "phần loại trừ ở ký tự thứ 4 không có chữ hay số nào",
    "OR ly": "OR ở ký tự thứ 1 cần một từ",
    "ly OR -mua": "OR ở ký tự thứ 4 đứng ngay trước một phần loại trừ",
    "ly OR": "OR ở ký tự thứ 4 đứng cuối câu tìm kiếm",
    "-ly": "chỉ có phần loại trừ",
    "!! …": "không có chữ hay số nào để tìm",
}
_ENGLISH = re.compile(r"\b(the|at position|query|add|phrase|exclu\w*|needs?|e\.g)\b")


@pytest.mark.parametrize(("query", "expected"), CASES.items(), ids=list(CASES))
def test_each_parser_error_has_its_own_vietnamese_wording(query: str, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    text = explain_query_error(caught.value)
    assert expected in text and text != GENERAL, (str(caught.value), text)
    assert not _ENGLISH.search(text), text


def test_an_unknown_error_gets_the_general_help_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="haidang.web.query_errors"):
        text = explain_query_error(QueryError("limit and offset must not be negative (got limit=-1, offset=0)"))
    assert text == GENERAL and "limit and offset" in caplog.text
