"""The search parser's errors (haidang/store/query.py, English for the CLI and logs) in Vietnamese.

QueryError carries only its message, so the errors are told apart by the message's opening words
and its "position N"; tests/web/test_query_errors.py runs the parser on one query per error, so a
reworded message fails there instead of reaching officers in English. An error not recognised
gets a general explanation of the syntax, and its English message goes to the log.
"""

from __future__ import annotations

import logging
import re

from haidang.errors import QueryError

__all__ = ["GENERAL", "explain_query_error"]

_log = logging.getLogger(__name__)

GENERAL = ('hãy kiểm tra lại cú pháp: đặt cụm từ trong "…", dùng OR giữa hai từ có thể thay nhau, '
           'viết dấu - liền trước từ cần loại trừ, ví dụ "Quảng Ngãi" bão OR lũ -bóng đá.')

# (pattern on the English message, Vietnamese text); {pos} is the 1-based character position.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.DOTALL), vi) for p, vi in (
    (r"^the query is empty",
     'chưa có từ khoá: hãy nhập ít nhất một từ, ví dụ dong thap hoặc "Đồng Tháp".'),
    (r"^a lone '-' at position (?P<pos>\d+)",
     ('dấu - ở ký tự thứ {pos} đứng riêng: hãy viết liền dấu - trước từ hoặc "cụm từ" cần loại trừ, '
      'ví dụ -mưa hoặc -"mưa lũ".')),
    (r"^unclosed quote at position (?P<pos>\d+)",
     'dấu ngoặc kép ở ký tự thứ {pos} chưa được đóng: hãy thêm dấu " ở cuối cụm từ, ví dụ "Đồng Tháp".'),
    (r"^the phrase at position (?P<pos>\d+) .* has no words",
     'cụm từ trong ngoặc kép ở ký tự thứ {pos} không có từ nào để tìm: hãy viết từ vào giữa hai dấu ".'),
    (r"^'-.*' at position (?P<pos>\d+) excludes nothing",
     ("phần loại trừ ở ký tự thứ {pos} không có chữ hay số nào, nên không loại trừ được gì: hãy viết từ "
      "cần loại trừ liền sau dấu -, ví dụ -mưa.")),
    (r"^OR at position (?P<pos>\d+) needs a word",
     ('OR ở ký tự thứ {pos} cần một từ hoặc "cụm từ" ở mỗi bên, và không dùng để nối phần loại trừ: '
      "ví dụ bão OR lũ.")),
    (r"^OR at position (?P<pos>\d+) is followed by the exclusion",
     ("OR ở ký tự thứ {pos} đứng ngay trước một phần loại trừ (bắt đầu bằng -): phần loại trừ không thể là "
      "một lựa chọn của OR; hãy viết tách riêng, ví dụ bão OR lũ -bóng đá.")),
    (r"^OR at position (?P<pos>\d+) ends the query",
     "OR ở ký tự thứ {pos} đứng cuối câu tìm kiếm: hãy thêm từ lựa chọn sau OR, ví dụ bão OR lũ."),
    (r"^the query only excludes",
     ('câu tìm kiếm chỉ có phần loại trừ (bắt đầu bằng -): hãy thêm ít nhất một từ hoặc "cụm từ" cần tìm, '
      "ví dụ Đồng Tháp -bóng đá.")),
    (r"^the query has no letters or digits",
     "câu tìm kiếm không có chữ hay số nào để tìm: hãy nhập ít nhất một từ."),
)]


def explain_query_error(exc: QueryError) -> str:
    """What is wrong with the query and how to fix it, in Vietnamese (the page adds its heading)."""
    message = str(exc)
    for pattern, text in _PATTERNS:
        found = pattern.match(message)
        if found:
            return text.format(**found.groupdict())
    _log.warning("no Vietnamese wording for the query error %r; showing the general help", message)
    return GENERAL
