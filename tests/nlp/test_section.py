"""SectionClassifier on the shipped model file: shapes, determinism, obvious cases, bad input."""

from __future__ import annotations

import pytest

from nlp.section import SECTIONS, SectionClassifier, compose_text

SPORT = ("Đội tuyển Việt Nam thắng Thái Lan 2-1 ở bán kết SEA Games",
         ("Trong trận bán kết bóng đá nam SEA Games tối qua, đội tuyển Việt Nam đã thắng Thái Lan 2-1. "
         "Huấn luyện viên cho biết các cầu thủ đã thi đấu quả cảm. Tiền đạo ghi bàn ở phút 89 sau "
         "đường chuyền của tiền vệ, giúp đội nhà vào chung kết gặp Malaysia."))
LAW = ("Khởi tố vụ án lừa đảo chiếm đoạt tài sản",
       ("Cơ quan cảnh sát điều tra Công an tỉnh đã khởi tố vụ án, khởi tố bị can và bắt tạm giam đối tượng "
       "về hành vi lừa đảo chiếm đoạt tài sản. Viện kiểm sát đã phê chuẩn quyết định. Tòa án sẽ xét xử."))


@pytest.fixture(scope="module")
def clf() -> SectionClassifier:
    return SectionClassifier.load()


def test_shape_and_range(clf: SectionClassifier) -> None:
    out = clf.predict(*SPORT)
    assert set(out) == {"label", "score"}
    assert out["label"] in SECTIONS
    assert 0.0 <= out["score"] <= 1.0
    assert set(clf.labels) == set(SECTIONS)


def test_obvious_cases(clf: SectionClassifier) -> None:
    assert clf.predict(*SPORT)["label"] == "the_thao"
    assert clf.predict(*SPORT)["score"] > 0.5
    assert clf.predict(*LAW)["label"] == "phap_luat"


def test_deterministic(clf: SectionClassifier) -> None:
    assert clf.predict(*SPORT) == clf.predict(*SPORT)
    assert SectionClassifier.load().predict(*LAW) == clf.predict(*LAW)


@pytest.mark.parametrize("title,text", [("", ""), ("", "   \n "), ("a", "b"), ("", "%%%% ### !!! ???"),
                                        ("", "xq zzv qqq wkp"), ("", "\x00\x01\ufffd" * 50)])
def test_bad_input_low_score(clf: SectionClassifier, title: str, text: str) -> None:
    out = clf.predict(title, text)
    assert out["label"] in SECTIONS
    assert out["score"] <= 0.2


def test_title_not_repeated() -> None:
    assert compose_text("Tiêu đề", "Tiêu đề\nThân bài") == "Tiêu đề\nThân bài"
    assert compose_text("Tiêu đề", "Thân bài") == "Tiêu đề\nThân bài"
    assert compose_text(None, None) == ""


def test_probabilities_sum_to_one(clf: SectionClassifier) -> None:
    x = clf._vectorizer.transform([compose_text(*SPORT), compose_text(*LAW)])
    proba = clf._clf.predict_proba(x)
    assert proba.shape == (2, len(SECTIONS))
    assert abs(float(proba.sum(axis=1).min()) - 1.0) < 1e-6


def test_stacked_fit_is_reproducible() -> None:
    """Two fits on the same tiny corpus give the same model; the headline view reads only headline columns."""
    import numpy as np

    from nlp.section import _fit_pipeline

    words = ["bóng đá", "tòa án", "chứng khoán", "vắc xin", "máy tính", "ca sĩ", "tổng thống", "nhà khoa học",
             "gia đình", "quốc hội"]
    docs, labels = [], []
    for label, word in zip(SECTIONS, [words[i] for i in (9, 8, 7, 2, 1, 3, 6, 0, 5, 4)], strict=True):
        for i in range(6):
            docs.append(f"Tin {word} số {i}\nBài viết về {word} và {word} hôm nay, lần {i}.")
            labels.append(label)
    a, b = _fit_pipeline(docs, labels, seed=13), _fit_pipeline(docs, labels, seed=13)
    from nlp.hashed import HashedTfidf
    from nlp.section import _headline_ngrams
    syl = a.named_steps["tfidf"].transformer_list[0][1]
    head = set(a.named_steps["clf"].head_cols.tolist())
    headline = syl.columns_of(HashedTfidf(analyzer=_headline_ngrams).buckets(["Tin bóng đá số 1\nBài"]).indices)
    body = syl.columns_of(HashedTfidf(analyzer=lambda d: d.split()).buckets(["bóng đá"]).indices)
    assert len(headline) and set(headline.tolist()) <= head
    assert len(body) and not set(body.tolist()) & head
    assert np.array_equal(a.named_steps["clf"].stack_coef, b.named_steps["clf"].stack_coef)
    probe = ("Tin bóng đá mới", "Bài viết về bóng đá và bóng đá hôm nay.")
    assert SectionClassifier(a).predict(*probe) == SectionClassifier(b).predict(*probe)
    assert SectionClassifier(a).predict(*probe)["label"] == "the_thao"
