"""Syndicated copies: MinHash signatures of article text, LSH band keys, and story assignment.

Vietnamese outlets republish each other's stories lightly edited (new headline, reworded sapo,
an extra paragraph, "tỷ" spelled "tỉ"), so exact hashes miss them. We estimate the Jaccard
similarity of word 3-shingles of the folded text with MinHash; LSH band keys let the store
return only plausible candidates. Signatures are stored, so the hash family below is fixed:
changing _NUM_PERM, _ROWS, _SHINGLE or the seeds invalidates every stored signature.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zlib
from collections.abc import Iterable

import numpy as np

from haidang.record import Article
from haidang.store.base import Store, StoryCandidate
from haidang.textnorm import CJK_CHARS, fold, normalize

__all__ = ["DEFAULT_THRESHOLD", "assign_story", "band_keys", "linked_stories", "signature", "similarity"]

log = logging.getLogger(__name__)

_NUM_PERM = 120          # signature length; error of the Jaccard estimate ~ 1/sqrt(120) = 0.09
_ROWS = 3                # rows per band: 40 bands; pairs at J=0.3 become candidates 66% of the
                         # time, at J=0.45 98%, at J=0.1 4% (1 - (1 - J^3)^40)
_SHINGLE = 3             # words per shingle
_MIN_SHINGLES = 8        # below this a text is too short to call anything a copy of it
_PRIME = (1 << 31) - 1   # Mersenne prime: a * x + b stays below 2**63 for 31-bit a, x, b
# Words; each Chinese, Japanese or Korean character is one (textnorm.CJK_CHARS), so a Chinese copy is
# compared by character 3-grams rather than by the few runs between its punctuation marks (an edited
# copy of a Chinese story scored 0.13 as runs, 0.55 as characters; test_dedup.py). Other text splits
# as \w+ always did, so the signatures already stored stay valid.
_WORD = re.compile(f"[{CJK_CHARS}]|[^\\W{CJK_CHARS}]+")

# Tuned on tests/fixtures/sites (see test_dedup.py): the edited Tuổi Trẻ copy of the Báo Quảng
# Ngãi story scores ~0.6; different stories on the same topic (investment in Quảng Ngãi) score
# under 0.1. 0.4 sits between with room for heavier edits on either side.
DEFAULT_THRESHOLD = 0.4


def _coefficients() -> tuple[np.ndarray, np.ndarray]:
    """Hash-family coefficients from blake2b, so they never depend on a random generator's version."""
    a = np.empty(_NUM_PERM, dtype=np.uint64)
    b = np.empty(_NUM_PERM, dtype=np.uint64)
    for i in range(_NUM_PERM):
        digest = hashlib.blake2b(f"haidang-minhash-{i}".encode(), digest_size=8).digest()
        a[i] = int.from_bytes(digest[:4], "big") % (_PRIME - 1) + 1
        b[i] = int.from_bytes(digest[4:], "big") % _PRIME
    return a, b


_A, _B = _coefficients()


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(fold(normalize(text)))
    if len(words) < _SHINGLE:
        return {zlib.crc32(" ".join(words).encode()) % _PRIME} if words else set()
    return {zlib.crc32(" ".join(words[i:i + _SHINGLE]).encode()) % _PRIME
            for i in range(len(words) - _SHINGLE + 1)}


def signature(text: str) -> list[int]:
    """MinHash signature (_NUM_PERM ints below 2**31) of the text's folded word 3-shingles.

    Folding (no diacritics, đ -> d, lower case) makes tone-mark style and capitalisation
    edits invisible. An empty text gives a signature of all _PRIME, similar only to itself.
    """
    return _minhash(_shingles(text))


def _minhash(shingles: set[int]) -> list[int]:
    if not shingles:
        return [_PRIME] * _NUM_PERM
    x = np.fromiter(shingles, dtype=np.uint64, count=len(shingles))
    hashed = (np.outer(_A, x) + _B[:, None]) % np.uint64(_PRIME)
    return hashed.min(axis=1).tolist()


def band_keys(sig: list[int]) -> list[str]:
    """One key per band of _ROWS values: "band:hash". Articles sharing a key are candidates."""
    keys = []
    for band, start in enumerate(range(0, len(sig) - _ROWS + 1, _ROWS)):
        raw = ",".join(map(str, sig[start:start + _ROWS])).encode()
        keys.append(f"{band}:{hashlib.blake2b(raw, digest_size=8).hexdigest()}")
    return keys


def similarity(sig_a: list[int], sig_b: list[int]) -> float:
    """Estimated Jaccard similarity: the share of positions where the signatures agree."""
    if not sig_a or len(sig_a) != len(sig_b):
        return 0.0
    return sum(1 for x, y in zip(sig_a, sig_b) if x == y) / len(sig_a)


def assign_story(article: Article, store: Store, threshold: float = DEFAULT_THRESHOLD) -> Article:
    """Set `article.story_id` to the story of its closest stored copy, or to its own id.

    A re-ingested article keeps the story it already had, so ids stay stable across crawls.
    Texts too short to judge (fewer than _MIN_SHINGLES shingles: a bare feed title) start their
    own story and leave no keys, so they never pull later articles into a wrong story.
    """
    if not article.id:
        raise ValueError("assign_story needs article.id (run extraction first)")
    text = article.content.text or article.content.title
    if len(_shingles(text)) < _MIN_SHINGLES:
        article.story_id = article.id
        return article
    sig = signature(text)
    keys = band_keys(sig)
    best: tuple[float, str] | None = None
    for cand in store.story_candidates(keys):
        if cand.article_id == article.id:
            article.story_id = cand.story_id
            store.add_story_keys(article.id, cand.story_id, keys, sig)
            return article
        score = _score(sig, cand)
        if score >= threshold and (best is None or (score, _neg(cand.story_id)) > (best[0], _neg(best[1]))):
            best = (score, cand.story_id)
    article.story_id = best[1] if best else article.id
    if best:
        log.debug("article %s joins story %s (similarity %.2f)", article.id, best[1], best[0])
    store.add_story_keys(article.id, article.story_id, keys, sig)
    return article


def linked_stories(articles: Iterable[Article], store: Store,
                   threshold: float = DEFAULT_THRESHOLD) -> dict[str, str]:
    """Story id -> the id it is listed under, for the stories of `articles` (their `story_id`, else
    their own id): stories that near-duplicate copies link map to one of them (the smallest id).

    `assign_story` joins a copy to its closest story only and never renames a stored one, so an
    edited copy B stored before the copy C that is close to both B and A (a late syndication match)
    leaves one story under two ids. Here each article's stored near-duplicates (the index
    assign_story reads, with the same threshold) link its story to theirs when both stories are
    among `articles`: a reader of one list sees the story once. Texts too short to judge link
    nothing, as in assign_story."""
    chosen = list(articles)
    parent = {a.story_id or a.id: a.story_id or a.id for a in chosen}

    def root(sid: str) -> str:
        while parent[sid] != sid:
            parent[sid] = parent[parent[sid]]
            sid = parent[sid]
        return sid

    for article in chosen:
        shingles = _shingles(article.content.text or article.content.title)
        if len(shingles) < _MIN_SHINGLES:
            continue
        sig = _minhash(shingles)
        own = article.story_id or article.id
        for cand in store.story_candidates(band_keys(sig)):
            if cand.story_id not in parent or root(cand.story_id) == root(own):
                continue
            if _score(sig, cand) >= threshold:
                low, high = sorted((root(cand.story_id), root(own)))
                parent[high] = low
    return {sid: root(sid) for sid in parent}


def _score(sig: list[int], cand: StoryCandidate) -> float:
    return similarity(sig, list(cand.signature))


def _neg(story_id: str) -> tuple[int, ...]:
    """Order ties by the smaller story id, deterministically."""
    return tuple(-ord(c) for c in story_id)
