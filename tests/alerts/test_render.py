"""Flag emails: the Vietnamese content officers need, and hostile article text kept inert."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from alerts_testkit import build_article, build_flag
from jinja2 import UndefinedError

from alerts.render import environment, render_flag, shorten
from haidang.wording import vn_amount

_SOURCES: Any = {"baoquangngai": SimpleNamespace(name="Báo Quảng Ngãi", kind="provincial_press"),
                 "tuoitre": SimpleNamespace(name="Tuổi Trẻ", kind="national_press")}


def test_subject_and_body_carry_what_an_officer_needs() -> None:
    articles = [build_article("a"), build_article("b", source="tuoitre")]
    subject, text, html = render_flag(build_flag(articles, ["x@example.vn"]), articles, sources=_SOURCES)
    assert subject == ("[Hải Đăng][cao] Nguy cơ tin sai — «Tin đồn vỡ đập ở Quảng Ngãi» — an_ninh_trat_tu — "
                       "Báo Quảng Ngãi (+1 nguồn khác)")
    for body in (text, html):
        assert "Tin đồn vỡ đập ở Quảng Ngãi" in body
        assert "Báo Quảng Ngãi" in body and "báo chí địa phương" in body
        assert "Tuổi Trẻ" in body and "https://tuoitre.example.vn/b.html" in body
        assert "Thứ năm, 12/03/2026 10:00" in body
        for option in ("Phản bác", "Đính chính / cải chính", "Đề nghị gỡ bỏ", "Chuyển Công an tỉnh",
                       "Tăng cường thông tin tích cực"):
            assert option in body
        for evidence in ("0.82 ≥ 0.70", "unverified_claim", "lan truyền tin", "nguồn chưa xác minh"):
            assert evidence in body
        assert "https://baoquangngai.example.vn/a.html" in body
        # No links: a reference the monitoring team can quote, never a shell command.
        assert "Mã tin" in body and articles[0].id in body and "haidang explain" not in body
    assert "«Quảng Ngãi»" in text
    assert "<mark>Quảng Ngãi</mark>" in html


def test_time_is_shown_in_the_configured_zone() -> None:
    articles = [build_article("a")]
    _, text, _ = render_flag(build_flag(articles, ["x@example.vn"]), articles, tz="UTC")
    assert "Thứ năm, 12/03/2026 03:00" in text


def test_the_reference_can_be_left_out() -> None:
    articles = [build_article("a")]
    _, text, html = render_flag(build_flag(articles, ["x@example.vn"]), articles, explain_hint=False)
    assert "haidang explain" not in text and "haidang explain" not in html
    assert "Mã tin" not in text and articles[0].id not in text


def test_with_elasticsearch_the_email_links_the_record_in_kibana(tmp_path) -> None:
    from alerts.dispatch import AlertDispatcher
    from haidang.settings import DEFAULT_CONFIG_DIR, load_settings
    from haidang.store.sqlite import SqliteStore

    base = load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": str(tmp_path)})
    store_settings = base.app.store.model_copy(update={"backend": "elasticsearch",
                                                       "kibana_url": "https://kibana.example.gov.vn/"})
    settings = base.model_copy(update={"app": base.app.model_copy(update={"store": store_settings})})
    article = build_article("a")
    with SqliteStore(tmp_path / "h.sqlite3") as store:      # the dispatcher only reads the settings' backend
        store.upsert(article)
        url = AlertDispatcher(settings, store)._record_url(article)
    assert url is not None and url.startswith("https://kibana.example.gov.vn/app/discover#/")
    assert article.id in url
    _, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article], record_url=url)
    assert "Xem bản ghi trong Kibana" in text and url in text and "haidang explain" not in text
    assert "Kibana" in html and "haidang explain" not in html


_HOSTILE = ("Ā" * 3000 + " <script>alert('x')</script> \u202egnp.exe\u202c \u200f\u2067ẩn\u2069 Quảng Ngãi "
            "<img src=x onerror=alert(1)> \x00\x1b[31m " + "x" * 5000)


def test_hostile_article_text_stays_text() -> None:
    article = build_article("evil", title="<b>Tiêu đề</b>\n\u202eđảo ngược", text=_HOSTILE)
    article.fetched.canonical_url = "javascript:alert(1)"
    article.labels["risk"]["reasons"].append({"signal": "<i>x</i>", "evidence": ["<script>bad()</script>"],
                                              "weight": 0.1})
    subject, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article])
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert" in html and "&lt;img src=x" in html and "&lt;b&gt;Tiêu đề" in html
    assert "&lt;script&gt;bad()" in html
    assert 'href="javascript:' not in html
    for body in (subject, text, html):
        for control in ("\u202e", "\u202c", "\u200f", "\u2067", "\u2069", "\x00", "\x1b"):
            assert control not in body
    assert "\n" not in subject
    assert "<mark>Quảng Ngãi</mark>" in html and "«Quảng Ngãi»" in text
    assert "<script>alert" in text                 # plain text keeps the words, readable as words


def test_article_without_mention_or_time_still_renders() -> None:
    article = build_article("x", published=None, text="Không nhắc tên tỉnh nào.", labels={})
    subject, text, _ = render_flag(build_flag([article], ["x@example.vn"]), [article])
    assert "«" not in text and "không rõ thời gian đăng" in text
    assert subject == "[Hải Đăng][cao] Tin cần chú ý — «Tin đồn vỡ đập ở Quảng Ngãi» — an_ninh_trat_tu — baoquangngai"


def test_environment_autoescapes_html_only_and_fails_on_undefined() -> None:
    env = environment()
    assert env.autoescape("flag.html.j2") and not env.autoescape("flag.txt.j2")  # type: ignore[operator]
    with pytest.raises(UndefinedError):
        env.get_template("flag.txt.j2").render({})


def test_stated_engagement_is_shown_when_the_page_gave_it() -> None:
    articles = [build_article("a")]
    _, text, html = render_flag(build_flag(articles, ["x@example.vn"]), articles)
    assert "Lượt tương tác" not in text and "Lượt tương tác" not in html
    articles[0].content.engagement = {"likes": 1520, "shares": 3400}
    _, text, html = render_flag(build_flag(articles, ["x@example.vn"]), articles)
    for body in (text, html):
        assert "Lượt tương tác (khi thu thập): 1.520 lượt thích · 3.400 lượt chia sẻ" in body


def test_the_subject_names_the_article_so_different_flags_never_share_one() -> None:
    """Two rumours on one forum used to arrive with one subject and thread together."""
    long_title = ("Tin đồn lan truyền trên mạng xã hội về việc đập thủy điện ở huyện Sơn Tây bị vỡ, "
                  "người dân phải sơ tán khẩn cấp trong đêm")
    first, second = build_article("a", title=long_title), build_article("b", title="Tin đồn bắt cóc trẻ em ở Lý Sơn")
    for a in (first, second):
        a.labels["topics"] = []
    flag = build_flag([first], ["x@example.vn"])
    flag.topics = []
    one = render_flag(flag, [first], sources=_SOURCES)[0]
    other = render_flag(build_flag([second], ["x@example.vn"]), [second], sources=_SOURCES)[0]
    assert one != other
    assert one == ("[Hải Đăng][cao] Nguy cơ tin sai — «Tin đồn lan truyền trên mạng xã hội về việc đập thủy điện ở "
                   "huyện Sơn…» — Báo Quảng Ngãi")
    assert render_flag(flag, [first], sources=_SOURCES, links={"phan_bac": "https://h.example/x"})[0] == one  # stable


def test_shorten_cuts_at_a_word_and_vn_amount_writes_vietnamese_numbers() -> None:
    assert shorten("ngắn gọn") == "ngắn gọn"
    cut = shorten("một " * 30)
    assert len(cut) <= 70 and cut.endswith("một…") and "\n" not in shorten("a\nb")
    assert shorten("x" * 100).endswith("…") and len(shorten("x" * 100)) == 70
    assert [vn_amount(v) for v in (24, 48.0, 0.07, 1.5, 1234.5, 99.999)] == ["24", "48", "0,07", "1,5", "1.234,5", "100"]


def test_reasons_name_the_source_and_the_rule_and_write_decimals_one_way() -> None:
    from alerts.rules import evaluate_rules
    from haidang.settings import AlertRule, Source

    source = Source(id="foreign-en", name="The Diplomat", country="US", language="en", kind="foreign_press")
    article = build_article("a", source="foreign-en")
    article.labels["risk"]["score"] = 0.96
    rule = AlertRule(name="tin-sai-su-that-rui-ro-cao", description="Tin có nguy cơ sai sự thật cao về tỉnh",
                     min_risk_level="cao", source_kinds=["foreign_press"], severity="khẩn", recipients=["x"])
    [match] = evaluate_rules(article, [rule], source=source, now=article.content.published)  # type: ignore[arg-type]
    flag = build_flag([article], ["x@example.vn"])
    flag.reasons, flag.rule, flag.description = match.reasons, rule.name, rule.description
    sources: Any = {"foreign-en": source}
    _, text, html = render_flag(flag, [article], sources=sources)
    for body in (text, html):
        assert "Loại nguồn" in body and "The Diplomat (báo chí nước ngoài)" in body and "foreign-en (" not in body
        assert "cao (0,96)" in body and "điểm 0,96" in body and "0.96" not in body
        assert "Tin có nguy cơ sai sự thật cao về tỉnh" in body and "tin-sai-su-that-rui-ro-cao" not in body
