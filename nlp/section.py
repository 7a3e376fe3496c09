"""News section (the 10 VNTC classes) of an article, with a calibrated probability.

Syllable 1-2-grams of the whole text plus the headline's n-grams as their own features, and
character 3-5-grams of the text without diacritics, TF-IDF, two linear SVMs (all features;
headline features alone) and a multinomial logistic regression over their out-of-fold scores.
Trained on VNTC train only (MIT); see `train_section`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from haidang.textnorm import fold
from haidang.textnorm import normalize as normalize_text
from nlp.datasets import read_jsonl
from nlp.features import syllable_ngrams, syllables
from nlp.hashed import HashedTfidf
from nlp.modelfiles import file_sha256, load_model, save_model

__all__ = ["SECTIONS", "SectionClassifier", "compose_text", "evaluate_section", "train_section"]

log = logging.getLogger(__name__)

SECTIONS = ("chinh_tri_xa_hoi", "doi_song", "khoa_hoc", "kinh_doanh", "phap_luat",
            "suc_khoe", "the_gioi", "the_thao", "van_hoa", "vi_tinh")
_MODEL_NAME = "section"
_LICENCE = "MIT (duyvuleo/VNTC)"

# Tuned on VNTC dev (duplicates of train removed), 2026-11-23. LinearSVC C in {0.5, 1, 2, 4}: 1 best,
# 2 and 4 equal. max_features 100k/200k/unlimited (492k): 93.2 / 93.1 / 93.0 % accuracy (without
# headline features), so 100k: same accuracy, and half the file and load time of 200k (8.2 MB, 1.3 s). Tried and dropped: trigrams (-0.1), binary tf (-0.6),
# ComplementNB (89.1), LogisticRegression C=30 (92.7), SGD modified-huber (93.3), class_weight
# balanced (+0.06, noise), capitalised-bigram features (no gain). Headline n-grams as separate
# features gave +0.2 (93.4).
# Second round, 2026-11-23 (raw LinearSVC argmax on dev, acc/macro-F1; the shipped calibrated model
# scores 93.53/93.39): this config 93.41/93.26 (C=1; C=0.5 93.27, C=2 93.41); no max_features with
# min_df=2 (804k features) 93.56 at C=2 (+1 article, 8x the file: not worth it); syllable 1-3-grams
# 300k 93.41 (C=2); tf without sublinear 93.33 (C=2); NB-SVM log-count ratio (one-vs-rest, alpha=1)
# 93.06 at C=1, 92.85 at C=0.3, worse with Wang-Manning interpolation (beta 0.25/0.5: 89.3/91.9);
# headline features up-weighted x1.5/x2/x3: 93.36/93.41/93.00; SVM + ComplementNB score averaging
# (w 0.1-0.3): 93.41-93.38. None reached 94 %, so this config stays. Not tried for lack of time:
# character n-grams of folded text, removing noisy chinh_tri_xa_hoi/phap_luat duplicates.
# Third round, 2026-11-23 (same features; dev acc / macro-F1): the sigmoid calibration replaced by a
# multinomial LR over 5-fold out-of-fold SVM scores (stacking) 93.62 / 93.52; plus a second SVM on
# the headline features alone (C=0.5, same vectoriser, its own l2 norm) 93.71 / 93.61 in the
# experiment, 93.65 / 93.55 as shipped by `haidang train` (stacker C 0.1 or 1 equal; the model also
# runs faster: no per-call calibration overhead). Tried: the headline SVM with its own uncapped
# vocabulary 93.77-93.86, or the main vocabulary plus the 20k commonest headline n-grams 93.74
# (both mean a larger vocabulary: slower load, for 3-7 articles), a lead-paragraph view (first 300 body characters) 93.38-93.53,
# more views (body-only, unigram-only, bigram-only SVMs) 93.68-93.86, no max_features + stacking
# 93.62, chi2-selected 100k/150k features 93.50/93.44, Crammer-Singer SVM 93.15, LR C=50 93.18,
# SVM+LR score average 93.35-93.53, ComplementNB/MultinomialNB views 93.36, dropping train
# articles the out-of-fold SVM confidently disagrees with (689-2,063 dropped) 92.3-93.0, a kNN
# vote over train fused with the SVM 93.50-93.71 (needs the train matrix at run time).
# Fourth round, 2026-11-23: word segmentation (underthesea 9.5 word_tokenize, format="text", word
# 1-2-grams, min_df 3, 100k, tf-idf sublinear; raw LinearSVC C=1 unless stacked; this config raw 93.41).
# Words of the first 1,500 characters: alone 91.81 (syllables of the same 1,500 characters 92.41),
# added to the full-text syllable features x1/x0.5/x0.7 93.06/93.38/93.27, as a third stacked view
# 93.50-93.53. Words of the full text: alone 93.18, added x0.5/x1 93.59/93.53, as a third stacked
# view 93.62-93.74, inside the main SVM view (x0.5) stacked with the headline SVM 93.65-93.77 (this
# config stacked the same way: 93.65-93.71). So words add at most 2-4 dev articles: not shipped.
# Costs if ever revisited: segmenting is ~8 ms per 1,400-character article (the bench would drop
# from 122 to ~60 articles/s), importing it and loading its CRF add 0.6-1.2 s to model load; hashing the
# n-grams (a fit-time sorted array of kept buckets + idf instead of the vocabulary dict) gave the same
# raw accuracy (93.41) and would remove most of this model's vectorizer load time (~0.8 s).
# Fifth round, 2026-11-23 (selected on train: 5-fold out-of-fold SVM scores, stacker accuracy by a
# second 5-fold over them; dev read after): character 3-5-grams (char_wb) of the diacritic-free
# text, 150k, min_df 3, weight 0.5, added to the main SVM view: train CV 93.34 -> 93.58, dev 93.65 ->
# 93.86 as an experiment. The same char features as a third stacked view instead: 93.38 / 93.77;
# weight 1: raw dev -0.5. As shipped, with both vectorisers hashed (same weighting, no vocabulary
# dicts: section model RSS 75 -> 14 MB, load -0.3 s): 93.80 / 93.70. A small MLP
# (chi2 20k features, 128 hidden units) alone 92.9 on dev; as a
# third stacked view no gain (train CV 93.57 vs 93.58; dev 93.74). Other char settings, hashed (train
# CV of the stack / dev): 2-5-grams 300k 93.58 / 93.86, 3-6-grams 250k 93.55 / 93.80, 3-5-grams 300k
# 93.57 / 93.92, 3-5-grams 150k weight 0.7 93.51 / 93.53: the same within noise, so the smallest stays. Costs of the char view: ~1.2 ms per article,
# +~3 MB file; both vectorisers hashed (nlp/hashed.py) to keep memory and load time down.
# Rebuilt 2026-11-24 (`haidang train --check` found the shipped file no longer rebuilt): normalize now
# drops bidi marks, which changed 4 train and 2 dev articles ("l\u200eý thuyết"): 93.77 / 93.67.
_MIN_DF = 3
_MAX_FEATURES = 100_000
_CHAR_NGRAMS = (3, 5)
_CHAR_MAX_FEATURES = 150_000
_CHAR_WEIGHT = 0.5
_CHAR_CHARS = 4000             # enough for the section; bounds the cost on huge pages
_SVM_C = 1.0
_HEADLINE_SVM_C = 0.5
_STACK_C = 1.0              # scikit-learn's default; 0.1 gave the same dev accuracy
_STACK_FOLDS = 5
_HEADLINE_PREFIX = "t:"
_HEADLINE_CHARS = 200          # a missing line break (1,028 NLD files) must not make the body a "headline"
# Below this many distinct known n-grams the probability is shrunk toward uniform: VNTC's median
# article has ~700; a 40-n-gram text is a couple of sentences. A guard for tiny or foreign text,
# not tuned on dev.
_MIN_KNOWN_NGRAMS = 40


def compose_text(title: str | None, text: str | None) -> str:
    """Headline on the first line, then the body, as VNTC stores articles (title not repeated)."""
    title = (title or "").strip()
    text = (text or "").strip()
    if title and not text.startswith(title):
        return f"{title}\n{text}" if text else title
    return text


class _HeadlineAnalyzer:
    """Syllable 1-2-grams of the text plus `t:`-prefixed n-grams of its first line.

    Module-level class so the pickled vectorizer loads. The headline states the section more
    plainly than the body, so its words get weights of their own.
    """

    def __call__(self, doc: str) -> list[str]:
        return syllable_ngrams(syllables(doc), 1, 2) + _headline_ngrams(doc)


def _headline_ngrams(doc: str) -> list[str]:
    head = syllables(doc.split("\n", 1)[0][:_HEADLINE_CHARS])
    return [_HEADLINE_PREFIX + g for g in syllable_ngrams(head, 1, 2)]


def _char_text(doc: str) -> str:
    """The text the character n-grams read: diacritics folded (robust to unaccented writing), capped.

    Module-level so the pickled vectorizer loads.
    """
    return fold(normalize_text(doc[:_CHAR_CHARS]))


def _resolve(data_dir: Path, name: str) -> Path:
    """Accept ../shared/data or the dataset folder itself."""
    data_dir = Path(data_dir)
    return data_dir / name if (data_dir / name).is_dir() else data_dir


def _build_vectorizer() -> FeatureUnion:
    """Syllable n-grams first (the headline view indexes their columns), then character n-grams.

    Hashed, not a vocabulary: 250,000 n-gram strings in dicts cost ~40 MB of memory and ~0.5 s of load.
    """
    syl = HashedTfidf(analyzer=_HeadlineAnalyzer(), min_df=_MIN_DF, max_features=_MAX_FEATURES)
    chars = HashedTfidf(analyzer="char_wb", ngram_range=_CHAR_NGRAMS, preprocessor=_char_text,
                        min_df=_MIN_DF, max_features=_CHAR_MAX_FEATURES)
    return FeatureUnion([("syl", syl), ("chr", chars)], transformer_weights={"chr": _CHAR_WEIGHT})


class _StackedSections:
    """Two linear SVMs (all features; headline features only) and a multinomial LR over their scores.

    Module-level class so the pickled model loads. The headline view is a column subset of the
    same TF-IDF row, re-normalised, so it needs no vocabulary of its own (load time unchanged);
    the LR learns from out-of-fold scores how far to trust each view and gives the probabilities.
    """

    def __init__(self, classes: np.ndarray, full: tuple[np.ndarray, np.ndarray], head_cols: np.ndarray,
                 head: tuple[np.ndarray, np.ndarray], stack: tuple[np.ndarray, np.ndarray]):
        self.classes_ = classes
        self.full_coef, self.full_intercept = (a.astype(np.float32) for a in full)
        self.head_cols = head_cols.astype(np.int32)
        self.head_coef, self.head_intercept = (a.astype(np.float32) for a in head)
        self.stack_coef, self.stack_intercept = stack

    def view_scores(self, x: Any) -> np.ndarray:
        """[full SVM scores | headline SVM scores], one row per document."""
        full = np.asarray(x @ self.full_coef.T) + self.full_intercept
        head = np.asarray(normalize(x[:, self.head_cols]) @ self.head_coef.T) + self.head_intercept
        return np.hstack([full, head])

    def predict_proba(self, x: Any) -> np.ndarray:
        z = self.view_scores(x) @ self.stack_coef.T + self.stack_intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def _svm_scores(xa: Any, ya: np.ndarray, xb: Any, c: float, seed: int) -> tuple[np.ndarray, LinearSVC]:
    svm = LinearSVC(C=c, random_state=seed).fit(xa, ya)
    return svm.decision_function(xb), svm


def _fit_stacked(x: Any, y: np.ndarray, head_cols: np.ndarray, seed: int) -> _StackedSections:
    """Out-of-fold view scores (seeded folds) train the stacker; the SVMs are then refit on all of train."""
    xh = normalize(x[:, head_cols])
    oof = np.zeros((x.shape[0], 2 * len(SECTIONS)))
    k = len(SECTIONS)
    for a, b in StratifiedKFold(_STACK_FOLDS, shuffle=True, random_state=seed).split(x, y):
        oof[b, :k] = _svm_scores(x[a], y[a], x[b], _SVM_C, seed)[0]
        oof[b, k:] = _svm_scores(xh[a], y[a], xh[b], _HEADLINE_SVM_C, seed)[0]
    full = LinearSVC(C=_SVM_C, random_state=seed).fit(x, y)
    head = LinearSVC(C=_HEADLINE_SVM_C, random_state=seed).fit(xh, y)
    stack = LogisticRegression(C=_STACK_C, max_iter=3000, random_state=seed).fit(oof, y)
    assert list(full.classes_) == list(head.classes_) == list(stack.classes_)
    return _StackedSections(full.classes_, (full.coef_, full.intercept_), head_cols,
                            (head.coef_, head.intercept_), (stack.coef_, stack.intercept_))


def _fit_pipeline(docs: list[str], labels: list[str], seed: int) -> Pipeline:
    vectorizer = _build_vectorizer()
    x = vectorizer.fit_transform(docs).tocsr()
    syl: HashedTfidf = vectorizer.transformer_list[0][1]           # syllables come first
    head_buckets = np.unique(HashedTfidf(analyzer=_headline_ngrams).buckets(docs).indices)
    head_cols = syl.columns_of(head_buckets)
    clf = _fit_stacked(x, np.asarray(labels), head_cols, seed)
    return Pipeline([("tfidf", vectorizer), ("clf", clf)])


class SectionClassifier:
    """Predicts the VNTC section of an article. Pure: no I/O after `load`."""

    def __init__(self, pipeline: Pipeline):
        self._pipeline = pipeline
        self._vectorizer: FeatureUnion = pipeline.named_steps["tfidf"]
        self._clf: _StackedSections = pipeline.named_steps["clf"]
        # Known syllable n-grams measure how much of the text the model understands (char n-grams
        # of any Latin text would always be found).
        self._n_syllable_features = len(self._vectorizer.transformer_list[0][1].kept_)
        self.labels: tuple[str, ...] = tuple(str(c) for c in self._clf.classes_)

    @classmethod
    def load(cls, models_dir: Path | None = None) -> SectionClassifier:
        """Load nlp/models/section.pickle.z (or `models_dir`/section.pickle.z)."""
        return cls(load_model(_MODEL_NAME, models_dir))

    def predict(self, title: str, text: str) -> dict[str, Any]:
        """{"label": a VNTC id, "score": its probability}. Never raises on bad input.

        Text with few known n-grams (empty, a few words, another language, garbage) gets its
        probabilities pulled toward uniform, so the score says how little we know.
        """
        try:
            doc = compose_text(title, text)
            x = self._vectorizer.transform([doc])
            proba = self._clf.predict_proba(x)[0].astype(float)
            known = int((x.indices < self._n_syllable_features).sum())
            weight = min(1.0, known / _MIN_KNOWN_NGRAMS)
        except (ValueError, TypeError) as exc:       # e.g. non-str input from a broken extractor
            log.warning("section: cannot featurise input (%s); returning a no-confidence label", exc)
            proba, weight = np.full(len(self.labels), 1 / len(self.labels)), 0.0
        proba = weight * proba + (1 - weight) / len(self.labels)
        best = int(np.argmax(proba))
        return {"label": self.labels[best], "score": round(float(proba[best]), 4)}


def _metrics(gold: list[str], pred: list[str]) -> dict[str, Any]:
    labels = list(SECTIONS)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), 4),
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])} for i, lab in enumerate(labels)},
        "confusion": {"labels": labels, "matrix": confusion_matrix(gold, pred, labels=labels).tolist()},
    }


def evaluate_section(data_dir: Path, split: str = "dev", models_dir: Path | None = None,
                     classifier: SectionClassifier | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class P/R, confusion matrix on `split`, after removing every
    article whose text is also in train (VNTC repeats articles across splits; counting them
    would measure memory). `duplicates_removed` says how many went.
    """
    folder = _resolve(data_dir, "vntc")
    train_texts = {row["text"] for row in read_jsonl(folder / "train.jsonl.gz")}
    rows = list(read_jsonl(folder / f"{split}.jsonl.gz"))
    kept = [row for row in rows if row["text"] not in train_texts]
    clf = classifier or SectionClassifier.load(models_dir)
    pred = [clf.predict(row.get("title") or "", row["text"])["label"] for row in kept]
    out = _metrics([row["label"] for row in kept], pred)
    out.update({"split": split, "n": len(kept), "duplicates_removed": len(rows) - len(kept)})
    return out


def train_section(data_dir: Path, models_dir: Path | None = None, seed: int = 13) -> dict[str, Any]:
    """Fit on VNTC train, measure on dev, write section.pickle.z and its card; return the dev metrics.

    Reproducible: LinearSVC (liblinear, seeded), the seeded stacking folds and lbfgs are deterministic.
    """
    folder = _resolve(data_dir, "vntc")
    train_path, dev_path = folder / "train.jsonl.gz", folder / "dev.jsonl.gz"
    rows = list(read_jsonl(train_path))
    docs = [compose_text(row.get("title"), row["text"]) for row in rows]
    pipeline = _fit_pipeline(docs, [row["label"] for row in rows], seed)
    clf = SectionClassifier(pipeline)
    metrics = evaluate_section(folder, "dev", classifier=clf)
    save_model(
        pipeline, _MODEL_NAME, title="News section (VNTC, 10 classes)", models_dir=models_dir,
        data=[{"path": "vntc/train.jsonl.gz", "sha256": file_sha256(train_path), "licence": _LICENCE,
               "use": "train"},
              {"path": "vntc/dev.jsonl.gz", "sha256": file_sha256(dev_path), "licence": _LICENCE,
               "use": "evaluation"}],
        metrics={k: metrics[k] for k in ("accuracy", "macro_f1", "n", "duplicates_removed", "per_class")},
        params={"features": ("syllable 1-2-grams + headline 1-2-grams, tf-idf sublinear; char_wb 3-5-grams "
                             "of the diacritic-free text x0.5; both hashed (2^26 buckets, kept buckets only)"), "min_df": _MIN_DF,
                "max_features": _MAX_FEATURES, "char_max_features": _CHAR_MAX_FEATURES,
                "char_weight": _CHAR_WEIGHT, "svm_C": _SVM_C, "headline_svm_C": _HEADLINE_SVM_C,
                "probabilities": "multinomial LR over out-of-fold scores of both SVMs", "stack_C": _STACK_C,
                "stack_folds": _STACK_FOLDS, "seed": seed, "n_train": len(rows)},
        limits=["News of 2005-2006: later vocabulary (COVID-19, new provinces, platforms) is unseen.",
                ("chinh_tri_xa_hoi and phap_luat overlap (VNTC files the same article under both); "
                 "most errors are between chinh_tri_xa_hoi and the other sections."),
                "Vietnamese only: other languages get a low score, not a meaningful label.",
                "Dev comes from the same crawl as train; the hidden test split has another class balance."],
    )
    return metrics
