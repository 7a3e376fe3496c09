"""The flag pages behind a login (/canh-bao): an officer records a late action after the email's
links expired, or without the email; viewers are refused; the action counts in the deadline
report like a link's (REPORT F14)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from alerts.flag import flag_key, follow_up_key
from haidang.reports.report import build_report
from haidang.reports.wording import UNKNOWN
from haidang.settings import User
from haidang.store.base import OutboxMessage, ResponseAction
from haidang.web import create_app
from haidang.web.respond import link_used
from haidang.web.sessions import hash_password

from .conftest import HOSTILE, PASSWORDS, RECIPIENT, SECRET, T0, WebKit

OTHER = "so-ngoai-vu@example.gov.vn"
AGENCY_USER = "so-ttt@example.gov.vn"        # one of agency so-ttt's addresses in config/agencies.yaml
AGENCY_PASSWORD = "mat-khau-so-ttt-4"
REBUTTAL = "https://baoquangngai.example.vn/bac-bo-tin-vo-dap.html"


def _csrf(html: str, form_id: str) -> str:
    found = re.search(rf'id="{form_id}">\s*<input type="hidden" name="csrf" value="([^"]+)"', html)
    assert found, f"no CSRF token in #{form_id}"
    return found.group(1)


def _login(client: TestClient, name: str, password: str | None = None) -> None:
    page = client.get("/dang-nhap")
    done = client.post("/dang-nhap", data={"csrf": _csrf(page.text, "login-form"), "username": name,
                                           "password": password or PASSWORDS[name], "next": "/canh-bao"},
                       follow_redirects=False)
    assert done.status_code == 303, done.text


def _message(key: str, rule: str, story: str, recipient: str, hours: float) -> OutboxMessage:
    return OutboxMessage(key=key, flag_rule=rule, story_id=story, recipient=recipient,
                         message_id=f"<{key}@haidang.local>", subject="Cảnh báo", text="-", html="-",
                         created_at=T0 + timedelta(hours=hours))


def _queue_flag(kit: WebKit, *, rule: str | None = None, story: str | None = None, hours: float = 1,
                recipients: tuple[str, ...] = (RECIPIENT, OTHER)) -> str:
    """The flag's messages in the outbox, one per recipient, keyed as alerts.outbox keys them;
    returns the first recipient's key (the one that recipient's signed links carry)."""
    rule, story = rule or kit.flag.rule, story or kit.flag.story_id
    store = kit.open()
    try:
        for i, recipient in enumerate(recipients):
            store.enqueue(_message(flag_key(rule, story, recipient), rule, story, recipient, hours + i / 60))
    finally:
        store.close()
    return flag_key(rule, story, recipients[0])


def _record(client: TestClient, key: str, **fields: str):
    token = _csrf(client.get(f"/canh-bao/{key}").text, "action-form")
    return client.post(f"/canh-bao/{key}", data={"csrf": token} | fields)


def _actions(kit: WebKit) -> list[ResponseAction]:
    store = kit.open()
    try:
        return store.actions()
    finally:
        store.close()


def _client_with_users(kit: WebKit, *users: tuple[str, ...]) -> TestClient:
    """Another app over the kit's store whose users.yaml adds `users` (name, role, password[, agency])."""
    extra = [User(name=u[0], role=u[1], password_hash=hash_password(u[2]),  # type: ignore[arg-type]
                  agency=u[3] if len(u) > 3 else None) for u in users]
    settings = kit.settings.model_copy(update={"users": [*kit.settings.users, *extra]})
    app = create_app(settings, kit.open, SECRET, now=kit.clock, users_file=Path("/nonexistent/users.yaml"))
    return TestClient(app, base_url="http://testserver")


# -- who may see and act ---------------------------------------------------------------------------


def test_flag_pages_need_an_officer(kit: WebKit) -> None:
    key = _queue_flag(kit)
    for path in ("/canh-bao", f"/canh-bao/{key}", f"/canh-bao/{key}/van-ban.docx"):
        page = kit.client.get(path, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == f"/dang-nhap?next={path}"
    assert kit.client.post(f"/canh-bao/{key}", data={"action": "de_nghi_go_bo"},
                           follow_redirects=False).status_code == 303
    _login(kit.client, "xem")
    assert 'id="nav-flags"' not in kit.client.get("/tim-kiem").text
    for path in ("/canh-bao", f"/canh-bao/{key}", f"/canh-bao/{key}/van-ban.docx"):
        page = kit.client.get(path)
        assert page.status_code == 403 and "Không có quyền truy cập" in page.text
    assert kit.client.post(f"/canh-bao/{key}", data={"action": "de_nghi_go_bo"}).status_code == 403
    assert _actions(kit) == []


@pytest.mark.parametrize("name", ["canbo", "quantri"])
def test_officers_and_administrators_see_the_flags(kit: WebKit, name: str) -> None:
    key = _queue_flag(kit)
    _login(kit.client, name)
    page = kit.client.get("/canh-bao")
    assert page.status_code == 200 and '<a href="/canh-bao" id="nav-flags">Cảnh báo</a>' in page.text
    assert f'href="/canh-bao/{key}"' in page.text
    for header in ("X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"):
        assert header in page.headers
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Content-Type-Options"] == "nosniff"


# -- the list --------------------------------------------------------------------------------------


def test_list_has_one_line_per_flag_open_first_then_newest(kit: WebKit) -> None:
    old_open = _queue_flag(kit, hours=1)                                  # the kit's story, first rule
    handled = _queue_flag(kit, rule="tin_sai_lan_truyen", story="story-b", hours=5)
    new_open = _queue_flag(kit, rule="tin_sai_lan_truyen", story="story-c", hours=9)
    store = kit.open()
    try:
        # Not flags: the digest, and a reminder of the first flag (its own key, same rule and story).
        store.enqueue(_message("digest-1", "ban-tin-hang-ngay", "digest:2026-03-12", RECIPIENT, 2))
        store.enqueue(_message(follow_up_key("reminder", kit.flag.rule, kit.flag.story_id, RECIPIENT),
                               kit.flag.rule, kit.flag.story_id, RECIPIENT, 30))
        store.record_action(ResponseAction(flag_key=handled, story_id="story-b", article_id="story-b",
                                           rule="tin_sai_lan_truyen", action="de_nghi_go_bo", actor=RECIPIENT,
                                           at=T0 + timedelta(hours=6)))
    finally:
        store.close()
    _login(kit.client, "canbo")
    page = kit.client.get("/canh-bao").text
    assert re.findall(r'href="/canh-bao/([0-9a-f]+)" class="flag-link"', page) == [new_open, old_open, handled]
    assert "3 cảnh báo, trong đó 2 chưa xử lý" in page
    assert "Đã xử lý</span>: Đã đề nghị gỡ bỏ" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page               # the story's title stays text
    only_open = kit.client.get("/canh-bao", params={"status": "open"}).text
    assert re.findall(r'href="/canh-bao/([0-9a-f]+)" class="flag-link"', only_open) == [new_open, old_open]
    only_handled = kit.client.get("/canh-bao", params={"status": "handled"}).text
    assert re.findall(r'href="/canh-bao/([0-9a-f]+)" class="flag-link"', only_handled) == [handled]
    # The days a flag was raised, local time, both included: T0 is 12/3 10:00 (+07), +9 h is 19:00.
    day = T0.date().isoformat()
    same_day = kit.client.get("/canh-bao", params={"since": day, "until": day}).text
    assert "3 cảnh báo" in same_day
    later = kit.client.get("/canh-bao", params={"since": (T0.date() + timedelta(days=1)).isoformat()}).text
    assert "0 cảnh báo" in later and "(không có cảnh báo nào)" in later


def test_list_refuses_bad_filters(kit: WebKit) -> None:
    _login(kit.client, "canbo")
    for params in ({"since": "9999-01-01"}, {"until": "hôm qua"}, {"status": "<b>x</b>"},
                   {"since": "2026-03-10", "until": "2026-03-01"}):
        page = kit.client.get("/canh-bao", params=params)
        assert page.status_code == 400 and 'id="problems"' in page.text and "<b>x</b>" not in page.text


# -- recording a late action -----------------------------------------------------------------------


def test_an_expired_link_points_to_the_flag_page_where_a_login_records(kit: WebKit) -> None:
    key = _queue_flag(kit)
    kit.clock.now += timedelta(days=8)
    expired = kit.client.get(kit.path("de_nghi_go_bo"))
    assert expired.status_code == 410 and "Đường dẫn đã hết hạn" in expired.text and "đăng nhập" in expired.text
    assert f'<a href="/canh-bao/{key}" id="flag-page">{kit.signer.base_url}/canh-bao/{key}</a>' in expired.text
    # Not logged in: the flag page asks for a login, then comes back to it.
    login = kit.client.get(f"/canh-bao/{key}", follow_redirects=False)
    assert login.headers["location"] == f"/dang-nhap?next=/canh-bao/{key}"
    _login(kit.client, "canbo")
    page = kit.client.get(f"/canh-bao/{key}")
    assert page.status_code == 200 and 'id="no-actions"' in page.text
    assert "Nguồn tin giấu tên" in page.text or "nguồn tin giấu tên" in page.text      # the reasons' evidence
    assert HOSTILE not in page.text and 'id="outlets"' in page.text and 'id="action-form"' in page.text
    assert f'href="/canh-bao/{key}/van-ban.docx"' in page.text
    done = _record(kit.client, key, action="de_nghi_go_bo", note="Đã gửi công văn số 15/STTTT")
    assert done.status_code == 200 and "Đã ghi nhận: Đã đề nghị gỡ bỏ" in done.text
    assert "Người ghi nhận: canbo" in done.text
    [action] = _actions(kit)
    assert (action.actor, action.action, action.rule, action.story_id) == ("canbo", "de_nghi_go_bo",
                                                                           kit.flag.rule, kit.flag.story_id)
    assert action.link_id is None and action.agency_id is None and action.article_id == kit.main.id
    assert action.note == "Đã gửi công văn số 15/STTTT" and action.at == kit.clock.now
    assert action.flag_key == flag_key(kit.flag.rule, kit.flag.story_id, "canbo")
    store = kit.open()
    try:
        [entry] = [e for e in store.audit() if e.kind == "action"]
    finally:
        store.close()
    assert entry.actor == "canbo" and entry.detail["action"] == "de_nghi_go_bo" and entry.client == "testclient"
    # The recipient's own link for that action is not used up by someone else's login.
    link = kit.signer.verify(kit.path("de_nghi_go_bo").rsplit("/", 1)[1], T0)
    store = kit.open()
    try:
        assert not link_used(store, link)
    finally:
        store.close()
    # The flag is handled now, and still takes another action (a later rebuttal, which teaches the claims).
    handled = kit.client.get(f"/canh-bao/{key}").text
    assert 'id="actions"' in handled and "Đã gửi công văn số 15/STTTT" in handled and "Ghi nhận thêm xử lý" in handled
    assert kit.client.get("/canh-bao", params={"status": "handled"}).text.count('class="flag-link"') == 1
    rebutted = _record(kit.client, key, action="phan_bac", rebuttal_url=REBUTTAL)
    assert rebutted.status_code == 200 and "danh sách tin sai đã biết" in rebutted.text
    assert [a.action for a in _actions(kit)] == ["de_nghi_go_bo", "phan_bac"]
    store = kit.open()
    try:
        claims = [e for e in store.audit() if e.kind == "claim"]
    finally:
        store.close()
    assert [(e.actor, e.detail["status"], e.detail["rebuttal_url"], e.detail["previous"], e.detail["via"])
            for e in claims] == [("canbo", "confirmed", REBUTTAL, "proposed", "flag")]


def test_a_recipients_key_and_the_first_messages_key_open_the_same_flag(kit: WebKit) -> None:
    first = _queue_flag(kit)
    second = flag_key(kit.flag.rule, kit.flag.story_id, OTHER)
    _login(kit.client, "canbo")
    assert _record(kit.client, second, action="chuyen_cong_an").status_code == 200
    page = kit.client.get(f"/canh-bao/{first}").text
    assert "Đã chuyển Công an tỉnh" in page and 'id="actions"' in page
    assert kit.client.get("/canh-bao").text.count('class="flag-link"') == 1


def test_the_form_checks_what_each_action_needs_and_its_token(kit: WebKit) -> None:
    key = _queue_flag(kit)
    _login(kit.client, "canbo")
    token = _csrf(kit.client.get(f"/canh-bao/{key}").text, "action-form")
    for data in ({}, {"csrf": "sai"}, {"csrf": _csrf(kit.client.get("/bao-cao").text, "report-form")}):
        page = kit.client.post(f"/canh-bao/{key}", data={"action": "de_nghi_go_bo"} | data)
        assert page.status_code == 403 and "Biểu mẫu không hợp lệ" in page.text
    for fields, problem in (({"action": ""}, "Hãy chọn hành động"),
                            ({"action": "xoa_het"}, "Hãy chọn hành động"),
                            ({"action": "phan_bac", "rebuttal_url": "javascript:alert(1)"},
                             "Cần nhập đường dẫn bài phản bác"),
                            ({"action": "khong_phai_tin_sai", "note": "  "}, "Cần ghi lý do"),
                            ({"action": "de_nghi_go_bo", "note": "x" * 2001}, "Ghi chú dài tối đa 2.000 ký tự")):
        page = kit.client.post(f"/canh-bao/{key}", data={"csrf": token} | fields)
        assert page.status_code == 422 and problem in page.text, fields
    # What was typed comes back as text, chosen action kept.
    page = kit.client.post(f"/canh-bao/{key}", data={"csrf": token, "action": "phan_bac", "note": HOSTILE})
    assert page.status_code == 422 and HOSTILE not in page.text and '<option value="phan_bac" selected>' in page.text
    assert _actions(kit) == []


def test_a_second_identical_submit_is_not_a_second_action(kit: WebKit) -> None:
    key = _queue_flag(kit)
    _login(kit.client, "canbo")
    token = _csrf(kit.client.get(f"/canh-bao/{key}").text, "action-form")
    data = {"csrf": token, "action": "tang_cuong_thong_tin", "note": "Đăng 3 bài trên cổng tỉnh"}
    assert kit.client.post(f"/canh-bao/{key}", data=data).status_code == 200
    again = kit.client.post(f"/canh-bao/{key}", data=data)
    assert again.status_code == 200 and 'id="message"' in again.text and "không ghi nhận thêm" in again.text
    assert len(_actions(kit)) == 1
    kit.clock.now += timedelta(minutes=11)                  # later, the same words are a new action
    assert "Đã ghi nhận" in kit.client.post(f"/canh-bao/{key}", data=data).text
    assert len(_actions(kit)) == 2


def test_unknown_keys_and_messages_that_are_not_flags_are_not_found(kit: WebKit) -> None:
    _queue_flag(kit)
    store = kit.open()
    try:
        store.enqueue(_message("digest-1", "ban-tin-hang-ngay", "digest:2026-03-12", RECIPIENT, 2))
    finally:
        store.close()
    _login(kit.client, "canbo")
    for key in ("digest-1", "0" * 32, "x" * 500, "%3Cscript%3E"):
        page = kit.client.get(f"/canh-bao/{key}")
        assert page.status_code == 404 and "Không tìm thấy cảnh báo" in page.text and "<script>" not in page.text
        token = _csrf(kit.client.get("/canh-bao").text, "logout-form")      # any token: 403 or 404, never a write
        assert kit.client.post(f"/canh-bao/{key}", data={"csrf": token, "action": "de_nghi_go_bo"}).status_code in (
            403, 404)
    assert _actions(kit) == []


def test_correction_letter_from_the_flag_page(kit: WebKit) -> None:
    key = _queue_flag(kit)
    _login(kit.client, "canbo")
    letter = kit.client.get(f"/canh-bao/{key}/van-ban.docx")
    assert letter.status_code == 200 and letter.content[:2] == b"PK"
    assert letter.headers["content-disposition"] == 'attachment; filename="de-nghi-cai-chinh.docx"'


# -- agencies, signed links and the report ------------------------------------------------------------


def test_a_user_named_by_an_agency_address_acts_for_that_agency(kit: WebKit) -> None:
    """users.yaml has no agency field: a user whose name is one of an agency's addresses acts for
    it, and uses up that address's own signed link for the same action, as a click would."""
    key = _queue_flag(kit, recipients=(AGENCY_USER, RECIPIENT))
    links = kit.signer.story_links(kit.flag.rule, kit.flag.story_id, AGENCY_USER, kit.main.id, now=kit.clock.now)
    with _client_with_users(kit, (AGENCY_USER, "officer", AGENCY_PASSWORD)) as client:
        _login(client, AGENCY_USER, AGENCY_PASSWORD)
        assert _record(client, key, action="de_nghi_cai_chinh").status_code == 200
        [action] = _actions(kit)
        assert action.agency_id == "so-ttt" and action.actor == AGENCY_USER and action.flag_key == key
        used = client.get(links["de_nghi_cai_chinh"].removeprefix(kit.signer.base_url))
        assert used.status_code == 410 and "Đường dẫn đã được sử dụng" in used.text
        other = client.get(links["chuyen_cong_an"].removeprefix(kit.signer.base_url))
        assert other.status_code == 200


def test_a_user_with_an_agency_in_users_yaml_acts_for_it(kit: WebKit) -> None:
    """`agency:` in users.yaml files the officer's actions under that agency in the reports."""
    key = _queue_flag(kit)
    with _client_with_users(kit, ("canbo.congan", "officer", AGENCY_PASSWORD, "cong-an-tinh")) as client:
        _login(client, "canbo.congan", AGENCY_PASSWORD)
        assert _record(client, key, action="chuyen_cong_an").status_code == 200
        [action] = _actions(kit)
        assert action.agency_id == "cong-an-tinh" and action.actor == "canbo.congan"


def test_an_action_recorded_after_login_counts_in_the_report_like_a_links(kit: WebKit) -> None:
    late = _queue_flag(kit)                                               # the kit's story, never answered in time
    other = _queue_flag(kit, rule="tin_sai_lan_truyen", story="story-b", hours=2, recipients=(RECIPIENT,))
    period = (T0.date(), T0.date() + timedelta(days=30))
    store = kit.open()
    try:
        before = build_report(store, kit.settings, *period, now=kit.clock.now)
    finally:
        store.close()
    assert len(before.open_items) == 2 and before.flag_to_action.count == 0
    kit.clock.now = T0 + timedelta(days=9, hours=1)                       # links expired two days ago
    with _client_with_users(kit, (AGENCY_USER, "officer", AGENCY_PASSWORD)) as client:
        _login(client, AGENCY_USER, AGENCY_PASSWORD)
        assert _record(client, late, action="de_nghi_go_bo").status_code == 200
    _login(kit.client, "canbo")
    assert _record(kit.client, other, action="chuyen_cong_an").status_code == 200
    store = kit.open()
    try:
        report = build_report(store, kit.settings, *period, now=kit.clock.now)
    finally:
        store.close()
    assert report.open_items == []
    assert all(f.handled for f in report.flags) and len(report.flags) == 2
    assert report.flag_to_action.count == 2
    first = next(f for f in report.flags if f.rule == kit.flag.rule)
    assert first.flag_to_action == timedelta(days=9)
    assert {(r.key, r.count) for r in report.actions_by_type} == {("de_nghi_go_bo", 1), ("chuyen_cong_an", 1)}
    assert {(r.key, r.count) for r in report.actions_by_agency} == {("so-ttt", 1), (UNKNOWN, 1)}
    assert {a.actor for a in report.actions} == {AGENCY_USER, "canbo"}
