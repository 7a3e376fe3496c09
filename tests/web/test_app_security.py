"""Findings of the security review, each against the real app and store: the login throttle under
concurrent requests and per client, one audit entry per blocked window and a paged audit page,
claim decisions a link cannot overturn, sessions a logout ends, corrections through used links,
extreme dates, nosniff everywhere and no Host-built redirect."""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import timedelta

from starlette.testclient import TestClient

from crawlers.dedup import band_keys, signature
from haidang.store.base import AuditEntry, KnownClaim
from haidang.web import create_app
from haidang.web.respond import claim_text

from .conftest import PASSWORDS, RECIPIENT, SECRET, WebKit
from .test_app_search import _login, _logout, _logout_csrf

OTHER = "canbo@congan.quangngai.example.vn"
WAIT_S = 30


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _report_csrf(html: str) -> str:
    found = re.search(r'id="report-form">\s*<input type="hidden" name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in #report-form"
    return found.group(1)


def _audit_kinds(kit: WebKit) -> list[str]:
    store = kit.open()
    try:
        return [e.kind for e in store.audit()]
    finally:
        store.close()


def _from(kit: WebKit, address: str) -> TestClient:
    """Another browser, at another client address, on the same app."""
    return TestClient(kit.client.app, base_url="http://testserver", client=(address, 40000))


def _login_as(client: TestClient, name: str, password: str) -> int:
    csrf = _csrf(client.get("/dang-nhap").text)
    return client.post("/dang-nhap", data={"csrf": csrf, "username": name, "password": password, "next": "/tim-kiem"},
                       follow_redirects=False).status_code


# -- 1. login throttle --------------------------------------------------------------------------------


def test_simultaneous_wrong_passwords_get_at_most_the_limit_of_checks(kit: WebKit) -> None:
    csrf = _csrf(kit.client.get("/dang-nhap").text)
    barrier = threading.Barrier(30, timeout=WAIT_S)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        statuses.append(kit.client.post("/dang-nhap", data={"csrf": csrf, "username": "canbo", "password": "sai"},
                                        follow_redirects=False).status_code)

    threads = [threading.Thread(target=post) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT_S)
    assert len(statuses) == 30 and set(statuses) <= {401, 429}
    checked = statuses.count(401)
    assert 1 <= checked <= 5 and _audit_kinds(kit).count("login_failed") == checked
    # Busy refusals are not counted: the rest of the budget is still there, and then no more.
    for _ in range(5 - checked):
        assert _login(kit, "canbo", "sai").status_code == 401
    blocked = _login(kit, "canbo", PASSWORDS["canbo"])
    assert blocked.status_code == 429 and "15 phút" in blocked.text and blocked.headers["retry-after"] == "900"
    assert _audit_kinds(kit).count("login_failed") == 5


def test_a_hammered_name_does_not_lock_out_its_officer(kit: WebKit) -> None:
    for _ in range(5):
        assert _login(kit, "canbo", "sai").status_code == 401
    assert _login(kit, "canbo", PASSWORDS["canbo"]).status_code == 429          # the attacker's address
    with _from(kit, "10.20.30.40") as officer:
        assert _login_as(officer, "canbo", PASSWORDS["canbo"]) == 303
        assert officer.get("/bao-cao", follow_redirects=False).status_code == 200
    with _from(kit, "198.51.100.7") as other:
        assert _login_as(other, "canbo", "doan-mo") == 401                       # one guess at a hammered name
        assert _login_as(other, "canbo", PASSWORDS["canbo"]) == 429


def test_random_names_from_one_client_are_throttled_too(kit: WebKit) -> None:
    for n in range(5):
        assert _login(kit, f"ten-ngau-nhien-{n}", "x").status_code == 401
    assert _login(kit, "ten-ngau-nhien-moi", "x").status_code == 429
    with _from(kit, "10.20.30.41") as officer:
        assert _login_as(officer, "xem", PASSWORDS["xem"]) == 303


def test_a_restart_keeps_the_failures_of_the_window(kit: WebKit) -> None:
    """The counts lived only in memory: a restarted app gave the same client a fresh budget. A new
    process now counts the window's failed logins from the audit log before its first check."""
    for _ in range(4):
        assert _login(kit, "canbo", "sai").status_code == 401
    with _from(kit, "10.20.30.42") as other:
        assert _login_as(other, "xem", "sai") == 401
    kit.clock.now += timedelta(minutes=5)
    restarted = create_app(kit.settings, kit.open, SECRET, now=kit.clock)
    with TestClient(restarted, base_url="http://testserver") as client:
        again = dataclasses.replace(kit, client=client)
        assert _login(again, "canbo", "sai").status_code == 401                  # the fifth failure
        blocked = _login(again, "canbo", PASSWORDS["canbo"])
        assert blocked.status_code == 429 and "15 phút" in blocked.text
        with TestClient(restarted, base_url="http://testserver", client=("10.20.30.42", 40000)) as other:
            assert _login_as(other, "xem", PASSWORDS["xem"]) == 303           # one failure there: not blocked
        kit.clock.now += timedelta(minutes=11)                                 # the first four have passed
        assert _login(again, "canbo", PASSWORDS["canbo"]).status_code == 303
    assert _audit_kinds(kit).count("login_failed") == 6


# -- 2. blocked attempts in the audit log; paging ---------------------------------------------------------


def test_blocked_attempts_write_one_entry_per_window(kit: WebKit) -> None:
    for _ in range(5):
        _login(kit, "canbo", "sai")
    for _ in range(40):
        assert _login(kit, "canbo", "sai").status_code == 429
    assert _audit_kinds(kit).count("login_blocked") == 1
    kit.clock.now += timedelta(minutes=10)
    for _ in range(5):
        assert _login(kit, "quantri", "sai").status_code == 429      # another name, the same blocked client
    store = kit.open()
    try:
        [entry] = [e for e in store.audit() if e.kind == "login_blocked"]
    finally:
        store.close()
    assert entry.detail["reason"] == "client" and entry.detail["window_minutes"] == 15
    kit.clock.now += timedelta(minutes=6)                      # the failures have passed
    for _ in range(5):
        assert _login(kit, "canbo", "sai").status_code == 401
    assert _login(kit, "canbo", "sai").status_code == 429
    store = kit.open()
    try:
        entries = [e for e in store.audit() if e.kind == "login_blocked"]
    finally:
        store.close()
    assert len(entries) == 2 and entries[1].detail["unlogged"] == 44      # 39 + 5 refused without an entry


def test_the_audit_page_is_paged_and_filtered_by_kind(kit: WebKit) -> None:
    store = kit.open()
    try:
        for n in range(230):
            store.append_audit(AuditEntry(at=kit.clock.now - timedelta(minutes=n), actor=f"may-{n}", kind="login_failed",
                                          target="web", detail={}, client="10.0.0.9"))
        store.append_audit(AuditEntry(at=kit.clock.now - timedelta(hours=5), actor="canbo@example.vn",
                                      kind="label_correction", target=kit.main.id, detail={}))
    finally:
        store.close()
    assert _login(kit, "quantri", PASSWORDS["quantri"]).status_code == 303
    first = kit.client.get("/nhat-ky").text
    assert "232 mục · trang 1/3" in first and first.count('<td class="kind"') == 100
    assert "may-0<" in first and 'id="audit-next"' in first and 'id="audit-prev"' not in first
    last = kit.client.get("/nhat-ky", params={"trang": "3"}).text
    assert last.count('<td class="kind"') == 32 and 'id="audit-next"' not in last
    only = kit.client.get("/nhat-ky", params={"loai": "label_correction"}).text
    assert "1 mục" in only and only.count('<td class="kind"') == 1 and "canbo@example.vn" in only
    assert '<option value="label_correction" selected>Sửa nhãn</option>' in only
    assert kit.client.get("/nhat-ky", params={"trang": "99999999999999999999999"}).status_code == 200


# -- 3. a link cannot overturn another recipient's claim decision -------------------------------------------


def _claim_status(kit: WebKit) -> str:
    store = kit.open()
    try:
        [claim] = [c for c in store.known_claims(None) if c.text == claim_text(kit.main)]
        return claim.status
    finally:
        store.close()


def _answer(kit: WebKit, recipient: str, action: str, **data: str):
    url = kit.signer.links_for(kit.flag, recipient, kit.main.id, now=kit.clock.now)[action]
    path = url.removeprefix(kit.signer.base_url)
    return kit.client.post(path, data={"csrf": _csrf(kit.client.get(path).text), **data})


def test_a_dismissal_through_a_link_does_not_overturn_a_confirmed_claim(kit: WebKit) -> None:
    rebuttal = "https://baoquangngai.example.vn/bac-bo.html"
    assert _answer(kit, RECIPIENT, "phan_bac", rebuttal_url=rebuttal).status_code == 200
    assert _claim_status(kit) == "confirmed"
    page = _answer(kit, OTHER, "khong_phai_tin_sai", note="theo chúng tôi là tin đúng")
    assert page.status_code == 200
    conflict = re.sub(r"\s+", " ", re.search(r'id="conflict">(.*?)</p>', page.text, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert conflict.startswith(f"Đã ghi nhận; thông tin này đã được xác định là tin sai bởi {RECIPIENT}, "
                               "cần quản trị viên xem xét")
    assert "đã được ghi nhận là không phải tin sai" not in page.text
    assert _claim_status(kit) == "confirmed"
    store = kit.open()
    try:
        [entry] = [e for e in store.audit() if e.kind == "claim_conflict"]
        [decision] = store.audit(kind="claim")
        assert len(store.actions()) == 2                          # the second answer is kept as an action
    finally:
        store.close()
    assert (decision.actor, decision.detail["via"], decision.detail["previous"]) == (RECIPIENT, "link", "proposed")
    assert entry.actor == OTHER and entry.detail["decided_by"] == RECIPIENT
    assert entry.detail["status"] == "confirmed" and entry.detail["requested"] == "dismissed"


def test_a_rebuttal_through_a_link_does_not_overturn_a_dismissal(kit: WebKit) -> None:
    assert _answer(kit, RECIPIENT, "khong_phai_tin_sai", note="đập vẫn an toàn").status_code == 200
    page = _answer(kit, OTHER, "phan_bac", rebuttal_url="https://x.example.vn/bac-bo.html")
    assert f"đã được xác định là không phải tin sai bởi {RECIPIENT}" in page.text
    assert _claim_status(kit) == "dismissed" and "claim_conflict" in _audit_kinds(kit)


def test_a_claim_confirmed_outside_the_links_counts_as_decided_by_someone_else(kit: WebKit) -> None:
    text = claim_text(kit.main)
    store = kit.open()
    try:
        sig = signature(text)
        store.confirm_claim(store.propose_claim(KnownClaim(text=text, signature=sig), band_keys(sig)))
    finally:
        store.close()
    page = _answer(kit, RECIPIENT, "khong_phai_tin_sai", note="không phải tin sai")
    assert "đã được xác định là tin sai bởi một cơ quan khác, cần quản trị viên xem xét" in page.text
    assert _claim_status(kit) == "confirmed"


def test_the_recipient_who_decided_may_change_the_decision(kit: WebKit) -> None:
    assert _answer(kit, RECIPIENT, "khong_phai_tin_sai", note="ban đầu nghĩ là đúng").status_code == 200
    page = _answer(kit, RECIPIENT, "phan_bac", rebuttal_url="https://x.example.vn/bac-bo.html")
    assert 'id="conflict"' not in page.text and _claim_status(kit) == "confirmed"


# -- 4. logout and password changes end sessions ---------------------------------------------------------


def test_a_saved_cookie_stops_working_after_logout(kit: WebKit) -> None:
    assert _login(kit, "xem", PASSWORDS["xem"]).status_code == 303
    saved = kit.client.cookies["hd_session"]
    with _from(kit, "10.20.30.42") as other_browser:
        assert _login_as(other_browser, "xem", PASSWORDS["xem"]) == 303
        assert _logout(kit, _logout_csrf(kit.client.get("/tim-kiem").text)).status_code == 303
        kit.client.cookies.set("hd_session", saved)
        assert kit.client.get("/tim-kiem", follow_redirects=False).status_code == 303
        # The nonce is per user: the other browser's session ends too (the documented limit).
        assert other_browser.get("/tim-kiem", follow_redirects=False).status_code == 303
        assert _login_as(other_browser, "xem", PASSWORDS["xem"]) == 303    # a new login works at once
        assert other_browser.get("/tim-kiem", follow_redirects=False).status_code == 200


def test_a_new_password_ends_the_old_sessions(kit: WebKit) -> None:
    from haidang.web import create_app
    from haidang.web.sessions import hash_password

    from .conftest import SECRET

    assert _login(kit, "xem", PASSWORDS["xem"]).status_code == 303
    saved = kit.client.cookies["hd_session"]
    users = [u.model_copy(update={"password_hash": hash_password("mat-khau-moi-xem")}) if u.name == "xem" else u
             for u in kit.settings.users]
    restarted = create_app(kit.settings.model_copy(update={"users": users}), kit.open, SECRET, now=kit.clock)
    with TestClient(restarted, base_url="http://testserver", cookies={"hd_session": saved}) as client:
        assert client.get("/tim-kiem", follow_redirects=False).status_code == 303


# -- 5. label corrections through used or expired links ---------------------------------------------------


def test_no_label_correction_through_a_used_or_expired_link(kit: WebKit) -> None:
    path = kit.path("de_nghi_go_bo")
    token = _csrf(kit.client.get(path).text)
    assert kit.client.post(path, data={"csrf": token, "note": "đã gửi công văn"}).status_code == 200
    used = kit.client.post(path + "/nhan", data={"csrf": token, "tone": "positive"})
    assert used.status_code == 410 and "Đường dẫn đã được sử dụng" in used.text
    other = kit.path("chuyen_cong_an")
    other_token = _csrf(kit.client.get(other).text)
    kit.clock.now += timedelta(days=8)
    expired = kit.client.post(other + "/nhan", data={"csrf": other_token, "tone": "positive"})
    assert expired.status_code == 410 and "hết hạn" in expired.text
    assert "label_correction" not in _audit_kinds(kit)


# -- 6. extreme dates --------------------------------------------------------------------------------------


def test_dates_outside_1990_to_2100_are_refused_not_crashed_on(kit: WebKit) -> None:
    assert _login(kit, "canbo", PASSWORDS["canbo"]).status_code == 303
    for params, says in (({"since": "0001-01-01"}, "Bộ lọc «Từ ngày» không hợp lệ: «0001-01-01»"),
                         ({"until": "9999-12-31"}, "Bộ lọc «Đến hết ngày» không hợp lệ: «9999-12-31»"),
                         ({"since": "1989-12-31"}, "từ năm 1990 đến năm 2100")):
        page = kit.client.get("/tim-kiem", params={"q": "son", **params})
        assert page.status_code == 400 and says in page.text, params
    ok = kit.client.get("/tim-kiem", params={"q": "vo dap", "since": "1990-01-01", "until": "2100-12-31"})
    assert ok.status_code == 200 and "2 kết quả" in ok.text
    assert kit.client.get("/tim-kiem", params={"q": "vo dap", "trang": "9" * 30}).status_code == 200
    csrf = _report_csrf(kit.client.get("/bao-cao").text)
    for start, end in (("0001-01-01", "0001-01-31"), ("9999-12-01", "9999-12-31")):
        page = kit.client.post("/bao-cao", data={"csrf": csrf, "from": start, "to": end, "format": "docx"})
        assert page.status_code == 422 and "từ năm 1990 đến năm 2100" in page.text


# -- 7. headers and redirects ------------------------------------------------------------------------------


def test_every_response_says_nosniff(kit: WebKit) -> None:
    letter = kit.client.get(kit.path("de_nghi_cai_chinh") + "/van-ban.docx")
    assert letter.status_code == 200 and "attachment" in letter.headers["content-disposition"]
    responses = [kit.client.get("/dang-nhap"), kit.client.get("/", follow_redirects=False),
                 kit.client.get("/khong-co"), letter]
    assert _login(kit, "canbo", PASSWORDS["canbo"]).status_code == 303
    csrf = _report_csrf(kit.client.get("/bao-cao").text)
    download = kit.client.post("/bao-cao", data={"csrf": csrf, "from": "2026-03-01", "to": "2026-03-31",
                                                 "format": "xlsx"})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    responses.append(download)
    for response in responses:
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], response.url


def test_a_trailing_slash_is_not_redirected_to_the_host_a_client_names(kit: WebKit) -> None:
    page = kit.client.get("/tim-kiem/", headers={"host": "evil.example.com"}, follow_redirects=False)
    assert page.status_code == 404 and "location" not in page.headers
