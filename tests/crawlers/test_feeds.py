"""Feed bytes to entries: RSS, Atom, YouTube, bad feeds; each fixture file is one case."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
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


def test_entries_without_link_are_skipped_with_a_reason() -> None:
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            '<item><title>Không có đường dẫn</title><guid isPermaLink="false">abc-1</guid></item>'
            '<item><title>Có guid là URL</title><guid>https://example.vn/bai-1.html</guid></item>'
            '</channel></rss>').encode()
    feed = parse_feed(body, "application/rss+xml", f"{BASE}/x.rss")
    assert [(s.title, s.reason) for s in feed.skipped] == [("Không có đường dẫn", "no-link")]
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


# -- items that can never be fetched, and feed dates ------------------------------------------

NOW = datetime(2026, 3, 14, 0, 0, tzinfo=UTC)


def rss(*items: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            + "".join(items) + "</channel></rss>").encode()


def item(link: str | None = None, title: str = "Tin", date: str | None = None, guid: str | None = None) -> str:
    parts = [f"<title>{title}</title>"]
    parts += [f"<link>{link}</link>"] if link is not None else []
    parts += [f"<pubDate>{date}</pubDate>"] if date is not None else []
    parts += [f"<guid>{guid}</guid>"] if guid is not None else []
    return "<item>" + "".join(parts) + "</item>"


def test_items_whose_link_is_not_http_are_skipped_with_their_reason(caplog: pytest.LogCaptureFixture) -> None:
    body = rss(item("/a/1.html"), item("mailto:toasoan@example.vn"), item("/a/2.html"),
               item(" javascript:alert(1)"), item("tel:+842553822222"), item("/a/3.html"))
    with caplog.at_level(logging.WARNING, logger="crawlers.feeds"):
        feed = parse_feed(body, "application/rss+xml", f"{BASE}/f/follow-bad.rss")
    assert [e.link for e in feed.entries] == [f"{BASE}/a/1.html", f"{BASE}/a/2.html", f"{BASE}/a/3.html"]
    assert [(s.link, s.reason) for s in feed.skipped] == [
        ("mailto:toasoan@example.vn", "not-web-link"), ("javascript:alert(1)", "not-web-link"),
        ("tel:+842553822222", "not-web-link")]
    assert "3 items skipped" in caplog.text and "mailto:toasoan@example.vn" in caplog.text
    assert f"{BASE}/f/follow-bad.rss" in caplog.text


def test_atom_urn_ids_are_not_links() -> None:
    body = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
            '<entry><id>urn:2</id><title>Chỉ có id</title><updated>2026-03-10T08:00:00+07:00</updated></entry>'
            f'<entry><id>urn:3</id><title>Có link</title><link href="{BASE}/a/3.html"/></entry>'
            '</feed>').encode()
    feed = parse_feed(body, "application/atom+xml", f"{BASE}/f/a.atom")
    assert [e.link for e in feed.entries] == [f"{BASE}/a/3.html"]
    assert [(s.link, s.title, s.reason) for s in feed.skipped] == [("urn:2", "Chỉ có id", "not-web-link")]


def test_an_http_guid_stands_in_for_a_non_web_link() -> None:
    feed = parse_feed(rss(item("javascript:void(0)", guid="https://example.vn/bai-2.html")),
                      "application/rss+xml", f"{BASE}/x.rss")
    assert [e.link for e in feed.entries] == ["https://example.vn/bai-2.html"] and not feed.skipped


@pytest.mark.parametrize(("written", "utc"), [
    ("Thứ ba, 28/03/2023 08:26", "2023-03-28T01:26:00+00:00"),
    ("2023-03-28 08:26:00", "2023-03-28T01:26:00+00:00"),           # naive: local time, not UTC
    ("28-03-2023 08:26", "2023-03-28T01:26:00+00:00"),              # day first (feedparser: 2028-03-20)
    ("Tue, 28 Mar 2023 08:26:00", "2023-03-28T01:26:00+00:00"),     # RFC 822 without a zone
    ("Tue, 28 Mar 2023 08:26:00 ICT", "2023-03-28T01:26:00+00:00"),  # feedparser reads ICT as UTC
    ("Tue, 28 Mar 2023 08:26:00 +07", "2023-03-28T01:26:00+00:00"),
    ("Tue, 28 Mar 2023 08:26:00 GMT+7", "2023-03-28T01:26:00+00:00"),
    ("Tue, 28 Mar 2023 08:26:00 +0700", "2023-03-28T01:26:00+00:00"),  # explicit zone: feedparser's
    ("Tue, 28 Mar 2023 01:26:00 GMT", "2023-03-28T01:26:00+00:00"),
    ("2023-03-28T08:26:00+07:00", "2023-03-28T01:26:00+00:00"),
    ("2023-03-28T01:26:00Z", "2023-03-28T01:26:00+00:00"),
    ("28/03/2023", "2023-03-27T17:00:00+00:00"),
    ("hôm qua", None),
])
def test_feed_dates_are_read_as_vietnamese_sources_write_them(written: str, utc: str | None) -> None:
    feed = parse_feed(rss(item("/a/1.html", date=written)), "application/rss+xml", f"{BASE}/x.rss", now=NOW)
    published = feed.entries[0].published
    assert (published.isoformat() if published else None) == utc
    assert published is None or published.tzinfo is UTC


# Each names no real moment. feedparser moved the ISO ones (30 February to 2 March, 24:00 to the next
# day), email.utils read the one-digit year as 2001, dateparser read month 13 as a day.
IMPOSSIBLE_DATES = [
    "2026-02-30T10:00:00+07:00", "2026-02-30T10:00:00Z", "2026-01-01T24:00:00+07:00", "2026-13-01",
    "2026-02-30", "Mon, 30 Feb 2026 10:00:00 +0700", "Thu, 01 Jan 2026 24:00:00 GMT",
    "Mon, 01 Jan 1", "Mon, 01 Jan 1 00:00:00 GMT", "Mon, 01 Jan 1 00:00 GMT+7", "Mon, 01 Jan 201 00:00 GMT+7",
    "Thứ ba, 31/04/2023 08:26", "29/02/2025 08:00", "28/03/2023 24:00", "28/03/2023 25:10",
]


@pytest.mark.parametrize("written", IMPOSSIBLE_DATES)
def test_an_impossible_feed_date_leaves_the_item_undated_never_moved(written: str) -> None:
    feed = parse_feed(rss(item("/a/1.html", date=written), item("/a/2.html", date="28/02/2025 08:00")),
                      "application/rss+xml", f"{BASE}/x.rss", now=NOW)
    assert [e.link for e in feed.entries] == [f"{BASE}/a/1.html", f"{BASE}/a/2.html"]
    assert feed.entries[0].published is None
    assert feed.entries[1].published is not None and feed.entries[1].published.isoformat() == "2025-02-28T01:00:00+00:00"


def test_two_digit_rfc822_years_follow_rfc_5322() -> None:
    feed = parse_feed(rss(item("/a/1.html", date="Tue, 28 Mar 23 08:26:00 +0700")), "application/rss+xml",
                      f"{BASE}/x.rss", now=NOW)
    assert feed.entries[0].published is not None and feed.entries[0].published.isoformat() == "2023-03-28T01:26:00+00:00"


def test_naive_feed_dates_follow_the_given_zone() -> None:
    feed = parse_feed(rss(item("/a/1.html", date="2023-03-28 08:26:00")), "application/rss+xml",
                      f"{BASE}/x.rss", timezone="Asia/Tokyo", now=NOW)
    assert feed.entries[0].published.isoformat() == "2023-03-27T23:26:00+00:00"


def test_feed_dates_far_in_the_future_are_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    body = rss(item("/a/1.html", date="28 Mar 2099"), item("/a/2.html", date="Sat, 14 Mar 2026 20:00:00 +0700"),
               item("/a/3.html", date="16/03/2026 08:00"))
    with caplog.at_level(logging.WARNING, logger="crawlers.feeds"):
        feed = parse_feed(body, "application/rss+xml", f"{BASE}/x.rss", now=NOW)
    assert [e.link for e in feed.entries] == [f"{BASE}/a/1.html", f"{BASE}/a/2.html", f"{BASE}/a/3.html"]
    published = [e.published.isoformat() if e.published else None for e in feed.entries]
    assert published == [None, "2026-03-14T13:00:00+00:00", None]   # hours ahead (a zone) is fine
    assert "'28 Mar 2099' is in the future" in caplog.text and f"{BASE}/a/1.html" in caplog.text


def test_a_repeated_link_keeps_the_first_item_only() -> None:
    """Two items under one link would be stored under one id and replace each other every run."""
    body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            '<item><title>Bản mới</title><link>https://example.vn/bai-1.html</link></item>'
            '<item><title>Bản cũ</title><link>https://example.vn/bai-1.html</link></item>'
            '<item><title>Bài khác</title><link>https://example.vn/bai-2.html</link></item>'
            '</channel></rss>').encode()
    feed = parse_feed(body, "application/rss+xml", f"{BASE}/x.rss")
    assert [e.title for e in feed.entries] == ["Bản mới", "Bài khác"]
    assert [(s.title, s.reason) for s in feed.skipped] == [("Bản cũ", "duplicate-link")]


def full_item(n: int, description: str = "Quảng Ngãi mưa lớn.") -> str:
    return (f"<item><title>Tin {n}</title><link>{BASE}/a/{n}.html</link>"
            f"<description>{description}</description><pubDate>Tue, 10 Mar 2026 08:0{n}:00 +0700</pubDate></item>")


def test_a_feed_cut_short_keeps_only_its_complete_items() -> None:
    """A feed past the size cap arrives cut at a byte count. feedparser reads it loosely and kept
    the item the cut fell in with the fields that had arrived: a title and link, no description."""
    body = rss(*(full_item(n) for n in range(4)))
    last_start = body.index(b"<item><title>Tin 3")
    for cut in range(last_start - 40, len(body) - len(b"</channel></rss>")):
        feed = parse_feed(body[:cut], "application/rss+xml", f"{BASE}/x.rss", now=NOW, truncated=True)
        complete = body[:cut].count(b"</item>")
        assert [e.title for e in feed.entries] == [f"Tin {n}" for n in range(complete)], cut
        assert all(e.summary == "Quảng Ngãi mưa lớn." and e.published for e in feed.entries), cut
        assert feed.problem is None and feed.readable, cut


def test_an_item_end_inside_cdata_is_not_where_a_cut_feed_ends() -> None:
    body = rss(full_item(0), full_item(1, "<![CDATA[<p>Mẫu: </item> kết thúc</p>]]>"), full_item(2))
    cut = body.index(b"</description>", body.index(b"CDATA"))
    feed = parse_feed(body[:cut], "application/rss+xml", f"{BASE}/x.rss", now=NOW, truncated=True)
    assert [e.title for e in feed.entries] == ["Tin 0"]


def test_a_feed_cut_inside_its_first_item_is_readable_and_empty() -> None:
    body = rss(full_item(0, "Quảng Ngãi " * 50))
    feed = parse_feed(body[:200], "application/rss+xml", f"{BASE}/x.rss", now=NOW, truncated=True)
    assert feed.entries == [] and feed.version == "rss20" and feed.problem is None


def test_a_cut_feed_still_reports_its_own_faults() -> None:
    """Only the early end is the cut's doing: an undefined entity before it is the feed's."""
    body = rss(full_item(0).replace("Tin 0", "Tin 0 &nbsp;"), full_item(1))
    feed = parse_feed(body[:-10], "application/rss+xml", f"{BASE}/x.rss", now=NOW, truncated=True)
    assert [e.link for e in feed.entries] == [f"{BASE}/a/0.html", f"{BASE}/a/1.html"]
    assert feed.problem is not None and "undefined entity" in feed.problem


@pytest.mark.parametrize(("body", "kind"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "a JPEG image"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "a ZIP archive"),
    (bytes(range(256)) * 8, "binary data"),
])
def test_a_binary_file_is_named_not_parsed(body: bytes, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """It was "no RSS or Atom document found", after a warning that the PDF was UTF-8 gone wrong."""
    with caplog.at_level(logging.WARNING):
        feed = parse_feed(body, "application/rss+xml", f"{BASE}/x.rss")
    assert not feed.readable and feed.problem_class == "NotAFeed"
    assert feed.problem is not None and feed.problem.startswith(f"looks like {kind}") and feed.problem.endswith("not a feed")
    assert caplog.text == ""


def test_a_utf16_feed_is_not_taken_for_binary() -> None:
    body = rss(full_item(0)).decode().replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16-le")
    feed = parse_feed(body, "application/rss+xml", f"{BASE}/x.rss", now=NOW)
    assert [e.title for e in feed.entries] == ["Tin 0"]
