"""Findings of the user walkthrough on the web pages, each against the real app and store: Vietnamese
decimals, rules by their description, one name for a missing topic, claims with one sentence mark,
readable audit details, Vietnamese role names, a language list, topics by name, honest label wording."""

from __future__ import annotations

import re

from alerts.flag import Flag
from haidang.store.base import AuditEntry
from haidang.textnorm import fold
from haidang.web.respond import claim_text
from haidang.wording import LANGUAGES, NO_TOPIC

from .conftest import PASSWORDS, RECIPIENT, T0, WebKit, build_article
from .test_app_search import _login

RULE = "tin-sai-su-that-rui-ro-cao"
RULE_TEXT = "Tin có nguy cơ sai sự thật cao về tỉnh"        # its description in config/alerts.yaml


def _options(html: str, select_id: str) -> list[tuple[str, str]]:
    found = re.search(rf'<select name="\w+" id="{select_id}">(.*?)</select>', html, re.DOTALL)
    assert found, select_id
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found.group(1))


def test_scores_and_weights_are_vietnamese_decimals(kit: WebKit) -> None:
    html = kit.client.get(kit.path("phan_bac")).text
    assert "(điểm 0,74)" in html and "(+1,20)" in html and "(+1,00)" in html
    assert "0.74" not in html and "+1.20" not in html and "+1.00" not in html


def test_the_flag_page_names_the_rule_by_its_description(kit: WebKit) -> None:
    flag = Flag(rule=RULE, severity="cao", story_id=kit.flag.story_id, article_ids=kit.flag.article_ids,
                agencies=["so-ttt"], recipients=[RECIPIENT], immediate=True)
    path = kit.signer.links_for(flag, RECIPIENT, kit.main.id, now=T0)["phan_bac"].removeprefix(kit.signer.base_url)
    html = kit.client.get(path).text
    assert f'<strong id="rule" title="{RULE}">{RULE_TEXT}</strong>' in html       # the slug only on hover
    # A rule no longer configured is still named, by its slug.
    assert '<strong id="rule">tin_sai_nguy_co_cao</strong>' in kit.client.get(kit.path("phan_bac")).text


def test_a_missing_topic_has_one_name(kit: WebKit) -> None:
    store = kit.open()
    try:
        labels = dict(kit.main.labels or {})
        labels["topics"] = []
        store.set_labels(kit.main.id, labels)
    finally:
        store.close()
    html = kit.client.get(kit.path("phan_bac")).text
    assert f"Chủ đề:\n{NO_TOPIC}<br>" in html and "chưa gán" not in html


def test_claim_text_adds_no_mark_after_a_sentence_that_has_one() -> None:
    article = build_article("nong", title="NÓNG: bắt cóc trẻ em!!!",
                            text="Nghe nói ở Quảng Ngãi có người lạ bắt trẻ em, chỉ dân biết. Tin này lan rất nhanh "
                                 "trên mạng xã hội. «Ai cũng phải cẩn thận!» Chưa cơ quan nào xác nhận")
    text = claim_text(article)
    assert text == ("NÓNG: bắt cóc trẻ em!!! Nghe nói ở Quảng Ngãi có người lạ bắt trẻ em, chỉ dân biết. Tin này "
                    "lan rất nhanh trên mạng xã hội. «Ai cũng phải cẩn thận!» Chưa cơ quan nào xác nhận")
    plain = build_article("tron", title="Tin đồn vỡ đập", text="Nước tràn qua xã. Dân sơ tán.")
    assert claim_text(plain) == "Tin đồn vỡ đập. Nước tràn qua xã. Dân sơ tán."
    quoted = build_article("ngoac", title='Cảnh báo "vỡ đập."', text="Dân sơ tán.")
    assert claim_text(quoted) == 'Cảnh báo "vỡ đập." Dân sơ tán.'


def test_audit_details_read_as_vietnamese_dates_and_rules(kit: WebKit) -> None:
    store = kit.open()
    try:
        store.append_audit(AuditEntry(at=kit.clock.now, actor="he-thong", kind="escalation", target="k1", detail={
            "rule": RULE, "flag_sent_at": "2026-11-24T06:00:23.656757+07:00", "hours": 24}))
        store.append_audit(AuditEntry(at=kit.clock.now, actor="canbo", kind="report", target="web", detail={
            "from": "2026-01-01", "to": "2026-03-12", "format": "docx", "note": "2026-13-45 không phải ngày"}))
    finally:
        store.close()
    assert _login(kit, "quantri", PASSWORDS["quantri"]).status_code == 303
    html = kit.client.get("/nhat-ky").text
    assert '<span title="flag_sent_at">Thời điểm gửi cảnh báo</span>: <span dir="auto">Thứ ba, 24/11/2026 06:00</span>' in html
    assert '<span title="from">Từ ngày</span>: <span dir="auto">01/01/2026</span>' in html
    assert '<span title="to">Đến ngày</span>: <span dir="auto">12/03/2026</span>' in html
    assert f'<span title="rule">Quy tắc</span>: <span dir="auto">{RULE_TEXT}</span>' in html
    assert "2026-13-45 không phải ngày" in html                  # text that is no date stays as written
    assert "2026-11-24T06:00" not in html and ">2026-01-01<" not in html


def test_the_header_names_the_role_in_vietnamese(kit: WebKit) -> None:
    for name, role in (("xem", "xem"), ("canbo", "cán bộ"), ("quantri", "quản trị")):
        assert _login(kit, name, PASSWORDS[name]).status_code == 303
        html = kit.client.get("/tim-kiem").text
        assert f">{name} ({role})</span>" in html, name
        assert "(viewer)" not in html and "(officer)" not in html and "(administrator)" not in html
        kit.client.cookies.clear()


def test_the_language_filter_is_a_list_of_named_languages(kit: WebKit) -> None:
    _login(kit, "xem", PASSWORDS["xem"])
    html = kit.client.get("/tim-kiem").text
    options = _options(html, "lang")
    assert options[0] == ("", "(tất cả)")
    assert {code for code, _ in options[1:]} == set(LANGUAGES)
    names = [name for _, name in options[1:]]
    assert names == sorted(names, key=fold) and "Tiếng Anh" in names
    assert ("zh", "Tiếng Trung (zh)") in options and ("zh-cn", "Tiếng Trung (zh-cn)") in options
    chosen = kit.client.get("/tim-kiem", params={"q": "vo dap", "lang": "vi"}).text
    assert '<option value="vi" selected>Tiếng Việt</option>' in chosen and "2 kết quả" in chosen
    english = kit.client.get("/tim-kiem", params={"q": "vo dap", "lang": "en"}).text
    assert '<option value="en" selected>Tiếng Anh</option>' in english and "0 kết quả" in english
    assert "2 kết quả" in kit.client.get("/tim-kiem", params={"q": "vo dap", "lang": "VI"}).text


def test_topics_are_offered_by_name(kit: WebKit) -> None:
    html = kit.client.get(kit.path("phan_bac")).text
    names = [name for value, name in _options(html, "topic") if value]
    assert len(names) == len(kit.settings.topics) and names == sorted(names, key=fold)


def test_the_label_page_says_what_each_correction_is_used_for(kit: WebKit) -> None:
    path = kit.path("de_nghi_go_bo")
    page = kit.client.get(path).text
    said = re.search(r'<p class="muted" id="label-use">(.*?)</p>', page, re.DOTALL)
    assert said and "Tỉnh đã sửa không dùng để huấn luyện" in said.group(1)
    assert "haidang evaluate --with-feedback" in said.group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    province = kit.client.post(path + "/nhan", data={"csrf": csrf, "province": "52"}).text
    assert 'id="province-review"' in province and 'id="trains"' not in province
    tone = kit.client.post(path + "/nhan", data={"csrf": csrf, "tone": "positive"}).text
    assert 'id="trains"' in tone and 'id="province-review"' not in tone
