"""The flag pages behind a login in a real headless Chromium against a real uvicorn server: from an
expired link to the flag's page, a login, and an action recorded under the officer's name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.flag import flag_key
from haidang.store.base import OutboxMessage

from .conftest import PASSWORDS, RECIPIENT
from .test_browser_web import Live, _click_and_wait, _text, live  # noqa: F401 - `live` is the fixture

pytestmark = pytest.mark.browser


def test_expired_link_leads_to_the_flag_page_where_a_login_records(chrome: Any, live: Live) -> None:  # noqa: F811
    from selenium.webdriver.support.ui import Select

    key = flag_key(live.flag.rule, live.flag.story_id, RECIPIENT)
    store = live.store()
    try:
        store.enqueue(OutboxMessage(key=key, flag_rule=live.flag.rule, story_id=live.flag.story_id,
                                    recipient=RECIPIENT, message_id=f"<{key}@haidang.local>", subject="Cảnh báo",
                                    text="-", html="-", created_at=datetime.now(UTC) - timedelta(days=9)))
    finally:
        store.close()
    chrome.get(live.link("de_nghi_go_bo", now=datetime.now(UTC) - timedelta(days=9)))
    assert "Đường dẫn đã hết hạn" in _text(chrome)
    assert chrome.find_element("id", "flag-page").text == f"{live.base}/canh-bao/{key}"
    _click_and_wait(chrome, "flag-page", "login-form")
    chrome.find_element("id", "username").send_keys("canbo")
    chrome.find_element("id", "password").send_keys(PASSWORDS["canbo"])
    body = _click_and_wait(chrome, "login", "action-form")
    assert "Chưa có xử lý nào" in body and "Dấu hiệu tin đồn, chưa kiểm chứng" in body
    assert "<script>window.__pwned = 1; alert('x')</script>" in body      # shown as text...
    assert chrome.execute_script("return window.__pwned === undefined")     # ...and never run
    Select(chrome.find_element("id", "action")).select_by_value("de_nghi_go_bo")
    chrome.find_element("id", "note").send_keys("Gửi đề nghị muộn, sau khi thư hết hạn")
    assert "Đã ghi nhận: Đã đề nghị gỡ bỏ" in _click_and_wait(chrome, "confirm", "done")
    store = live.store()
    try:
        [action] = store.actions()
        assert (action.actor, action.link_id, action.client) == ("canbo", None, "127.0.0.1")
    finally:
        store.close()
    body = _click_and_wait(chrome, "back-to-flag", "actions")
    assert "Gửi đề nghị muộn, sau khi thư hết hạn" in body and "Ghi nhận thêm xử lý" in body
    body = _click_and_wait(chrome, "nav-flags", "flags")
    assert "1 cảnh báo, trong đó 0 chưa xử lý" in body and "Đã xử lý: Đã đề nghị gỡ bỏ" in body
