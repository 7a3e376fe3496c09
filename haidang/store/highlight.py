"""Search snippets: a window of the original (diacritic) text with the query's matches wrapped in « ».

Matches are found in the folded text; `fold` keeps the length, so every offset found there is
an offset in the original text as well. Backends that cannot highlight folded text themselves
use this, so snippets look the same whatever the backend.
"""

from __future__ import annotations

import re
from itertools import pairwise

from haidang.store.query import Clause, Phrase, Query, Term, neighbour_pairs
from haidang.textnorm import CJK_RE, WORD_CHAR, fold

__all__ = ["CLOSE_MARK", "OPEN_MARK", "find_matches", "make_snippet", "snippet_query"]

OPEN_MARK = "«"
CLOSE_MARK = "»"
_ELLIPSIS = "…"


def _words_pattern(words: tuple[str, ...]) -> str:
    """A term's or phrase's regex: words apart by non-word characters (none needed beside a CJK
    character, as the index ignores them too), the first and last not part of a longer word (next to
    no textnorm.WORD_CHAR; a CJK character is a word of its own, so "广" matches inside 广义省 and
    "abc" inside "abc广")."""
    out = re.escape(words[0])
    for left, right in pairwise(words):
        cjk = CJK_RE.match(left) or CJK_RE.match(right)
        out += (r"[\W_]*" if cjk else r"[\W_]+") + re.escape(right)
    head = "" if CJK_RE.match(words[0]) else f"(?<!{WORD_CHAR})"
    tail = "" if CJK_RE.match(words[-1]) else f"(?!{WORD_CHAR})"
    return head + out + tail


def _pattern(query: Query) -> re.Pattern[str]:
    """One regex over folded text for every positive term and phrase, phrases first.

    Group n+1 is alternative n. A phrase's words may be separated by any non-word characters,
    as the full-text index ignores them too; lookarounds keep matches to whole words.
    """
    parts = []
    for alt in query.positives():
        if isinstance(alt, Phrase):
            parts.append(_words_pattern(alt.words))
        elif isinstance(alt, Term):
            parts.append(_words_pattern((alt.word,)))
    order = sorted(range(len(parts)), key=lambda n: -len(parts[n]))     # longest first wins a tie
    return re.compile("|".join(f"(?P<a{n}>{parts[n]})" for n in order))


def find_matches(folded: str, query: Query) -> list[tuple[int, int, int]]:
    """(start, end, alternative number) of every occurrence of the query's positive terms and phrases.

    Exclusions are never highlighted. Spans are sorted and do not overlap.
    """
    found = []
    for m in _pattern(query).finditer(folded):
        group = m.lastgroup or "a0"
        found.append((m.start(), m.end(), int(group[1:])))
    return found


def _best_window(matches: list[tuple[int, int, int]], weights: list[int], width: int, context: int) -> int:
    """Where the window starts: the one covering the most query words, then the most matches.

    A phrase weighs one more than its words, so "«Đồng Tháp»" side by side beats "đồng" and
    "tháp" scattered over the same window.
    """
    best_start, best_key = 0, (-1, -1, 0)
    for i, (start, _, _) in enumerate(matches):
        begin = max(0, start - context)
        # Spans are sorted: stop at the first past the window (scanning them all made a long
        # article quadratic: 1.4 MB of matches took 133 s).
        end = i
        while end < len(matches) and matches[end][1] <= begin + width:
            end += 1
        inside = matches[i:end]
        key = (sum(weights[n] for n in {m[2] for m in inside}), len(inside), -start)
        if key > best_key:
            best_start, best_key = begin, key
    return best_start


def snippet_query(query: Query) -> Query:
    """The query to highlight: its own terms plus each pair of neighbouring words as a phrase.

    Users type compounds as separate syllables ("dong thap"); marking "«Đồng Tháp»" where the
    words stand together shows why the hit ranked first.
    """
    pairs = neighbour_pairs(query)
    if not pairs:
        return query
    return Query(clauses=(*query.clauses, Clause(tuple(pairs))), exclusions=query.exclusions)


def make_snippet(original: str, query: Query, *, folded: str | None = None, width: int = 220,
                 context: int = 50) -> tuple[str, list[tuple[int, int]]] | None:
    """A window of about `width` characters of `original` around its best matches, or None.

    Returns the snippet with each match wrapped in « » and the (start, end) offsets in the
    snippet of each highlighted text (the marks themselves excluded). None when `original`
    holds no match. `folded` is fold(original) when the caller already has it.
    """
    if folded is None or len(folded) != len(original):
        folded = fold(original)
    matches = find_matches(folded, query)
    if not matches:
        return None
    weights = [len(a.words) + 1 if isinstance(a, Phrase) else 1 for a in query.positives()]
    begin = _best_window(matches, weights, width, context)
    end = min(len(original), begin + width)
    if begin > 0:
        # Start on a word boundary, but never after the first match the window was chosen for.
        first_inside = next(m[0] for m in matches if m[0] >= begin)
        space = original.find(" ", begin, first_inside)
        if space >= 0:
            begin = space + 1
    if end < len(original):
        space = original.rfind(" ", begin, end)
        if space > begin:
            end = space
    shown = [m for m in matches if m[0] >= begin and m[0] < end]
    if shown:
        end = max(end, shown[-1][1])
    parts: list[str] = [_ELLIPSIS] if begin > 0 else []
    length = len(parts[0]) if parts else 0
    spans: list[tuple[int, int]] = []
    cursor = begin
    for start, stop, _ in shown:
        plain = _flat(original[cursor:start]) + OPEN_MARK
        parts.append(plain)
        length += len(plain)
        word = _flat(original[start:stop])
        spans.append((length, length + len(word)))
        parts.append(word + CLOSE_MARK)
        length += len(word) + len(CLOSE_MARK)
        cursor = stop
    parts.append(_flat(original[cursor:end]))
    if end < len(original):
        parts.append(_ELLIPSIS)
    return "".join(parts), spans


def _flat(text: str) -> str:
    """Line breaks to spaces: a snippet is one line. Length-preserving, so offsets stay valid."""
    return text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
