"""Vietnamese text normalisation: NFC, one tone-mark placement, diacritic and đ folding.

Every stage normalises text once, here, so that matching, storage and search agree.
`fold` keeps the string length, so offsets found in folded text are offsets in the
normalised text too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["BIDI_CONTROLS", "INVISIBLE_CHARS", "char_class", "fold", "fold_char", "normalize"]

_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below


def _build_tone_fix() -> tuple[re.Pattern[str], dict[str, str]]:
    """Old-style open syllables ("hoà", "thuỷ", "khoẻ") to the new style ("hòa", "thủy", "khỏe").

    Only the pairs oa, oe and uy at the end of a syllable differ between the two styles; "qu" +
    "y" is a consonant plus a vowel and keeps its mark on "y".
    """
    table: dict[str, str] = {}
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        for tone in _TONES:
            for f, s in ((first, second), (first.upper(), second), (first.upper(), second.upper())):
                old = f + unicodedata.normalize("NFC", s + tone)
                new = unicodedata.normalize("NFC", f + tone) + s
                table[old] = new
    # The pair must end the syllable ("hoàn" is the same in both styles) and must not follow "q".
    # One character class per position instead of an alternation of every pair: the same matches
    # (pairs outside the table are left as they are by `normalize`), several times faster.
    firsts = "".join(sorted({k[0] for k in table}))
    seconds = "".join(sorted({k[1] for k in table}))
    return re.compile(rf"(?<![qQ])([{firsts}][{seconds}])(?!\w)"), table


_TONE_RE, _TONE_TABLE = _build_tone_fix()

# Format characters that show nothing: soft hyphen, Mongolian vowel separator, zero-width space and
# (non-)joiners, word joiner and the invisible maths operators, the deprecated shaping controls, BOM,
# and the tag characters (an invisible copy of ASCII). In the middle of a word they hide it from
# matching and search, and from a reader they can only hide something: "Quảng\u200bNgãi" shows as
# "QuảngNgãi". Stored text drops them (`normalize`); alerts.render drops them from what emails show.
INVISIBLE_CHARS = "".join(map(chr, (0x00AD, 0x180E, *range(0x200B, 0x200E), *range(0x2060, 0x2065),
                                    *range(0x206A, 0x2070), 0xFEFF, 0xE0001, *range(0xE0020, 0xE0080))))
# Bidirectional controls (marks, embeddings, overrides, isolates): invisible, but they reorder the
# text around them, so a sentence or an address can read otherwise than it is ("Trojan Source",
# CVE-2021-42574). Stored text keeps them (right-to-left text may need them to display in order);
# what is shown to readers drops them (alerts.render.clean_text).
BIDI_CONTROLS = "".join(map(chr, (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))))

# What `normalize` changes: invisible characters and C0 controls other than tab and line breaks
# (dropped); spaces of other widths, no-break ones included (made plain spaces); lone UTF-16
# surrogates, which a JSON escape can carry but no encoder writes (made U+FFFD).
_ODD_CHARS = {**{ord(c): None for c in INVISIBLE_CHARS},
              **{c: None for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]},
              **{ord(c): " " for c in "\u00a0\u1680\u202f\u205f\u3000"}, **{c: " " for c in range(0x2000, 0x200B)},
              **{c: "\ufffd" for c in range(0xD800, 0xE000)}}


def char_class(chars: Iterable[str]) -> str:
    """A regex character class matching any of `chars`, runs of consecutive code points written as
    ranges: listed one by one, the 97 tag characters (outside the BMP) made searching a page's text
    for the class some 25 times slower."""
    codes = sorted(set(map(ord, chars)))
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "[" + "".join(re.escape(chr(first)) + (f"-{re.escape(chr(last))}" if last > first else "")
                         for first, last in runs) + "]"


_ODD_RE = re.compile(char_class(map(chr, _ODD_CHARS)))
_SPACES_RE = re.compile(r"\t| {2,}")


def normalize(text: str) -> str:
    """Return `text` in NFC with new-style tone marks, invisible characters dropped and runs of
    spaces made one (line breaks kept); the form every stage stores and matches."""
    if _ODD_RE.search(text):
        text = text.translate(_ODD_CHARS)
    if "  " in text or "\t" in text:
        text = _SPACES_RE.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    if not text.isascii():
        text = _TONE_RE.sub(lambda m: _TONE_TABLE.get(m.group(1), m.group(1)), text)
    return text


@lru_cache(maxsize=4096)
def fold_char(ch: str) -> str:
    """One character, lower-cased and without diacritics; đ becomes d. Always one character."""
    if ch in "đĐ":
        return "d"
    if "\uac00" <= ch <= "\ud7a3":
        return ch                 # Hangul syllables: NFD would keep only the first jamo
    low = ch.lower()
    if len(low) != 1:
        low = ch
    base = unicodedata.normalize("NFD", low)[0]
    return base


def fold(text: str) -> str:
    """Lower-case, strip diacritics and fold đ to d, keeping the length of `text`.

    Use on normalised text: offsets in the result are offsets in the input.
    """
    if text.isascii():
        return text.lower()
    return "".join(map(fold_char, text))
