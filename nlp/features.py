"""Text features shared by every model: syllable tokens and syllable n-grams of normalised text.

Vietnamese words are one to four syllables separated by spaces, so syllable n-grams capture
most words without running a word segmenter (underthesea's runs ~1,700 sentences/s: too slow
to apply to every article). All models featurise through here so training and use agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from haidang.textnorm import normalize

__all__ = ["make_analyzer", "quotable_terms", "sentences", "syllable_ngrams", "syllables"]

_TOKEN_RE = re.compile(r"[^\W_]+(?:[.,][0-9]+)*", re.UNICODE)
_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+(?=[\"“'(]?[A-ZĐÀ-Ỹ0-9])|\n+")


def syllables(text: str) -> list[str]:
    """Lower-cased syllables (and numbers) of NFC, new-style-tone-mark text."""
    return _TOKEN_RE.findall(normalize(text).lower())


def syllable_ngrams(tokens: list[str], n_min: int = 1, n_max: int = 2) -> list[str]:
    out: list[str] = []
    for n in range(n_min, n_max + 1):
        if n == 1:
            out.extend(tokens)
        else:
            out.extend("_".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


def make_analyzer(n_min: int = 1, n_max: int = 2) -> Callable[[str], list[str]]:
    """An sklearn `analyzer=` callable: syllable n-grams. Module-level so pickled models load."""
    return _Analyzer(n_min, n_max)


class _Analyzer:
    def __init__(self, n_min: int, n_max: int):
        self.n_min, self.n_max = n_min, n_max

    def __call__(self, text: str) -> list[str]:
        return syllable_ngrams(syllables(text), self.n_min, self.n_max)


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries as (start, end) offsets into `text` (lines, then end punctuation)."""
    spans = []
    start = 0
    for m in _SENTENCE_RE.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def quotable_terms(names: Sequence[str] | Any, contrib: np.ndarray, n: int) -> list[str]:
    """The `n` n-grams that pushed a linear model most, multi-syllable ones first.

    A lone syllable ("phí", "quản") is usually half a word and tells a reader nothing; the
    two-syllable n-grams among the strongest features are the words ("nhập khẩu", "chi phí").
    Single syllables fill in only when too few longer ones pushed. Candidates are the 4n
    strongest, so a weak phrase is never preferred to a strong syllable far above it.
    """
    order = [j for j in np.argsort(-contrib, kind="stable")[: 4 * n] if contrib[j] > 0]
    words = [j for j in order if _reads_as_phrase(str(names[j]))]
    picked = words[:n] + [j for j in order if j not in words][: max(0, n - len(words))]
    return [str(names[j]).replace("_", " ") for j in picked]


# Function syllables: an n-gram starting or ending in one straddles two words ("ở xã", "phí cho").
_FUNCTION_SYLLABLES = frozenset(
    ["ở", "cho", "của", "và", "là", "có", "được", "các", "những", "một", "này", "đó", "đã", "với", "để", "thì", "khi", "sẽ", "tại", "về", "từ", "trong", "đến", "cũng", "như", "nhưng", "mà", "bị", "theo", "ra", "vào", "lại", "rằng", "không", "người"])


def _reads_as_phrase(gram: str) -> bool:
    parts = gram.split("_")
    return len(parts) > 1 and parts[0] not in _FUNCTION_SYLLABLES and parts[-1] not in _FUNCTION_SYLLABLES
