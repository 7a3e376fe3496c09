"""Feed bytes to entries: RSS, Atom, YouTube, bad feeds; each fixture file is one case."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.feeds import parse_feed

SITES = Path(__file__).resolve().parents[1] / "fixtures" / "sites"
BASE = "http://127.0.0.1:8000"


def load(path: str) -> bytes:
    return (SITES / path).read_bytes().replace(b"{BASE}", BASE.encode())


def test_rss_entries() -> None:
    feed = parse_feed(load("vnexpress/rss/tin-moi-nhat.rss"), "application/rss+xml",
                      f"{BASE}/vnexpress/rss/tin-moi-nhat.rss")
    assert feed.readable and feed.problem is None and feed.version == "rss20"
    first = feed.entries[0]
    assert first.link == f"{BASE}/vnexpress/thoi-su/lua-dong-xuan-vung-dong-thap-muoi-4870003.html"
    assert first.guid == first.link
    assert first.title == "Lúa đông xuân vùng Đồng Tháp Mười được mùa, mất giá"
    assert first.summary.startswith("Nông dân vùng Đồng Tháp Mười") and "<" not in first.summary
    assert first.published is not None and first.published.isoformat() == "2026-03-13T09:20:00+00:00"


def test_rss_dc_creator_is_the_author() -> None:
    feed = parse_feed(load("baoquangngai/rss/home.rss"), "application/rss+xml", f"{BASE}/baoquangngai/rss/home.rss")
    assert [e.author for e in feed.entries] == ["Thanh Nhị", "Y Hoa"]


def test_gmt_plus_seven_dates() -> None:
    feed = parse_feed(load("tuoitre/rss/tin-moi-nhat.rss"), None, f"{BASE}/tuoitre/rss/tin-moi-nhat.rss")
    assert [e.published.isoformat() for e in feed.entries if e.published] == [
        "2026-03-11T02:30:00+00:00", "2026-03-10T01:15:00+00:00"]


def test_atom_entries() -> None:
    feed = parse_feed(load("foreign-en/feeds/asia.atom"), "application/atom+xml", f"{BASE}/foreign-en/feeds/asia.atom")
    assert feed.version == "atom10"
    steel = feed.entries[1]
    assert steel.title == "Vietnam’s Quang Ngai Bets on Steel as Dung Quat Expansion Gets the Nod"
    assert steel.link == f"{BASE}/foreign-en/asia/vietnam-quang-ngai-steel-plant-expansion.html"
    assert steel.author == "Hanna Lee"
    assert steel.guid == "tag:asiareview.example,2026-03-09:/asia/vietnam-quang-ngai-steel"


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = load("foreign-en/feeds/asia.atom").replace(f"{BASE}/foreign-en/asia/".encode(), b"../asia/")
    feed = parse_feed(body, "application/atom+xml", f"{BASE}/foreign-en/feeds/asia.atom")
    assert feed.entries[0].link == f"{BASE}/foreign-en/asia/central-vietnam-floods-premium.html"


def test_youtube_description_is_the_summary() -> None:
    feed = parse_feed(load("youtube/feeds/videos.xml"), "application/atom+xml",
                      "https://www.youtube.com/feeds/videos.xml?channel_id=x")
    video = feed.entries[0]
    assert video.link == "https://www.youtube.com/watch?v=qNgLySon001"
    assert video.summary.startswith("Sáng 10/3, đặc khu Lý Sơn đón hơn 600 du khách châu Âu")
    assert "#LySon" in video.summary
    assert video.guid == "yt:video:qNgLySon001"


@pytest.mark.parametrize(("path", "content_type"), [
    ("faults/not-a-feed.rss", "application/rss+xml"),
    ("faults/html-as-feed.rss", "text/html; charset=utf-8"),
    ("faults/broken-sitemap.xml", "application/xml"),
])
def test_documents_that_are_not_feeds_are_unreadable(path: str, content_type: str) -> None:
    feed = parse_feed(load(path), content_type, f"{BASE}/{path}")
    assert not feed.readable and not feed.entries
    assert feed.problem and feed.problem_class


def test_empty_but_valid_feed_is_readable() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Tin</title></channel></rss>'
    feed = parse_feed(body, "application/rss+xml", f"{BASE}/empty.rss")
    assert feed.readable and not feed.entries and feed.problem is None


def test_ill_formed_feed_keeps_entries_and_names_the_problem() -> None:
    feed = parse_feed(load("faults/broken-but-readable.rss"), "application/rss+xml", f"{BASE}/x.rss")
    assert feed.readable and len(feed.entries) == 2
    assert feed.problem_class == "SAXParseException" and "not well-formed" in (feed.problem or "")


def test_entries_without_link_are_counted() -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            '<item><title>Không có đường dẫn</title><guid isPermaLink="false">abc-1</guid></item>'
            '<item><title>Có guid là URL</title><guid>https://example.vn/bai-1.html</guid></item>'
            '</channel></rss>').encode()
    feed = parse_feed(body, "application/rss+xml", f"{BASE}/x.rss")
    assert feed.entries_without_link == 1
    assert [e.link for e in feed.entries] == ["https://example.vn/bai-1.html"]


@pytest.mark.parametrize(("path", "content_type", "title"), [
    ("faults/feed-windows-1258.rss", "application/rss+xml; charset=windows-1258",
     "Lý Sơn tăng chuyến tàu khách dịp cuối tuần"),
    ("faults/feed-windows-1258.rss", None, "Lý Sơn tăng chuyến tàu khách dịp cuối tuần"),
    ("faults/feed-wrong-charset.rss", "application/rss+xml; charset=iso-8859-1", "Khánh thành cầu Trà Khúc 3"),
    ("faults/feed-mixed-encoding.rss", "application/rss+xml; charset=utf-8",
     "Quảng Ngãi khai trương tuyến xe buýt đến cảng Sa Kỳ"),
])
def test_encodings_reach_feedparser_intact(path: str, content_type: str | None, title: str) -> None:
    feed = parse_feed(load(path), content_type, f"{BASE}/{path}")
    assert feed.problem is None, feed.problem
    assert feed.entries[0].title == title


def test_mixed_feed_items_are_not_garbled_by_each_other() -> None:
    feed = parse_feed(load("faults/feed-mixed-encoding.rss"), "application/rss+xml; charset=utf-8", f"{BASE}/m.rss")
    assert [e.title for e in feed.entries] == [
        "Quảng Ngãi khai trương tuyến xe buýt đến cảng Sa Kỳ",
        "Hội thảo bảo tồn di sản Hải đội Hoàng Sa",
        "Nông dân Bình Sơn xuống giống lúa hè thu sớm",
    ]
    assert feed.entries[1].summary.startswith("Các nhà nghiên cứu đề xuất số hóa tư liệu")


def test_slash_comments_is_the_stated_comment_count() -> None:
    rss = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
           'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel><title>Blog</title>'
           '<item><title>Một</title><link>https://blog.example.vn/1</link><slash:comments>1.204</slash:comments></item>'
           '<item><title>Hai</title><link>https://blog.example.vn/2</link><slash:comments>nhiều</slash:comments></item>'
           '<item><title>Ba</title><link>https://blog.example.vn/3</link></item>'
           '</channel></rss>').encode()
    feed = parse_feed(rss, "application/rss+xml", "https://blog.example.vn/feed")
    assert [e.comments for e in feed.entries] == [1204, None, None]
