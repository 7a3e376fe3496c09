"""Pages built to break extraction (found by fuzzing): each used to raise, and so lose the article,
or to take from seconds to minutes. Now each gives an article, with the bad part left out."""

from __future__ import annotations

import pytest

from crawlers.dates import parse_date
from crawlers.extract import extract_article
from crawlers.urls import canonical_url, same_site
from haidang.record import Article, Fetched, parse_count
from haidang.settings import Selectors

BODY = "<p>" + "Người dân Quảng Ngãi chuẩn bị mùa lúa mới trên những cánh đồng ven sông Trà Khúc. " * 4 + "</p>"
URL = "https://baoquangngai.example.vn/xa-hoi/mua-lua-moi-1.html"


def _extract(head: str = "", body: str = BODY) -> Article:
    html = f"<html lang=vi><head><title>Mùa lúa mới</title>{head}</head><body><article>{body}</article></body></html>"
    return extract_article(Article(fetched=Fetched(source_id="x", url=URL, html=html)), Selectors())


@pytest.mark.parametrize("head", [
    "<meta property='article:published_time' content='9999-12-31T23:59:59-12:00'>",   # OverflowError
    "<meta property='article:published_time' content='0001-01-01T00:00:00+14:00'>",
    "<meta property='article:modified_time' content='31/12/9999 23:59 GMT-12'>",
    "<link rel='canonical' href='https://baoquangngai.example.vn:99999/a'>",           # ValueError: port
    "<link rel='canonical' href='http://[::1/a'>",                                      # ValueError: IPv6
    "<script type='application/ld+json'>" + "[" * 5000 + "]" * 5000 + "</script>",     # RecursionError
    '<script type="application/ld+json">{"@type": "NewsArticle", "commentCount": "' + "9" * 5000 + '"}</script>',
    "<meta name='author' content='" + "a@" * 4000 + "'>",                              # cubic: 100 s
    "<meta property='article:published_time' content='2023 " + "1/" * 50000 + "'>",    # dateparser: 7 s
])
def test_a_hostile_tag_leaves_the_article_whole(head: str) -> None:
    content = _extract(head).content
    assert "Trà Khúc" in content.text and content.title == "Mùa lúa mới"
    assert content.published is None
    assert len(content.author or "") <= 120


def test_a_year_alone_is_not_a_date() -> None:
    """htmldate turns a bare year in the text, or an invalid date, into 1 January of it."""
    assert _extract(body="".join(f"<p>Đoạn văn thứ {i} của bài.</p>" for i in range(3000))).content.published is None
    assert _extract("<meta property='article:published_time' content='32/13/2023'>").content.published is None


def test_the_helpers_answer_instead_of_raising() -> None:
    assert parse_date("9999-12-31T23:59:59-12:00") is None
    assert parse_date("Thứ ba, 28/03/2023 08:26" + " " * 10_000 + "x").isoformat() == "2023-03-28T08:26:00+07:00"  # type: ignore[union-attr]
    assert not same_site("https://a.vn:99999/x", URL) and not same_site("http://[zz]/a", URL)
    assert canonical_url(URL, "http://[::1/a") == URL
    assert parse_count("9" * 5000) is None and parse_count("1.234") == 1234


def test_a_megabyte_title_is_cut_on_a_word() -> None:
    title = _extract().content.title
    html_title = "Tin nóng " * 120_000
    got = extract_article(Article(fetched=Fetched(source_id="x", url=URL, html=(
        f"<html><head><title>{html_title}</title></head><body><article>{BODY}</article></body></html>"))),
        Selectors()).content.title
    assert title == "Mùa lúa mới" and len(got) <= 1001 and got.endswith("nóng…")
