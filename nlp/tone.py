"""Tone of an article toward a target province: positive, neutral or negative, with the deciding sentences.

The tone is judged on the passages that mention the province (the sentences holding its spans,
the sentence after each, and the title when it names the province), not on the whole page: a
national story can be good news overall and bad news for one province. Vietnamese text goes to
a model trained on plan-topics (MIT): TF-IDF syllable n-grams of the passage and of the whole
text, plus counts from a small hand-written polarity lexicon (nlp/lexicons/tone_vi.tsv), into
a logistic regression. English text gets VADER's compound score (its lexicon ships inside the
package); other languages, empty, tiny or garbled text get neutral with a low score and a reason.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from haidang.record import Span
from haidang.textnorm import normalize
from nlp.datasets import read_jsonl
from nlp.features import make_analyzer, sentences, syllable_ngrams, syllables
from nlp.language import detect_language
from nlp.modelfiles import file_sha256, load_model, save_model

__all__ = [
    "LABELS", "LEXICON_PATH", "MODEL_NAME", "ToneClassifier", "ToneParams", "evaluate_tone",
    "load_lexicon", "province_passages", "train_tone",
]

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
MODEL_NAME = "tone"
LEXICON_PATH = Path(__file__).resolve().parent / "lexicons" / "tone_vi.tsv"
_FORMAT = 1

# User-facing reasons (Vietnamese, NFC), kept together so wording is changed in one place.
NOTES = {
    "whole_text": "tỉnh không được nhắc tới: đánh giá trên toàn văn bản",
    "too_short": "quá ngắn",
    "unknown_language": "không nhận ra ngôn ngữ",
    "language": "ngôn ngữ: {code}",
    "english": "tiếng Anh: dùng từ điển cảm xúc VADER, không áp dụng mô hình tiếng Việt",
    "vi_model": "mô hình tiếng Việt (plan-topics)",
}

_MIN_CHARS = 20              # title + text shorter than this is a stub in any language
_MIN_SYLLABLES = 8            # under this there is no sentence to judge ("Hà Nội", a headline stub)
_LOW_SCORE = 0.34             # the confidence given with a neutral we could not really judge
_NEGATORS = frozenset({"không", "chưa", "chẳng", "chả"})
_MAX_EVIDENCE = 3
# VADER's own documented cut-offs for a neutral compound score.
_VADER_NEUTRAL = 0.05
# VADER's chat abbreviations that are also Vietnamese syllables of unaccented names in English
# news: "Ly Son" read as "ly" = "love you" (+2.6) made "fishermen hit by water cannon" positive;
# "Ha Long", "Kia" ("killed in action", -3.2), "Mia" ("missing in action"), "Tia", "Ty", "Doa".
# Dropped from the analyser's lexicon; English words ("ban", "no", "sin") stay.
_VADER_NOT_WORDS = ("ly", "ha", "kia", "mia", "tia", "ty", "doa")


# --------------------------------------------------------------------------- lexicon

def load_lexicon(path: Path = LEXICON_PATH) -> dict[str, int]:
    """term -> +1/-1 from the project's TSV (comments start with '#'; the header row is skipped)."""
    lexicon: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", "term\t")):
            continue
        term, polarity, _reason = line.split("\t", 2)
        lexicon[" ".join(syllables(term))] = 1 if int(polarity) > 0 else -1
    return lexicon


def _lexicon_hits(tokens: list[str], lexicon: dict[str, int], max_len: int) -> tuple[int, int]:
    """(positive, negative) counts; the longest term wins at each position, a negator flips it."""
    pos = neg = 0
    i = 0
    n = len(tokens)
    while i < n:
        for size in range(min(max_len, n - i), 0, -1):
            polarity = lexicon.get(" ".join(tokens[i:i + size]))
            if polarity is not None:
                if i > 0 and tokens[i - 1] in _NEGATORS:
                    polarity = -polarity
                if polarity > 0:
                    pos += 1
                else:
                    neg += 1
                i += size
                break
        else:
            i += 1
    return pos, neg


def _lexicon_features(text: str, lexicon: dict[str, int], max_len: int) -> list[float]:
    pos, neg = _lexicon_hits(syllables(text), lexicon, max_len)
    return [math.log1p(pos), math.log1p(neg), (pos - neg) / (pos + neg + 1.0)]


# --------------------------------------------------------------------------- passages

def province_passages(title: str, text: str, spans: list[Span] | None,
                      neighbours: int = 1) -> tuple[list[str], str]:
    """The sentences about the province and the scope: ([title?, sentences...], "province").

    Takes the sentences holding a text span plus `neighbours` sentences after each (Vietnamese
    news often goes on with "tỉnh này", "địa phương" without the name), and the title when it
    holds a span. Without spans in either field, the whole text is the passage ("whole-text").
    `title` and `text` must already be normalised: spans are offsets into the normalised fields.
    """
    text_spans = [s for s in spans or [] if s.field == "text"]
    title_hit = any(s.field == "title" for s in spans or [])
    parts: list[str] = [title] if title_hit and title.strip() else []
    bounds = sentences(text)
    if text_spans and bounds:
        keep: set[int] = set()
        for span in text_spans:
            for idx, (start, end) in enumerate(bounds):
                if start <= span.start < end:
                    keep.update(range(idx, min(idx + 1 + neighbours, len(bounds))))
                    break
        parts.extend(text[s:e].strip() for idx, (s, e) in enumerate(bounds) if idx in keep)
    if parts:
        return parts, "province"
    whole = [title] if title.strip() else []
    whole.extend(text[s:e].strip() for s, e in bounds)
    return whole, "whole-text"


# --------------------------------------------------------------------------- model

@dataclass(frozen=True, slots=True)
class ToneParams:
    """The model's knobs; the shipped values were chosen by 5-fold CV on plan-topics train."""

    # 5-fold CV macro-F1 on train (seed 13); every setting tried landed in 0.714-0.726, inside
    # the noise, so the choice favours the province passage and a small file:
    ngram_max: int = 2             # 1-2 grams; 1-3 triples the file for no CV gain seen
    min_df: int = 3                # 2 gave a 2.6 MB file (over the 2 MB budget); 3 keeps terms seen thrice
    C: float = 3.0                 # with the settings below: 1: 0.695, 3: 0.711
    whole_weight: float = 0.0      # whole-text block beside the passage: 0: 0.717, 0.5: 0.720, 1: 0.724
                                   # (C=1), inside the noise; at 0.5 an article full of good news about
                                   # another province outvoted the one bad sentence about the target
                                   # (tests/nlp/test_tone.py), so the passage alone decides
    lexicon_weight: float = 0.3    # 0: 0.714, 0.1: 0.718, 0.3: 0.726, 1.0: 0.687 (C=3, passage only)
    neighbours: int = 1            # sentences after each mention: 0: 0.717, 1: 0.714 (C=3); 1 keeps
                                   # "tỉnh này ..." follow-ups
    class_weight: str | None = "balanced"   # positive is the rarest class (241 / 1,000)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(slots=True)
class _Features:
    """Fitted featuriser: a shared vectoriser applied to passage and whole text, and the lexicon."""

    vectorizer: TfidfVectorizer
    lexicon: dict[str, int]
    params: ToneParams
    max_term: int = field(init=False)

    def __post_init__(self) -> None:
        self.max_term = max((len(t.split()) for t in self.lexicon), default=1)

    def transform(self, passages: list[str], wholes: list[str]) -> sparse.csr_matrix:
        p = self.params
        blocks = [self.vectorizer.transform(passages)]
        if p.whole_weight:
            blocks.append(self.vectorizer.transform(wholes) * p.whole_weight)
        if p.lexicon_weight:
            # The whole text's lexicon counts belong to the whole-text block: off when it is off.
            lex = [_lexicon_features(a, self.lexicon, self.max_term)
                   + (_lexicon_features(b, self.lexicon, self.max_term) if p.whole_weight else [])
                   for a, b in zip(passages, wholes)]
            blocks.append(sparse.csr_matrix(np.asarray(lex) * p.lexicon_weight))
        return sparse.hstack(blocks, format="csr")


def _fit(passages: list[str], wholes: list[str], labels: list[str], params: ToneParams,
         lexicon: dict[str, int], seed: int) -> tuple[_Features, LogisticRegression]:
    vectorizer = TfidfVectorizer(analyzer=make_analyzer(1, params.ngram_max), min_df=params.min_df,
                                 sublinear_tf=True, dtype=np.float32)
    vectorizer.fit(wholes + passages)
    # sklearn keeps every pruned term in stop_words_; it is only for inspection and would
    # triple the model file.
    if hasattr(vectorizer, "stop_words_"):
        del vectorizer.stop_words_
    feats = _Features(vectorizer, lexicon, params)
    clf = LogisticRegression(C=params.C, class_weight=params.class_weight, max_iter=2000,
                             random_state=seed)
    clf.fit(feats.transform(passages, wholes), labels)
    return feats, clf


# --------------------------------------------------------------------------- classifier

class ToneClassifier:
    """Tone toward a target province; `predict` never raises on bad input."""

    def __init__(self, model: dict[str, Any]) -> None:
        if model.get("format") != _FORMAT:
            raise ValueError(f"tone model format {model.get('format')!r} is not {_FORMAT}: run `haidang train`")
        self._features: _Features = model["features"]
        self._clf: LogisticRegression = model["classifier"]
        self._classes = [str(c) for c in self._clf.classes_]
        self._vader: Any = None
        # Scoring one article through sklearn's transform/predict_proba costs ~5 ms, mostly input
        # validation; the same linear algebra done here directly costs well under 1 ms.
        # `test_fast_path_matches_sklearn` keeps the two in agreement.
        vectorizer = self._features.vectorizer
        self._vocab: dict[str, int] = vectorizer.vocabulary_
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._analyzer = vectorizer.analyzer
        n_vocab = len(self._vocab)
        coef = np.asarray(self._clf.coef_, dtype=np.float64)
        self._coef_text = coef[:, :n_vocab]
        self._coef_lex = coef[:, n_vocab:] * self._features.params.lexicon_weight
        self._intercept = np.asarray(self._clf.intercept_, dtype=np.float64)
        # A sentence's pull toward class k: its weights against the mean of the other classes'.
        self._pull = np.stack([self._coef_text[k] - np.delete(self._coef_text, k, axis=0).mean(axis=0)
                               for k in range(len(self._classes))])

    @classmethod
    def load(cls, models_dir: Path | None = None) -> ToneClassifier:
        """The shipped model (nlp/models/tone.pickle.z) or the one in `models_dir`."""
        return cls(load_model(MODEL_NAME, models_dir))

    def predict(self, title: str, text: str, spans: list[Span] | None, language: str | None) -> dict[str, Any]:
        """{"label", "score", "evidence", "scope", "notes"} toward the province whose spans are given.

        `spans` are the target province's match spans (offsets into the normalised title/text);
        None or empty judges the whole text and says so. `language` is the detected language;
        None detects it here.
        """
        try:
            return self._predict(normalize(title or ""), normalize(text or ""), spans, language)
        except Exception:  # one odd article must not stop enrichment
            log.exception("tone prediction failed; returning neutral")
            return _result("neutral", 0.0, [], "whole-text", ["lỗi khi đánh giá sắc thái"])

    # ------------------------------------------------------------------ internals

    def _predict(self, title: str, text: str, spans: list[Span] | None, language: str | None) -> dict[str, Any]:
        passage, scope = province_passages(title, text, spans, self._features.params.neighbours)
        notes = [NOTES["whole_text"]] if scope == "whole-text" else []
        whole = f"{title}\n{text}" if title else text
        if len(whole.strip()) < _MIN_CHARS:
            return _result("neutral", _LOW_SCORE, [], scope, notes + [NOTES["too_short"]])
        if language is None:
            language, _confidence = detect_language(whole)
        if language is None:
            return _result("neutral", _LOW_SCORE, [], scope, notes + [NOTES["unknown_language"]])
        language = language.lower()
        if language == "en":
            return self._predict_english(passage, scope, notes)
        if language != "vi":
            return _result("neutral", _LOW_SCORE, [], scope,
                           notes + [NOTES["language"].format(code=language)])
        if len(syllables(whole)) < _MIN_SYLLABLES:
            return _result("neutral", _LOW_SCORE, [], scope, notes + [NOTES["too_short"]])
        return self._predict_vietnamese(passage, whole, scope, notes)

    def _predict_vietnamese(self, passage: list[str], whole: str, scope: str, notes: list[str]) -> dict[str, Any]:
        params = self._features.params
        if params.whole_weight:
            # The whole-text block needs sklearn's path; the shipped model does not use it.
            x = self._features.transform(["\n".join(passage)], [whole])
            proba = self._clf.predict_proba(x)[0]
        else:
            proba = self._proba(syllables("\n".join(passage)))
        best = int(np.argmax(proba))
        label = self._classes[best]
        evidence = self._evidence(passage, best, label)
        return _result(label, float(proba[best]), evidence, scope, notes + [NOTES["vi_model"]])

    def _tfidf(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, l2-normalised sublinear TF-IDF values), as the fitted vectoriser gives."""
        counts: dict[int, int] = {}
        vocab = self._vocab
        p = self._features.params
        for gram in syllable_ngrams(tokens, 1, p.ngram_max):
            col = vocab.get(gram)
            if col is not None:
                counts[col] = counts.get(col, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        idx = np.fromiter(counts, dtype=np.intp, count=len(counts))
        vals = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self._idf[idx]
        return idx, vals / np.linalg.norm(vals)

    def _proba(self, tokens: list[str]) -> np.ndarray:
        idx, vals = self._tfidf(tokens)
        scores = self._coef_text[:, idx] @ vals + self._intercept
        if self._coef_lex.shape[1]:
            pos, neg = _lexicon_hits(tokens, self._features.lexicon, self._features.max_term)
            lex = np.array([math.log1p(pos), math.log1p(neg), (pos - neg) / (pos + neg + 1.0)])
            scores = scores + self._coef_lex @ lex
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()

    def _evidence(self, passage: list[str], best: int, label: str) -> list[str]:
        """The passage sentences that pushed hardest toward `label` (linear contributions).

        For neutral, where no sentence "pushes", the passage's opening sentences are quoted.
        """
        if not passage:
            return []
        order = list(range(len(passage)))
        if label != "neutral":
            pulls = []
            for sentence in passage:
                idx, vals = self._tfidf(syllables(sentence))
                pulls.append(float(self._pull[best, idx] @ vals))
            order = [i for i in sorted(order, key=lambda i: -pulls[i]) if pulls[i] > 0] or order
        return [passage[i] for i in sorted(order[:_MAX_EVIDENCE])]

    def _predict_english(self, passage: list[str], scope: str, notes: list[str]) -> dict[str, Any]:
        if self._vader is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
            self._vader = SentimentIntensityAnalyzer()
            for abbreviation in _VADER_NOT_WORDS:
                self._vader.lexicon.pop(abbreviation, None)
        scores = [float(self._vader.polarity_scores(s)["compound"]) for s in passage]
        compound = float(self._vader.polarity_scores(" ".join(passage))["compound"])
        if compound >= _VADER_NEUTRAL:
            label = "positive"
            evidence = [s for s, c in sorted(zip(passage, scores), key=lambda p: -p[1]) if c > 0]
        elif compound <= -_VADER_NEUTRAL:
            label = "negative"
            evidence = [s for s, c in sorted(zip(passage, scores), key=lambda p: p[1]) if c < 0]
        else:
            label = "neutral"
            evidence = list(passage)
        # |compound| is VADER's strength; a neutral is as confident as it is close to zero.
        score = abs(compound) if label != "neutral" else 1.0 - abs(compound) / _VADER_NEUTRAL * 0.5
        keep = set(evidence[:_MAX_EVIDENCE])
        return _result(label, round(max(score, 0.0), 4), [s for s in passage if s in keep], scope,
                       notes + [NOTES["english"]])


def _result(label: str, score: float, evidence: list[str], scope: str, notes: list[str]) -> dict[str, Any]:
    return {"label": label, "score": round(float(score), 4), "evidence": evidence, "scope": scope,
            "notes": notes}


# --------------------------------------------------------------------------- data

_LABEL_ALIASES = {"TP Hồ Chí Minh": "Hồ Chí Minh"}   # the guidelines' spelling of the city label


class _MainSpans:
    """The annotated main province's spans from our own ProvinceMatcher, as the service would see them.

    Training and evaluation use the matcher's spans, not the annotators' names, so that they see
    what the service sees. No main province, or one the matcher misses, gives no spans.
    """

    def __init__(self) -> None:
        from nlp.gazetteer import Gazetteer
        from nlp.match import ProvinceMatcher

        self._gazetteer = Gazetteer.load()
        self._matcher = ProvinceMatcher(self._gazetteer)

    def __call__(self, title: str, text: str, main: str | None) -> list[Span]:
        if not main:
            return []
        code = self._gazetteer.resolve_province(_LABEL_ALIASES.get(main, main))
        return next((m.spans for m in self._matcher.match(title, text) if m.province_code == code), [])


def _examples(docs: list[dict[str, Any]], neighbours: int) -> tuple[list[str], list[str], list[str]]:
    """(passages, whole texts, labels) of a split, passages cut around the main province's spans."""
    main_spans = _MainSpans()
    passages, wholes, labels = [], [], []
    for doc in docs:
        title, text = normalize(doc.get("title") or ""), normalize(doc["text"])
        spans = main_spans(title, text, doc.get("main_province"))
        passage, _scope = province_passages(title, text, spans, neighbours)
        passages.append("\n".join(passage))
        wholes.append(f"{title}\n{text}" if title else text)
        labels.append(doc["tone"])
    return passages, wholes, labels


def _metrics(gold: list[str], pred: list[str]) -> dict[str, Any]:
    p, r, f, n = precision_recall_fscore_support(gold, pred, labels=list(LABELS), zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "tone_macro_f1": round(float(f1_score(gold, pred, labels=list(LABELS), average="macro",
                                               zero_division=0)), 4),   # a label absent from a small set
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(n[i])} for i, lab in enumerate(LABELS)},
        "confusion": {"labels": list(LABELS),
                      "rows_gold_cols_pred": confusion_matrix(gold, pred, labels=list(LABELS)).tolist()},
    }


def cross_validate(passages: list[str], wholes: list[str], labels: list[str], params: ToneParams,
                   lexicon: dict[str, int], seed: int = 13, folds: int = 5) -> float:
    """Mean macro-F1 over stratified folds of train: how the shipped knobs were chosen."""
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for tr, te in skf.split(passages, labels):
        feats, clf = _fit([passages[i] for i in tr], [wholes[i] for i in tr], [labels[i] for i in tr],
                          params, lexicon, seed)
        pred = clf.predict(feats.transform([passages[i] for i in te], [wholes[i] for i in te]))
        scores.append(f1_score([labels[i] for i in te], pred, average="macro"))
    return float(np.mean(scores))


# --------------------------------------------------------------------------- train / evaluate

def train_tone(data_dir: Path, models_dir: Path | None = None, seed: int = 13,
               params: ToneParams | None = None, feedback: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Fit on plan-topics train, measure on dev, write nlp/models/tone.pickle.z and its card.

    Deterministic for a given seed and data (liblinear-free lbfgs, fixed fold seed). Only
    plan-topics (MIT) trains the shipped file; UIT-VSFC is never read here. `feedback`: officers'
    tone corrections in plan-topics row form (nlp.feedback.tone_rows), added to train; the card
    then says so and the metrics include the model's agreement with them.
    """
    with threadpool_limits(1):
        return _train(Path(data_dir), models_dir, seed, params or ToneParams(), feedback or [])


def _train(data_dir: Path, models_dir: Path | None, seed: int, params: ToneParams,
           feedback: list[dict[str, Any]]) -> dict[str, Any]:
    lexicon = load_lexicon()
    passages, wholes, labels = _examples(list(read_jsonl(Path(data_dir) / "train.jsonl.gz")) + feedback,
                                         params.neighbours)
    cv_f1 = cross_validate(passages, wholes, labels, params, lexicon, seed)
    feats, clf = _fit(passages, wholes, labels, params, lexicon, seed)
    model = {"format": _FORMAT, "features": feats, "classifier": clf}
    dev = _score(ToneClassifier(model), data_dir, "dev")
    metrics: dict[str, Any] = {"train_cv5_macro_f1": round(cv_f1, 4), "dev": dev}
    if feedback:
        metrics["feedback_rows"] = len(feedback)
    train_path, dev_path = data_dir / "train.jsonl.gz", data_dir / "dev.jsonl.gz"
    path = save_model(
        model, MODEL_NAME, title="Tone toward the province (Vietnamese)",
        data=[
            {"path": "plan-topics/train.jsonl.gz", "sha256": file_sha256(train_path), "licence": "MIT",
             "use": "train"},
            {"path": "plan-topics/dev.jsonl.gz", "sha256": file_sha256(dev_path), "licence": "MIT",
             "use": "evaluation only"},
            {"path": "nlp/lexicons/tone_vi.tsv", "sha256": file_sha256(LEXICON_PATH),
             "licence": "project (GPL-3.0-or-later)", "use": "features (hand-written for Hải Đăng)"},
            *([{"path": f"officer feedback ({len(feedback)} tone corrections from the store)",
                "sha256": _rows_sha256(feedback), "licence": "the deployment's own", "use": "train"}]
              if feedback else []),
        ],
        metrics=metrics,
        params={**params.as_dict(), "seed": seed, "features": "TF-IDF syllable n-grams of the province passage "
                "(whole text too when whole_weight > 0) + lexicon counts; multinomial logistic regression"},
        limits=[
            ("Trained on 1,000 articles of 2005-06 news (VnExpress, Tuổi Trẻ, Thanh Niên, Người Lao Động), "
             "one annotator each; tone labels are the noisiest (relief, epidemic and market stories)."),
            "UIT-VSFC was NOT used for this model (research-only licence); it is only an evaluation baseline.",
            "Vietnamese only: English text is scored with VADER, other languages get neutral with a reason.",
            "Crime reports count as negative even when they praise an arrest (annotation guidelines §7).",
            ("Passages are sentences with the province's spans plus the next sentence; a province referred "
             "to only by 'tỉnh này' further on is missed."),
        ],
        models_dir=models_dir,
    )
    log.info("tone model written to %s", path)
    return {"path": str(path), "size_bytes": path.stat().st_size, **metrics}


def _rows_sha256(rows: list[dict[str, Any]]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def score_rows(rows: list[dict[str, Any]], models_dir: Path | None = None) -> dict[str, Any]:
    """The shipped (or `models_dir`) model's metrics on plan-topics-shaped rows, e.g. officer feedback."""
    return _score_docs(ToneClassifier.load(models_dir), rows, "feedback")


def _score(classifier: ToneClassifier, data_dir: Path, split: str) -> dict[str, Any]:
    return _score_docs(classifier, read_jsonl(Path(data_dir) / f"{split}.jsonl.gz"), split)


def _score_docs(classifier: ToneClassifier, docs: Any, split: str) -> dict[str, Any]:
    main_spans = _MainSpans()
    gold, pred = [], []
    scopes = {"province": 0, "whole-text": 0}
    for doc in docs:
        title, text = normalize(doc.get("title") or ""), normalize(doc["text"])
        out = classifier.predict(title, text, main_spans(title, text, doc.get("main_province")), "vi")
        scopes[out["scope"]] += 1
        gold.append(doc["tone"])
        pred.append(out["label"])
    return {"split": split, "documents": len(gold), "scopes": scopes, **_metrics(gold, pred)}


def evaluate_tone(data_dir: Path, split: str = "dev", models_dir: Path | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R and confusion of the shipped model on plan-topics `split`.

    Spans come from ProvinceMatcher for the annotated main province, as in the service.
    """
    return _score(ToneClassifier.load(models_dir), Path(data_dir), split)
