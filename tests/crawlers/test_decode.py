"""Decoding in one order (BOM, header, declaration, detection), windows-1258, mislabelled UTF-8,
and UTF-8 feeds carrying one windows-1258 item."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import pytest
from crawl_testkit import windows_1258

from crawlers.decode import binary_kind, decode_document, repair_feed_bytes
from haidang.textnorm import normalize

FAULTS = Path(__file__).resolve().parents[1] / "fixtures" / "sites" / "faults"
TEXT = "Quảng Ngãi đón tàu du lịch quốc tế đến Lý Sơn"


def html(charset: str | None, text: str = TEXT) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"<html><head>{meta}<title>{text}</title></head><body><p>{text}</p></body></html>"


def test_http_header_wins_when_it_decodes() -> None:
    body = html("windows-1252").encode("utf-8")   # declaration wrong, header right
    decoded = decode_document(body, "text/html; charset=UTF-8")
    assert (decoded.encoding, decoded.source) == ("utf-8", "http-header")
    assert TEXT in decoded.text


def test_declaration_used_when_header_has_no_charset() -> None:
    body = html("utf-8").encode("utf-8")
    decoded = decode_document(body, "text/html")
    assert (decoded.encoding, decoded.source) == ("utf-8", "declaration")


def test_xml_prolog_is_a_declaration() -> None:
    raw = (FAULTS / "feed-windows-1258.rss").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="windows-1258"?>')
    decoded = decode_document(raw, None)
    assert (decoded.encoding, decoded.source) == ("cp1258", "declaration")
    assert "Lý Sơn tăng chuyến tàu khách dịp cuối tuần" in decoded.text


def test_windows_1258_output_is_nfc() -> None:
    raw = (FAULTS / "feed-windows-1258.rss").read_bytes()
    assert b"\xec" in raw or b"\xcc" in raw              # combining tone marks in the bytes
    decoded = decode_document(raw, "application/rss+xml; charset=windows-1258")
    assert decoded.source == "http-header"
    assert unicodedata.is_normalized("NFC", decoded.text)
    assert "Đường ven biển Dung Quất - Sa Huỳnh thông xe đoạn cuối" in decoded.text


@pytest.mark.parametrize("label", ["iso-8859-1", "us-ascii", "windows-1252", "windows-1258"])
def test_mislabelled_utf8_is_read_as_utf8(label: str) -> None:
    body = html(label).encode("utf-8")
    decoded = decode_document(body, f"text/html; charset={label}")
    assert (decoded.encoding, decoded.source) == ("utf-8", "detected")
    assert TEXT in decoded.text


def test_mislabelled_fixture_page() -> None:
    decoded = decode_document((FAULTS / "wrong-charset.html").read_bytes(), "text/html; charset=iso-8859-1")
    assert "Đồng bào vùng cao đón Tết sớm" in decoded.text


def test_declared_charset_that_fails_falls_through_to_detection() -> None:
    body = html(None).encode("utf-16-le")      # no BOM, header says UTF-8: cannot be right
    decoded = decode_document(body, "text/html; charset=utf-8")
    assert decoded.source.startswith("detected")
    assert decoded.source != "http-header"


def test_unknown_charset_label_is_ignored() -> None:
    decoded = decode_document(html("x-no-such-charset").encode("utf-8"), "text/html; charset=klingon")
    assert (decoded.encoding, decoded.source) == ("utf-8", "detected")


def test_bom_beats_everything() -> None:
    body = b"\xef\xbb\xbf" + html("windows-1252").encode("utf-8")
    decoded = decode_document(body, "text/html; charset=iso-8859-1")
    assert (decoded.encoding, decoded.source) == ("utf-8", "bom")
    assert not decoded.text.startswith("\ufeff")


def test_undecodable_bytes_are_replaced_only_as_last_resort_and_said_so() -> None:
    body = bytes(range(0x20, 256)) * 4          # no control bytes: with them it is binary (below)
    decoded = decode_document(body, None)
    assert decoded.source in ("detected", "detected+replace")
    if decoded.source == "detected":     # detection found a charset that takes every byte
        assert len(decoded.text) >= 256
    else:
        assert "\ufffd" in decoded.text


def test_bytes_that_are_not_text_are_kept_byte_for_byte_and_said_so() -> None:
    body = bytes(range(256)) * 4
    decoded = decode_document(body, "text/html; charset=utf-8")
    assert (decoded.encoding, decoded.source) == ("iso8859-1", "binary")
    assert decoded.text.encode("latin-1") == body and binary_kind(decoded.text) == "binary data"


@pytest.mark.parametrize(("encoding", "bom"), [
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""), ("utf-16-be", b"")])
@pytest.mark.parametrize("content_type", [None, "text/html; charset=utf-16"])
def test_utf16_cut_short_is_read_with_one_replacement(encoding: str, bom: bytes, content_type: str | None) -> None:
    """An odd length (a download cut mid-character) made UTF-16 fail strictly and fall through to
    UTF-8 with replacement: a NUL between every two letters, stored as the article."""
    body = bom + html(None).encode(encoding)
    decoded = decode_document(body[:-1], content_type)
    assert (decoded.encoding, decoded.source.endswith("+replace")) == (encoding, True)
    assert TEXT in decoded.text and decoded.text.count("\ufffd") == 1 and "\x00" not in decoded.text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_text_without_a_bom_is_known_by_where_its_nuls_fall(encoding: str) -> None:
    """Not taken for binary. An ASCII page (English, or Vietnamese in entities) in UTF-16 is all
    bytes below 0x80, so it passed for ASCII and was read as UTF-8 with a NUL between letters."""
    for text in (TEXT, "Quang Ngai welcomes its first international cruise ship"):
        decoded = decode_document(html(None, text).encode(encoding), None)
        assert (decoded.encoding, decoded.source) == (encoding, "detected") and text in decoded.text


def test_big_endian_utf16_under_a_plain_utf16_label_is_read_in_its_own_byte_order() -> None:
    """Python's "utf-16" without a BOM means little-endian: big-endian bytes came out as CJK."""
    decoded = decode_document(html(None).encode("utf-16-be"), "text/html; charset=utf-16")
    assert (decoded.encoding, decoded.source) == ("utf-16-be", "http-header") and TEXT in decoded.text


def test_a_utf16_label_on_bytes_that_are_not_utf16_is_ignored() -> None:
    """An ASCII page (English, or Vietnamese in entities) under a UTF-16 label came out as CJK."""
    english = "Quang Ngai welcomes its first international cruise ship"
    body = html(None, english).encode("ascii") + b"\n"
    assert len(body) % 2 == 0 and english not in body.decode("utf-16")     # what the label alone gives
    decoded = decode_document(body, "text/html; charset=utf-16")
    assert (decoded.encoding, decoded.source) == ("utf-8", "detected") and english in decoded.text


def test_plain_ascii_needs_no_detection() -> None:
    decoded = decode_document(b"<html><body>Hello</body></html>", None)
    assert (decoded.encoding, decoded.source) == ("utf-8", "detected")


def test_mixed_feed_keeps_every_item_readable() -> None:
    raw = (FAULTS / "feed-mixed-encoding.rss").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = repair_feed_bytes(raw, "application/rss+xml; charset=utf-8")
    assert unicodedata.is_normalized("NFC", text)
    for title in ("Quảng Ngãi khai trương tuyến xe buýt đến cảng Sa Kỳ",
                  "Hội thảo bảo tồn di sản Hải đội Hoàng Sa",
                  "Nông dân Bình Sơn xuống giống lúa hè thu sớm"):
        assert title in text
    assert "\ufffd" not in text


def test_mixed_feed_without_any_label_is_repaired_too() -> None:
    """XML without a declaration is UTF-8 by definition."""
    raw = (FAULTS / "feed-mixed-encoding.rss").read_bytes().replace(b' encoding="utf-8"', b"")
    assert "Hội thảo bảo tồn di sản Hải đội Hoàng Sa" in repair_feed_bytes(raw, "application/xml")


def test_a_utf16_feed_without_a_bom_is_not_repaired_as_utf8() -> None:
    """Undeclared XML is UTF-8 by default, but these bytes are UTF-16 by their NULs."""
    text = (FAULTS / "feed-ok.rss").read_bytes().decode("utf-8")
    for codec in ("utf-16-le", "utf-16-be"):
        assert repair_feed_bytes(text.replace('encoding="utf-8"', "").encode(codec), "application/rss+xml") \
            == text.replace('encoding="utf-8"', "")


def test_a_feed_of_many_bad_bytes_is_repaired_byte_by_byte() -> None:
    """Every refused byte is read as windows-1258, however many (the count goes into the warning)."""
    raw = b"<rss>" + "Quảng Ngãi ".encode() * 3 + bytes([0xe0]) * 50_000 + b"</rss>"
    text = repair_feed_bytes(raw, "application/rss+xml; charset=utf-8")
    assert text.startswith("<rss>Quảng Ngãi Quảng Ngãi Quảng Ngãi " + "à" * 100) and text.endswith("à</rss>")
    assert text.count("à") == 50_000


def test_repair_leaves_well_encoded_feeds_alone() -> None:
    raw = (FAULTS / "feed-windows-1258.rss").read_bytes()
    text = repair_feed_bytes(raw, "application/rss+xml; charset=windows-1258")
    assert text == decode_document(raw, "application/rss+xml; charset=windows-1258").text
    utf8 = (FAULTS / "feed-ok.rss").read_bytes()
    assert repair_feed_bytes(utf8, None) == utf8.decode("utf-8")






@pytest.mark.parametrize("label", ["iso-8859-1", "latin-1", "windows-1252", "us-ascii"])
@pytest.mark.parametrize("declaration", [
    '<meta charset="windows-1258">', '<meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'])
def test_document_declaration_beats_a_western_default_header(label: str, declaration: str) -> None:
    body = windows_1258(html(None)).replace(b"<head>", b"<head>" + declaration.encode())
    assert "\u0309".encode("cp1258") in body          # the tone marks really are combining
    decoded = decode_document(body, f"text/html; charset={label}")
    assert (decoded.encoding, decoded.source) == ("cp1258", "declaration")
    assert f"<title>{TEXT}</title>" in decoded.text
    assert unicodedata.is_normalized("NFC", decoded.text)
    assert normalize(decoded.text) == decoded.text    # the project's one tone-mark placement too


def test_xml_prolog_beats_a_western_default_header() -> None:
    raw = (FAULTS / "feed-windows-1258.rss").read_bytes()
    decoded = decode_document(raw, "application/rss+xml; charset=iso-8859-1")
    assert (decoded.encoding, decoded.source) == ("cp1258", "declaration")
    assert "Lý Sơn tăng chuyến tàu khách dịp cuối tuần" in decoded.text


def test_a_non_western_header_still_beats_the_declaration() -> None:
    body = windows_1258(html("utf-8"))                 # declaration wrong, header right
    decoded = decode_document(body, "text/html; charset=windows-1258")
    assert (decoded.encoding, decoded.source) == ("cp1258", "http-header")
    assert TEXT in decoded.text


def test_western_header_and_western_declaration_keep_the_header() -> None:
    body = html("windows-1252", "Café Lý Son").encode("cp1252")
    decoded = decode_document(body, "text/html; charset=iso-8859-1")
    assert decoded.source == "http-header" and "Café" in decoded.text


def test_a_declaration_that_does_not_decode_falls_back_to_the_header() -> None:
    body = html("utf-8", "Café").encode("cp1252")     # not UTF-8 at all
    decoded = decode_document(body, "text/html; charset=iso-8859-1")
    assert decoded.source == "http-header" and "Café" in decoded.text


@pytest.mark.parametrize("label", ["unicode_escape", "raw_unicode_escape", "rot13", "base64", "zlib", "punycode"])
def test_a_declared_charset_must_be_a_character_encoding(label: str) -> None:
    """Python's codec registry also holds transforms: a page declaring `unicode_escape` had its
    "\\u0041" decoded to "A"; such a label is ignored like an unknown one."""
    body = f'<meta charset="{label}"><p>\\u0041 Quảng Ngãi</p>'.encode()
    decoded = decode_document(body, f"text/html; charset={label}")
    assert decoded.encoding == "utf-8" and "\\u0041 Quảng Ngãi" in decoded.text
