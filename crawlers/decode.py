"""Bytes to text for fetched pages and feeds, in one order: BOM, HTTP header, document
declaration, detection (a Western default header yields to a declaration of anything else); the
result says which one won and whether anything was replaced.

Vietnamese sites add two traps: windows-1258 (tone marks as combining characters, so its
output is NFC-normalised) and documents labelled one way but encoded another, including UTF-8
feeds with one item pasted in windows-1258 (`repair_feed_bytes`).
"""

from __future__ import annotations

import codecs
import logging
import unicodedata
from dataclasses import dataclass

import charset_normalizer
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

__all__ = ["SOURCES", "Decoded", "decode_document", "repair_feed_bytes"]

logger = logging.getLogger(__name__)

SOURCES = ("bom", "http-header", "declaration", "detected", "detected+replace", "utf-8+windows-1258")
"""`Decoded.source` values: which step chose the encoding. "detected+replace" is the only one
that lost information (undecodable bytes became U+FFFD)."""

_UTF8 = "utf-8"
_CP1258 = "cp1258"
# What misconfigured servers send by default (Apache's old AddDefaultCharset, servlet containers).
# Every byte decodes in them, so a wrong one never fails over: it garbles silently.
_WESTERN_DEFAULTS = frozenset({"iso8859-1", "cp1252", "ascii"})


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str          # Python codec name, e.g. "utf-8", "cp1258"
    source: str            # one of SOURCES


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label; None if Python has no such character encoding.

    Python's registry also holds transforms a page must not choose: `unicode_escape` would turn
    "\\u0041" written in the page into "A"; `rot13`, `base64`, `zlib`, `idna` and `punycode` are not
    charsets of a page at all.
    """
    if not label:
        return None
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or "escape" in info.name or info.name in ("idna", "punycode"):
        return None
    return info.name


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    # windows-1258 writes tone marks as combining characters; NFC puts them back on the letter.
    return unicodedata.normalize("NFC", text) if encoding == _CP1258 else text


def _is_utf8(encoding: str) -> bool:
    return encoding in (_UTF8, "utf-8-sig")


def _valid_non_ascii_utf8(body: bytes) -> bool:
    """Valid UTF-8 with multi-byte sequences is almost never an accident in a legacy charset."""
    if body.isascii():
        return False
    try:
        body.decode(_UTF8)
    except UnicodeDecodeError:
        return False
    return True


def _header_charset(content_type: str | None) -> str | None:
    return _codec(http_content_type_encoding(content_type)) if content_type else None


def _declared_charset(body: bytes) -> str | None:
    return _codec(html_body_declared_encoding(body))


def _labels(body: bytes, content_type: str | None) -> list[tuple[str, str]]:
    """(source, codec) for the header and the document's declaration, in the order to try them.

    The header comes first, unless it names a Western default charset and the document declares
    another one: a windows-1258 page served as "iso-8859-1" would otherwise decode without error
    into Latin-1 mojibake. Two Western labels disagreeing change nothing worth overriding.
    """
    header, declared = _header_charset(content_type), _declared_charset(body)
    labels = [("http-header", header), ("declaration", declared)]
    if header in _WESTERN_DEFAULTS and declared is not None and declared not in _WESTERN_DEFAULTS:
        logger.debug("header says %s but the document declares %s; the declaration wins", header, declared)
        labels.reverse()
    return [(source, encoding) for source, encoding in labels if encoding is not None]


def decode_document(body: bytes, content_type: str | None) -> Decoded:
    """Decode `body`, trying BOM, the Content-Type charset, the document's own declaration
    (XML prolog, <meta charset>, http-equiv), then detection. A header naming a Western default
    (iso-8859-1, windows-1252, us-ascii) yields to a declaration of anything else (`_labels`).

    A declared charset that does not decode strictly falls through to the next step. A declared
    non-UTF-8 charset also loses to UTF-8 when the bytes are valid UTF-8 with non-ASCII content:
    mislabelled UTF-8 ("iso-8859-1" in the header) is common, the converse practically never
    happens. Replacement characters are used only as the last resort ("detected+replace").
    """
    bom_encoding, bom = read_bom(body)
    if bom_encoding and bom:
        text = _strict(body[len(bom):], bom_encoding)
        if text is not None:
            return Decoded(text=text, encoding=_codec(bom_encoding) or bom_encoding, source="bom")

    for source, encoding in _labels(body, content_type):
        if not _is_utf8(encoding) and _valid_non_ascii_utf8(body):
            logger.debug("declared %s but the bytes are valid UTF-8; decoding as UTF-8", encoding)
            return Decoded(text=body.decode(_UTF8), encoding=_UTF8, source="detected")
        text = _strict(body, encoding)
        if text is not None:
            return Decoded(text=text, encoding=encoding, source=source)
        logger.debug("%s charset %s does not decode these bytes; trying the next step", source, encoding)

    if body.isascii() or _valid_non_ascii_utf8(body):
        return Decoded(text=body.decode(_UTF8), encoding=_UTF8, source="detected")
    best = charset_normalizer.from_bytes(body).best()
    if best is not None and best.encoding:
        encoding = _codec(best.encoding) or best.encoding
        text = _strict(body, encoding)
        if text is not None:
            return Decoded(text=text, encoding=encoding, source="detected")
    last = (_codec(best.encoding) if best is not None and best.encoding else None) or _UTF8
    return Decoded(text=body.decode(last, errors="replace"), encoding=last, source="detected+replace")


def _decode_utf8_runs(body: bytes) -> tuple[str, int]:
    """Decode valid UTF-8 runs as UTF-8 and each invalid byte as windows-1258; NFC the result.

    Returns the text and how many bytes needed windows-1258. A byte windows-1258 leaves
    undefined becomes U+FFFD (it is invalid in both encodings).
    """
    parts: list[str] = []
    repaired = 0
    pos = 0
    while pos < len(body):
        try:
            parts.append(body[pos:].decode(_UTF8))
            break
        except UnicodeDecodeError as exc:
            parts.append(body[pos:pos + exc.start].decode(_UTF8))
            bad = body[pos + exc.start:pos + exc.end]
            parts.append(bad.decode(_CP1258, errors="replace"))
            repaired += len(bad)
            pos += exc.end
    return unicodedata.normalize("NFC", "".join(parts)), repaired


def repair_feed_bytes(body: bytes, content_type: str | None, *, url: str | None = None) -> str:
    """Feed bytes to text, surviving a UTF-8 feed that carries one item in windows-1258.

    Given such bytes, feedparser (and any whole-document decoder or detector) picks one
    encoding and garbles every item. When the feed is UTF-8 by label (header, prolog, or XML's
    default of UTF-8 when nothing is declared) but is not valid UTF-8, each invalid byte is read
    as windows-1258, the charset Vietnamese text in a legacy encoding almost always uses, and the
    valid runs stay UTF-8. Otherwise this is `decode_document(...).text`. `url` only names
    the feed in the warning logged when a repair was needed.
    """
    bom_encoding, _ = read_bom(body)
    labels = _labels(body, content_type)
    label = bom_encoding or (labels[0][1] if labels else _UTF8)
    if _is_utf8(_codec(label) or label) and not body.isascii():
        try:
            body.decode(_UTF8)
        except UnicodeDecodeError:
            text, repaired = _decode_utf8_runs(body[3:] if body.startswith(codecs.BOM_UTF8) else body)
            logger.warning("feed %s is labelled UTF-8 but %d of its bytes are not UTF-8; "
                           "read them as windows-1258", url or "(unnamed)", repaired)
            return text
    return decode_document(body, content_type).text

