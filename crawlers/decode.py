"""Bytes to text for fetched pages and feeds, in one order: BOM, HTTP header, document
declaration, detection (a Western default header yields to a declaration of anything else); the
result says which one won and whether anything was replaced.

Bytes that are not text at all (a PDF or an image served as text/html) are recognised before any
charset is tried (`binary_kind`), so that extraction can refuse them by name instead of storing
their bytes as garbage "text". UTF-16 and UTF-32 without a BOM are recognised by where their NUL
bytes fall, before that, since their NULs would otherwise look binary.

Vietnamese sites add two traps: windows-1258 (tone marks as combining characters, so its
output is NFC-normalised) and documents labelled one way but encoded another, including UTF-8
feeds with one item pasted in windows-1258 (`repair_feed_bytes`).
"""

from __future__ import annotations

import codecs
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass

import charset_normalizer
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

__all__ = ["SNIFF_CHARS", "SOURCES", "Decoded", "binary_kind", "decode_document", "repair_feed_bytes",
           "sniff_binary"]

logger = logging.getLogger(__name__)

SOURCES = ("bom", "bom+replace", "http-header", "http-header+replace", "declaration", "declaration+replace",
           "detected", "detected+replace", "utf-8+windows-1258", "binary")
"""`Decoded.source` values: which step chose the encoding. Those ending in "+replace" lost
information (undecodable bytes became U+FFFD): the last resort of detection, and UTF-16 or UTF-32
cut short or broken mid-way. "binary" means the bytes are not text (`binary_kind`); they are then read
byte for byte as latin-1, so nothing is lost and extraction can name what they are."""

SNIFF_CHARS = 4096
"""How much of the start of a document `binary_kind` looks at: the signatures sit in the first
bytes, and 4 kB is enough for a stable share of control characters."""

_UTF8 = "utf-8"
_CP1258 = "cp1258"
_CP1258_RUNS = "haidang.cp1258-runs"     # codec error handler of _decode_utf8_runs
# What misconfigured servers send by default (Apache's old AddDefaultCharset, servlet containers).
# Every byte decodes in them, so a wrong one never fails over: it garbles silently.
_WESTERN_DEFAULTS = frozenset({"iso8859-1", "cp1252", "ascii"})
_BYTES = "iso8859-1"    # latin-1: one character per byte and every byte defined, so a lossless str
# File signatures of what servers most often send as text/html by mistake. Matched on the start of
# the document read as latin-1 (or decoded text), after leading whitespace that some scripts emit.
_SIGNATURES = tuple((re.compile(pattern, re.DOTALL), kind) for pattern, kind in (
    (r"%PDF-", "a PDF"),
    (r"\x89PNG\r\n\x1a\n", "a PNG image"),
    (r"GIF8[79]a", "a GIF image"),
    (r"\xff\xd8\xff", "a JPEG image"),
    (r"RIFF....WEBP", "a WebP image"),
    (r"....ftyp", "an MP4 video or HEIC image"),
    (r"PK\x03\x04|PK\x05\x06", "a ZIP archive (or a docx, xlsx or odt document, which are ZIP files)"),
    (r"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (doc, xls, ppt)"),
    (r"\x1f\x8b", "gzip-compressed data (the server may have left out Content-Encoding)"),
    (r"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (r"Rar!\x1a\x07|7z\xbc\xaf\x27\x1c", "a RAR or 7-Zip archive"),
    (r"\x7fELF|MZ\x90\x00", "a program"),
))
# C0 controls that text does not hold: not tab, LF, FF, CR, nor the ISO-2022 shifts (SO, SI, ESC).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x10-\x1a\x1c-\x1f]")
# Above this share of such controls the start of a document is binary. Compressed or random bytes
# hold about 9% (24 of 256 values), images and programs more, text none or a stray few.
_MAX_CONTROL_SHARE = 0.05


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


def binary_kind(head: str) -> str | None:
    """What `head` looks like when it is not text ("a PDF", "a JPEG image", "binary data"), else None.

    `head` is the start of a document (`SNIFF_CHARS`), decoded or read as latin-1: the signatures
    checked are ASCII or survive a latin-1 reading, and text decoded from bytes that were never
    text keeps their control characters. UTF-16 and UTF-32 read as bytes look binary here (full
    of NULs); `decode_document` recognises them first.
    """
    kind = _signature(head)
    if kind is None and len(_CONTROLS.findall(head)) > len(head) * _MAX_CONTROL_SHARE:
        kind = "binary data"
    return kind


def sniff_binary(body: bytes) -> str | None:
    """What `body` is when its bytes are not text at all (`binary_kind`), else None. UTF-16 and
    UTF-32 text, whose NULs would look binary, is known by where they fall; only a file signature
    can then say otherwise."""
    head = body[:SNIFF_CHARS].decode(_BYTES)
    return _binary_kind_of_bytes(head, _wide_encoding(head))


def _binary_kind_of_bytes(head: str, wide: str | None) -> str | None:
    # UTF-16 Vietnamese is full of NUL and 0x01 bytes (U+01xx letters): only a signature can tell.
    return binary_kind(head) if wide is None else _signature(head)


def _signature(head: str) -> str | None:
    start = head.lstrip(" \t\r\n")
    return next((kind for signature, kind in _SIGNATURES if signature.match(start)), None)


def _wide_encoding(head: str) -> str | None:
    """UTF-32 or UTF-16, and which byte order, when the NUL bytes of `head` (bytes read as
    latin-1) say so; None for anything else.

    Markup and Vietnamese letters are ASCII, Latin-1, U+01xx or U+1Exx: UTF-16 HTML has a NUL in
    most of its high bytes and almost none in its low bytes. UTF-32 has a NUL in every top byte
    (no code point needs it) and in most second bytes. Binary data has NULs in every position or
    in none.
    """
    units = len(head) // 4
    z0, z1, z2, z3 = (head[i::4].count("\0") for i in range(4))
    if z0 >= units * 0.9 and z1 >= units / 4 and z3 * 10 <= z0:
        return "utf-32-be"
    if z3 >= units * 0.9 and z2 >= units / 4 and z0 * 10 <= z3:
        return "utf-32-le"
    even, odd = z0 + z2, z1 + z3
    if even >= units / 2 and odd * 10 <= even:      # a quarter of the high bytes at least
        return "utf-16-be"
    if odd >= units / 2 and even * 10 <= odd:
        return "utf-16-le"
    return None


def _is_utf16(encoding: str) -> bool:
    return encoding.startswith("utf-16")


def _lenient(body: bytes, encoding: str, source: str) -> Decoded:
    """UTF-16/32 that does not decode strictly (cut short mid-character; a broken surrogate):
    no other charset reads it, so it is decoded here with U+FFFD for the broken units, and the
    source says so. Falling through would have decoded it as UTF-8 with a NUL between letters."""
    text = _strict(body, encoding)
    if text is not None:
        return Decoded(text=text, encoding=encoding, source=source)
    logger.debug("%s %s is cut short or broken; undecodable units become U+FFFD", source, encoding)
    return Decoded(text=body.decode(encoding, errors="replace"), encoding=encoding, source=source + "+replace")


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
    happens. Replacement characters are used only as the last resort ("detected+replace"), and
    for UTF-16 or UTF-32 cut short or broken ("…+replace"), which nothing else could read.

    Before any label: bytes that are not text come back as they are, read as latin-1, with the
    source "binary" (the caller refuses them with `binary_kind`); UTF-16 and UTF-32 without a BOM
    are known by their NULs, and a UTF-16 label on bytes without them is ignored (it would read
    ASCII as CJK).
    """
    bom_encoding, bom = read_bom(body)
    if bom_encoding and bom:
        encoding = _codec(bom_encoding) or bom_encoding
        if encoding.startswith(("utf-16", "utf-32")):
            return _lenient(body[len(bom):], encoding, "bom")
        text = _strict(body[len(bom):], encoding)
        if text is not None:
            return Decoded(text=text, encoding=encoding, source="bom")

    head = body[:SNIFF_CHARS].decode(_BYTES)
    wide = _wide_encoding(head)
    kind = _binary_kind_of_bytes(head, wide)
    if kind is not None:
        logger.debug("the body looks like %s, not text; read byte for byte", kind)
        return Decoded(text=body.decode(_BYTES), encoding=_BYTES, source="binary")
    labels = _labels(body, content_type)
    if wide is not None:
        # The label's source when a label named it (in either byte order): the NULs gave the order.
        source = next((source for source, encoding in labels if encoding.startswith(wide[:6])), "detected")
        return _lenient(body, wide, source)

    for source, encoding in labels:
        if _is_utf16(encoding):
            logger.debug("%s says %s but the bytes are not UTF-16; ignored", source, encoding)
            continue
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
    undefined becomes U+FFFD (it is invalid in both encodings). One pass through the codec with
    an error handler: re-decoding the rest after each bad byte made 5 MB of them take 11 minutes.
    """
    _runs.repaired = 0
    text = body.decode(_UTF8, errors=_CP1258_RUNS)
    return unicodedata.normalize("NFC", text), _runs.repaired


_runs = threading.local()       # the bytes repaired by the decode running in this thread


def _as_cp1258(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: the bytes UTF-8 refused, read as windows-1258."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = bytes(exc.object[exc.start:exc.end])
    _runs.repaired = getattr(_runs, "repaired", 0) + len(bad)
    return bad.decode(_CP1258, errors="replace"), exc.end


codecs.register_error(_CP1258_RUNS, _as_cp1258)


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
    # UTF-16/32 without a BOM is not UTF-8 gone wrong: decode_document reads it by its NUL bytes.
    if _is_utf8(_codec(label) or label) and not body.isascii() \
            and _wide_encoding(body[:SNIFF_CHARS].decode(_BYTES)) is None:
        try:
            body.decode(_UTF8)
        except UnicodeDecodeError:
            text, repaired = _decode_utf8_runs(body[3:] if body.startswith(codecs.BOM_UTF8) else body)
            logger.warning("feed %s is labelled UTF-8 but %d of its bytes are not UTF-8; "
                           "read them as windows-1258", url or "(unnamed)", repaired)
            return text
    return decode_document(body, content_type).text

