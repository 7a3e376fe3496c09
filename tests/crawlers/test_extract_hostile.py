"""Pages built to break extraction (found by fuzzing): each used to raise, and so lose the article,
or to take from seconds to minutes. Now each gives an article, with the bad part left out, or,
when there is no article to give (a PDF served as HTML, a page too large to read at bounded
cost), an ExtractError that says why."""

from __future__ import annotations

import gzip
import io
import random
import re
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.dates import parse_date
from crawlers.decode import decode_document
from crawlers.extract import extract_article
from crawlers.urls import canonical_url, same_site
from haidang.errors import ExtractError
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


# --- bytes that are not a web page --------------------------------------------------------------

FAULTS = Path(__file__).resolve().parents[1] / "fixtures" / "sites" / "faults"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = zlib.compress(bytes(random.Random(1).randrange(256) for _ in range(64 * (1 + 64 * 3))))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w:document><w:t>Báo cáo quý I tỉnh Quảng Ngãi</w:t></w:document>")
    return buffer.getvalue()


NOT_PAGES = {
    "a PDF": (FAULTS / "bao-cao-quy-i.pdf").read_bytes(),
    "a PNG image": _png(),
    "a JPEG image": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                    + random.Random(2).randbytes(3000) + b"\xff\xd9",
    "a GIF image": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
                   b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
    "a ZIP archive": _docx(),
    "gzip-compressed data": gzip.compress(f"<html><body>{BODY}</body></html>".encode()),   # Content-Encoding left out
    "binary data": random.Random(3).randbytes(8192),
}


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", None])
@pytest.mark.parametrize("kind", NOT_PAGES)
def test_a_file_served_as_a_web_page_is_refused_by_name(kind: str, content_type: str | None) -> None:
    """Decoded, they used to be stored as articles of mojibake; now the error says what they are."""
    decoded = decode_document(NOT_PAGES[kind], content_type)
    assert decoded.source == "binary" and decoded.text.encode("latin-1") == NOT_PAGES[kind]   # nothing lost
    article = Article(fetched=Fetched(source_id="x", url=URL, html=decoded.text))
    with pytest.raises(ExtractError, match=f"^x: {re.escape(URL)}: looks like {re.escape(kind)}"):
        extract_article(article, Selectors())


def test_a_refused_file_is_recorded_as_that_page_s_extract_failure(tmp_path: Path) -> None:
    """Through the pipeline, as a crawl hands it over: one failure at stage "extract", the run goes on."""
    from crawlers.events import FetchedDoc, SourceFinished
    from haidang.pipeline import Pipeline
    from haidang.settings import MatchSettings, Source, StoreSettings
    from haidang.store import open_store

    store = open_store(StoreSettings(backend="sqlite", data_dir=str(tmp_path / "data")))
    source = Source(id="bqn", name="bqn", country="VN", language="vi", kind="provincial_press",
                    feeds=["https://baoquangngai.example.vn/rss"])
    pdf = FetchedDoc(source_id="bqn", url=URL, final_url=URL, status=200, body=NOT_PAGES["a PDF"],
                     headers={"content-type": "text/html; charset=utf-8"}, fetched_at=datetime.now(UTC))
    try:
        pipeline = Pipeline(store, None, "51", [source], MatchSettings())  # type: ignore[arg-type]  # never matches
        tallies = pipeline.run([pdf, SourceFinished(source_id="bqn")])
        (failure,) = store.failures("bqn")
        assert (failure.url, failure.stage, failure.error_class) == (URL, "extract", "ExtractError")
        assert "looks like a PDF, not a web page" in failure.message
        assert tallies["bqn"].errors == 1 and store.count() == 0
    finally:
        store.close()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_pages_are_not_taken_for_binary(encoding: str) -> None:
    """UTF-16 is half NUL bytes, and Vietnamese letters add 0x01 bytes (ă, đ, ơ, ư)."""
    body = f"<html><head><title>Mùa lúa mới</title></head><body><article>{BODY}</article></body></html>"
    decoded = decode_document(body.encode(encoding), "text/html")
    content = extract_article(Article(fetched=Fetched(source_id="x", url=URL, html=decoded.text)), Selectors()).content
    assert content.title == "Mùa lúa mới" and "Trà Khúc" in content.text


def test_no_fixture_page_or_feed_looks_binary() -> None:
    sites = FAULTS.parent
    files = [p for p in sites.rglob("*") if p.suffix in (".html", ".htm", ".rss", ".xml", ".atom")]
    assert len(files) > 30
    for path in files:
        assert decode_document(path.read_bytes(), None).source != "binary", path


def test_a_utf16_page_cut_short_is_read_not_garbled() -> None:
    body = f"<html><head><title>Mùa lúa mới</title></head><body><article>{BODY}</article></body></html>"
    for raw in (body.encode("utf-16")[:-1], body.encode("utf-16-be")[:-1]):      # odd length: cut mid-character
        decoded = decode_document(raw, "text/html")
        content = extract_article(Article(fetched=Fetched(source_id="x", url=URL, html=decoded.text)),
                                  Selectors()).content
        assert content.title == "Mùa lúa mới" and "Trà Khúc" in content.text and "\x00" not in content.text


# --- pages too large or too deep ------------------------------------------------------------------

def test_a_page_with_too_many_tags_is_refused_before_it_is_parsed() -> None:
    """A 5 MB page of bare "<p>" is 1.25 million elements: 400 MB of tree before any extraction."""
    with pytest.raises(ExtractError, match=r"page too complex: more than 50,000 tags"):
        _extract(body=BODY + "<p>x" * 60_000)


@pytest.mark.timeout(10)   # a guard, not a measure: trafilatura took 15-30 s on this page; now 0.2 s
def test_a_page_too_large_for_trafilatura_is_read_by_its_block_elements() -> None:
    """Inline elements in one paragraph make trafilatura quadratic (100,000 took 146 s)."""
    content = _extract(body=BODY + "<p>" + "".join(f"<span>từ {i}</span> " for i in range(45_000)) + "</p>").content
    assert "Trà Khúc" in content.text and "từ 44999" in content.text and content.title == "Mùa lúa mới"


def test_a_widget_nested_deeper_than_255_does_not_swallow_the_article() -> None:
    """lxml's default parser stopped at 255 levels and dropped the rest of the page without a word."""
    content = _extract(body="<div>" * 300 + "</div>" * 300 + BODY).content
    assert "Trà Khúc" in content.text


def test_nesting_deeper_than_the_parser_reads_is_refused_not_stored_cut_short() -> None:
    with pytest.raises(ExtractError, match="nested too deep"):
        _extract(body="<div>" * 3000 + BODY + "</div>" * 3000)


def test_nested_blocks_give_their_text_once() -> None:
    """Each <div> around a <span> gave all the text inside it again: n levels, n copies."""
    nested = "".join(f"<div><span>Đoạn {i}. " for i in range(240)) + "</span></div>" * 240
    text = _extract(body=nested + BODY).content.text
    assert text.count("Đoạn 7.") == 1 and "Trà Khúc" in text
    summary = extract_article(Article(fetched=Fetched(source_id="x", url=URL, feed_title="Mùa lúa mới",
                                                      feed_summary=nested)), Selectors()).content.text
    assert summary.count("Đoạn 7.") == 1 and "Đoạn 239." in summary
