"""The web app in a real headless Chromium against a real uvicorn server on 127.0.0.1.

Open a signed link, record an action and find it in `haidang audit`; tampered and expired links
refused; a double submit (two tabs on one link) records once; log in and search; download a report
and log out; confirm a claim proposed from a debunk. Hostile article text stays text: it is shown,
and nothing runs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from alerts.flag import Flag
from alerts.links import LinkSigner
from haidang.cli import app as cli_app
from haidang.settings import Settings
from haidang.store import open_store
from haidang.store.base import Store
from haidang.web import create_app

from .conftest import HOSTILE, PASSWORDS, RECIPIENT, SECRET, seed_store, web_settings

pytestmark = pytest.mark.browser


@dataclass
class Live:
    base: str
    settings: Settings
    signer: LinkSigner
    flag: Flag
    article_id: str

    def link(self, action: str, now: datetime | None = None) -> str:
        url = self.signer.links_for(self.flag, RECIPIENT, self.article_id, now=now)[action]
        return self.base + url.removeprefix(self.signer.base_url)

    def store(self) -> Store:
        return open_store(self.settings.app.store)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    settings = web_settings(tmp_path / "data")
    port = _free_port()
    web = settings.app.web.model_copy(update={"port": port, "base_url": f"http://127.0.0.1:{port}"})
    settings = settings.model_copy(update={"app": settings.app.model_copy(update={"web": web})})
    store = open_store(settings.app.store)
    try:
        main, copy = seed_store(store, title=f"Tin đồn vỡ đập {HOSTILE} ở Quảng Ngãi")
    finally:
        store.close()
    application = create_app(settings, lambda: open_store(settings.app.store), SECRET)
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.05)
    flag = Flag(rule="tin_sai_nguy_co_cao", severity="cao", story_id=main.story_id or main.id,
                article_ids=[main.id, copy.id], agencies=["so-ttt"], recipients=[RECIPIENT], immediate=True)
    try:
        yield Live(base=f"http://127.0.0.1:{port}", settings=settings, signer=application.state.signer, flag=flag,
                   article_id=main.id)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _text(chrome: Any) -> str:
    """The page's text, read again if the page replaced its body while being read (a late navigation
    raises "Node ... does not belong to the document" or a stale element; seen once in CI)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return str(WebDriverWait(chrome, 20, ignored_exceptions=(StaleElementReferenceException, WebDriverException))
               .until(lambda d: d.find_element("tag name", "body").text or None))


def _click_and_wait(chrome: Any, button: str, shows: str) -> str:
    """Click, then wait (deadline 20 s) for the next page's element `shows`; return the page text."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    def left(_: Any) -> bool:
        """The old page is gone. Mid-navigation Chrome may answer "Node with given id does not belong
        to the document" instead of a stale-element error (seen under load): that means gone too."""
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    old = chrome.find_element("tag name", "html")
    chrome.find_element("id", button).click()
    WebDriverWait(chrome, 20).until(left)
    WebDriverWait(chrome, 20).until(expected_conditions.presence_of_element_located(("id", shows)))
    return _text(chrome)


def test_open_link_record_action_and_see_it_in_the_audit(chrome: Any, live: Live) -> None:
    chrome.get(live.link("de_nghi_go_bo"))
    body = _text(chrome)
    assert "Ghi nhận xử lý: Đã đề nghị gỡ bỏ" in body
    assert "<script>window.__pwned = 1; alert('x')</script>" in body      # shown as text...
    assert chrome.execute_script("return window.__pwned === undefined")     # ...and never run
    for text in ("Dấu hiệu tin đồn, chưa kiểm chứng", "nguồn tin giấu tên", "Lan truyền tin vỡ đập"):
        assert text in body
    chrome.find_element("id", "note").send_keys("Đã gửi đề nghị tới nền tảng")
    assert "Đã ghi nhận: Đã đề nghị gỡ bỏ" in _click_and_wait(chrome, "confirm", "done")
    env = {"HAIDANG_HOME": live.settings.app.store.data_dir, "HAIDANG_CONFIG": live.settings.config_dir}
    result = CliRunner().invoke(cli_app, ["audit", "--since", "30d", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"action": "de_nghi_go_bo"' in result.stdout and "Đã gửi đề nghị tới nền tảng" in result.stdout
    # Opening the used link again is refused.
    chrome.get(live.link("de_nghi_go_bo"))
    assert "Đường dẫn đã được sử dụng" in _text(chrome)


def test_tampered_and_expired_links_are_refused(chrome: Any, live: Live) -> None:
    good = live.link("phan_bac")
    chrome.get(good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    assert "Đường dẫn không hợp lệ" in _text(chrome)
    chrome.get(live.link("phan_bac", now=datetime.now(UTC) - timedelta(days=8)))
    assert "Đường dẫn đã hết hạn" in _text(chrome)
    store = live.store()
    try:
        assert store.actions() == [] and store.audit() == []
    finally:
        store.close()


def test_double_submit_records_once(chrome: Any, live: Live) -> None:
    url = live.link("chuyen_cong_an")
    chrome.get(url)
    first = chrome.current_window_handle
    chrome.switch_to.new_window("tab")
    chrome.get(url)
    chrome.find_element("id", "note").send_keys("tab hai")
    second = chrome.current_window_handle
    chrome.switch_to.window(first)
    chrome.find_element("id", "note").send_keys("tab một")
    assert "Đã ghi nhận" in _click_and_wait(chrome, "confirm", "done")
    chrome.switch_to.window(second)
    assert "Đường dẫn đã được sử dụng" in _click_and_wait(chrome, "confirm", "error-title")
    store = live.store()
    try:
        [action] = store.actions()
        assert action.note == "tab một" and action.client == "127.0.0.1"
    finally:
        store.close()


def test_log_in_and_search(chrome: Any, live: Live) -> None:
    chrome.get(live.base + "/tim-kiem")
    assert "Đăng nhập" in _text(chrome)
    chrome.find_element("id", "username").send_keys("canbo")
    chrome.find_element("id", "password").send_keys(PASSWORDS["canbo"])
    _click_and_wait(chrome, "login", "q")
    chrome.find_element("id", "q").send_keys("vo dap")
    body = _click_and_wait(chrome, "search", "total")
    assert "2 kết quả" in body and "nguồn tin giấu tên" in body
    marks = [m.text.lower() for m in chrome.find_elements("tag name", "mark")]
    assert any("vỡ" in m for m in marks), marks
    assert "<script>window.__pwned = 1; alert('x')</script>" in body
    assert chrome.execute_script("return window.__pwned === undefined")


def test_officer_downloads_a_report_then_logs_out(chrome: Any, live: Live, tmp_path: Path) -> None:
    from docx import Document

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    chrome.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.get(live.base + "/bao-cao")
    chrome.find_element("id", "username").send_keys("canbo")
    chrome.find_element("id", "password").send_keys(PASSWORDS["canbo"])
    _click_and_wait(chrome, "login", "report-form")
    # Date inputs take typed text in the browser's locale; set the values the way a picker would.
    chrome.execute_script("document.getElementById('from').value = '2026-03-31';"
                          "document.getElementById('to').value = '2026-03-01';")
    assert "Đến ngày phải bằng hoặc sau từ ngày" in _click_and_wait(chrome, "make-report", "problems")
    chrome.execute_script("document.getElementById('from').value = '2026-03-01';"
                          "document.getElementById('to').value = '2026-03-31';")
    chrome.find_element("id", "make-report").click()
    target = downloads / "bao-cao-2026-03-01-2026-03-31.docx"
    deadline = time.monotonic() + 60
    # Chromium may create the final name empty before it renames the finished .crdownload onto it.
    while not (target.exists() and target.stat().st_size and not list(downloads.glob("*.crdownload"))):
        assert time.monotonic() < deadline, f"no download in {downloads}: {list(downloads.iterdir())}"
        time.sleep(0.1)
    doc = Document(str(target))
    assert any("31/03/2026" in p.text for p in doc.paragraphs)
    chrome.get(live.base + "/tim-kiem")
    assert "Báo cáo" in chrome.find_element("id", "nav-report").text
    assert "Đăng nhập" in _click_and_wait(chrome, "logout", "login-form")
    chrome.get(live.base + "/tim-kiem")
    assert chrome.find_elements("id", "login-form")


def test_officer_confirms_a_claim_proposed_from_a_debunk(chrome: Any, live: Live, tmp_path: Path) -> None:
    from nlp.claims import propose_text

    store = live.store()
    try:
        claim_id = propose_text(store, "Đập thủy điện ở Quảng Ngãi đã bị vỡ trong đêm, nước tràn qua nhiều xã",
                                rebuttal_url="https://congan.quangngai.example.vn/bac-bo.html",
                                source_article_id=live.article_id)
    finally:
        store.close()
    chrome.get(live.base + "/tin-sai")
    chrome.find_element("id", "username").send_keys("canbo")
    chrome.find_element("id", "password").send_keys(PASSWORDS["canbo"])
    body = _click_and_wait(chrome, "login", "claims")
    assert "Chờ xác nhận (1)" in body and "<script>window.__pwned = 1; alert('x')</script>" in body
    chrome.save_screenshot(str(tmp_path / "tin-sai.png"))
    body = _click_and_wait(chrome, f"confirm-{claim_id}", "message")
    assert "Đã xác nhận là tin sai" in body and "Tin sai đã xác nhận (1)" in body
    assert chrome.execute_script("return window.__pwned === undefined")
    store = live.store()
    try:
        assert [c.id for c in store.known_claims("confirmed")] == [claim_id]
    finally:
        store.close()
