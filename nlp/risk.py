"""Misinformation-risk score: hand-weighted signals with their evidence, optional text models, and its evaluation.

The score says why a person should look, never that something is false. It stands on signals
whose weights are set by reasoning (documented beside each), a small text model trained on
VFND (MIT), and the confirmed known-false-claims list. Research-only data (ReINTEL) only
evaluates it, or trains a LOCAL model that a user who holds the data builds for themselves.
Tone is not an input: critical or negative coverage never raises the risk by itself.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from haidang.record import ENGAGEMENT_KEYS, engagement_line, parse_count
from haidang.store.base import KnownClaim
from haidang.wording import kind_name, trust_name, vn_decimal
from nlp.claims import Debunk, detect_debunk, match_claims
from nlp.datasets import read_jsonl
from nlp.features import quotable_terms
from nlp.modelfiles import MODELS_DIR, file_sha256, load_model, model_path, save_model
from nlp.signals import CueDetector, looks_vietnamese

__all__ = [
    "LEVELS",
    "LOCAL_MODELS_DIR",
    "SIGNALS",
    "RiskScorer",
    "evaluate_risk",
    "level_for",
    "train_local_risk",
    "train_shipped_risk",
]

log = logging.getLogger(__name__)

SHIPPED_MODEL = "risk_text"            # nlp/models/risk_text.pickle.z: VFND (MIT)
LOCAL_MODEL = "risk_text_local"        # ReINTEL (research-only): never in the repository
_LABELLED_SPLITS = ("train", "dev")     # the ReINTEL splits ../shared holds; test is held out
LOCAL_MODELS_DIR = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "haidang" / "models"

# The fixed set of signal ids a reason may carry (README "Labels and their reasons", its risk signals table).
SIGNALS: dict[str, str] = {
    "rumour_cue": "the text says its claim is unverified or second-hand (nghe nói, tin đồn, chưa kiểm chứng)",
    "share_appeal": "the text urges readers to spread it before checking (hãy chia sẻ, share gấp)",
    "clickbait": "sensational framing: shock words, 'sự thật đằng sau', '!!!', long ALL-CAPS runs",
    "hostile_language": "abusive or hostile terms: slurs, profanity, dehumanising labels",
    "official_attribution": "claims attributed to a named accountable source (lowers the risk)",
    "source_kind": "what the source is (platform raises; press and government portals lower)",
    "source_trust": "the trust level the deployment gives the source in config/sources.yaml",
    "unreliable_text_model": "a text classifier's probability that the text reads like unreliable posts",
    "known_false_claim": "near-duplicate of a confirmed known false claim; evidence: the claim and its rebuttal",
    "debunk_report": "the article reports an official denial or correction (lowers the risk)",
    "dismissed_claim": "near-duplicate of an item an officer judged not false (lowers the risk)",
    "engagement": "how far the post spread (its stated likes, comments, shares), as a local model reads it with the text",
    "text_not_assessed": "weight 0: the Vietnamese text signals were not applied (language, too short)",
}

# Levels (the score is a probability-like 0..1): below 0.35 "thấp", below 0.65 "cần xem xét",
# else "cao". Set so that no text cue alone reaches "cao": one rumour cue on an unknown source
# (0.38) asks for review, and "cao" needs two independent kinds of evidence or a known claim.
LEVELS: tuple[tuple[float, str], ...] = ((0.35, "thấp"), (0.65, "cần xem xét"), (1.01, "cao"))

# -- hand-set weights (log-odds), from first principles, NOT fitted on any data -----------------
# Design log of the shipped score (each design written down before its one ReINTEL dev figure was
# read; every figure reported, none tuned). Baseline (these weights, VFND model of syllable n-grams):
# 0.7269 ReINTEL dev, signals alone 0.610, VFND dev 0.894.
#  S1: five more first-principles cues (alarm framing "tin nóng/tin khẩn/🚨", conspiracy framing
#      "sự thật bị che giấu/bịt miệng/báo lề phải", anti-state slogans "độc tài cộng sản/đảng cướp",
#      social style >=3 emoji or hashtags, infection counts with no source), weights set a priori:
#      0.705 (signals alone 0.606), VFND 0.894. Lower: not kept.
#  S2: S1 + shipped model trained on VFND fakes vs VFND reals + 2,000 VNTC news (MIT): 0.685,
#      VFND 0.909. Lower: not kept. So the baseline stays; no weight here was changed by a ReINTEL figure.
#  D3 (session 4): the shipped model's features chosen on VFND train alone (5-fold CV, 5 repeats, mean
#      ROC-AUC): syllable 1-2 grams 0.941, 1-3 0.942, 1-2 + char_wb 2-5 0.949, 1-3 + char_wb 0.949.
#      Adopted on that evidence before its ReINTEL figure was read, and kept whatever that figure:
#      0.739 ReINTEL dev (from 0.727), VFND dev 0.924 (from 0.894). Still under the 0.75 target.
# Baseline: most monitored articles are ordinary news; sigmoid(-1.7) = 0.15 leaves room for one
# cue to reach review and keeps an article with no signal at all clearly "thấp".
_BIAS = -1.7
# (first hit, each further distinct phrase, cap) per lexicon signal. Distinct phrases add less than
# the first: three ways of saying "unverified" are more telling than one, but not three times.
_LEXICON_WEIGHTS: dict[str, tuple[float, float, float]] = {
    # Admitted lack of verification is the most direct risk cue there is: +1.2 takes an unknown
    # source from 0.15 to 0.38 (review).
    "rumour_cue": (1.2, 0.4, 2.0),
    # Chain-message appeals ("share gấp") are how hoaxes travel; slightly below rumour cues
    # because genuine public warnings use them too.
    "share_appeal": (1.0, 0.3, 1.6),
    # Sensational framing is common in legitimate tabloid headlines, so one cue stays weak (+0.6).
    "clickbait": (0.6, 0.3, 1.5),
    # Hostility marks agitation rather than falsity; moderate, and never alone enough for "cao".
    "hostile_language": (0.8, 0.3, 1.6),
    # Formal attribution makes a claim checkable; small, so it cannot hide a rumour cue.
    "official_attribution": (-0.3, -0.3, -0.9),
}
# Source kind: platforms publish anyone's posts unedited; press and portals have editors and a
# legal owner accountable under the Press Law. Foreign press: no adjustment (editorial, but
# outside that accountability, and its critical coverage must not be penalised either).
_KIND_WEIGHTS: dict[str, float] = {
    "platform": 0.8,
    "national_press": -0.6,
    "provincial_press": -0.6,
    "government_portal": -1.2,
    "foreign_press": 0.0,
}
# Trust set by the deployment's analysts: their judgement of a source outweighs its kind.
_TRUST_WEIGHTS: dict[str, float] = {"high": -0.8, "medium": -0.2, "low": 1.0, "unknown": 0.0}
# Shipped VFND model: 1.6 * (p - 0.5), i.e. at most +-0.8. Small on purpose: VFND has strong
# source leakage (68 of 106 fakes from one site), so its probability is style, not fact.
_SHIPPED_MODEL_SCALE = 1.6
# Local ReINTEL model: its own log-odds against its training prior, clipped. It was fitted on the
# user's data, so trusting its calibration is the honest choice; the clip keeps one model from
# overriding a debunk or a known claim.
_LOCAL_MODEL_CLIP = 3.0
# A confirmed known false claim repeated: enough for "cao" even from a high-trust government
# portal (-1.7 - 1.2 - 0.8 + 4.5 = 0.8 -> 0.69): a person confirmed it false.
_KNOWN_CLAIM = 4.5
# An official denial or correction reported: the article is itself the rebuttal. Strong enough to
# bring a platform post with a rumour cue back to "thấp" (-1.7 + 0.8 + 1.2 - 2.5 = -2.2 -> 0.10).
_DEBUNK = -2.5
# A near-duplicate of an item an officer marked "không phải tin sai": a person checked this very
# story, so its copies should not raise the same alarm again. Enough to take two text cues
# (-1.7 + 1.2 + 1.0 - 1.5 = -1.0 -> 0.27) from "cần xem xét" to "thấp"; a platform post with
# every cue can still reach review. Ignored when a confirmed false claim also matches.
_DISMISSED_CLAIM = -1.5
_MIN_WORDS = 8              # fewer words: too short for the text model to mean anything
_EVIDENCE_TERMS = 3         # n-grams quoted as a text model's evidence
# A domain name starts where its run of name characters does, not at every \b inside it ("a-a-a…"
# made the search quadratic: 50 kB took 11 s).
_URL_RE = re.compile(r"https?://\S+|www\.\S+|<URL>|(?<![\w-])[\w-]+\.(?:vn|com|net|info|org)\b", re.IGNORECASE)


def level_for(score: float) -> str:
    for limit, name in LEVELS:
        if score < limit:
            return name
    return LEVELS[-1][1]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _model_text(title: str, text: str) -> str:
    """Title and text without URLs or domain names, so no model learns an outlet's address."""
    return _URL_RE.sub(" ", f"{title}\n{text}" if title else text)


def _reason(signal: str, evidence: list[str], weight: float) -> dict[str, Any]:
    return {"signal": signal, "evidence": evidence, "weight": round(weight, 3)}


def _lexicon_weight(signal: str, count: int) -> float:
    first, more, cap = _LEXICON_WEIGHTS[signal]
    total = first + more * (count - 1)
    return max(total, cap) if cap < 0 else min(total, cap)


class RiskScorer:
    """Scores one article's misinformation risk from its text, its source and the known claims."""

    def __init__(self, cues: CueDetector, shipped_model: Any | None = None, local_model: Any | None = None,
                 local_prior: float = 0.5, local_engagement: Any | None = None) -> None:
        self.cues = cues
        self.shipped_model = shipped_model
        self.local_model = local_model
        self.local_prior = local_prior
        self.local_engagement = local_engagement    # reads [text log-odds, *engagement_features]

    @classmethod
    def load(cls, models_dir: Path | None = None, local_models_dir: Path | None = LOCAL_MODELS_DIR) -> RiskScorer:
        """The lexicons, the shipped model (if built) and a local model when one is present.

        A missing shipped model is logged, not fatal: the signals still score.
        """
        shipped = None
        if model_path(SHIPPED_MODEL, models_dir).exists():
            shipped = load_model(SHIPPED_MODEL, models_dir)
        else:
            log.warning("%s is missing: risk scores without a text model (run `haidang train`)",
                        model_path(SHIPPED_MODEL, models_dir))
        local, prior, engagement = None, 0.5, None
        if local_models_dir is not None and model_path(LOCAL_MODEL, local_models_dir).exists():
            bundle = load_model(LOCAL_MODEL, local_models_dir)
            local, prior, engagement = bundle["model"], float(bundle["prior"]), bundle.get("engagement")
            log.info("using the local risk model in %s%s", local_models_dir,
                     "" if engagement is not None else " (built before engagement counts: `haidang train --local` adds them)")
        return cls(CueDetector.load(), shipped, local, prior, engagement)

    def score(self, title: str, text: str, *, language: str | None, source_kind: str | None,
              source_trust: str | None, source_id: str | None = None, source_name: str | None = None,
              claims: Sequence[KnownClaim] = (), engagement: Mapping[str, int] | None = None) -> dict[str, Any]:
        """{"score", "level", "reasons": [{signal, evidence, weight}], "debunk": {...} | None}.

        Never raises on bad text: empty, tiny or non-Vietnamese input gets the source and claim
        signals only, and a `text_not_assessed` reason saying why. `engagement` (Content.engagement)
        is read only by a local model trained with it.
        """
        title, text = title or "", text or ""
        reasons: list[dict[str, Any]] = []
        vietnamese = language.lower().startswith("vi") if language else looks_vietnamese(f"{title} {text}")
        words = _word_count(title, text)
        debunk: Debunk | None = None
        if not vietnamese:
            shown = language or "không xác định"
            reasons.append(_reason("text_not_assessed", [
                f"ngôn ngữ: {shown}; không áp dụng từ điển và mô hình tiếng Việt"], 0.0))
        else:
            if words < _MIN_WORDS:
                reasons.append(_reason("text_not_assessed", [f"văn bản quá ngắn ({words} từ); không dùng mô hình văn bản"], 0.0))
            cues = self.cues.detect(title, text)
            for signal in _LEXICON_WEIGHTS:
                n = cues.count(signal)
                if n:
                    reasons.append(_reason(signal, cues.evidence[signal], _lexicon_weight(signal, n)))
            if words >= _MIN_WORDS:
                reasons.extend(self._model_reasons(title, text, engagement))
            debunk = detect_debunk(title, text)
            if debunk:
                by = f" ({debunk.by})" if debunk.by else ""
                reasons.append(_reason("debunk_report", [f"bác bỏ{by}: {debunk.claim}", *debunk.evidence[:2]], _DEBUNK))
        reasons.extend(_source_reasons(source_kind, source_trust, source_id, source_name))
        reasons.extend(self._claim_reasons(title, text, claims, debunk))
        total = _BIAS + sum(r["weight"] for r in reasons)
        score = round(_sigmoid(total), 4)
        reasons.sort(key=lambda r: -abs(r["weight"]))
        return {"score": score, "level": level_for(score), "reasons": reasons,
                "debunk": debunk.to_dict() if debunk else None}

    def _model_reasons(self, title: str, text: str, engagement: Mapping[str, int] | None) -> list[dict[str, Any]]:
        doc = _model_text(title, text)
        out: list[dict[str, Any]] = []
        if self.local_model is not None:
            row = self.local_model[:-1].transform([doc])
            p = _proba(self.local_model[-1], row)
            p = min(max(p, 1e-4), 1 - 1e-4)
            weight = _clip_local(_logit(p) - _logit(self.local_prior))
            what = f"mô hình cục bộ (ReINTEL), xác suất {vn_decimal(p)}"
            model = self.local_model
            out.extend(self._engagement_reason(p, weight, engagement))
        elif self.shipped_model is not None:
            row = self.shipped_model[:-1].transform([doc])    # once: the evidence reuses it
            p = _proba(self.shipped_model[-1], row)
            weight = _SHIPPED_MODEL_SCALE * (p - 0.5)
            what = f"mô hình VFND, xác suất {vn_decimal(p)}"
            model = self.shipped_model
        else:
            return []
        if abs(weight) >= 0.05:
            out.insert(0, _reason("unreliable_text_model", [what, *_top_terms(model, row, positive=weight > 0)], weight))
        return out

    def _engagement_reason(self, p_text: float, text_weight: float,
                           engagement: Mapping[str, int] | None) -> list[dict[str, Any]]:
        """What the stated counts add to the local model's estimate.

        The local model is one model reading text and counts: the two reasons' weights sum to its
        log-odds against the prior, clipped once, as the text-only model's are.
        """
        features = engagement_features(engagement)
        if self.local_engagement is None or all(math.isnan(f) for f in features):
            return []
        p = float(self.local_engagement.predict_proba(np.array([[_logit(p_text), *features]]))[0, 1])
        p = min(max(p, 1e-4), 1 - 1e-4)
        weight = _clip_local(_logit(p) - _logit(self.local_prior)) - text_weight
        if abs(weight) < 0.05:
            return []
        return [_reason("engagement", [engagement_line(dict(engagement or {})) or "",
                                       f"mô hình cục bộ: xác suất {vn_decimal(p_text)} → {vn_decimal(p)} khi tính cả lượt tương tác"],
                        weight)]

    def _claim_reasons(self, title: str, text: str, claims: Sequence[KnownClaim],
                       debunk: Debunk | None) -> list[dict[str, Any]]:
        out = []
        for claim, sim in match_claims(title, text, [c for c in claims if c.status == "confirmed"])[:3]:
            fact = [f"tin sai đã biết: {claim.text}", f"bác bỏ: {claim.rebuttal_url or 'chưa có đường dẫn'}",
                    f"độ tương đồng: {vn_decimal(sim)}"]
            if debunk is not None:
                # The article refutes the claim it repeats: keep the link, add no risk.
                out.append(_reason("known_false_claim", [*fact, "bài viết này bác bỏ tin đó"], 0.0))
            else:
                out.append(_reason("known_false_claim", fact, _KNOWN_CLAIM))
                break               # one confirmed claim is enough; more would only stack weight
        if not out:
            for claim, sim in match_claims(title, text, [c for c in claims if c.status == "dismissed"])[:1]:
                out.append(_reason("dismissed_claim", [f"cán bộ đã xác định không phải tin sai: {claim.text}",
                                                       f"độ tương đồng: {vn_decimal(sim)}"], _DISMISSED_CLAIM))
        return out


def _source_reasons(kind: str | None, trust: str | None, source_id: str | None,
                    name: str | None = None) -> list[dict[str, Any]]:
    who = f"{name} ({source_id})" if name and source_id and name != source_id else (name or source_id or "không rõ")
    # Each reason quotes the fact it weighs, so the two never read as one reason listed twice.
    out = []
    kind_w = _KIND_WEIGHTS.get(kind or "", 0.0)
    if kind_w:
        out.append(_reason("source_kind", [f"nguồn: {who}, {kind_name(kind)}"], kind_w))
    trust_w = _TRUST_WEIGHTS.get(trust or "unknown", 0.0)
    if trust_w:
        out.append(_reason("source_trust", [f"nguồn: {who}, độ tin cậy: {trust_name(trust)}"], trust_w))
    return out


def _word_count(title: str, text: str) -> int:
    """What `_MIN_WORDS` counts: the scorer's rule and the engagement model's training filter."""
    return len(f"{title} {text}".split())


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _clip_local(weight: float) -> float:
    return max(-_LOCAL_MODEL_CLIP, min(_LOCAL_MODEL_CLIP, weight))


def _proba(clf: Any, row: Any) -> float:
    """P(unreliable) of a binary linear model, without predict_proba's ~1 ms of input checks."""
    z = float((row @ clf.coef_[0])[0] + clf.intercept_[0])
    return _sigmoid(max(-30.0, min(30.0, z)))


_NAMES: dict[int, tuple[Any, Any]] = {}     # id(model) -> (names, quotable); building them costs ~10 ms


def _top_terms(model: Any, row: Any, *, positive: bool) -> list[str]:
    """The n-grams that pushed a TF-IDF + linear model most in the direction it went (`row`: its features)."""
    try:
        vec, clf = model[:-1], model[-1]
        row = row.tocsr()
        cached = _NAMES.get(id(model))
        if cached is None:
            names = vec.get_feature_names_out().astype(str)
            # Character n-grams ("chr__") are fragments a reader cannot check: quote syllable n-grams only.
            parts = np.char.partition(names, "__")
            cached = _NAMES[id(model)] = (np.where(parts[:, 1] == "__", parts[:, 2], names),
                                          ~np.char.startswith(names, "chr__"))
        names, quotable = cached
        contrib = np.where(quotable[row.indices], row.data * clf.coef_[0][row.indices], 0.0)
        terms = quotable_terms(names[row.indices], contrib if positive else -contrib, _EVIDENCE_TERMS)
        return [f"“{t}”" for t in terms]
    except (AttributeError, KeyError, IndexError, TypeError):
        return []


# -- training and evaluation --------------------------------------------------------------------


def _text_pipeline(c: float, *, syllable_max: int = 2, chars: bool = False) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from nlp.features import make_analyzer

    syl = TfidfVectorizer(analyzer=make_analyzer(1, syllable_max), min_df=2, sublinear_tf=True, max_features=200_000)
    features: Any = syl
    if chars:   # character n-grams catch teencode and unaccented spellings in social posts
        features = FeatureUnion([("syl", syl), ("chr", TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=300_000))])
    return Pipeline([
        ("tfidf", features),
        ("clf", LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=0)),
    ])


def _auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4)


def train_shipped_risk(vfnd_dir: Path, models_dir: Path | None = None) -> dict[str, Any]:
    """Build nlp/models/risk_text from VFND train (MIT); return its VFND dev metrics.

    C=1.0 is scikit-learn's default, kept: with 160 training texts any tuning would fit noise.
    """
    train = list(read_jsonl(Path(vfnd_dir) / "train.jsonl.gz"))
    dev = list(read_jsonl(Path(vfnd_dir) / "dev.jsonl.gz"))
    model = _text_pipeline(1.0, chars=True)
    model.fit([_model_text(r.get("title") or "", r["text"]) for r in train], [int(r["label"] == "fake") for r in train])
    scores = model.predict_proba([_model_text(r.get("title") or "", r["text"]) for r in dev])[:, 1]
    metrics = {"vfnd_dev_roc_auc": _auc([int(r["label"] == "fake") for r in dev], scores.tolist()),
               "vfnd_dev_rows": len(dev)}
    save_model(model, SHIPPED_MODEL, title="risk text model (VFND fake vs real)",
               data=[{"path": f"vfnd/{n}.jsonl.gz", "sha256": file_sha256(Path(vfnd_dir) / f"{n}.jsonl.gz"),
                      "licence": "MIT (Ho Quang Thanh)", "use": u} for n, u in (("train", "train"), ("dev", "dev"))],
               metrics=metrics, params={"features": ("syllable 1-2 grams + char_wb 2-5 grams (chosen by VFND train CV), "
                                                     "TF-IDF sublinear, min_df 2, URLs removed"),
                                        "classifier": "LogisticRegression C=1.0 balanced", "seed": 0},
               limits=[("160 training texts; VFND has strong source leakage (68 of 106 fakes from tinvn.info), "
                        "so the model learns outlet style, not truth"),
                       "weighted at most +-0.8 log-odds in the risk score for that reason",
                       "news articles 2017-2019; social posts are out of domain"],
               models_dir=models_dir)
    return metrics


def train_local_risk(data_dir: Path, models_dir: Path | None = None, *, holdout: str | None = None) -> dict[str, Any]:
    """Train a LOCAL text model on ReINTEL (research-only) into `models_dir`, never the repo.

    For users who hold the data; `RiskScorer.load` picks it up from LOCAL_MODELS_DIR. It learns
    from every labelled split present (train, and dev when there) except `holdout`, the split an
    evaluation measures: the settings below were chosen on dev, so the model a user keeps then
    learns from all the labelled posts there are (3,490 rather than 3,054). Settings
    chosen on ReINTEL dev (allowed: this model is never shipped), ROC-AUC of the model alone:
    syllable 1-2 grams C=4 0.890; 1-3 grams 0.894; + char_wb 2-5 grams 0.905 (C=1), 0.904 (C=4),
    0.902 (C=16). The user name is never a feature (the data README: it leaks the label).
    Also tried, 2026-11-23 (model alone, dev): + char 1-5 grams across spaces, case kept 0.909 (C=1),
    0.907 (C=4), those alone 0.912; LinearSVC 0.906-0.909; NB-weighted LR 0.867-0.898; + style
    features (length, URLs, hashtags, capitals, digits, punctuation, emoji) 0.901-0.904; a kNN vote
    over train posts added to the log-odds 0.902-0.916 (best of 20 dev-picked settings: not kept).
    None reaches the 0.92 target by a margin above dev noise (73 positives), so this stays.
    Third round, 2026-11-24, through RiskScorer.score with stated counts (dev; and 5-fold nested CV
    on train, 514 positives, each fold's local model and booster trained on the other four):
    this config 0.915 / 0.905; syllable 1-3 + char 1-5 across spaces, case kept 0.922 / 0.903;
    char 1-5 alone 0.921 (dev); + char_wb 2-5 as well 0.911 / 0.904; char 2-6 0.920 (dev). Dev
    picks one variant, train picks none: the dev gain is noise, so the config stays.
    Train and dev together, 2026-11-25: what 409 more posts are worth, measured the other way round
    (dev, through the scorer with counts; six stratified draws of 86.6 % of train, seeds 1-6):
    0.9085, 0.9081, 0.9091, 0.9188, 0.9130, 0.9150, mean 0.912, against 0.915 on all of train.
    So about +0.003 expected from adding dev's 436 posts: small, but the model a user keeps should
    learn from every labelled post once its settings are fixed.
    """
    models_dir = Path(models_dir or LOCAL_MODELS_DIR)
    if models_dir.resolve() == MODELS_DIR.resolve():
        raise ValueError("the ReINTEL model is research-only: write it to a local models dir, not nlp/models")
    splits = [s for s in _LABELLED_SPLITS if s != holdout and (Path(data_dir) / f"{s}.jsonl.gz").exists()]
    if not splits:
        raise ValueError(f"no labelled ReINTEL split to train on in {data_dir} (holding out {holdout})")
    rows = [r for s in splits for r in read_jsonl(Path(data_dir) / f"{s}.jsonl.gz")]
    labels = [int(r["label_id"]) for r in rows]
    docs = [_model_text("", r["text"] or "") for r in rows]
    model = _text_pipeline(1.0, syllable_max=3, chars=True)
    model.fit(docs, labels)
    prior = sum(labels) / len(labels)
    engagement = _train_engagement_model(docs, labels, rows)
    save_model({"model": model, "prior": prior, "engagement": engagement, "splits": splits}, LOCAL_MODEL,
               title="LOCAL risk text model (ReINTEL; do not redistribute)",
               data=[{"path": f"reintel/{s}.jsonl.gz", "sha256": file_sha256(Path(data_dir) / f"{s}.jsonl.gz"),
                      "licence": "none stated; research use only", "use": "train"} for s in splits],
               metrics={"train_rows": len(rows), "prior_unreliable": round(prior, 4)},
               params={"features": "syllable 1-3 grams + char_wb 2-5 grams, TF-IDF sublinear, min_df 2, "
                                   "URLs removed", "classifier": "LogisticRegression C=1.0 balanced", "seed": 0,
                       "engagement": "HistGradientBoosting (lr 0.03, 200 trees, 15 leaves) over [out-of-fold "
                                     "text log-odds, log1p likes/comments/shares], on posts stating a count"},
               limits=["research-only data: keep this file on your machine; never commit or share it",
                       "social posts from 2020 (COVID-19 era); drifts on later topics"],
               models_dir=models_dir)
    return {"train_rows": len(rows), "splits": splits, "prior": prior, "path": str(model_path(LOCAL_MODEL, models_dir))}


def engagement_features(engagement: Mapping[str, int] | None) -> list[float]:
    """log1p of each count; NaN where the source states none.

    HistGradientBoosting routes missing values itself (ReINTEL lacks shares on 18 % of posts).
    """
    engagement = engagement or {}
    values = [engagement.get(k) for k in ENGAGEMENT_KEYS]
    return [math.log1p(v) if isinstance(v, int) and v >= 0 else math.nan for v in values]


def reintel_engagement(row: dict[str, Any]) -> dict[str, int]:
    """A ReINTEL post's likes/comments/shares as Content.engagement (never user_name or its time)."""
    counts = {key: parse_count(row.get(column)) for key, column in
              zip(ENGAGEMENT_KEYS, ("num_like_post", "num_comment_post", "num_share_post"), strict=True)}
    return {key: n for key, n in counts.items() if n is not None}


def _train_engagement_model(docs: list[str], labels: list[int], rows: list[dict[str, Any]]) -> Any:
    """Gradient boosting over [out-of-fold text log-odds, log likes, comments, shares].

    Only what a public post page states (Content.engagement): no posting time (ReINTEL's dates
    are one 2020 season, not a signal that carries over), no user, no length. Settings: lr 0.03,
    200 trees, 15 leaves, first chosen on ReINTEL dev for an earlier evaluation-only metadata
    figure (allowed: local only) and kept. Measured 2026-11-23 through RiskScorer.score (ROC-AUC):
    ReINTEL train 5-fold (outer folds; inner 5-fold for the booster's text scores) text only
    0.885, with counts 0.905 (fitted on every post instead: 0.905); dev 0.902 -> 0.915 (0.919).
    Fitted on every post and asked about every post, the model reads 0.935 on dev; with the
    posting hour and weekday 0.941, with the 2020 date 0.947: none of these is used.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    oof = np.zeros(len(y))
    for a, b in StratifiedKFold(5, shuffle=True, random_state=0).split(docs, y):
        fold = _text_pipeline(1.0, syllable_max=3, chars=True).fit([docs[i] for i in a], y[a])
        oof[b] = fold.decision_function([docs[i] for i in b])
    x = np.c_[oof, [engagement_features(reintel_engagement(r)) for r in rows]]
    # Fitted only on the posts it will be asked about: the scorer consults it when the text is
    # assessed and at least one count is stated. (Fitted on all posts, it learns that a post with
    # no counts is suspect, a ReINTEL collection artefact, not something a page means.)
    used = [i for i, r in enumerate(rows) if _word_count("", r.get("text") or "") >= _MIN_WORDS
            and not np.isnan(x[i, 1:]).all()]
    # A count the data never states carries nothing; as a constant column no tree splits on it
    # (scikit-learn's binning fails on a column with no value at all).
    x, y = x[used], y[used]
    x[:, np.isnan(x).all(axis=0)] = 0.0
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.03, max_leaf_nodes=15,
                                          random_state=0).fit(x, y)


def _precision_at(labels: Sequence[int], scores: Sequence[float], ks: Iterable[int]) -> dict[str, float]:
    order = np.argsort(-np.asarray(scores), kind="stable")
    return {f"p@{k}": round(float(np.mean([labels[i] for i in order[:k]])), 4) for k in ks}


def evaluate_risk(data_dir: Path, split: str = "dev", *, vfnd_dir: Path | None = None,
                  models_dir: Path | None = None, local_models_dir: Path | None = None) -> dict[str, Any]:
    """ROC-AUC and precision@k on ReINTEL `split` for the shipped score and for a local model.

    ReINTEL posts carry no source, so every post is scored as an unknown-trust platform post:
    the source signals are constant and only the text signals rank. The local model is trained in
    a temporary directory when `local_models_dir` holds none, on the labelled splits other than
    `split`; one given that learnt from `split` is refused. VFND dev is a sanity figure.
    """
    data_dir = Path(data_dir)
    rows = list(read_jsonl(data_dir / f"{split}.jsonl.gz"))
    labels = [int(r["label_id"]) for r in rows]
    shipped = RiskScorer.load(models_dir, local_models_dir=None)

    def run(scorer: RiskScorer, texts: list[tuple[str, str]], counts: Sequence[dict[str, int] | None] = ()) -> list[float]:
        counts = counts or [None] * len(texts)
        return [scorer.score(t, x, language=None, source_kind="platform", source_trust="unknown",
                             engagement=e)["score"] for (t, x), e in zip(texts, counts, strict=True)]

    texts = [("", r["text"] or "") for r in rows]
    shipped_scores = run(shipped, texts)
    signals_only = run(RiskScorer(shipped.cues), texts)
    with tempfile.TemporaryDirectory() as tmp:
        local_dir = Path(local_models_dir) if local_models_dir else Path(tmp)
        if not model_path(LOCAL_MODEL, local_dir).exists():
            train_local_risk(data_dir, local_dir, holdout=split)
        elif split in load_model(LOCAL_MODEL, local_dir).get("splits", ("train",)):
            raise ValueError(f"the local risk model in {local_dir} was trained on ReINTEL {split}: "
                             "measuring it there would be in-sample")
        local = RiskScorer.load(models_dir, local_models_dir=local_dir)
        if local.local_model is None:
            raise RuntimeError(f"no local risk model could be loaded from {local_dir}")
        # As a post page would reach it: the text and the counts it states (Content.engagement).
        local_scores = run(local, texts, [reintel_engagement(r) for r in rows])
        local_text_scores = run(local, texts)
        local_model_only = local.local_model.predict_proba([_model_text("", t) for _, t in texts])[:, 1].tolist()
    fired: dict[str, int] = {}
    for t, x in texts:
        for r in shipped.score(t, x, language=None, source_kind=None, source_trust=None)["reasons"]:
            fired[r["signal"]] = fired.get(r["signal"], 0) + 1
    out: dict[str, Any] = {
        "rows": len(rows), "unreliable": sum(labels),
        "risk_shipped_roc_auc_reintel_dev": _auc(labels, shipped_scores),
        "risk_shipped_signals_only_roc_auc_reintel_dev": _auc(labels, signals_only),
        "risk_local_roc_auc_reintel_dev": _auc(labels, local_scores),
        # The same scorer on text alone (news pages rarely state counts), and its text model bare.
        "risk_local_text_only_roc_auc_reintel_dev": _auc(labels, local_text_scores),
        "risk_local_model_only_roc_auc_reintel_dev": _auc(labels, local_model_only),
        "shipped_precision": _precision_at(labels, shipped_scores, (10, 25, 50)),
        "local_precision": _precision_at(labels, local_scores, (10, 25, 50)),
        "signals_fired": dict(sorted(fired.items())),
    }
    vfnd_dir = Path(vfnd_dir) if vfnd_dir else data_dir.parent / "vfnd"
    if (vfnd_dir / "dev.jsonl.gz").exists():
        vrows = list(read_jsonl(vfnd_dir / "dev.jsonl.gz"))
        vscores = [shipped.score(r.get("title") or "", r["text"], language=None, source_kind=None,
                                 source_trust=None)["score"] for r in vrows]
        out["risk_shipped_roc_auc_vfnd_dev"] = _auc([int(r["label"] == "fake") for r in vrows], vscores)
    return out
