"""Login and the search page: roles, highlighted snippets with labels and reasons, hostile text inert."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from .conftest import PASSWORDS, WebKit


def _login(kit: WebKit, name: str, password: str, next_: str = "/tim-kiem"):
    page = kit.client.get("/dang-nhap")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return kit.client.post("/dang-nhap", data={"csrf": csrf, "username": name, "password": password,
                                               "next": next_}, follow_redirects=False)


def test_search_needs_a_login(kit: WebKit) -> None:
    page = kit.client.get("/tim-kiem?q=vỡ+đập", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/dang-nhap")


def test_wrong_password_is_refused_and_audited(kit: WebKit) -> None:
    page = _login(kit, "canbo", "sai-mat-khau")
    assert page.status_code == 401 and "không đúng" in page.text
    assert _login(kit, "khong-co", "x").status_code == 401
    assert kit.client.get("/tim-kiem?q=a", follow_redirects=False).status_code == 303
    store = kit.open()
    try:
        assert [e.kind for e in store.audit()] == ["login_failed", "login_failed"]
    finally:
        store.close()


def test_login_then_search_shows_highlights_labels_and_reasons(kit: WebKit) -> None:
    done = _login(kit, "xem", PASSWORDS["xem"])
    assert done.status_code == 303 and done.headers["location"] == "/tim-kiem"
    page = kit.client.get("/tim-kiem", params={"q": "vo dap", "province": "51"})
    assert page.status_code == 200
    html = page.text
    assert "2 kết quả" in html
    assert "<mark>vỡ</mark>" in html or "<mark>vỡ đập</mark>" in html
    for text in ("rumour_cue", "nguồn tin giấu tên", "tiêu cực", "Báo Quảng Ngãi"):
        assert text in html, text
    assert "<script>window.__pwned" not in html and "&lt;script&gt;" in html
    assert "Nhật ký" not in html                          # a viewer has no audit page
    assert kit.client.get("/nhat-ky").status_code == 403


def test_filters_and_bad_queries(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    assert "0 kết quả" in kit.client.get("/tim-kiem", params={"q": "vo dap", "source": "khong-co"}).text
    assert "1 kết quả" in kit.client.get("/tim-kiem", params={"q": "vo dap", "source": "tuoitre"}).text
    assert "0 kết quả" in kit.client.get("/tim-kiem", params={"q": "vo dap", "since": "2026-03-13"}).text
    assert "2 kết quả" in kit.client.get("/tim-kiem", params={"q": "vo dap", "until": "2026-03-12"}).text
    bad = kit.client.get("/tim-kiem", params={"q": '"vo dap'})
    assert bad.status_code == 400 and "Câu tìm kiếm không hợp lệ" in bad.text


@pytest.mark.parametrize("page", ["abc", "-5", "0", "2.5", "1e3", "9" * 30, "9" * 5000, "10000", "501"])
def test_a_bad_page_number_is_read_as_a_page_never_an_error(kit: WebKit, page: str) -> None:
    """`trang` is clamped to the pages a store can serve (SEARCH_WINDOW results): a page past them used
    to reach the store as an offset it must refuse; `limit` is not the page's to take."""
    _login(kit, "xem", PASSWORDS["xem"])
    shown = kit.client.get("/tim-kiem", params={"q": "vo dap", "trang": page, "limit": page})
    assert shown.status_code == 200, shown.text
    assert "2 kết quả" in shown.text and "Câu tìm kiếm không hợp lệ" not in shown.text


def test_session_expires_and_forged_cookie_is_ignored(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    assert kit.client.get("/tim-kiem", follow_redirects=False).status_code == 200
    kit.clock.now += timedelta(hours=13)
    assert kit.client.get("/tim-kiem", follow_redirects=False).status_code == 303
    kit.client.cookies.set("hd_session", "eyJ1IjoicXVhbnRyaSIsInIiOiJhZG1pbmlzdHJhdG9yIiwiZSI6OTk5OTk5OTk5OX0.AAAA")
    assert kit.client.get("/nhat-ky", follow_redirects=False).status_code == 303


def test_administrator_sees_the_audit_log(kit: WebKit) -> None:
    done = _login(kit, "quantri", PASSWORDS["quantri"], next_="/nhat-ky")
    assert done.headers["location"] == "/nhat-ky"
    page = kit.client.get("/nhat-ky")
    assert page.status_code == 200 and "quantri" in page.text and "login" in page.text
    assert _logout(kit, _logout_csrf(page.text)).status_code == 303


def _logout_csrf(html: str) -> str:
    found = re.search(r'id="logout-form"><input type="hidden" name="csrf" value="([^"]+)"', html)
    assert found, "the page has no logout form with a CSRF token"
    return found.group(1)


def _logout(kit: WebKit, csrf: str | None):
    return kit.client.post("/dang-xuat", data={} if csrf is None else {"csrf": csrf}, follow_redirects=False)


def test_logout_needs_its_csrf_token(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    page = kit.client.get("/tim-kiem")
    token = _logout_csrf(page.text)
    for forged in (None, "", token[:-2] + "AA", kit.signer.mac("csrf", "login\x1f" + kit.client.cookies["hd_csrf"])):
        refused = _logout(kit, forged)
        assert refused.status_code == 403 and "Biểu mẫu không hợp lệ" in refused.text
        assert "hd_session" not in refused.headers.get("set-cookie", "")
        assert kit.client.get("/tim-kiem", follow_redirects=False).status_code == 200     # still logged in
    done = _logout(kit, token)
    assert done.status_code == 303 and done.headers["location"] == "/dang-nhap"
    assert kit.client.get("/tim-kiem", follow_redirects=False).status_code == 303        # logged out
    store = kit.open()
    try:
        assert [e.kind for e in store.audit()] == ["login", "logout"]
    finally:
        store.close()


def test_open_redirect_is_refused(kit: WebKit) -> None:
    done = _login(kit, "xem", PASSWORDS["xem"], next_="//evil.example.com/")
    assert done.headers["location"] == "/tim-kiem"


def test_repeated_failures_block_the_name_for_a_while(kit: WebKit) -> None:
    for _ in range(5):
        assert _login(kit, "canbo", "sai").status_code == 401
    blocked = _login(kit, "canbo", PASSWORDS["canbo"])
    assert blocked.status_code == 429 and "15 phút" in blocked.text
    kit.clock.now += timedelta(minutes=16)
    assert _login(kit, "canbo", PASSWORDS["canbo"]).status_code == 303


def _problem(html: str, element: str) -> str:
    found = re.search(rf'id="{element}">(.*?)</(p|ul)>', html, re.DOTALL)
    assert found, f"no #{element} on the page"
    return re.sub(r"<[^>]+>", " ", found.group(1))


def test_bad_queries_are_explained_in_vietnamese(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    for q, says in (('vo dap "unclosed', "dấu ngoặc kép ở ký tự thứ 8 chưa được đóng"),
                    ("-ly", "chỉ có phần loại trừ"),
                    ("ly OR", "OR ở ký tự thứ 4 đứng cuối câu tìm kiếm")):
        page = kit.client.get("/tim-kiem", params={"q": q})
        text = _problem(page.text, "problem")
        assert page.status_code == 400 and "Câu tìm kiếm không hợp lệ" in text and says in text, (q, text)
        for english in ("unclosed quote", "position", "the query", "e.g."):
            assert english not in text, (q, text)


def test_bad_filters_say_which_one_and_search_nothing(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    for params, says in (({"province": "abc"}, "Bộ lọc tỉnh không hợp lệ: «abc»"),
                         ({"province": "99"}, "Bộ lọc tỉnh không hợp lệ: «99»"),
                         ({"since": "2026-99-01"}, "Bộ lọc «Từ ngày» không hợp lệ: «2026-99-01»"),
                         ({"until": "hom-qua"}, "Bộ lọc «Đến hết ngày» không hợp lệ"),
                         ({"since": "2026-03-13", "until": "2026-03-12"}, "phải bằng hoặc sau «Từ ngày»"),
                         ({"lang": "v<i"}, "Bộ lọc ngôn ngữ không hợp lệ")):
        page = kit.client.get("/tim-kiem", params={"q": "vo dap", **params})
        assert page.status_code == 400 and says in _problem(page.text, "problems"), params
        assert 'id="total"' not in page.text and "kết quả" not in page.text, params
    assert "<i" not in _problem(kit.client.get("/tim-kiem", params={"lang": "v<i"}).text, "problems")
    good = kit.client.get("/tim-kiem", params={"q": "vo dap", "province": "51", "since": "2026-03-12",
                                               "until": "2026-03-12", "lang": "vi"})
    assert good.status_code == 200 and "2 kết quả" in good.text
    assert '<option value="51" selected>Quảng Ngãi (51)</option>' in good.text


def test_hits_name_the_province_and_date_with_the_weekday(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    html = kit.client.get("/tim-kiem", params={"q": "vo dap"}).text
    assert 'Tỉnh: <span class="province" title="Mã tỉnh 51">Quảng Ngãi</span>' in html
    assert "Thời gian đăng: Thứ năm, 12/03/2026 10:00" in html and "Tỉnh: 51" not in html


def test_audit_page_names_kinds_and_reads_corrections(kit: WebKit) -> None:
    from haidang.store.base import AuditEntry

    _login(kit, "quantri", "sai")
    store = kit.open()
    try:
        store.append_audit(AuditEntry(at=kit.clock.now, actor="canbo@example.vn", kind="label_correction",
                                      target=kit.main.id, detail={"article_id": kit.main.id, "changes": {
                                          "tone": {"from": "neutral", "to": "positive"},
                                          "topic": {"from": [], "to": "an_ninh_trat_tu"}}}))
        store.append_audit(AuditEntry(at=kit.clock.now, actor="canbo@example.vn", kind="claim", target="c1",
                                      detail={"status": "confirmed", "rebuttal_url": "https://x.example.vn/a"}))
    finally:
        store.close()
    _login(kit, "quantri", PASSWORDS["quantri"])
    html = kit.client.get("/nhat-ky").text
    for kind, name in (("login_failed", "Đăng nhập sai"), ("label_correction", "Sửa nhãn"),
                       ("claim", "Cập nhật danh sách tin đã xác minh"), ("login", "Đăng nhập")):
        assert f'<td class="kind" title="{kind}">{name}<br><small><code class="muted">{kind}</code>' in html, kind
    assert '<div class="change">Sắc thái: trung tính → tích cực</div>' in html
    assert '<div class="change">Chủ đề: chưa xác định chủ đề → An ninh, trật tự</div>' in html
    assert '<span title="status">Trạng thái</span>: <span dir="auto">tin sai đã xác nhận</span>' in html
    assert "{&#39;" not in html and "changes:" not in html                 # no Python dict dumps
    assert "Thứ năm, 12/03/2026 11:00" in html
