"""HTTP errors the framework raises (unknown path, wrong method, a crash) as the app's Vietnamese pages."""

from __future__ import annotations

from starlette.testclient import TestClient

from haidang.store.base import Store
from haidang.web import create_app

from .conftest import PASSWORDS, SECRET, WebKit
from .test_app_search import _login


def test_unknown_path_is_a_vietnamese_page(kit: WebKit) -> None:
    page = kit.client.get("/khong-co-trang-nay")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in page.text and 'id="error-title">Không tìm thấy trang</h1>' in page.text
    assert 'href="/tim-kiem" id="home"' in page.text and "Not Found" not in page.text
    assert page.headers["x-frame-options"] == "DENY"                  # the same headers as every page
    _login(kit, "xem", PASSWORDS["xem"])
    assert '>xem (xem)</span>' in kit.client.get("/bao-cao/khong-co").text     # the usual header


def test_wrong_method_is_a_vietnamese_page(kit: WebKit) -> None:
    page = kit.client.post("/tim-kiem")
    assert page.status_code == 405 and "Không thực hiện được" in page.text
    assert "Method Not Allowed" not in page.text and "GET" in page.headers["allow"]


def test_a_crash_is_a_vietnamese_page(kit: WebKit) -> None:
    def broken() -> Store:
        raise RuntimeError("the store is down")

    app = create_app(kit.settings, broken, SECRET, now=kit.clock)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        page = client.get(kit.path("phan_bac"))
    assert page.status_code == 500 and "Lỗi hệ thống" in page.text and "Internal Server Error" not in page.text
    assert "the store is down" not in page.text
