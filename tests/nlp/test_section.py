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
