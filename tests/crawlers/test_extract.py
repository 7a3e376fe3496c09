"""Extraction on the fixture article pages, read from disk; each page's expectation is in expected.json."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from crawlers.extract import content_hash, extract_article
from haidang.errors import ExtractError
from haidang.record import Article, Content, Fetched, article_id
from haidang.settings import Selectors

SITES = Path(__file__).resolve().parent.parent / "fixtures" / "sites"
BASE = "http://127.0.0.1:8765"
EXPECTED: dict[str, dict] = {
    k: v for k, v in json.loads((SITES / "expected.json").read_text(encoding="utf-8")).items()
    if not k.startswith("_")
}

# Per-site selectors, as config/sources.yaml will carry them.
SELECTORS: dict[str, Selectors] = {
    "vnexpress": Selectors(
        title="h1.title-detail", lead="p.description", body="article.fck_detail",
        byline="article.fck_detail p.Normal[style*='right'] strong, article.fck_detail p.author_mail strong",
        date="span.date",
        remove=["#box_comment_vne", ".box-tinlienquanv2", ".footer-content", "figure.tplCaption",
                "table.tplCaption"],
    ),
    "tuoitre": Selectors(
        title="h1.detail-title", lead="h2.detail-sapo", body="div.detail-content",
        byline="div.author-info a.name", date="div.detail-time [data-role=publishdate]",
        remove=["[type=RelatedOneNews]", "[type=RelatedNewsBox]", "figure", "#commentbox", ".box-relate"],
    ),
    "baoquangngai": Selectors(
        title="h1.post-title", lead="div.post-summary", body="div.post-content",
        byline="div.post-content p.post-author", date="span.post-date",
        remove=[".related-news", ".comment-box", ".post-tags", ".share"],
    ),
    "quangngai-gov": Selectors(
        title="h1.news-title", lead="div.news-summary", body="div.news-content",
        byline="div.news-content [style*='text-align: right'] strong", date="span[id$=lblNgayDang]",
        remove=["div.news-content [style*='text-align: right']", ".news-other", ".news-tools"],
    ),
    "foreign-en": Selectors(
        title="h1.entry-title", lead="p.entry-standfirst", body="div.entry-content",
        byline="span.byline a", date="span.posted-on", paywall=".paywalled-content",
        remove=["aside.inline-related", ".sharedaddy", "#comments", ".author-bio"],
    ),
}


def _page(path: str) -> str:
    return (SITES / path).read_text(encoding="utf-8").replace("{BASE}", BASE)


def _article(path: str, **fetched: object) -> Article:
    spec = EXPECTED.get(path, {})
    feed = spec.get("feed") or {}
    fields: dict[str, object] = {
        "feed_title": feed.get("title"),
        "feed_published": datetime.fromisoformat(feed["published"]) if feed.get("published") else None,
    }
    fields.update(fetched)
    return Article(fetched=Fetched(
        source_id=spec.get("source", path.split("/")[0]),
        url=f"{BASE}/{path}?utm_source=rss&utm_medium=feed",
        html=_page(path),
        **fields,  # type: ignore[arg-type]
    ))


def test_every_listed_page_has_an_expectation() -> None:
    listed = re.findall(r"^- (\S+\.html?)", (SITES / "LAYOUT.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(listed) == sorted(EXPECTED)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_fixture_page(path: str) -> None:
    spec = EXPECTED[path]
    article = extract_article(_article(path), SELECTORS[spec["source"]])
    c = article.content
    assert c.title == spec["title"]
    assert c.lead.startswith(spec["lead_startswith"]), c.lead
    assert c.text.startswith(c.lead + "\n"), "text is lead + body"
    assert c.author == spec["author"]
    assert c.language == spec["language"]
    assert c.published is not None and c.published.isoformat() == spec["published"]
    assert str(c.published.tzinfo) == "Asia/Ho_Chi_Minh"
    assert c.published_from == spec["published_from"]
    if "modified" in spec:
        assert c.modified is not None and c.modified.isoformat() == spec["modified"]
        assert c.modified_from == spec["modified_from"]
    assert c.partial is spec["partial"]
    body = c.text[len(c.lead):]
    for fragment in spec["must_contain"]:
        assert fragment in c.text, fragment
    for fragment in spec["must_not_contain"]:
        assert fragment not in body, fragment
    for pattern in spec.get("must_not_match", []):
        assert not re.search(pattern, c.title + "\n" + c.text), pattern
    assert article.fetched.canonical_url == BASE + spec["canonical_path"]
    assert article.id == article_id(BASE + spec["canonical_path"])
    assert c.content_hash == content_hash(c.title, c.text)
    assert len(c.text.split("\n")) >= 3


def test_page_dates_outrank_a_feed_date_that_disagrees() -> None:
    """Metadata, then the site's date selector, then the feed: the page is the publisher's
    canonical statement. (This test used to rank the feed above the selector.)"""
    path = "vnexpress/thoi-su/quang-ngai-don-tau-du-lich-quoc-te-den-ly-son-4870001.html"
    feed_date = datetime.fromisoformat("2026-03-10T00:00:00+00:00")
    article = extract_article(_article(path, feed_published=feed_date), SELECTORS["vnexpress"])
    assert article.content.published_from == "meta"
    path = "baoquangngai/kinh-te/202603/quang-ngai-thu-hut-dau-tu-quy-i-3201.htm"   # shows 07:30
    article = extract_article(_article(path, feed_published=feed_date), SELECTORS["baoquangngai"])
    assert article.content.published_from == "selector"
    assert article.content.published.isoformat() == "2026-03-10T07:30:00+07:00"


def test_feed_date_that_agrees_with_the_selector_is_kept_as_the_exact_one() -> None:
    """Within minutes of the page's displayed time the feed says the same thing, more exactly."""
    path = "baoquangngai/kinh-te/202603/quang-ngai-thu-hut-dau-tu-quy-i-3201.htm"   # shows 07:30
    feed_date = datetime.fromisoformat("2026-03-10T00:31:15+00:00")
    article = extract_article(_article(path, feed_published=feed_date), SELECTORS["baoquangngai"])
    assert article.content.published_from == "feed"
    assert article.content.published.isoformat() == "2026-03-10T07:31:15+07:00"


def test_header_clock_is_never_the_publication_date() -> None:
    """The VnExpress header widget shows the crawl day (13/3); the article is from 11/3."""
    path = "vnexpress/thoi-su/lua-dong-xuan-vung-dong-thap-muoi-4870003.html"
    article = extract_article(_article(path), SELECTORS["vnexpress"])
    assert article.content.published.date().isoformat() == "2026-03-11"


def test_tracking_variants_share_one_id() -> None:
    path = "tuoitre/bao-so-3-do-bo-khanh-hoa-20260311093000456.htm"
    a = extract_article(_article(path), SELECTORS["tuoitre"])
    b = extract_article(Article(fetched=Fetched(
        source_id="tuoitre", url=f"{BASE}/{path}?fbclid=abc&zarsrc=31#comments", html=_page(path))),
        SELECTORS["tuoitre"])
    assert a.id == b.id and a.content.content_hash == b.content.content_hash


def test_generic_selectors_still_give_content_and_no_comments() -> None:
    """A source without selectors gets trafilatura alone; comments stay out all the same."""
    path = "foreign-en/asia/vietnam-quang-ngai-steel-plant-expansion.html"
    article = extract_article(_article(path), Selectors())
    assert article.content.title.startswith("Vietnam’s Quang Ngai Bets on Steel")
    assert "Dung Quat Economic Zone" in article.content.text
    assert "Heavy industry on a coastline" not in article.content.text
    assert article.content.published_from == "meta"


def test_feed_only_item() -> None:
    article = Article(fetched=Fetched(
        source_id="youtube-qtv", url=f"{BASE}/youtube/watch?v=abc123&utm_source=rss",
        feed_title="Lý Sơn vào mùa tỏi", feed_summary="<p>Nông dân đặc khu Lý Sơn thu hoạch tỏi.</p><p>Giá tỏi năm nay tăng.</p>",
        feed_published=datetime.fromisoformat("2026-03-10T01:00:00+00:00"), feed_author="QNgTV",
    ))
    extract_article(article, Selectors())
    c = article.content
    assert c.engagement == {}
    assert c.title == "Lý Sơn vào mùa tỏi"
    assert c.text == "Nông dân đặc khu Lý Sơn thu hoạch tỏi.\nGiá tỏi năm nay tăng."
    assert c.published.isoformat() == "2026-03-10T08:00:00+07:00" and c.published_from == "feed"
    assert c.author == "QNgTV"
    assert article.fetched.canonical_url == f"{BASE}/youtube/watch?v=abc123"


def test_paywall_from_json_ld_alone_marks_partial() -> None:
    path = "foreign-en/asia/central-vietnam-floods-premium.html"
    article = extract_article(_article(path), SELECTORS["foreign-en"].model_copy(update={"paywall": None}))
    assert article.content.partial is True
    assert "In the low-lying wards of Hoi An" in article.content.text


def test_nothing_usable_raises() -> None:
    article = Article(fetched=Fetched(source_id="x", url=f"{BASE}/empty.html",
                                      html="<html><head></head><body><nav></nav></body></html>"))
    with pytest.raises(ExtractError, match="no title and no text"):
        extract_article(article, Selectors())


def test_text_is_normalised_and_first_seen_kept() -> None:
    seen = datetime.fromisoformat("2026-03-10T09:00:00+07:00")
    html = ('<?xml version="1.0" encoding="utf-8"?>\n<html lang="en"><head><title>Thuỷ lợi - Báo X</title></head>'
            "<body><article><h1>Mùa nước nổi ở thượng nguồn</h1>"
            + "".join(f"<p>Đoạn {i}: người dân khoẻ mạnh, hoà thuận, chuẩn bị thuỷ lợi cho vụ mùa mới.</p>"
                      for i in range(6))
            + "</article></body></html>")
    article = Article(fetched=Fetched(source_id="x", url=f"{BASE}/x.html", html=html),
                      content=Content(first_seen=seen))
    extract_article(article, Selectors(title="h1"))
    c = article.content
    assert c.first_seen == seen
    assert "khỏe mạnh, hòa thuận" in c.text and "thuỷ" not in c.text
    assert c.language == "vi"   # declared "en", but the text is plainly Vietnamese


def test_content_hash_ignores_spacing_and_tone_style() -> None:
    assert content_hash("Hoà  bình", "a\n b") == content_hash("Hòa bình", "a b")
    assert content_hash("Hòa bình", "a b") != content_hash("Hòa bình", "a c")


def test_engagement_counts_from_json_ld() -> None:
    """A public post's stated likes, comments and shares reach Content.engagement; junk counts do not."""
    ld = {"@context": "https://schema.org", "@type": "SocialMediaPosting", "headline": "Bão số 5 vào Quảng Ngãi",
          "datePublished": "2026-09-28T08:26:00+07:00", "commentCount": "87",
          "interactionStatistic": [
              {"@type": "InteractionCounter", "interactionType": "https://schema.org/LikeAction",
               "userInteractionCount": 1520},
              {"@type": "InteractionCounter", "interactionType": {"@type": "ShareAction"},
               "userInteractionCount": "3.400"},
              {"@type": "InteractionCounter", "interactionType": "https://schema.org/FollowAction",
               "userInteractionCount": 9},
          ]}
    page = (f"<html><head><script type='application/ld+json'>{json.dumps(ld)}</script></head>"
            "<body><article><h1>Bão số 5 vào Quảng Ngãi</h1><p>Người dân ven biển Quảng Ngãi đã được sơ tán "
            "trước khi bão đổ bộ, theo thông báo của tỉnh.</p></article></body></html>")
    article = Article(fetched=Fetched(source_id="x", url=f"{BASE}/post/1", html=page))
    extract_article(article, Selectors())
    assert article.content.engagement == {"likes": 1520, "shares": 3400, "comments": 87}
    assert Article.from_dict(json.loads(json.dumps(article.to_dict()))).content.engagement == article.content.engagement

    for junk in ("nhiều", -5, True, "1e9", float("inf")):
        ld["commentCount"] = junk
        ld["interactionStatistic"] = [{"interactionType": "LikeAction", "userInteractionCount": junk}]
        article = Article(fetched=Fetched(source_id="x", url=f"{BASE}/post/2",
                                          html=page.replace(page[page.index("{"):page.index("</script>")], json.dumps(ld))))
        extract_article(article, Selectors())
        assert article.content.engagement == {}, junk


def test_feed_comment_count_fills_in_when_the_page_states_none() -> None:
    page = ("<html><body><article><h1>Lý Sơn vào mùa tỏi</h1><p>Nông dân đặc khu Lý Sơn thu hoạch tỏi, "
            "giá tỏi năm nay tăng so với năm trước.</p></article></body></html>")
    article = Article(fetched=Fetched(source_id="x", url=f"{BASE}/blog/1", html=page, feed_comments=12))
    extract_article(article, Selectors())
    assert article.content.engagement == {"comments": 12}
    feed_only = Article(fetched=Fetched(source_id="x", url=f"{BASE}/blog/2", feed_title="Lý Sơn vào mùa tỏi",
                                        feed_summary="Nông dân đặc khu Lý Sơn thu hoạch tỏi.", feed_comments=3))
    extract_article(feed_only, Selectors())
    assert feed_only.content.engagement == {"comments": 3}
