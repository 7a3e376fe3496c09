"""Province mentions in an article, with the evidence for each (alias, spans, where, score).

One Aho–Corasick pass over the folded text finds every gazetteer name; the words around each hit
(unit words, person titles, capitalisation, URLs and menus) decide what the hit is evidence of.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import ahocorasick

from haidang.record import Article, Match, Span
from haidang.textnorm import char_class, fold, normalize
from nlp.gazetteer import Gazetteer, Place

__all__ = ["MAX_SPANS", "EvidenceWeights", "ProvinceMatcher", "match_article"]

# A domain starts only where a run of name characters does ((?<!...), not \b): from every letter
# after a "-" or "." the search would rescan the run, and "a.a.a…" of 100 kB took minutes.
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.(?:vn|com|net|org|info|gov|edu)(?:/\S*)?\b",
    re.IGNORECASE)
# Cheap test first: the full URL pattern is slow and most article text has no URL at all. It runs
# on the folded text, which is lower-case, so it needs no IGNORECASE (with it every position is
# tried). Every URL has a hit there: a character that matches one of these letters ignoring case
# folds to that letter, but for "İ" and "ı" (hence ".nfo"), and folding makes no word character.
_URL_HINT_RE = re.compile(r"://|www\.|\.(?:vn|com|net|org|.nfo|gov|edu)\b")
_MENU_SEPARATORS = re.compile(r"\s*[|•·»›>]\s*")
# Each match of `_MENU_SEPARATORS` holds exactly one of these, so counting them counts the matches,
# and this pattern, starting with a character class, is scanned several times faster.
_MENU_SEPARATOR_CHARS_RE = re.compile(r"[|•·»›>]")
_WORD_RE = re.compile(r"\w+")
# Hashtags, as public platforms write place names: "#QuảngNgãi", "#DuLịchLýSơn", "#quangngai". Not
# an HTML entity ("&#39;") or a URL fragment (URLs are blocked anyway).
_HASHTAG_RE = re.compile(r"(?<![\w&/#])#([^\W_]{4,80})")
# A small letter then a capital, Latin and Vietnamese letters only: where two capitalised words are
# written as one outside a hashtag ("QuảngNgãi", as text reads after a hidden character between the
# words was dropped, or as a post runs words together). Exact letter sets, not ranges: Latin Extended
# Additional alternates capital and small letters, so a range would match inside most Vietnamese words.
_LATIN_LETTERS = [chr(c) for c in (*range(0x41, 0x7B), *range(0xC0, 0x250), *range(0x1E00, 0x1F00))]
_MAX_JOINED = 80                # as `_HASHTAG_RE`: longer runs are no name, and reading their parts is quadratic
_CAMEL_RE = re.compile(char_class(c for c in _LATIN_LETTERS if c.islower())
                       + char_class(c for c in _LATIN_LETTERS if c.isupper()))
# What a name loses when written as one word: its spaces, hyphens and dots ("tp. hcm" -> "tphcm").
_JOIN_RE = re.compile(r"[\s.\-]+")
# Units that may anchor a district or ward name ("xã Tịnh Khê", "quận 6", "TP Nha Trang"), each
# starting a word. That is checked in `_anchors`, not by a (?<!\w) here: a pattern that starts with
# an assertion is tried at every position, one that starts with letters only where they are.
_ANCHOR_RE = re.compile(r"(thi xa|thi tran|dac khu|xa|phuong|huyen|quan|thanh pho|tp|tx|tt)\.?\s+")
_UNIT_EQUIV = {"tp": "thanh pho", "tx": "thi xa", "tt": "thi tran"}
# Spans kept per province (title first, then in order; `count` has them all): enough to show and
# highlight, and a page naming a place ten thousand times does not make a megabyte-long record.
MAX_SPANS = 50
_CITY_UNITS = frozenset({"thanh pho", "thi xa"})
# Letter words (not numbers), for the words around a name.
_LETTER_WORD_RE = re.compile(r"\w*[^\W\d_]\w*")
# Syllables that Vietnamese spelling never writes without diacritics: a stop final (-p, -t, -c,
# -ch) takes only the sắc or nặng tone, and the diphthongs iê/yê/uô/ươ always carry their hat or
# horn ("Thap", "Bac", "Kien", "Yen", "Duong" are "Tháp", "Bắc", "Kiên", "Yên", "Dương" stripped).
# "k" ends only names from minority languages, written "Đắk Lắk" in Vietnamese text.
_NEEDS_MARKS_RE = re.compile(r"(?:[ptck]|ch)$|ie|ye|uo")
# Words looked at on each side of a name to tell whether the text there is written without marks.
_NEIGHBOURS = 3
# Kinds whose names are matched without capitals in text without diacritics (see `_hits`).
_UNCASED_KINDS = frozenset({"province", "not_place"})
# The kinds of word before a name (`_prefix_class`); a phrase listed under two counts as the first.
_PREFIX_CLASSES = ("province", "town", "local", "sublocal", "street", "person")


@dataclass(frozen=True, slots=True)
class EvidenceWeights:
    """How much one hit adds to a province's score (combined as a noisy-or, so it stays in [0, 1]).

    Tuned on plan-topics dev: one province name anywhere must keep an article (>= 0.5), a ward or
    landmark alone only just does, and weak hints (streets, people's names) never do.
    """

    named: dict[str, float] = field(default_factory=lambda: {"title": 0.9, "lead": 0.8, "body": 0.6})
    place: dict[str, float] = field(default_factory=lambda: {"title": 0.7, "lead": 0.6, "body": 0.5})
    resolved: float = 0.3       # a ward name shared by several provinces, settled by other evidence
    weak: float = 0.1           # street, river or person named after a place


@dataclass(slots=True)
class _Hit:
    field: str
    start: int
    end: int
    text: str
    key: str                    # `text` folded: the automaton key it was found by
    places: list[Place]
    # How a name written without diacritics in text written with them was let in (see
    # `_unmarked_in_marked`): "unit", "unmarked" (the words around it have no marks either: it is
    # classified as unmarked text) or "spelling"; empty for every other hit.
    context: str = ""


@dataclass(slots=True)
class _Evidence:
    codes: tuple[str, ...]
    strength: str               # "named" | "place" | "ambiguous" | "weak"
    field: str
    where: str
    start: int
    end: int
    text: str


def _phrases(words: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """A word list as (lower-case with diacritics, folded) sets; a folded form two words share is dropped."""
    exact = frozenset(normalize(w).lower() for w in words)
    folded: dict[str, set[str]] = defaultdict(set)
    for w in exact:
        folded[fold(w)].add(w)
    return exact, frozenset(k for k, v in folded.items() if len(v) == 1)


def _is_latin_word_char(ch: str) -> bool:
    return ch.isalnum() and ord(ch) < 0x1100   # CJK and Hangul names carry no word boundaries


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"       # precomposed syllables, which `fold` keeps as they are


def _is_marked(s: str) -> bool:
    """Whether the text is written with Vietnamese diacritics (then an unmarked word is another word).

    Marked Vietnamese has a non-ASCII character every few words; English with a few curly quotes
    or one quoted Vietnamese name stays far below 3%. (The ASCII encoder drops the others in C.)
    """
    if s.isascii():
        return False
    return len(s) - len(s.encode("ascii", "ignore")) >= 0.03 * len(s)


def _needs_marks(syllable: str) -> bool:
    """Whether this diacritic-free syllable can only be a Vietnamese word with its marks dropped."""
    return bool(_NEEDS_MARKS_RE.search(syllable.lower()))


def _is_title_case(surface: str) -> bool:
    """ "Dong Thap", not "DONG THAP" or "dong Thap": every word capitalised as a proper name."""
    return all(w[0].isupper() and (len(w) == 1 or w[1:].islower()) for w in _WORD_RE.findall(surface))


def _neighbours_unmarked(s: str, start: int, end: int, k: int = _NEIGHBOURS) -> bool:
    """Whether the `k` letter words on each side of s[start:end] (within its line) carry no
    diacritics, at least `k` words in all: a stretch of English or of Vietnamese typed without marks
    inside text written with them (a reader's question, a quoted English sentence, a signature).

    About one word in six of marked news text is plain ASCII (VNTC), so `k` on each side all
    plain by chance is rare, and a name with marked words beside it is read as marked text.
    """
    reach = 40 * k                 # characters looked at: a page of one long line stays linear
    low, high = max(0, start - reach), min(len(s), end + reach)
    newline = s.rfind("\n", low, start)
    line_start = low if newline < 0 else newline + 1
    newline = s.find("\n", end, high)
    line_end = high if newline < 0 else newline
    before = _LETTER_WORD_RE.findall(s, line_start, start)[-k:]
    after = _LETTER_WORD_RE.findall(s, end, line_end)[:k]
    words = before + after
    return len(words) >= k and all(w.isascii() for w in words)


def _anchors(folded: str) -> Iterator[re.Match[str]]:
    """`_ANCHOR_RE` matches that start a word, as `finditer` would give them with a (?<!\\w) first."""
    pos = 0
    while m := _ANCHOR_RE.search(folded, pos):
        start = m.start()
        if start > 0 and (folded[start - 1].isalnum() or folded[start - 1] == "_"):   # what \w is
            pos = start + 1
        else:
            yield m
            pos = m.end()


def _name_capitals(name: str) -> tuple[int, int]:
    """A name's capitals as bit masks, bit i for its word i: (starts with a capital, has two letters
    or more, all capitals). Masks make `_capitals_agree` a few integer operations per sense of a hit.
    """
    initial = whole = 0
    for i, word in enumerate(name.split()):
        if word[0].isupper():
            initial |= 1 << i
        if len(word) > 1 and word.isupper():
            whole |= 1 << i
    return initial, whole


def _surface_lacks(surface: str) -> tuple[int, int]:
    """The text's side of `_name_capitals`: (words not starting with a capital, words not all capitals)."""
    initial = whole = 0
    for i, word in enumerate(surface.split()):
        if not word[0].isupper():
            initial |= 1 << i
        if not word.isupper():
            whole |= 1 << i
    return initial, whole


def _capitals_agree(name: str, surface: str) -> bool:
    """Whether each word of `surface` is capitalised where the name's is ("Hạ Long", "TP HCM")."""
    initial, whole = _name_capitals(name)
    lacks_initial, lacks_whole = _surface_lacks(surface)
    return not (initial & lacks_initial or whole & lacks_whole)


def _glued(left: str, right: str) -> bool:
    """A lost space in crawled text: "sáuNam Định", "1-1An Giang", "Hải Phòng17h"."""
    return (left.islower() or left.isdigit()) and right.isupper() or (left.isalpha() and right.isdigit())


def _tag_parts(s: str, start: int, end: int) -> list[tuple[int, int]]:
    """The words of a hashtag s[start:end] as (start, end): a capital after a small letter, or a
    change between letters and digits, starts one ("DuLịchLýSơn2026": Du, Lịch, Lý, Sơn, 2026)."""
    parts = [[start, start + 1]]
    for k in range(start + 1, end):
        prev, ch = s[k - 1], s[k]
        if (ch.isupper() and prev.islower()) or ch.isdigit() != prev.isdigit():
            parts.append([k, k + 1])
        else:
            parts[-1][1] = k + 1
    return [(a, b) for a, b in parts]


def _camel_words(s: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each word of `s` with a capital right after a small letter, once each; not
    a hashtag (those are read whole)."""
    end = 0
    for m in _CAMEL_RE.finditer(s):
        if m.start() < end:
            continue
        start = m.start()
        while start > 0 and s[start - 1].isalnum():
            start -= 1
        end = m.end()
        while end < len(s) and s[end].isalnum():
            end += 1
        if (start == 0 or s[start - 1] != "#") and end - start <= _MAX_JOINED:
            yield start, end


def _joined_form_agrees(name: _Name, surface: str) -> bool:
    """A name written as one word keeps its diacritics when it has any: "#HòaBình", not "#HóaBình"."""
    if surface.isascii():
        return True
    low = surface.lower()
    return any(_JOIN_RE.sub("", lower) == low for lower in name.lowers)


@dataclass(frozen=True, slots=True)
class _Name:
    """One automaton key with every place written that way, and what `_hits` asks of each place
    worked out once: the automaton reports tens of hits per article, most of them inside words."""

    key: str
    places: list[Place]
    lowers: tuple[str, ...]         # each place's name, lower-case
    capitals: tuple[tuple[int, int], ...]   # each place's `_name_capitals`
    uncased: tuple[bool, ...]       # whether each place's kind is in _UNCASED_KINDS
    any_marked: bool                # whether some place's name has diacritics
    word_start: bool                # whether the key starts with a word character (then so must the hit)
    word_end: bool                  # ... ends with one
    # Whether the key starts with a Hangul syllable: then the hit must start a Korean word. Korean
    # writes spaces between words and particles after them ("꽝응아이성에서"), so only the start is
    # checked; CJK ideographs have no word boundaries at all (Chinese names carry 省 or 市 instead).
    hangul_start: bool


class _Spans:
    """Character ranges, merged and sorted, asked about by bisection: a long page has thousands of
    hits and of URL, menu or matched ranges, and a scan of every range per hit grew quadratically."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for a, b in sorted(r for r in ranges if r[0] < r[1]):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self._starts = [a for a, _ in merged]
        self._ends = [b for _, b in merged]

    def holds(self, pos: int) -> bool:
        """Whether `pos` lies in a range."""
        i = bisect_right(self._starts, pos) - 1
        return i >= 0 and pos < self._ends[i]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether [start, end) shares a character with a range."""
        i = bisect_left(self._starts, end) - 1
        return i >= 0 and self._ends[i] > start


class ProvinceMatcher:
    """Finds which of the 34 current provinces an article mentions, and how strongly."""

    def __init__(self, gazetteer: Gazetteer, keep_threshold: float = 0.5,
                 weights: EvidenceWeights | None = None) -> None:
        self.gazetteer = gazetteer
        self.keep_threshold = keep_threshold
        self.weights = weights or EvidenceWeights()
        ctx = gazetteer.context
        self._province_units = _phrases(ctx.get("province_units", []))
        self._local_units = _phrases(ctx.get("local_units", []))
        self._town_units = _phrases(ctx.get("town_units", []))
        self._sublocal_units = _phrases(ctx.get("sublocal_units", []))
        self._street_words = _phrases(ctx.get("street_words", []))
        self._person_titles = _phrases(ctx.get("person_titles", []))
        self._person_words = frozenset(normalize(w) for w in ctx.get("person_name_words", []))
        self._person_words_folded = frozenset(fold(w) for w in self._person_words)
        self._suffix_province = frozenset(fold(w) for w in ctx.get("suffix_province", []))
        self._suffix_local = frozenset(fold(w) for w in ctx.get("suffix_local", []))
        self._anchor_units = self._local_units[0] | self._province_units[0]
        # Each unit or title phrase's rank in _PREFIX_CLASSES, as written (lower-case) and folded:
        # one look-up per phrase instead of one per class.
        self._prefix_exact: dict[str, int] = {}
        self._prefix_folded: dict[str, int] = {}
        for rank, (exact, folded) in enumerate((self._province_units, self._town_units, self._local_units,
                                                 self._sublocal_units, self._street_words,
                                                 self._person_titles)):
            for phrase in exact:
                self._prefix_exact.setdefault(phrase, rank)
            for phrase in folded:
                self._prefix_folded.setdefault(phrase, rank)
        self._build_indexes(gazetteer.places)

    # ------------------------------------------------------------------ indexes

    def _build_indexes(self, places: list[Place]) -> None:
        """Bare names go into the automaton; district and ward names wait for a unit word.

        A district or current-ward name is matched bare only when it has two or more syllables (or
        is a city) and is not a number, so that common one-syllable words do not count; names
        shared by several provinces need other evidence (see `_resolve_ambiguous`).
        """
        self._local: dict[str, list[Place]] = defaultdict(list)
        self._unit_keys: dict[str, str] = {}        # a place's unit word, folded, TP/TX/TT spelt out
        by_key: dict[str, list[Place]] = defaultdict(list)
        for place in places:
            unit = fold(place.unit)
            self._unit_keys[place.unit] = _UNIT_EQUIV.get(unit, unit)
            key = fold(place.name)
            if place.kind in ("district", "ward", "legacy_ward"):
                self._local[key].append(place)
                if place.kind == "legacy_ward" or place.name.isdigit():
                    continue
                if len(key.split()) < 2 and not (place.kind == "district" and place.unit == "Thành phố"):
                    continue
            by_key[key].append(place)
        self._longest_key = max((len(k) for k in by_key), default=0)
        self._automaton = ahocorasick.Automaton()
        for key, senses in by_key.items():
            self._automaton.add_word(key, _Name(
                key, senses, lowers=tuple(p.name.lower() for p in senses),
                capitals=tuple(_name_capitals(p.name) for p in senses),
                uncased=tuple(p.kind in _UNCASED_KINDS for p in senses),
                any_marked=any(not p.name.isascii() for p in senses),
                word_start=_is_latin_word_char(key[0]), word_end=_is_latin_word_char(key[-1]),
                hangul_start=_is_hangul(key[0])))
        self._automaton.make_automaton()
        # Names of two or more words written as one, as hashtags write them ("quangngai", "lyson").
        # One-word names need no index: the automaton finds "#Huế" as it finds "Huế".
        self._joined: dict[str, _Name] = {}
        for key in by_key:
            joined = _JOIN_RE.sub("", key)
            if joined != key and joined.isalnum():
                self._joined.setdefault(joined, self._automaton.get(key))

    # ------------------------------------------------------------------ public

    def match(self, title: str, text: str, lead: str = "") -> list[Match]:
        """One Match per province mentioned in title/text, best first.

        Spans are offsets into the NFC-normalised field. `lead`, when given, is the start of `text`
        and only decides whether a hit in `text` is "lead" or "body".
        """
        title, text, lead = normalize(title or ""), normalize(text or ""), normalize(lead or "")
        lead_end = 0
        if lead:
            pos = text.find(lead)
            lead_end = pos + len(lead) if 0 <= pos < 200 else 0
        evidence: list[_Evidence] = []
        ambiguous: list[_Evidence] = []
        for name, value in (("title", title), ("text", text)):
            if value:
                for ev in self._scan(name, value, lead_end):
                    (ambiguous if ev.strength == "ambiguous" else evidence).append(ev)
        evidence.extend(self._resolve_ambiguous(ambiguous, evidence))
        return self._combine(evidence)

    def relevant(self, matches: list[Match], target_code: str) -> bool:
        """Whether the target province's match passes the keep threshold."""
        return any(m.province_code == target_code and m.score >= self.keep_threshold for m in matches)

    # ------------------------------------------------------------------ scanning

    def _scan(self, field_name: str, s: str, lead_end: int) -> list[_Evidence]:
        folded = fold(s)
        if len(folded) != len(s):           # fold keeps length; guard offsets if that ever breaks
            raise ValueError("textnorm.fold changed the length of the text")
        cased = any(c.isupper() for c in s)
        marked = _is_marked(s)
        blocked = _Spans(self._blocked_ranges(s, folded))
        out: list[_Evidence] = []
        plain = not cased and not marked     # no capitals, no diacritics: names look like words
        for hit in self._select(self._hits(s, folded, cased, marked, field_name, blocked)):
            ev = self._classify(hit, s, folded, marked and hit.context != "unmarked", lead_end, plain)
            if ev is not None:
                out.append(ev)
        covered = _Spans((e.start, e.end) for e in out)
        out.extend(self._anchored(field_name, s, folded, cased, marked, blocked, covered, lead_end))
        if "#" in s:
            covered = _Spans((e.start, e.end) for e in out)
            tags = ((m.start(1), m.end(1)) for m in _HASHTAG_RE.finditer(s) if not blocked.holds(m.start()))
            out.extend(self._joined_names(field_name, s, folded, marked, covered, lead_end, tags, capitals=False))
        words = [w for w in _camel_words(s) if not blocked.holds(w[0])]
        if words:
            covered = _Spans((e.start, e.end) for e in out)
            out.extend(self._joined_names(field_name, s, folded, marked, covered, lead_end, words, capitals=True))
        return out

    def _joined_names(self, field_name: str, s: str, folded: str, marked: bool, covered: _Spans,
                      lead_end: int, words: Iterable[tuple[int, int]], capitals: bool) -> Iterator[_Evidence]:
        """Names written as one word: in a hashtag, the whole tag ("#quangngai") or a run of its
        capitalised parts ("#DuLịchLýSơn" holds "LýSơn"); elsewhere (`capitals`), only a run of two or
        more capitalised parts ("QuảngNgãi"). Longest first, so "#ĐồngThápMười" is the region and not
        "Đồng Tháp". The words around say nothing of such a word, so the hit is classified as a bare
        name would be; a tag in lower case without diacritics as plain text."""
        for start, end in words:
            if covered.overlaps(start, end):
                continue
            parts = _tag_parts(s, start, end)
            i = 0
            while i < len(parts):
                for j in range(len(parts), i, -1):
                    if capitals and (j - i < 2 or not all(s[a].isupper() for a, _ in parts[i:j])):
                        continue
                    a, b = parts[i][0], parts[j - 1][1]
                    name = self._joined.get(folded[a:b])
                    if name is not None and _joined_form_agrees(name, s[a:b]):
                        break
                else:
                    i += 1
                    continue
                surface = s[a:b]
                hit = _Hit(field_name, a, b, surface, name.key, name.places)
                ev = self._classify(hit, s, folded, marked, lead_end,
                                    plain=surface.isascii() and surface.islower())
                if ev is not None:
                    yield ev
                i = j

    @staticmethod
    def _blocked_ranges(s: str, folded: str) -> list[tuple[int, int]]:
        """URLs and navigation-menu lines: names there are links, not mentions."""
        ranges = [(m.start(), m.end()) for m in _URL_RE.finditer(s)] if _URL_HINT_RE.search(folded) else []
        if len(_MENU_SEPARATOR_CHARS_RE.findall(s)) < 2:
            return ranges
        pos = 0
        for line in s.split("\n"):
            parts = [p for p in _MENU_SEPARATORS.split(line) if p.strip()]
            if len(parts) >= 3 and len(_MENU_SEPARATOR_CHARS_RE.findall(line)) >= 2 \
                    and sum(len(p.split()) for p in parts) <= 4 * len(parts):
                ranges.append((pos, pos + len(line)))
            pos += len(line) + 1
        return ranges

    def _hits(self, s: str, folded: str, cased: bool, marked: bool, field_name: str,
              blocked: _Spans) -> list[_Hit]:
        hits = []
        names_unmarked: list[tuple[int, int]] = []    # names of any kind written without marks
        n = len(s)
        name: _Name
        for end_idx, name in self._automaton.iter(folded):
            key = name.key
            start, end = end_idx - len(key) + 1, end_idx + 1
            # Most hits are inside a word ("an cu" in "dân cư"): `_is_latin_word_char`, inlined.
            if name.word_start and start > 0 and (c := folded[start - 1]).isalnum() and c < "\u1100" \
                    and not _glued(s[start - 1], s[start]):
                continue
            if name.word_end and end < n and (c := folded[end]).isalnum() and c < "\u1100" \
                    and not _glued(s[end - 1], s[end]):
                continue
            if name.hangul_start and start > 0 and _is_hangul(folded[start - 1]):
                continue                # inside a Korean word, not a name that starts one
            if blocked.holds(start):
                continue
            surface = s[start:end]
            surface_ascii = surface.isascii()
            surface_lower = surface.lower()
            senses = name.places
            # `_same_form` for each sense. Text without diacritics often drops capitals too ("dong
            # thap"): there a province name need not be capitalised; smaller places still must be.
            # A longer name that hides a province name ("dong thap muoi", "thai binh duong")
            # follows the province's rule, or the province would be found inside it.
            kept = []
            lacks: tuple[int, int] | None = None
            for p, lower, uncased, (initial, whole) in zip(senses, name.lowers, name.uncased, name.capitals):
                if not surface_ascii and surface_lower != lower:
                    continue
                if cased and (marked or not uncased):
                    if lacks is None:
                        lacks = _surface_lacks(surface)
                    if initial & lacks[0] or whole & lacks[1]:
                        continue
                kept.append(p)
            context = ""
            if marked and surface_ascii and name.any_marked:
                proper = [p for p in senses if self._same_form(p.name, surface, True)]
                if proper:
                    names_unmarked.append((start, end))
                kept, context = self._unmarked_in_marked(s, folded, start, end, surface, senses, kept,
                                                         proper)
            if kept:
                hits.append(_Hit(field_name, start, end, surface, key, kept, context))
        if any(h.context for h in hits):
            # A name let in that way is not the name when it is part of a longer one written the
            # same way, whatever that is: "Dien Bien Phu" (a city, a street) is not "Dien Bien".
            names_unmarked.sort()
            starts = [a for a, _ in names_unmarked]
            hits = [h for h in hits if not h.context or not any(
                b >= h.end and b - a > h.end - h.start
                for a, b in names_unmarked[bisect_left(starts, h.start - self._longest_key):
                                           bisect_right(starts, h.start)])]
        return hits

    def _unmarked_in_marked(self, s: str, folded: str, start: int, end: int, surface: str,
                            senses: list[Place], kept: list[Place],
                            proper: list[Place]) -> tuple[list[Place], str]:
        """The senses a name written without diacritics keeps in text written with them, and how.

        `kept`: the senses whose form the text's own rule accepts; `proper`: those capitalised as
        the name is.

        There "Thanh Hoa", "Quang Ninh", "Quang Tri" are people ("Lê Quang Ninh", "vận động viên
        Thanh Hoa"), spelt correctly: a capitalised name is no evidence, since people's names are
        capitalised too. It is the place only with evidence that the marks were dropped, or that it
        is a place:
        - a unit word: "tỉnh Quang Ngai", "TP Can Tho", "Quang Ngai province" (an English form);
        - the words around it are unmarked too ("tai Ha Noi hoac o truong", "Floods hit Quang Ngai
          on Monday"): that stretch is unmarked text, and is read by the rules for unmarked text;
        - its spelling is impossible without marks ("Dong Thap", "Bac Lieu", "Kien Giang": see
          `_NEEDS_MARKS_RE`), written as a proper name of its own: every word capitalised, not
          followed by another capitalised word ("Kien Giang Tran" is a person).
        The last two need a name of two words or more ("Hue" alone is a common given name) that does
        not end in a family name: people's names typed without marks are often in Western order
        ("Minh Nguyen", "Linh Duong" in ViHSD comments, "From: Binh Nguyen" in VNTC letters), so
        "Thai Nguyen" and "Binh Duong" there need a unit word too.
        "Quang Ngai" in "Người dân Quang Ngai đã" has none of these: "Quang" and "Ngai" are correct
        syllables and a person's name ("Ông Nguyễn Văn Ngai" in VNTC), so it stays unmatched.
        A longer name that hides a province ("Dong Thap Muoi") keeps hiding it, capitals or not.
        """
        hiding = [p for p in senses if p.kind == "not_place" and self._same_form(p.name, surface, False)]
        if hiding:
            return hiding, ""
        if self._word_after(s, folded, end) in self._suffix_province:
            return kept, ""                 # an English form: "Quang Ngai province", "Hue City"
        names = [p for p in kept if p.kind == "province"]
        if names and self._prefix_class(self._words_before(s, start), True) in ("province", "town"):
            return names, "unit"
        names = [p for p in proper if p.kind == "province"]
        words = surface.split()
        if not names or len(words) < 2 or fold(words[-1]) in self._person_words_folded:
            return [], ""
        if _neighbours_unmarked(s, start, end):
            return names, "unmarked"
        if _is_title_case(surface) and any(_needs_marks(w) for w in _WORD_RE.findall(surface)) \
                and not self._next_word_capitalised(s, end):
            return names, "spelling"
        return [], ""

    @staticmethod
    def _next_word_capitalised(s: str, end: int) -> bool:
        m = _WORD_RE.match(s, end + 1) if end < len(s) and s[end] == " " else None
        return m is not None and m.group(0)[0].isupper()

    @staticmethod
    def _same_form(name: str, surface: str, cased: bool) -> bool:
        """Diacritics must agree unless the text has none; proper-noun capitals unless it has none.

        Folding alone would make "hoà bình" (peace) or "Hạ Long"/"Hà Long" collide; written
        Vietnamese marks both tones and proper nouns, so use them when the text does.
        """
        if not surface.isascii() and surface.lower() != name.lower():
            return False
        return not cased or _capitals_agree(name, surface)

    @staticmethod
    def _select(hits: list[_Hit]) -> list[_Hit]:
        """Leftmost-longest non-overlapping hits, so "Thái Bình Dương" hides "Thái Bình" and "Bình Dương"."""
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
        chosen: list[_Hit] = []
        last_end = -1
        for h in hits:
            if h.start >= last_end:
                chosen.append(h)
                last_end = h.end
            elif chosen and h.end > last_end and (h.end - h.start) > (chosen[-1].end - chosen[-1].start):
                chosen[-1] = h          # a longer name overlapping the previous one wins
                last_end = h.end
        return chosen

    # ------------------------------------------------------------------ context

    @staticmethod
    def _words_before(s: str, start: int, limit: int = 3) -> list[str]:
        """Up to `limit` words right before `start`, nearest last; stops at punctuation.

        One dot may end the nearest word ("TP. Hồ Chí Minh", "TP.Hồ Chí Minh").
        """
        words: list[str] = []
        i = start
        while len(words) < limit:
            j = i
            while j > 0 and s[j - 1] in " \t\xa0":
                j -= 1
            if not words and j > 0 and s[j - 1] == ".":
                j -= 1
            if j == i:
                break
            k = j
            while k > 0 and s[k - 1].isalnum():
                k -= 1
            if k == j:
                break
            words.insert(0, s[k:j])
            i = k
        return words

    def _prefix_class(self, words: list[str], marked: bool) -> str:
        """The kind of unit or title word right before a name, longest phrase first.

        Folded forms are compared only in text written without diacritics: in marked text
        "tham quan" is not "quận" and "cố đô" is not "cô".
        """
        none = len(_PREFIX_CLASSES)
        for size in (3, 2, 1):
            if len(words) < size:
                continue
            phrase = " ".join(words[-size:])
            low = phrase.lower()
            rank = self._prefix_exact.get(low, none)
            if not marked and phrase.isascii():         # then `low` is the phrase folded
                rank = min(rank, self._prefix_folded.get(low, none))
            if rank == none:
                continue
            cls = _PREFIX_CLASSES[rank]
            if cls == "person" and size < len(words) and phrase[0].isupper() \
                    and words[-size - 1][0].isupper():
                continue               # "Cửa Ông Quảng Ninh": a capitalised title inside a name
            return cls
        if words and words[-1] in self._person_words:
            return "person"
        return ""

    def _has_own_unit(self, key: str) -> bool:
        """A name that carries its unit ("TP HCM", "Ho Chi Minh City") is the place even after "đường".

        `key`: the name as found, folded.
        """
        words = key.replace(".", ". ").split()
        return len(words) > 1 and (words[0].rstrip(".") in self._province_units[1]
                                   or words[-1] in self._suffix_province)

    @staticmethod
    def _word_after(s: str, folded: str, end: int) -> str:
        """The word right after s[:end], folded (`folded` is `s` folded), when one space comes first."""
        m = _WORD_RE.match(s, end + 1) if end < len(s) and s[end] == " " else None
        return folded[m.start():m.end()] if m else ""

    def _classify(self, hit: _Hit, s: str, folded: str, marked: bool, lead_end: int,
                  plain: bool = False) -> _Evidence | None:
        """What a bare hit is evidence of, from its senses and the words around it.

        `plain`: the text has neither capitals nor diacritics ("vinh ha long dep qua"), so a short
        ward or former-district name cannot be told from ordinary words ("vinh" bay / Vinh, "long
        sap", "bien dong"): alone it is only a hint, counted when the rest of the article supports
        the same province (three-syllable names such as "dien bien phu" still count; landmarks from
        config too); and the province names in `plain_needs_unit` ("hoa binh": peace) need a unit.
        """
        kinds = {p.kind for p in hit.places}
        if "not_place" in kinds:
            return None
        before = self._words_before(s, hit.start)
        prefix = self._prefix_class(before, marked)
        if not prefix and hit.context and before and before[-1].isascii() and before[-1][:1].isupper() \
                and fold(before[-1]) in self._person_words_folded:
            prefix = "person"          # "Tran Ngo Vinh Phuc": a person's name typed without marks
        after = self._word_after(s, folded, hit.end)
        if after in self._suffix_province:
            prefix = prefix or "province"
        elif after in self._suffix_local and not prefix:
            prefix = "local"
        where = self._where(hit.field, hit.start, lead_end)
        provinces = [p for p in hit.places if p.kind == "province"]
        if provinces:
            if prefix in ("local", "sublocal"):
                return None              # "xã Hòa Bình": a commune; the anchored pass handles it
            codes = tuple(dict.fromkeys(c for p in provinces for c in p.codes[:1]))
            if prefix in ("province", "town") or self._has_own_unit(hit.key):
                strength = "named"         # "tỉnh Sơn La", "TP HCM", and "thị xã Sơn La", its capital
            elif prefix in ("street", "person") or hit.key in self.gazetteer.needs_unit \
                    or (plain and hit.key in self.gazetteer.plain_needs_unit):
                strength = "weak"
            else:
                strength = "named"
            return _Evidence(codes, strength, hit.field, where, hit.start, hit.end, hit.text)
        if prefix in ("province", "town", "local", "sublocal", "person"):
            return None                  # unit words: the anchored pass; people: not a place
        landmarks = [p for p in hit.places if p.kind == "landmark"]
        senses = landmarks or hit.places
        codes = tuple(dict.fromkeys(c for p in senses for c in p.codes))
        if prefix == "street":
            strength = "weak" if len(codes) == 1 else ""
        elif plain and not landmarks and len(hit.key.split()) < 3:
            strength = "ambiguous"       # settled only by other evidence for the same province
        else:
            strength = "place" if len(codes) == 1 else "ambiguous"
        if not strength:
            return None
        return _Evidence(codes, strength, hit.field, where, hit.start, hit.end, hit.text)

    def _anchored(self, field_name: str, s: str, folded: str, cased: bool, marked: bool,
                  blocked: _Spans, covered: _Spans,
                  lead_end: int) -> list[_Evidence]:
        """District and ward names after a unit word: "xã Tịnh Khê", "quận 6", "TP Nha Trang"."""
        out = []
        for m in _anchors(folded):
            unit_surface = s[m.start(1):m.end(1)]
            unit = _UNIT_EQUIV.get(m.group(1), m.group(1))
            if (marked or not unit_surface.isascii()) and unit_surface.lower() not in self._anchor_units:
                continue                  # "xả", "xá": folds like "xã" but is another word
            if blocked.holds(m.start()):
                continue
            found = self._longest_local(s, folded, m.end(), cased, unit)
            if found is None:
                continue
            end, senses = found
            start = m.end()
            if covered.overlaps(start, end):
                continue
            codes = tuple(dict.fromkeys(c for p in senses for c in p.codes))
            strength = "place" if len(codes) == 1 else "ambiguous"
            out.append(_Evidence(codes, strength, field_name, self._where(field_name, start, lead_end),
                                 start, end, s[start:end]))
        return out

    def _longest_local(self, s: str, folded: str, pos: int, cased: bool,
                       unit: str) -> tuple[int, list[Place]] | None:
        """The longest known district/ward name (up to four words) starting at `pos`."""
        ends = []
        i = pos
        for _ in range(4):
            m = _WORD_RE.match(s, i)
            if not m:
                break
            word = m.group(0)
            if cased and not (word[0].isupper() or word[0].isdigit()):
                break
            ends.append(m.end())
            if m.end() < len(s) and s[m.end()] == " ":
                i = m.end() + 1
            elif s[m.end():m.end() + 3] == " - ":
                i = m.end() + 3
            else:
                break
        for end in reversed(ends):
            senses = self._local.get(folded[pos:end])
            if not senses:
                continue
            surface = s[pos:end]
            senses = [p for p in senses if surface.isascii() or p.name.lower() == surface.lower()]
            same_unit = [p for p in senses if self._unit_keys[p.unit] == unit]
            if unit in _CITY_UNITS and not same_unit:
                continue
            if same_unit:
                senses = same_unit
            elif surface.isdigit():
                continue                  # "phường 5" exists everywhere: the unit must agree
            if senses:
                return end, senses
        return None

    @staticmethod
    def _where(field_name: str, start: int, lead_end: int) -> str:
        if field_name == "title":
            return "title"
        return "lead" if start < lead_end else "body"

    # ------------------------------------------------------------------ combining

    @staticmethod
    def _resolve_ambiguous(ambiguous: list[_Evidence], evidence: list[_Evidence]) -> list[_Evidence]:
        """A name several provinces share counts only for the one the rest of the article supports."""
        support = {c for e in evidence if e.strength in ("named", "place") for c in e.codes}
        out = []
        for ev in ambiguous:
            candidates = [c for c in ev.codes if c in support]
            if len(candidates) == 1:
                out.append(_Evidence((candidates[0],), "resolved", ev.field, ev.where, ev.start, ev.end,
                                     ev.text))
        return out

    def _combine(self, evidence: list[_Evidence]) -> list[Match]:
        w = self.weights
        by_code: dict[str, list[_Evidence]] = defaultdict(list)
        for ev in evidence:
            for code in ev.codes[:1]:
                by_code[code].append(ev)
        matches = []
        for code, items in by_code.items():
            miss = 1.0
            for ev in items:
                if ev.strength == "named":
                    weight = w.named[ev.where]
                elif ev.strength == "place":
                    weight = w.place[ev.where]
                elif ev.strength == "resolved":
                    weight = w.resolved
                else:
                    weight = w.weak
                miss *= 1.0 - weight
            items.sort(key=lambda e: (e.field != "title", e.start))
            matches.append(Match(
                province_code=code,
                province=self.gazetteer.province_name(code),
                named=any(e.strength == "named" for e in items),
                aliases=list(dict.fromkeys(e.text for e in items)),
                spans=[Span(field=e.field, start=e.start, end=e.end) for e in items[:MAX_SPANS]],
                score=round(1.0 - miss, 4),
                where=list(dict.fromkeys(e.where for e in items)),
                count=len(items),
            ))
        matches.sort(key=lambda m: (-m.score, m.province_code))
        return matches


def match_article(article: Article, matcher: ProvinceMatcher, target_code: str) -> Article:
    """The match stage: fill matches, relevant and province_code from the article's content."""
    target = matcher.gazetteer.resolve_province(target_code)
    content = article.content
    article.matches = matcher.match(content.title, content.text, content.lead)
    article.relevant = matcher.relevant(article.matches, target)
    article.province_code = target
    return article
