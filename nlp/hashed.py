"""TF-IDF over hashed n-grams, keeping only the buckets that training kept.

A fitted `TfidfVectorizer` holds its vocabulary as a Python dict of strings: for the section
model's 250,000 n-grams that is ~40 MB of memory and most of its load time. Here the n-grams are
hashed (scikit-learn's `HashingVectorizer`, stateless) into a space large enough that collisions
are rare, and fitting keeps a sorted array of the buckets `TfidfVectorizer` would have kept
(document frequency at least `min_df`, the `max_features` most frequent) with their idf. Same
weighting as `TfidfVectorizer(sublinear_tf=True)` with smooth idf and l2 norm; no feature names,
so use it only where no n-gram is quoted as evidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

__all__ = ["HashedTfidf"]

_N_BUCKETS = 1 << 26        # ~67M: two frequent n-grams of a 2M-n-gram corpus rarely share a bucket


class HashedTfidf(TransformerMixin, BaseEstimator):
    """`analyzer`, `ngram_range`, `preprocessor` as for `HashingVectorizer`; `min_df`, `max_features`
    as for `TfidfVectorizer`. Output: l2-normalised sublinear TF-IDF, one column per kept bucket."""

    def __init__(self, analyzer: Any = "word", ngram_range: tuple[int, int] = (1, 1), preprocessor: Any = None,
                 min_df: int = 1, max_features: int | None = None):
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.preprocessor = preprocessor
        self.min_df = min_df
        self.max_features = max_features

    def _hasher(self) -> HashingVectorizer:
        return HashingVectorizer(analyzer=self.analyzer, ngram_range=self.ngram_range,
                                 preprocessor=self.preprocessor, lowercase=False, n_features=_N_BUCKETS,
                                 alternate_sign=False, norm=None, dtype=np.float32)

    def buckets(self, docs: Any) -> sparse.csr_matrix:
        """Raw counts per hash bucket (all `_N_BUCKETS` columns)."""
        return self._hasher().transform(docs).tocsr()

    def fit(self, docs: Any, y: Any = None) -> HashedTfidf:
        self.fit_transform(docs)
        return self

    def fit_transform(self, docs: Any, y: Any = None) -> sparse.csr_matrix:
        counts = self.buckets(docs)
        df = np.bincount(counts.indices, minlength=_N_BUCKETS)
        tf = np.bincount(counts.indices, weights=counts.data, minlength=_N_BUCKETS)
        candidates = np.flatnonzero(df >= self.min_df)
        if self.max_features is not None and len(candidates) > self.max_features:
            order = np.argsort(-tf[candidates], kind="stable")[: self.max_features]
            candidates = candidates[order]
        self.kept_ = np.sort(candidates).astype(np.int64)
        n = counts.shape[0]
        self.idf_ = (np.log((1 + n) / (1 + df[self.kept_])) + 1).astype(np.float32)
        return self._weigh(counts)

    def transform(self, docs: Any) -> sparse.csr_matrix:
        return self._weigh(self.buckets(docs))

    def columns_of(self, bucket_ids: np.ndarray) -> np.ndarray:
        """Output columns of the given hash buckets (those that were kept)."""
        return np.flatnonzero(np.isin(self.kept_, bucket_ids))

    def _weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        pos = np.searchsorted(self.kept_, counts.indices)
        pos[pos == len(self.kept_)] = 0
        hit = self.kept_[pos] == counts.indices
        indptr = np.r_[0, np.cumsum(hit)][counts.indptr]
        cols = pos[hit]
        data = (1.0 + np.log(counts.data[hit])) * self.idf_[cols]
        out = sparse.csr_matrix((data.astype(np.float32), cols, indptr), shape=(counts.shape[0], len(self.kept_)))
        out.sort_indices()
        return normalize(out)
