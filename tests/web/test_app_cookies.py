"""The CSRF and session cookies: __Host- names, Secure, Path=/ and no Domain over https; plain over http."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from haidang.settings import Settings
from haidang.store import open_store
from haidang.web import create_app

from .conftest import PASSWORDS, SECRET, Clock, WebKit, web_settings


def _https_settings(data_dir: Path) -> Settings:
    settings = web_settings(data_dir)
    web = settings.app.web.model_copy(update={"base_url": "https://haidang.sotttt.example.gov.vn"})
    return settings.model_copy(update={"app": settings.app.model_copy(update={"web": web})})


@pytest.fixture
def https_client(tmp_path: Path) -> Iterator[TestClient]:
    """The app as the office serves it, behind a proxy terminating https (web.base_url says https)."""
    settings = _https_settings(tmp_path / "data")
    app = create_app(settings, lambda: open_store(settings.app.store), SECRET, now=Clock())
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def _set_cookies(response) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Each Set-Cookie of a response by name: its attributes, lower-cased, the value under "="."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        found[name] = {"=": value} | {k.lower(): v for k, _, v in (a.partition("=") for a in attributes)}
    return found


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _login(client: TestClient, name: str = "quantri"):  # type: ignore[no-untyped-def]
    page = client.get("/dang-nhap")
    return page, client.post("/dang-nhap", data={"csrf": _csrf(page.text), "username": name,
                                                  "password": PASSWORDS[name], "next": "/tim-kiem"},
                             follow_redirects=False)


def _host_only(attributes: dict[str, str]) -> bool:
    """What a browser requires of a __Host- cookie: Secure, Path=/, no Domain."""
    return "secure" in attributes and attributes.get("path") == "/" and "domain" not in attributes


def test_over_https_both_cookies_have_the_host_prefix_and_its_attributes(https_client: TestClient) -> None:
    page, login = _login(https_client)
    csrf = _set_cookies(page)
    assert list(csrf) == ["__Host-hd_csrf"] and _host_only(csrf["__Host-hd_csrf"])
    assert "httponly" in csrf["__Host-hd_csrf"] and csrf["__Host-hd_csrf"]["samesite"] == "lax"
    session = _set_cookies(login)
    assert login.status_code == 303 and list(session) == ["__Host-hd_session"]
    assert _host_only(session["__Host-hd_session"]) and "httponly" in session["__Host-hd_session"]
    assert session["__Host-hd_session"]["max-age"] == str(12 * 3600)
    # The prefixed cookies carry the login: the search page opens, and logging out expires the session
    # with the same attributes (a browser ignores a __Host- cookie set without Secure, even to delete it).
    search = https_client.get("/tim-kiem")
    assert search.status_code == 200 and ">quantri (quản trị)</span>" in search.text
    logout = https_client.post("/dang-xuat", data={"csrf": _csrf(search.text.split('id="logout-form"')[1])},
                               follow_redirects=False)
    gone = _set_cookies(logout)["__Host-hd_session"]
    assert logout.status_code == 303 and gone["max-age"] == "0" and _host_only(gone)
    assert https_client.get("/tim-kiem", follow_redirects=False).status_code == 303


def test_over_https_cookies_under_the_plain_names_count_for_nothing(https_client: TestClient) -> None:
    """A cookie a sibling subdomain or a plain-http page could plant has no prefix: it is no session
    and no CSRF nonce."""
    _, login = _login(https_client)
    value = _set_cookies(login)["__Host-hd_session"]["="]
    https_client.cookies.clear()
    https_client.cookies.set("hd_session", value)
    assert https_client.get("/tim-kiem", follow_redirects=False).status_code == 303
    page = https_client.get("/dang-nhap")
    nonce = _set_cookies(page)["__Host-hd_csrf"]["="]
    https_client.cookies.clear()
    https_client.cookies.set("hd_csrf", nonce)
    forged = https_client.post("/dang-nhap", data={"csrf": _csrf(page.text), "username": "quantri",
                                                   "password": PASSWORDS["quantri"]}, follow_redirects=False)
    assert forged.status_code == 403 and "__Host-hd_session" not in _set_cookies(forged)


def test_over_plain_http_the_cookies_keep_plain_names_without_secure(kit: WebKit) -> None:
    """Browsers drop __Host- and Secure cookies over http: tests and a developer's machine need plain ones."""
    page = kit.client.get("/dang-nhap")
    login = kit.client.post("/dang-nhap", data={"csrf": _csrf(page.text), "username": "xem",
                                                "password": PASSWORDS["xem"]}, follow_redirects=False)
    csrf, session = _set_cookies(page), _set_cookies(login)
    assert list(csrf) == ["hd_csrf"] and list(session) == ["hd_session"]
    for attributes in (csrf["hd_csrf"], session["hd_session"]):
        assert "secure" not in attributes and attributes["path"] == "/" and "domain" not in attributes
        assert "httponly" in attributes and attributes["samesite"] == "lax"
    assert kit.client.get("/tim-kiem").status_code == 200
