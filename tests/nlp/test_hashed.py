"""HashedTfidf gives TfidfVectorizer's weights without holding a vocabulary."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.hashed import HashedTfidf

DOCS = ["cá đi học", "học sinh đi học", "cá cá cá bơi", "mưa to ở Huế", "Huế mưa", "đi Huế học"]


def _dense_sorted(m):
    return np.sort(m.toarray(), axis=1)


def test_same_weights_as_tfidf_vectorizer() -> None:
    """With no ties at the max_features cut, the same n-grams are kept and weighted alike."""
    ref = TfidfVectorizer(analyzer=str.split, min_df=2, sublinear_tf=True, lowercase=False)
    ours = HashedTfidf(analyzer=str.split, min_df=2)
    a, b = ref.fit_transform(DOCS), ours.fit_transform(DOCS)
    assert a.shape == b.shape
    assert np.allclose(_dense_sorted(a), _dense_sorted(b), atol=1e-6)
    new = ["cá học ở Huế hôm nay", "", "không có từ nào đã biết"]
    assert np.allclose(_dense_sorted(ref.transform(new)), _dense_sorted(ours.transform(new)), atol=1e-6)


def test_max_features_keeps_the_most_frequent() -> None:
    ours = HashedTfidf(analyzer=str.split, min_df=1, max_features=2).fit(DOCS)
    cols = ours.columns_of(ours.buckets(["học cá"]).indices)
    assert len(ours.kept_) == 2 and len(cols) == 2      # "học" (4) and "cá" (4) are the commonest


def test_empty_rows_and_unknown_text() -> None:
    ours = HashedTfidf(analyzer=str.split).fit(DOCS)
    x = ours.transform(["", "xyz", "Huế", ""])
    assert x.shape == (4, len(ours.kept_))
    assert x[0].nnz == 0 and x[1].nnz == 0 and x[3].nnz == 0 and x[2].nnz == 1
    assert abs(x[2].sum() - 1.0) < 1e-6
