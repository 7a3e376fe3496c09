"""The search query language of README.md ("Search syntax"), parsed into a backend-neutral AST.

We parse queries ourselves and never hand user text to a backend's own syntax (FTS5 MATCH,
Elasticsearch query_string), so both backends accept exactly the same language and user text
can never inject backend operators. Each backend translates the `Query` AST it gets here.

Grammar (informal):

    query       := item (item | "OR" item)*
    item        := word | '"' words '"' | '-' word | '-"' words '"'

Words are normalised then folded (`haidang.textnorm`), so "dong thap" = "Đồng Tháp" and
"hoà" = "hòa". Letters and digits make up words; any other character separates them, and a
bare word holding punctuation ("TP.HCM", "covid-19") becomes a phrase of its parts. A Chinese,
Japanese or Korean character is a word of its own, so 广义省 is the phrase 广 义 省.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TypeVar

from haidang.errors import QueryError
from haidang.textnorm import WORD_RE, fold, normalize

__all__ = ["WORD_RE", "Clause", "Phrase", "Query", "Term", "matches_text", "neighbour_pairs", "parse_query", "proximity_query", "tokenize_folded"]

# A word is one Chinese, Japanese or Korean character or a run of other letters and digits
# (textnorm.WORD_RE): a query word written in CJK becomes a phrase of its characters (广义省 finds
# 越南广义省李山岛, 꽝응아이 finds 꽝응아이성에서). FTS5's unicode61 tokenizer (categories L* N*)
# agrees once store/fts.index_form has spaced CJK characters apart, and the Elasticsearch analysers
# through their cjk_chars char filter, so what we split on is what the index split on.

_T = TypeVar("_T", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Term:
    """One folded word ("dong")."""

    word: str


@dataclass(frozen=True, slots=True)
class Phrase:
    """Folded words that must appear next to each other, in order; always two or more words."""

    words: tuple[str, ...]


Alternative = Term | Phrase


@dataclass(frozen=True, slots=True)
class Clause:
    """Alternatives joined by OR: a document satisfies the clause when it matches any of them."""

    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True, slots=True)
class Query:
    """Every clause must match (AND) and no exclusion may match."""

    clauses: tuple[Clause, ...]
    exclusions: tuple[Alternative, ...] = ()

    def positives(self) -> list[Alternative]:
        """Every term and phrase that can contribute to a match, for highlighting."""
        return [alt for clause in self.clauses for alt in clause.alternatives]


def neighbour_pairs(query: Query) -> list[Phrase]:
    """Each two neighbouring plain words of the query as a phrase, without repeats."""
    pairs: list[Phrase] = []
    for left, right in zip(query.clauses, query.clauses[1:], strict=False):
        a, b = left.alternatives, right.alternatives
        if len(a) == 1 and len(b) == 1 and isinstance(a[0], Term) and isinstance(b[0], Term):
            pairs.append(Phrase((a[0].word, b[0].word)))
    return _dedupe(pairs)


def proximity_query(query: Query) -> Query | None:
    """The stricter query "all the words, and at least two of them side by side", or None.

    Vietnamese words are written as separate syllables ("đầu tư", "công an"), so plain words
    in a query usually name compounds; backends list documents matching this stricter query
    first. It adds one clause: any pair of neighbouring query words as a phrase ("dong thap",
    "thap mua", "mua lu" for `dong thap mua lu`), so more adjacent pairs also score higher.
    None unless the query has two or more plain words in a row (no OR, no quoted phrase).
    """
    pairs: list[Alternative] = list(neighbour_pairs(query))
    if not pairs:
        return None
    if len(query.clauses) == 2:
        # two words: the phrase alone implies both, and ranking one phrase instead of three
        # keeps the commonest query shape fast (bench/search.py: p95 24 ms against 32 ms)
        return Query(clauses=(Clause(tuple(pairs)),), exclusions=query.exclusions)
    return Query(clauses=(*query.clauses, Clause(tuple(_dedupe(pairs)))), exclusions=query.exclusions)


def tokenize_folded(text: str) -> list[str]:
    """Split already-folded text into words, exactly as queries and the index split it."""
    return WORD_RE.findall(text)


def _make_alternative(words: list[str]) -> Alternative:
    return Term(words[0]) if len(words) == 1 else Phrase(tuple(words))


@dataclass(slots=True)
class _Token:
    kind: str                 # "word" | "phrase" | "or"
    words: list[str]
    negated: bool
    raw: str
    pos: int


def _lex(query: str) -> list[_Token]:
    """Cut the raw query into words, phrases and OR operators, with their positions for errors."""
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        negated = False
        if ch == "-":
            negated = True
            i += 1
            if i >= n or query[i].isspace():
                raise QueryError(
                    f"a lone '-' at position {start + 1}: write it directly before the word or "
                    f'"phrase" to exclude, e.g. -mưa or -"mưa lũ"', kind="lone_minus", position=start + 1
                )
        if query[i] == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QueryError(
                    f"unclosed quote at position {i + 1}: add the closing \" after the phrase, "
                    f'e.g. "Đồng Tháp"', kind="unclosed_quote", position=i + 1
                )
            raw = query[i + 1:close]
            words = tokenize_folded(fold(normalize(raw)))
            if not words:
                raise QueryError(f'the phrase at position {i + 1} ("{raw}") has no words to search for',
                                 kind="empty_phrase", position=i + 1)
            tokens.append(_Token("phrase", words, negated, query[start:close + 1], start))
            i = close + 1
            continue
        end = i
        while end < n and not query[end].isspace() and query[end] != '"':
            end += 1
        raw = query[i:end]
        i = end
        if raw == "OR" and not negated:
            tokens.append(_Token("or", [], False, raw, start))
            continue
        words = tokenize_folded(fold(normalize(raw)))
        if not words:
            if negated:
                raise QueryError(f"'-{raw}' at position {start + 1} excludes nothing: it has no letters or digits",
                                 kind="empty_exclusion", position=start + 1)
            continue    # lone punctuation such as "&" or "…" separates words and nothing more
        tokens.append(_Token("word", words, negated, query[start:end], start))
    return tokens


def parse_query(query: str) -> Query:
    """Parse `query` into a `Query`; raise QueryError, saying how to fix it, when it is unusable.

    Errors: an empty query, a lone "-", an unclosed quote (we refuse rather than guess where the
    phrase ends, so both backends and every user see the same result), OR without a term on each
    side, OR next to an exclusion, and a query made only of exclusions.
    """
    if not query or not query.strip():
        raise QueryError('the query is empty: give at least one word, e.g. dong thap or "Đồng Tháp"', kind="empty")
    tokens = _lex(query)
    clauses: list[list[Alternative]] = []
    exclusions: list[Alternative] = []
    pending_or: _Token | None = None
    previous: _Token | None = None
    for tok in tokens:
        if tok.kind == "or":
            if previous is None or previous.kind == "or" or previous.negated:
                raise QueryError(
                    f"OR at position {tok.pos + 1} needs a word or \"phrase\" on each side "
                    f"(and cannot join exclusions), e.g. bão OR lũ", kind="or_needs_terms", position=tok.pos + 1
                )
            pending_or = tok
        elif tok.negated:
            if pending_or is not None:
                raise QueryError(
                    f"OR at position {pending_or.pos + 1} is followed by the exclusion {tok.raw!r}: "
                    f"exclusions cannot be alternatives; put them apart, e.g. bão OR lũ -\"bóng đá\"",
                    kind="or_before_exclusion", position=pending_or.pos + 1
                )
            exclusions.append(_make_alternative(tok.words))
        else:
            alt = _make_alternative(tok.words)
            if pending_or is not None:
                clauses[-1].append(alt)
                pending_or = None
            else:
                clauses.append([alt])
        previous = tok
    if pending_or is not None:
        raise QueryError(
            f"OR at position {pending_or.pos + 1} ends the query: add the alternative after it, e.g. bão OR lũ",
            kind="or_at_end", position=pending_or.pos + 1
        )
    if not clauses:
        if exclusions:
            raise QueryError(
                "the query only excludes: add at least one word or \"phrase\" to search for, "
                "e.g. Đồng Tháp -bóng đá", kind="only_exclusions"
            )
        raise QueryError("the query has no letters or digits to search for", kind="no_words")
    return Query(
        clauses=tuple(_dedupe([Clause(tuple(_dedupe(c))) for c in clauses])),
        exclusions=tuple(_dedupe(exclusions)),
    )


def _dedupe(items: list[_T]) -> list[_T]:
    """Drop repeats, keeping the first: "bão bão" asks for nothing more than "bão"."""
    seen: set[_T] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def matches_text(query: Query, text: str) -> bool:
    """Whether `text` satisfies `query`, evaluated in memory the way the stores evaluate it.

    For alert rules on one article just stored: the same language as search, without a round
    trip to the index. Words and phrases compare on folded tokens (đ ↔ d, tone marks ignored).
    """
    tokens = tokenize_folded(fold(normalize(text)))
    words = set(tokens)
    joined = " " + " ".join(tokens) + " "

    def holds(alt: Alternative) -> bool:
        if isinstance(alt, Term):
            return alt.word in words
        return " " + " ".join(alt.words) + " " in joined

    return (all(any(holds(a) for a in clause.alternatives) for clause in query.clauses)
            and not any(holds(a) for a in query.exclusions))
