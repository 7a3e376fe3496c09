"""The search parser's errors (haidang/store/query.py, English for the CLI and logs) in Vietnamese.

Each QueryError says which fault it is (`kind`) and where (`position`);
tests/web/test_query_errors.py runs the parser on one query per kind. An error of no known kind
gets a general explanation of the syntax, and its English message goes to the log.
"""

from __future__ import annotations

import logging

from haidang.errors import QueryError

__all__ = ["GENERAL", "explain_query_error"]

_log = logging.getLogger(__name__)

GENERAL = ('hãy kiểm tra lại cú pháp: đặt cụm từ trong "…", dùng OR giữa hai từ có thể thay nhau, '
           'viết dấu - liền trước từ cần loại trừ, ví dụ "Quảng Ngãi" bão OR lũ -bóng đá.')

# Vietnamese per QueryError.kind (haidang/store/query.py); {pos} is the 1-based character position.
_TEXTS: dict[str, str] = {
    "empty": 'chưa có từ khoá: hãy nhập ít nhất một từ, ví dụ dong thap hoặc "Đồng Tháp".',
    "lone_minus": ('dấu - ở ký tự thứ {pos} đứng riêng: hãy viết liền dấu - trước từ hoặc "cụm từ" cần loại trừ, '
                   'ví dụ -mưa hoặc -"mưa lũ".'),
    "unclosed_quote": 'dấu ngoặc kép ở ký tự thứ {pos} chưa được đóng: hãy thêm dấu " ở cuối cụm từ, ví dụ "Đồng Tháp".',
    "empty_phrase": 'cụm từ trong ngoặc kép ở ký tự thứ {pos} không có từ nào để tìm: hãy viết từ vào giữa hai dấu ".',
    "empty_exclusion": ("phần loại trừ ở ký tự thứ {pos} không có chữ hay số nào, nên không loại trừ được gì: "
                        "hãy viết từ cần loại trừ liền sau dấu -, ví dụ -mưa."),
    "or_needs_terms": ('OR ở ký tự thứ {pos} cần một từ hoặc "cụm từ" ở mỗi bên, và không dùng để nối phần loại trừ: '
                       "ví dụ bão OR lũ."),
    "or_before_exclusion": ("OR ở ký tự thứ {pos} đứng ngay trước một phần loại trừ (bắt đầu bằng -): phần loại trừ "
                            "không thể là một lựa chọn của OR; hãy viết tách riêng, ví dụ bão OR lũ -bóng đá."),
    "or_at_end": "OR ở ký tự thứ {pos} đứng cuối câu tìm kiếm: hãy thêm từ lựa chọn sau OR, ví dụ bão OR lũ.",
    "only_exclusions": ('câu tìm kiếm chỉ có phần loại trừ (bắt đầu bằng -): hãy thêm ít nhất một từ hoặc "cụm từ" '
                        "cần tìm, ví dụ Đồng Tháp -bóng đá."),
    "no_words": "câu tìm kiếm không có chữ hay số nào để tìm: hãy nhập ít nhất một từ.",
}


def explain_query_error(exc: QueryError) -> str:
    """What is wrong with the query and how to fix it, in Vietnamese (the page adds its heading)."""
    text = _TEXTS.get(exc.kind or "")
    if text is not None:
        return text.format(pos=exc.position)
    _log.warning("no Vietnamese wording for the query error %r; showing the general help", str(exc))
    return GENERAL
