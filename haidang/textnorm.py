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

__all__ = ["BIDI_CONTROLS", "CJK_CHARS", "CJK_RE", "INVISIBLE_CHARS", "WORD_CHAR", "WORD_RE", "char_class",
           "fold", "fold_char", "normalize"]

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
    # (pairs outside the table are left as they are by `normalize`), several times faster. The "q"
    # test looks behind from after the pair (`..` is the pair itself, never a line break): a
    # pattern that opens with a character class lets `re` skip to the next o/u, one that opens with
    # a lookbehind is tried at every position (four times slower on news text).
    firsts = "".join(sorted({k[0] for k in table}))
    seconds = "".join(sorted({k[1] for k in table}))
    return re.compile(rf"[{firsts}][{seconds}](?<![qQ]..)(?!\w)"), table


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
# CVE-2021-42574). Right-to-left text may need them to display in order, so stored text keeps them
# where it has right-to-left letters and drops them elsewhere: in Vietnamese or English text they can
# only hide something, as "Quả\u202eng Ngãi" hides the province from matching and search. What is
# shown to readers drops them always (alerts.render.clean_text).
BIDI_CONTROLS = "".join(map(chr, (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))))
_BIDI_DROP = {ord(c): None for c in BIDI_CONTROLS}
# Letters of the right-to-left scripts, not the Arabic letter mark among them (Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic and
# their presentation forms; the historic ones beyond the BMP).
_RTL_RE = re.compile("[\u0590-\u061b\u061d-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]")

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


# Finds where `normalize` must translate. Outside the BMP it tests one range spanning all of
# `_ODD_CHARS` there (U+E0001-E007F, the tag characters) instead of the exact two: one step less for
# every character of every text, a sixth faster. A character the span adds is left by `translate`.
_ODD_ASTRAL = [code for code in _ODD_CHARS if code > 0xFFFF]
_ODD_RE = re.compile(char_class([*(chr(code) for code in _ODD_CHARS if code <= 0xFFFF), *BIDI_CONTROLS,
                                 *map(chr, range(min(_ODD_ASTRAL), max(_ODD_ASTRAL) + 1))]))
_ODD_AND_BIDI = {**_ODD_CHARS, **_BIDI_DROP}
# Han ideographs, kana and Hangul, as regex class ranges. Chinese and Japanese write no spaces
# between words and Korean glues particles to nouns (꽝응아이성에서, "in Quảng Ngãi province"), so
# a run of them is no unit a reader searches or compares by: search (store/query.WORD_RE), claim
# and copy detection treat each character as a word of its own.
CJK_CHARS = ("\u1100-\u11ff\u3005-\u3007\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
             "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f"
             "\U00020000-\U000323af")
# A letter or digit that is not CJK, as a regex class: what runs together into one word.
WORD_CHAR = f"[^\\W_{CJK_CHARS}]"
# A word: one CJK character, or a run of other letters and digits (underscore separates, as in
# FTS5's unicode61 tokenizer). Search and claim matching split folded text with this.
WORD_RE = re.compile(f"[{CJK_CHARS}]|{WORD_CHAR}+")
CJK_RE = re.compile(f"[{CJK_CHARS}]")
# A tab beside spaces joins their run: "a\t b" is "a b", not two spaces.
_SPACES_RE = re.compile(r"[ \t]{2,}|\t")


def normalize(text: str) -> str:
    """Return `text` in NFC with new-style tone marks, invisible characters dropped (bidirectional
    controls too, unless the text has right-to-left letters) and runs of spaces made one (line breaks
    kept); the form every stage stores and matches."""
    if _ODD_RE.search(text):
        text = text.translate(_ODD_CHARS if _RTL_RE.search(text) else _ODD_AND_BIDI)
    if "  " in text or "\t" in text:
        text = _SPACES_RE.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    if not text.isascii():
        text = _TONE_RE.sub(lambda m: _TONE_TABLE.get(m.group(), m.group()), text)
    return text


@lru_cache(maxsize=4096)
def fold_char(ch: str) -> str:
    """One character, lower-cased and without diacritics; đ becomes d. Always one character."""
    if ch in "đĐ":
        return "d"
    if "\uac00" <= ch <= "\ud7a3":
        return ch                 # Hangul syllables: NFD would keep only the first jamo
    if "\u3040" <= ch <= "\u30ff":
        return ch                 # kana: が is not か (Elasticsearch's asciifolding keeps them apart too)
    low = ch.lower()
    if len(low) != 1:
        low = ch
    base = unicodedata.normalize("NFD", low)[0]
    return base


# `fold_char` of every character below U+2070 (Latin, Vietnamese, combining marks, Greek, Cyrillic,
# general punctuation: all of ordinary news text), as code points for `str.translate`: under half
# the time of one cached `fold_char` call per character. Fixed size (8,304 entries); characters
# beyond it (emoji, CJK, letterlike symbols) go through `fold_char`, whose cache is bounded.
_FOLD_TABLE = tuple(ord(fold_char.__wrapped__(chr(code))) for code in range(0x2070))
# Runs of characters beyond the table. Written as one class then a repeat, not `[...]+`, so that
# `re` skips ahead to the first such character instead of trying every position (4x faster).
_BEYOND_FOLD_TABLE_RE = re.compile("([^\x00-\u206f][^\x00-\u206f]*)")


def fold(text: str) -> str:
    """Lower-case, strip diacritics and fold đ to d, keeping the length of `text`: `fold_char` of
    each character.

    Use on normalised text: offsets in the result are offsets in the input.
    """
    if text.isascii():
        return text.lower()
    parts = _BEYOND_FOLD_TABLE_RE.split(text)   # even parts are in the table, odd parts beyond it
    if len(parts) == 1:
        return text.translate(_FOLD_TABLE)
    parts[0::2] = [part.translate(_FOLD_TABLE) for part in parts[0::2]]
    parts[1::2] = ["".join(map(fold_char, part)) for part in parts[1::2]]
    return "".join(parts)
