"""The flag page behind a signed link: shows the item, records once, refuses bad links, stays text."""

from __future__ import annotations

import re
from datetime import timedelta

from haidang.store.base import Store

from .conftest import HOSTILE, RECIPIENT, WebKit


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _store_rows(kit: WebKit) -> tuple[int, int]:
    store: Store = kit.open()
    try:
        return len(store.actions()), len(store.audit())
    finally:
        store.close()


def test_page_shows_item_reasons_outlets_and_form(kit: WebKit) -> None:
    page = kit.client.get(kit.path("phan_bac"))
    assert page.status_code == 200
    html = page.text
    assert "Ghi nhận xử lý: Đã phản bác" in html
    for text in ("rumour_cue", "nguồn tin giấu tên", "share_appeal", "hãy chia sẻ", "Báo Quảng Ngãi",
                 "Lan truyền tin vỡ đập", "https://tuoitre.example.vn/ban-sao.html", "tiêu cực", "cao",
                 'name="rebuttal_url"', RECIPIENT):
        assert text in html, text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_hostile_article_text_stays_text(kit: WebKit) -> None:
    html = kit.client.get(kit.path("de_nghi_go_bo")).text
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned = 1;" in html
    assert HOSTILE not in html


def test_record_action_once_and_audit_it(kit: WebKit) -> None:
    path = kit.path("de_nghi_cai_chinh")
    token = _csrf(kit.client.get(path).text)
    done = kit.client.post(path, data={"csrf": token, "note": "Đã gửi công văn số 12/STTTT"})
    assert done.status_code == 200 and "Đã ghi nhận: Đã đề nghị cải chính / đính chính" in done.text
    again = kit.client.post(path, data={"csrf": token, "note": "lần hai"})
    assert again.status_code == 410 and "Đường dẫn đã được sử dụng" in again.text
    assert kit.client.get(path).status_code == 410
    store = kit.open()
    try:
        [action] = store.actions()
        assert action.action == "de_nghi_cai_chinh" and action.actor == RECIPIENT
        assert action.note == "Đã gửi công văn số 12/STTTT" and action.client == "testclient"
        assert action.article_id == kit.main.id and action.story_id == kit.flag.story_id
        assert action.agency_id == "so-ttt" or action.agency_id is None
        assert [e.kind for e in store.audit()] == ["action"]
    finally:
        store.close()
    # Another action's link of the same flag still works: each link is one action.
    other = kit.path("chuyen_cong_an")
    assert kit.client.post(other, data={"csrf": _csrf(kit.client.get(other).text)}).status_code == 200


def test_tampered_link_changes_nothing(kit: WebKit) -> None:
    path = kit.path("de_nghi_go_bo")
    token = _csrf(kit.client.get(path).text)
    body, mac = path.rsplit("/", 1)[1].split(".")
    for bad in (f"/xu-ly/{body}.{mac[:-1]}A", f"/xu-ly/{body[:-2]}xx.{mac}", "/xu-ly/khong-hop-le"):
        page = kit.client.get(bad)
        assert page.status_code == 403 and "Đường dẫn không hợp lệ" in page.text
        assert kit.client.post(bad, data={"csrf": token}).status_code == 403
    assert _store_rows(kit) == (0, 0)


def test_expired_link_changes_nothing(kit: WebKit) -> None:
    path = kit.path("de_nghi_go_bo")
    token = _csrf(kit.client.get(path).text)
    kit.clock.now += timedelta(days=8)
    page = kit.client.get(path)
    assert page.status_code == 410 and "Đường dẫn đã hết hạn" in page.text and "7 ngày" in page.text
    assert kit.client.post(path, data={"csrf": token}).status_code == 410
    assert _store_rows(kit) == (0, 0)


def test_post_without_csrf_changes_nothing(kit: WebKit) -> None:
    path = kit.path("de_nghi_go_bo")
    kit.client.get(path)
    for data in ({}, {"csrf": "sai"}):
        page = kit.client.post(path, data=data)
        assert page.status_code == 403 and "Biểu mẫu không hợp lệ" in page.text
    # A token from another link's page does not fit this one.
    other = kit.path("chuyen_cong_an")
    assert kit.client.post(path, data={"csrf": _csrf(kit.client.get(other).text)}).status_code == 403
    assert _store_rows(kit) == (0, 0)


def test_rebuttal_needs_a_url_and_dismissal_a_reason(kit: WebKit) -> None:
    path = kit.path("phan_bac")
    token = _csrf(kit.client.get(path).text)
    page = kit.client.post(path, data={"csrf": token, "rebuttal_url": "javascript:alert(1)"})
    assert page.status_code == 422 and "Cần nhập đường dẫn bài phản bác" in page.text
    dismiss = kit.path("khong_phai_tin_sai")
    token = _csrf(kit.client.get(dismiss).text)
    page = kit.client.post(dismiss, data={"csrf": token, "note": "  "})
    assert page.status_code == 422 and "Cần ghi lý do" in page.text
    assert _store_rows(kit) == (0, 0)


def test_rebuttal_makes_a_confirmed_known_claim(kit: WebKit) -> None:
    path = kit.path("phan_bac")
    token = _csrf(kit.client.get(path).text)
    url = "https://baoquangngai.example.vn/bac-bo-tin-vo-dap.html"
    assert kit.client.post(path, data={"csrf": token, "rebuttal_url": url}).status_code == 200
    store = kit.open()
    try:
        [claim] = store.known_claims("confirmed")
        assert claim.rebuttal_url == url and claim.source_article_id == kit.main.id
        assert [e.kind for e in store.audit()] == ["action", "claim"]
    finally:
        store.close()


def test_dismissal_makes_a_dismissed_claim(kit: WebKit) -> None:
    path = kit.path("khong_phai_tin_sai")
    token = _csrf(kit.client.get(path).text)
    page = kit.client.post(path, data={"csrf": token, "note": "Đã xác minh với UBND xã: đập an toàn"})
    assert page.status_code == 200 and "hạ mức nguy cơ" in page.text
    store = kit.open()
    try:
        assert [c.status for c in store.known_claims(None)] == ["dismissed"]
        [action] = store.actions()
        assert action.note == "Đã xác minh với UBND xã: đập an toàn"
    finally:
        store.close()


def test_label_correction_is_audited_as_feedback(kit: WebKit) -> None:
    path = kit.path("de_nghi_go_bo")
    token = _csrf(kit.client.get(path).text)
    page = kit.client.post(path + "/nhan", data={"csrf": token, "topic": "an_ninh_trat_tu", "tone": "neutral",
                                                 "province": "51", "note": "tin về an ninh"})
    assert page.status_code == 200 and "Đã lưu nhãn đã sửa" in page.text
    unchanged = kit.client.post(path + "/nhan", data={"csrf": token, "tone": "neutral"})
    assert "Nhãn không thay đổi" not in unchanged.text      # the stored label is still the model's
    bad = kit.client.post(path + "/nhan", data={"csrf": token, "tone": "rat-xau", "province": "5x"})
    assert bad.status_code == 422 and "Sắc thái không hợp lệ" in bad.text and "Mã tỉnh" in bad.text
    store = kit.open()
    try:
        entries = [e for e in store.audit() if e.kind == "label_correction"]
        assert len(entries) == 2
        changes = entries[0].detail["changes"]
        assert changes == {"topic": {"from": ["thien_tai_dich_benh"], "to": "an_ninh_trat_tu"},
                           "tone": {"from": "negative", "to": "neutral"}}     # province 51 was already right
        assert entries[0].actor == RECIPIENT and store.actions() == []         # the link stays unused
    finally:
        store.close()
    assert kit.client.get(path).status_code == 200


def test_correction_letter_and_rebuttal_kit_on_the_page(kit: WebKit) -> None:
    import io

    from docx import Document

    page = kit.client.get(kit.path("de_nghi_cai_chinh"))
    assert 'id="correction-docx"' in page.text
    letter = kit.client.get(kit.path("de_nghi_cai_chinh") + "/van-ban.docx")
    assert letter.status_code == 200 and letter.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml")
    text = "\n".join(p.text for p in Document(io.BytesIO(letter.content)).paragraphs)
    assert "<script>window.__pwned" in text            # the title, as text in the letter
    assert kit.client.get("/xu-ly/khong-hop-le/van-ban.docx").status_code == 403

    # A rebuttal recorded on this flag shows up in the kit of the next officer's page.
    path = kit.path("phan_bac")
    done = kit.client.post(path, data={"csrf": _csrf(kit.client.get(path).text),
                                       "rebuttal_url": "https://baoquangngai.example.vn/phan-bac.html"})
    assert done.status_code == 200
    other = kit.client.get(kit.path("chuyen_cong_an")).text
    assert 'id="kit-rebuttals"' in other and "https://baoquangngai.example.vn/phan-bac.html" in other


def test_label_correction_refuses_values_the_product_does_not_know(kit: WebKit) -> None:
    from haidang.web.respond import feedback_records

    path = kit.path("de_nghi_go_bo")
    token = _csrf(kit.client.get(path).text)
    for data, says in (({"province": "99"}, "Mã tỉnh «99» không phải mã của tỉnh"),
                       ({"province": "51", "tone": "rat-xau"}, "Sắc thái không hợp lệ"),
                       ({"topic": "chu_de_la", "tone": "positive"}, "Chủ đề «chu_de_la» không có trong danh mục")):
        page = kit.client.post(path + "/nhan", data={"csrf": token, **data})
        assert page.status_code == 422 and says in page.text, data
        assert 'id="problems"' in page.text and 'id="label-form"' in page.text     # the form is shown again
    store = kit.open()
    try:
        assert store.audit() == [] and feedback_records(store) == []                # nothing saved, nothing exported
    finally:
        store.close()


def test_correction_confirmation_names_the_values(kit: WebKit) -> None:
    store = kit.open()
    try:
        assert store.set_labels(kit.main.id, {**kit.main.labels, "topics": [],
                                              "tone": {"label": "neutral", "score": 0.5}})
    finally:
        store.close()
    path = kit.path("de_nghi_go_bo")
    page = kit.client.post(path + "/nhan", data={"csrf": _csrf(kit.client.get(path).text), "tone": "positive",
                                                 "topic": "an_ninh_trat_tu", "province": "52"})
    assert page.status_code == 200
    changes = re.search(r'<ul id="changes">(.*?)</ul>', page.text, re.DOTALL)
    assert changes, page.text
    lines = [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>", changes.group(1))]
    assert lines == ["Chủ đề: chưa xác định chủ đề → An ninh, trật tự", "Sắc thái: trung tính → tích cực",
                     "Tỉnh: Quảng Ngãi → Gia Lai"]
    assert "neutral" not in page.text and "[]" not in page.text
    assert re.search(r"Thời gian: Thứ năm, 12/03/2026 11:00", page.text)


def test_flag_page_names_the_province_and_dates_with_the_weekday(kit: WebKit) -> None:
    html = kit.client.get(kit.path("phan_bac")).text
    assert 'Tỉnh: <span class="province" title="Mã tỉnh 51">Quảng Ngãi</span>' in html
    assert "Thời gian đăng: Thứ năm, 12/03/2026 10:00" in html            # as the flag email writes it
    assert "Lan truyền tin vỡ đập</a>" in html and "(Thứ năm, 12/03/2026 10:00)" in html   # the outlets
    assert '<option value="51">Quảng Ngãi (51)</option>' in html              # provinces chosen by name
    assert '<option value="neutral">trung tính</option>' in html
