"""Enrichment: every label of an article (language, section, plan topics, tone, risk) with its reasons.

One place combines the models so `haidang run`, `haidang analyze` and `haidang enrich` give the
same labels. The Vietnamese models are applied to Vietnamese text only; the others get what
applies to any language (tone from an English lexicon, source and known-claim signals; for
English, plan topics from English seed phrases) and a note saying what was not applied. A debunk report proposes its refuted claim for the
known-false list, for a person to confirm.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from haidang.record import Article, Match, Span
from haidang.settings import Source
from haidang.store.base import KnownClaim, Store
from haidang.wording import vn_number
from nlp.claims import Debunk, candidate_keys, propose
from nlp.language import detect_language
from nlp.risk import LOCAL_MODELS_DIR, RiskScorer
from nlp.section import SectionClassifier
from nlp.tone import ToneClassifier
from nlp.topics import TopicClassifier, is_unaccented

__all__ = ["MAX_TEXT_CHARS", "MAX_TITLE_CHARS", "MIN_TEXT_CHARS", "Enricher"]

log = logging.getLogger(__name__)

MIN_TEXT_CHARS = 40   # below this (a bare headline) labels are guesses: said so in the notes
MAX_TEXT_CHARS = 50_000   # the models read this much; VNTC's longest dev article has 37,000 characters
MAX_TITLE_CHARS = 1_000   # a headline is under 300


PLACE_NAMED_SCORE = 0.5     # nlp.match keep_threshold default
NOTE_TOPICS_EN = "chủ đề: chỉ theo cụm từ gợi ý tiếng Anh, không qua mô hình"
# How long the confirmed claims read from the store are reused. A long-running service shares one
# Enricher; a claim a person confirms elsewhere (the web page, `haidang claims confirm`) must reach
# the reworded-copy scan without a restart, and reading a list of hundreds once a minute costs nothing.
CLAIMS_TTL_S = 60.0
NOTE_UNACCENTED = "văn bản tiếng Việt không dấu: chủ đề chủ yếu theo cụm từ gợi ý so khớp không dấu"


class Enricher:
    """Holds the loaded models; `labels` is pure, `enrich` also consults and feeds the claim memory."""

    def __init__(self, section: SectionClassifier, topics: TopicClassifier, tone: ToneClassifier,
                 risk: RiskScorer):
        self._section, self._topics, self._tone, self._risk = section, topics, tone, risk
        self._confirmed: list[KnownClaim] | None = None
        self._confirmed_at = 0.0
        self._confirmed_from: Store | None = None     # the cache is one store's list, never another's

    @classmethod
    def load(cls, topic_seeds: dict[str, list[str]] | None = None, *, models_dir: Path | None = None,
             local_models_dir: Path | None = LOCAL_MODELS_DIR,
             topic_seeds_en: dict[str, list[str]] | None = None) -> Enricher:
        """`topic_seeds`/`topic_seeds_en`: Settings.topic_seeds()/topic_seeds_en(); None: the model's
        trained seeds / the shipped config/topics.yaml's English ones."""
        return cls(SectionClassifier.load(models_dir), TopicClassifier.load(topic_seeds, models_dir, topic_seeds_en),
                   ToneClassifier.load(models_dir), RiskScorer.load(models_dir, local_models_dir))

    def labels(self, title: str, text: str, *, matches: list[Match] | None = None, target: str | None = None,
               source: Source | None = None, claims: list[KnownClaim] | None = None,
               engagement: dict[str, int] | None = None) -> dict[str, Any]:
        """The `labels` part of an Article (and of `haidang analyze` output) for normalised text."""
        notes: list[str] = []
        if len(text) > MAX_TEXT_CHARS:
            # A 4 MB page (a whole report pasted in) would cost the models seconds and a gigabyte;
            # its first 50,000 characters (a dozen long articles) say what it is about.
            text = text[:MAX_TEXT_CHARS]
            notes.append(f"văn bản dài: chỉ phân tích {vn_number(MAX_TEXT_CHARS)} ký tự đầu")
        if len(title) > MAX_TITLE_CHARS:      # a page whose "title" is its whole text run together
            title = title[:MAX_TITLE_CHARS]
            notes.append(f"tiêu đề dài: chỉ phân tích {vn_number(MAX_TITLE_CHARS)} ký tự đầu")
        language, confidence = detect_language(f"{title}\n{text}")
        if len((title + text).strip()) < MIN_TEXT_CHARS:
            notes.append("văn bản quá ngắn: nhãn có độ tin cậy thấp")
        vietnamese = language == "vi"
        # A province matched through a ward or landmark alone is a Vietnamese angle the topic
        # model's anchor list (province names, national words) cannot see. At the matcher's
        # default keep threshold: a weaker match is not evidence of a place.
        place_named = any(m.score >= PLACE_NAMED_SCORE for m in matches or [])
        if vietnamese:
            section = self._section.predict(title, text)
            topics = self._topics.predict(title, text, place_named=place_named)
            if is_unaccented(f"{title}\n{text}"):
                notes.append(NOTE_UNACCENTED)
        else:
            reason = f"ngôn ngữ: {language or 'không xác định'}; mô hình tiếng Việt không áp dụng"
            section = {"label": "khong_xac_dinh", "score": 0.0, "note": reason}
            notes.append(reason)
            topics = []
            if language == "en":    # foreign press in English is what the office most needs routed
                topics = self._topics.predict_english(title, text, place_named=place_named)
                notes.append(NOTE_TOPICS_EN)
        spans = [s for s in _target_spans(matches or [], target) if s.end <= len(text if s.field == "text" else title)]
        tone = self._tone.predict(title, text, spans, language)
        risk = self._risk.score(title, text, language=language, source_kind=source.kind if source else None,
                                source_trust=source.trust if source else None,
                                source_id=source.id if source else None,
                                source_name=source.name if source else None, claims=claims or [],
                                engagement=engagement)
        return {"language": {"label": language, "score": round(confidence, 4)}, "section": section,
                "topics": topics, "tone": tone, "risk": risk, "notes": notes}

    def enrich(self, article: Article, source: Source | None, store: Store | None) -> Article:
        """Fill `article.labels`; with a store, match known false claims and propose debunked ones."""
        title, text = article.content.title, article.content.text
        claims = self._claims(store, title, text) if store is not None else []
        article.labels = self.labels(title, text, matches=article.matches, target=article.province_code,
                                     source=source, claims=claims, engagement=article.content.engagement)
        debunk = article.labels["risk"].get("debunk")
        if store is not None and debunk:
            claim_id = propose(store, Debunk(**debunk), rebuttal_url=article.fetched.canonical_url or article.fetched.url,
                               source_article_id=article.id)
            if claim_id:
                article.labels["risk"]["debunk"]["proposed_claim_id"] = claim_id
        return article

    def refresh_claims(self) -> None:
        """Forget the cached confirmed claims (call when a person confirms one)."""
        self._confirmed = None

    def _claims(self, store: Store, title: str, text: str) -> list[KnownClaim]:
        if (self._confirmed is None or self._confirmed_from is not store
                or time.monotonic() - self._confirmed_at > CLAIMS_TTL_S):
            self._confirmed, self._confirmed_at = store.known_claims("confirmed"), time.monotonic()
            self._confirmed_from = store
        # LSH candidates of every status but "proposed": confirmed ones flag copies, ones officers
        # dismissed as not false lower their copies' risk (`dismissed_claim`). The cached confirmed
        # list goes first, so a claim dismissed since it was cached shows its current status.
        found = {c.id: c for c in self._confirmed}
        found.update((c.id, c) for c in store.claim_candidates(candidate_keys(title, text), status=None)
                     if c.status != "proposed")
        return [found[k] for k in sorted(found)]


def _target_spans(matches: list[Match], target: str | None) -> list[Span]:
    for m in matches:
        if m.province_code == target:
            return list(m.spans)
    return []
