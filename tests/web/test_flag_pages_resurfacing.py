"""Where the three new features meet in the web app: a resurfacing email's expired link leads a
logged-in officer to the flag's page (its key is the resurfacing's own, alerts.flag.resurfacing_key),
a rebuttal "URL" that carries line breaks or no-break spaces is refused on both forms (it would put
sentences of the officer's choosing into every resurfacing email citing it), and a users.yaml saved
with an unknown agency is not taken. Real app (TestClient), real SQLite store files."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from alerts.flag import flag_key, resurfacing_key
from alerts.links import FlagLink
from haidang.store.base import OutboxMessage

from .conftest import PASSWORDS, RECIPIENT, T0, WebKit
from .test_app_flags import _login
from .test_users import running  # noqa: F401 - the fixture, used by name

INJECTED = ("https://baoquangngai.example.vn/bai-2\n\nĐÃ\u00a0XÁC\u00a0MINH:\u00a0KHÔNG\u00a0PHẢI\u00a0TIN\u00a0SAI."
            "\nĐăng\u00a0nhập\u00a0lại:\u00a0http://evil.example/login")
BAD_URLS = [INJECTED, "https://a.example.vn/x\u00a0y", "https://a.example.vn/\tb", "https://a.example.vn/b\u202ec",
            "https://baoquangngai.vn@evil.example/x", "https:///x", "javascript:alert(1)"]


def _enqueue(kit: WebKit, key: str, hours: float) -> None:
    store = kit.open()
    try:
        store.enqueue(OutboxMessage(key=key, flag_rule=kit.flag.rule, story_id=kit.flag.story_id, recipient=RECIPIENT,
                                    message_id=f"<{key}@haidang.local>", subject="Cảnh báo", text="-", html="-",
                                    created_at=T0 + timedelta(hours=hours)))
    finally:
        store.close()


def _actions(kit: WebKit) -> list[str]:
    store = kit.open()
    try:
        return [a.action for a in store.actions(story_id=kit.flag.story_id)]
    finally:
        store.close()


def test_an_expired_resurfacing_link_leads_to_a_flag_page_that_records(kit: WebKit) -> None:
    first = flag_key(kit.flag.rule, kit.flag.story_id, RECIPIENT)
    again = resurfacing_key(kit.flag.rule, kit.flag.story_id, RECIPIENT, "1")
    _enqueue(kit, first, 0)
    _enqueue(kit, again, 30)
    expired = kit.signer.sign(FlagLink(flag_key=again, rule=kit.flag.rule, story_id=kit.flag.story_id,
                                       article_id=kit.copy.id, recipient=RECIPIENT, action="de_nghi_go_bo",
                                       expires=int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())))
    page = kit.client.get(f"/xu-ly/{expired}")
    assert page.status_code == 410
    assert f"/canh-bao/{again}" in page.text
    _login(kit.client, "canbo")
    view = kit.client.get(f"/canh-bao/{again}")
    assert view.status_code == 200, view.text
    assert "Tin đồn vỡ đập" in view.text                      # the flag's story, as its first key shows it
    form = re.findall(r'name="csrf" value="([^"]+)"', view.text)[-1]
    done = kit.client.post(f"/canh-bao/{again}", data={"csrf": form, "action": "de_nghi_go_bo",
                                                         "note": "Đã đề nghị nền tảng gỡ bài tái đăng"})
    assert done.status_code == 200, done.text
    assert _actions(kit) == ["de_nghi_go_bo"]
    # The flag list still shows one flag, not one per resurfacing.
    listing = kit.client.get("/canh-bao")
    assert listing.text.count("/canh-bao/" + first) == 1 and ("/canh-bao/" + again) not in listing.text


def test_a_key_of_no_flag_message_is_still_not_found(kit: WebKit) -> None:
    _enqueue(kit, flag_key(kit.flag.rule, kit.flag.story_id, RECIPIENT), 0)
    _login(kit.client, "canbo")
    stray = resurfacing_key("another-rule", kit.flag.story_id, RECIPIENT, "1")
    assert kit.client.get(f"/canh-bao/{stray}").status_code == 404
    assert kit.client.get(f"/canh-bao/{'0' * 32}").status_code == 404


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_rebuttal_url_with_breaks_or_hidden_characters_is_refused_when_logged_in(kit: WebKit, url: str) -> None:
    key = flag_key(kit.flag.rule, kit.flag.story_id, RECIPIENT)
    _enqueue(kit, key, 0)
    _login(kit.client, "canbo")
    view = kit.client.get(f"/canh-bao/{key}")
    token = re.findall(r'name="csrf" value="([^"]+)"', view.text)[-1]
    for action in ("phan_bac", "de_nghi_cai_chinh"):
        sent = kit.client.post(f"/canh-bao/{key}", data={"csrf": token, "action": action, "rebuttal_url": url,
                                                         "note": "thử"})
        assert sent.status_code == 422, (action, sent.text)
        assert "không có dấu cách hay xuống dòng" in sent.text
    assert _actions(kit) == []


def test_a_rebuttal_url_with_breaks_is_refused_through_the_signed_link(kit: WebKit) -> None:
    page = kit.client.get(kit.path("phan_bac"))
    token = re.findall(r'name="csrf" value="([^"]+)"', page.text)[-1]
    sent = kit.client.post(kit.path("phan_bac"), data={"csrf": token, "rebuttal_url": INJECTED})
    assert sent.status_code == 422
    assert _actions(kit) == []
    good = kit.client.post(kit.path("phan_bac"), data={"csrf": token,
                                                       "rebuttal_url": "https://baoquangngai.example.vn/bác-bỏ"})
    assert good.status_code == 200 and _actions(kit) == ["phan_bac"]


def test_users_yaml_with_an_unknown_agency_is_not_taken(
        running: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    client, folder = running
    path = folder / "users.yaml"
    good = path.read_text(encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="haidang.web.users"):
        path.write_text(good.replace("  role: officer\n", "  role: officer\n  agency: so-khong-co\n"),
                        encoding="utf-8")
        page = client.get("/dang-nhap")
        token = re.findall(r'name="csrf" value="([^"]+)"', page.text)[-1]
        assert client.post("/dang-nhap", data={"csrf": token, "username": "canbo", "password": PASSWORDS["canbo"]},
                           follow_redirects=False).status_code == 303
    assert any("so-khong-co" in r.getMessage() and "keeps its previous users" in r.getMessage()
               for r in caplog.records if r.name == "haidang.web.users")
