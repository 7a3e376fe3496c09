"""Text cues of misinformation risk: the hand-written lexicons of nlp/data/risk_lexicon.yaml, matched with evidence.

The cues say how a claim is sourced or framed ("nghe nói", "hãy chia sẻ", "!!!"), never what
happened: crime, disaster and court vocabulary is not a cue, so critical reporting scores low.
The lexicons are written for the project; research-only corpora may only evaluate them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from haidang.textnorm import fold, normalize

__all__ = [
    "LEXICON_PATH",
    "LEXICON_SIGNALS",
    "CueDetector",
    "Cues",
    "looks_vietnamese",
]

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "risk_lexicon.yaml"
# The lists the YAML must hold; each becomes one signal id in nlp.risk.SIGNALS.
LEXICON_SIGNALS = ("rumour_cue", "share_appeal", "clickbait", "hostile_language", "official_attribution")

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_BANG_RE = re.compile(r"[!?]*![!?]*!+[!?]*|\?{3,}")   # "!!", "?!!", "???": shouting punctuation
_CAPS_RUN = 5           # consecutive ALL-CAPS words that count as shouting: 5, so acronym strings
                        # such as "UBND TP HCM" (3) or "BCĐ PCD COVID-19 TỈNH" (4) stay out
_FRAGMENT = 40          # characters of context quoted on each side of a cue
_MAX_EVIDENCE = 5       # fragments quoted per signal: enough to judge, short enough to read
# Function words that mark Vietnamese typed without diacritics (folded forms); used only when the
# caller gives no language and the text has too few Vietnamese letters to tell.
_VI_FUNCTION_WORDS = frozenset(
    ["va", "cua", "la", "khong", "nhung", "duoc", "nguoi", "cho", "nay", "mot", "cac", "co", "trong", "da", "voi", "de", "thi", "khi", "se", "tai", "ve"]
)


@dataclass(slots=True)
class Cues:
    """What the detector found: per signal, the distinct phrases and the quoted fragments."""

    phrases: dict[str, list[str]] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)     # what each quote covers
    text: str = ""

    def add(self, signal: str, phrase: str, start: int, end: int) -> None:
        """Count `phrase` once; quote it, merged with an overlapping quote of the same signal.

        Two cues in one sentence ("hãy chia sẻ ngay", "chia sẻ gấp") then read as one quote,
        not as two overlapping fragments of it.
        """
        phrases = self.phrases.setdefault(signal, [])
        if phrase in phrases:
            return
        phrases.append(phrase)
        left, right = _fragment_span(self.text, start, end)
        quotes, spans = self.evidence.setdefault(signal, []), self.spans.setdefault(signal, [])
        for i, (a, b) in enumerate(spans):
            if left < b and a < right:
                spans[i] = (min(a, left), max(b, right))
                quotes[i] = _quote(self.text, *spans[i])
                return
        if len(quotes) < _MAX_EVIDENCE:
            spans.append((left, right))
            quotes.append(_quote(self.text, left, right))

    def count(self, signal: str) -> int:
        return len(self.phrases.get(signal, ()))


def looks_vietnamese(text: str) -> bool:
    """True when the text reads as Vietnamese: Vietnamese letters, or unaccented function words.

    A guess for when the caller has no language; the pipeline's language stage decides otherwise.
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    marked = sum(1 for ch in letters if not ch.isascii() and fold(ch) != ch.lower())
    if marked / len(letters) >= 0.03:     # Vietnamese prose has ~25% marked letters; 3% allows
        return True                       # English with a few Vietnamese names to stay English
    words = [w.lower() for w in _WORD_RE.findall(text)]
    return bool(words) and sum(w in _VI_FUNCTION_WORDS for w in words) / len(words) >= 0.15


def _phrase_regex(phrases: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(phrases), key=len, reverse=True)    # longest first: "tin đồn" before "đồn"
    if not ordered:
        return None
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


def _fragment_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the cue with some context, cut at sentence punctuation or line ends."""
    left = max(0, start - _FRAGMENT)
    right = min(len(text), end + _FRAGMENT)
    for stop in ".!?\n":
        cut = text.rfind(stop, left, start)
        if cut != -1:
            left = max(left, cut + 1)
        cut = text.find(stop, end, right)
        if cut != -1:
            right = min(right, cut + 1)
    # Never cut a word: "…ày chưa được kiểm chứng" reads as nonsense to an officer.
    if 0 < left < start and text[left - 1].isalnum() and text[left].isalnum():
        space = text.find(" ", left, start)
        left = space + 1 if space != -1 else start
    if end < right < len(text) and text[right - 1].isalnum() and text[right].isalnum():
        space = text.rfind(" ", end, right)
        right = space if space != -1 else end
    return left, right


def _quote(text: str, left: int, right: int) -> str:
    quote = " ".join(text[left:right].split())
    before = text[max(0, left - 8):left].rstrip()       # a quote from a sentence's start needs no "…"
    opened = bool(before) and not before.endswith((".", "!", "?"))
    return ("…" if opened else "") + quote + ("…" if right < len(text) and quote[-1:] not in ".!?" else "")


class CueDetector:
    """Finds the lexicon cues and the punctuation/capitals cues in a title and text."""

    def __init__(self, lexicon: dict[str, list[str]]) -> None:
        missing = [s for s in LEXICON_SIGNALS if s not in lexicon]
        if missing:
            raise ValueError(f"risk lexicon lacks the lists {missing}")
        self._exact: dict[str, re.Pattern[str] | None] = {}
        self._folded: dict[str, re.Pattern[str] | None] = {}
        for signal in LEXICON_SIGNALS:
            phrases = [normalize(p).lower().strip() for p in lexicon[signal] if str(p).strip()]
            self._exact[signal] = _phrase_regex(phrases)
            # Unaccented matching only for multi-syllable phrases: one folded syllable is ambiguous.
            self._folded[signal] = _phrase_regex(fold(p) for p in phrases if len(p.split()) > 1)

    @classmethod
    def load(cls, path: Path | None = None) -> CueDetector:
        return _load_cached(str(path or LEXICON_PATH))

    def detect(self, title: str, text: str) -> Cues:
        """Every cue in `title` + `text`, each distinct phrase once, with a quoted fragment."""
        whole = normalize(f"{title}\n{text}" if title else text)
        lower = whole.lower()
        folded = fold(whole)        # same length as `whole`, so spans carry over
        cues = Cues(text=whole)
        for signal in LEXICON_SIGNALS:
            for pattern, haystack in ((self._exact[signal], lower), (self._folded[signal], folded)):
                if pattern is None:
                    continue
                for m in pattern.finditer(haystack):
                    phrase = " ".join(fold(m.group(0)).split())
                    cues.add(signal, phrase, m.start(), m.end())
        for m in _BANG_RE.finditer(whole):
            cues.add("clickbait", "!!!", m.start(), m.end())
            break                   # repeated "!!" says the same thing once
        run = _caps_run(whole)
        if run:
            cues.add("clickbait", "CHỮ IN HOA", *run)
        return cues


def _caps_run(text: str) -> tuple[int, int] | None:
    """Span of the first run of _CAPS_RUN or more consecutive ALL-CAPS words, if any."""
    start = end = -1
    length = 0
    for m in _WORD_RE.finditer(text):
        word = m.group(0)
        if len(word) >= 2 and word.isupper() and not word.isdigit():
            if length == 0:
                start = m.start()
            length += 1
            end = m.end()
            if length >= _CAPS_RUN:
                continue
        else:
            if length >= _CAPS_RUN:
                return start, end
            length = 0
    return (start, end) if length >= _CAPS_RUN else None


@lru_cache(maxsize=4)
def _load_cached(path: str) -> CueDetector:
    from ruamel.yaml import YAML  # imported here: only lexicon loading needs it

    with open(path, encoding="utf-8") as fh:
        data = YAML(typ="safe").load(fh) or {}
    return CueDetector({k: [str(p) for p in (v or [])] for k, v in data.items()})
