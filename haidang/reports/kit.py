"""The rebuttal kit: the province's own recent coverage of a flagged article's topic, and earlier
rebuttals of similar claims, so an officer can write an answer in minutes.

Plain data only; the action page and the flag email render it. Own coverage is ranked by TF-IDF
cosine over syllable 1-2-grams (the features every model here uses) among the province's own
outlets' articles sharing a plan topic (an article without a plan topic gets none, and the kit says
so: ranking by words alone offered unrelated articles as "the same topic"); earlier rebuttals are confirmed known-false claims with a
rebuttal link, matched by nlp.claims' near-duplicate similarity at a looser threshold than flagging,
and claims still only proposed from an official denial, marked as such: the denial is the answer an
officer needs most, and it arrives before anyone has confirmed its claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from haidang.record import Article
from haidang.store.base import KnownClaim, SearchFilters, Store

if TYPE_CHECKING:
    from haidang.settings import Settings

__all__ = ["KIT_CLAIM_THRESHOLD", "OWN_KINDS", "EarlierRebuttal", "OwnCoverage", "RebuttalKit",
           "own_source_ids", "rebuttal_kit"]

# Kinds that are "the province's own" when `reports.own_sources` names none: its newspaper
# (merged with the broadcaster since 2025, so one provincial_press source) and its portal.
OWN_KINDS = ("provincial_press", "government_portal")
# A claim "similar" enough to show its rebuttal. Flagging uses nlp.claims.MATCH_THRESHOLD (0.5);
# a different rumour about the same subject scores ~0.3-0.35 there, and its rebuttal is still a
# useful model answer, so the kit shows it too (ranked below the close ones).
KIT_CLAIM_THRESHOLD = 0.3
# Own articles below this cosine share only common words with the flagged one.
_MIN_SIMILARITY = 0.05
# Claims stored before haidang.web.respond.claim_text stopped doubling sentence marks read
# "trẻ em!!!. Nghe nói" and "dân biết.. Tin": the period it added after a piece that had its own
# mark. Only that artefact is undone (a three-dot ellipsis is left alone).
_ADDED_PERIOD = re.compile(r"(?<=[!?…\"”»’)])\. |(?<=[^.]\.)\. ")


def _one_mark(claim: str) -> str:
    return _ADDED_PERIOD.sub(" ", claim)


@dataclass(frozen=True, slots=True)
class OwnCoverage:
    """One article from the province's own outlets on the same topic."""

    article_id: str
    title: str
    url: str
    source_id: str
    source_name: str
    published: datetime | None      # local time
    topics: tuple[str, ...]         # plan topic ids it shares with the flagged article
    similarity: float               # TF-IDF cosine, 0..1


@dataclass(frozen=True, slots=True)
class EarlierRebuttal:
    """A confirmed false claim like the flagged article's, and where it was rebutted."""

    claim_id: str
    claim: str
    rebuttal_url: str
    similarity: float               # nlp.claims.match_claims score, 0..1
    source_article_id: str | None = None   # the debunk article the claim came from, if stored
    source_title: str | None = None
    source_name: str | None = None
    published: datetime | None = None      # of that debunk article, local time
    # False: proposed from an official denial, not yet confirmed by a person (readers are told so).
    confirmed: bool = True


@dataclass(slots=True)
class RebuttalKit:
    article_id: str
    since: datetime                 # own coverage searched from here (local time) ...
    until: datetime                 # ... to here
    own_sources: list[str]          # source ids searched
    coverage: list[OwnCoverage] = field(default_factory=list)        # most similar first
    rebuttals: list[EarlierRebuttal] = field(default_factory=list)   # most similar first
    # The flagged article has no plan topic, so no own coverage was looked for: readers are told
    # so rather than shown the province's latest articles on other subjects.
    no_topic: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to list (no own coverage, no earlier rebuttal); `no_topic` may still be worth saying."""
        return not self.coverage and not self.rebuttals


def own_source_ids(settings: Settings) -> list[str]:
    """The province's own outlets: `reports.own_sources`, or every source of an OWN_KINDS kind."""
    named = list(settings.app.reports.own_sources)
    if named:
        return named
    return [s.id for s in settings.sources if s.kind in OWN_KINDS]


def _topics(article: Article) -> set[str]:
    return {str(t["id"]) for t in article.labels.get("topics") or [] if isinstance(t, dict) and t.get("id")}


def _doc(article: Article) -> str:
    return f"{article.content.title}\n{article.content.text}"


def _cosines(query: str, docs: list[str]) -> list[float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    from nlp.features import make_analyzer

    vectorizer = TfidfVectorizer(analyzer=make_analyzer(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform([query, *docs])
    return [float(x) for x in linear_kernel(matrix[0:1], matrix[1:]).ravel()]   # rows are L2-normed


def _local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    return dt.astimezone(tz) if dt else None


def rebuttal_kit(store: Store, settings: Settings, article: Article, limit: int = 5, *,
                 now: datetime | None = None) -> RebuttalKit:
    """Own coverage (same plan topic, last `reports.kit_days` days up to `now`, most similar first)
    and earlier rebuttals of similar confirmed claims, at most `limit` of each.

    The flagged article itself and its syndicated copies (same story) are never listed as own
    coverage. An article without a plan topic gets no own coverage and `no_topic` set: there is
    no "same topic" to match, and text similarity alone lists unrelated articles.
    """
    from nlp.claims import match_claims

    tz = ZoneInfo(settings.app.timezone)
    until = (now or datetime.now(UTC)).astimezone(tz)
    since = until - timedelta(days=settings.app.reports.kit_days)
    own = own_source_ids(settings)
    names = {s.id: s.name for s in settings.sources}
    topics = _topics(article)

    candidates: list[Article] = []
    for source_id in own if topics else []:
        for other in store.iter_articles(SearchFilters(source=source_id, since=since, until=until), html=False):
            if other.id == article.id or (article.story_id and other.story_id == article.story_id):
                continue
            if not topics & _topics(other):
                continue
            candidates.append(other)
    coverage: list[OwnCoverage] = []
    if candidates:
        scores = _cosines(_doc(article), [_doc(a) for a in candidates])
        ranked = sorted(zip(candidates, scores, strict=True), key=lambda p: (-p[1], p[0].id))
        for other, score in ranked[:limit]:
            if score < _MIN_SIMILARITY:
                break
            coverage.append(OwnCoverage(
                article_id=other.id, title=other.content.title, url=other.fetched.canonical_url or other.fetched.url,
                source_id=other.fetched.source_id, source_name=names.get(other.fetched.source_id, other.fetched.source_id),
                published=_local(other.content.published or other.content.first_seen, tz),
                topics=tuple(sorted(topics & _topics(other))), similarity=round(score, 3)))

    rebuttals: list[EarlierRebuttal] = []
    title, text = article.content.title, article.content.text
    for claim, score in match_claims(title, text, _rebutted_claims(store, article), threshold=KIT_CLAIM_THRESHOLD):
        source = store.get(claim.source_article_id) if claim.source_article_id else None
        if _refutes_itself(article, source, claim):
            continue
        if len(rebuttals) == limit:
            break
        rebuttals.append(EarlierRebuttal(
            claim_id=claim.id, claim=_one_mark(claim.text), rebuttal_url=str(claim.rebuttal_url), similarity=score,
            source_article_id=claim.source_article_id,
            source_title=source.content.title if source else None,
            source_name=names.get(source.fetched.source_id, source.fetched.source_id) if source else None,
            published=_local(source.content.published or source.content.first_seen, tz) if source else None,
            confirmed=claim.status == "confirmed"))
    return RebuttalKit(article_id=article.id, since=since, until=until, own_sources=own,
                       coverage=coverage, rebuttals=rebuttals, no_topic=not topics)


def _rebutted_claims(store: Store, article: Article) -> list[KnownClaim]:
    """Confirmed and proposed claims that have a rebuttal link; dismissed ones never count.
    Proposed claims are few (one per debunk report), so all are scanned, like confirmed ones."""
    from nlp.claims import find_claims

    found = {c.id: c for c in find_claims(store, article.content.title, article.content.text)}
    found.update((c.id, c) for c in store.known_claims("proposed"))
    return [c for _, c in sorted(found.items()) if c.rebuttal_url]


def _refutes_itself(article: Article, source: Article | None, claim: KnownClaim) -> bool:
    """The rebuttal is this article or a copy of it (a denial proposed its own claim): a denial is
    not its own earlier rebuttal. An officer's rebuttal recorded on this story is kept: it links
    elsewhere, and the next officer on the story needs it."""
    if source is None or claim.rebuttal_url not in (source.fetched.url, source.fetched.canonical_url):
        return False
    return source.id == article.id or bool(article.story_id and source.story_id == article.story_id)
