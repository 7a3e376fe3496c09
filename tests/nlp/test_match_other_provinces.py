"""Matching for deployments other than Quảng Ngãi: Đồng Tháp after the 2025 merger, Quảng Ninh.

Each case states the text and what a provincial office expects: which provinces the article names
(and whether by name), and which it must not. Text without diacritics and capitals ("dong thap
muoi", "vinh ha long") is what public platforms carry; there place names look like ordinary words.
"""

from __future__ import annotations

import pytest

from haidang.settings import DEFAULT_CONFIG_DIR, load_settings
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher


@pytest.fixture(scope="module")
def matcher() -> ProvinceMatcher:
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    return ProvinceMatcher(Gazetteer.load(landmarks=settings.landmarks))


def _scores(matcher: ProvinceMatcher, title: str, text: str) -> dict[str, float]:
    return {m.province_code: m.score for m in matcher.match(title, text)}


# (case id, title, text, the province that must be kept, provinces that must not be kept)
CASES = [
    ("dong-thap-muoi-unaccented-cased", "Mua nuoc noi ve som o vung dong thap muoi",
     "Nuoc lu ve som, ba con Long An tranh thu danh bat ca linh. Vung Dong thap muoi nuoc len nhanh.",
     "80", ["82"]),
    ("dong-thap-muoi-unaccented-lower", "mua nuoc noi", "vung dong thap muoi nam nay nuoc len nhanh",
     None, ["82"]),
    ("dong-thap-muoi-marked", "Mùa nước nổi ở vùng Đồng Tháp Mười",
     "Vùng Đồng Tháp Mười trải dài qua nhiều tỉnh, nông dân Mộc Hóa, Tân Hưng đánh bắt cá linh.",
     "80", ["82"]),
    ("dong-thap-unaccented-lower", "dong thap: nong dan trung mua xoai",
     "nong dan o cao lanh va lap vo trung mua xoai nam nay", "82", []),
    ("tien-giang-before-merger", "Tiền Giang: thông xe cầu Rạch Miễu 2",
     "Sáng 20/6/2025, tỉnh Tiền Giang thông xe cầu Rạch Miễu 2.", "82", []),
    ("ward-only-my-tho", "Phường Mỹ Tho rộn ràng lễ hội trái cây",
     "Phường Mỹ Tho tổ chức lễ hội trái cây miệt vườn.", "82", []),
    ("former-district-cai-be", "Huyện Cái Bè phát triển du lịch", "Chợ nổi Cái Bè nhộn nhịp mỗi sáng.",
     "82", []),
    ("english-sa-dec", "Sa Dec's flower village blooms",
     "The flower village of Sa Dec in the Mekong Delta prepares for Tet.", "82", []),
    ("ha-long-bay-english", "Ha Long Bay welcomes record visitors",
     "Ha Long Bay, a UNESCO World Heritage Site, welcomed 2 million visitors.", "22", []),
    ("vinh-ha-long-unaccented", "tin don: vinh ha long o nhiem",
     "nghe noi vinh ha long sap cam tau du lich, long sap den roi", "22", ["40", "14"]),
    ("hoa-binh-is-peace", "mong muon hoa binh", "chung toi mong muon hoa binh cho the gioi", None, ["25"]),
    ("tinh-hoa-binh-is-the-province", "tin moi", "tinh hoa binh co nhieu dan toc muong", "25", []),
    ("bien-dong-is-the-sea", "bien dong", "tau la xam pham vung bien dong cua viet nam", None, ["24"]),
    ("pacific-unaccented-cased", "Tin nong: thai binh duong co bao lon",
     "Nhat Ban canh bao bao lon tren thai binh duong.", None, ["79", "33"]),
    ("dien-bien-is-developments", "dien bien moi", "dien bien phuc tap cua con bao", None, ["11"]),
    ("dien-bien-phu-unaccented", "dien bien phu", "du khach tham dien bien phu dip 7/5", "11", []),
]


@pytest.mark.parametrize(("title", "text", "keep", "not_kept"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_other_province_traps(matcher: ProvinceMatcher, title: str, text: str, keep: str | None,
                              not_kept: list[str]) -> None:
    scores = _scores(matcher, title, text)
    if keep is not None:
        assert scores.get(keep, 0) >= matcher.keep_threshold, scores
    for code in not_kept:
        assert scores.get(code, 0) < matcher.keep_threshold, (code, scores)


def test_tien_giang_names_dong_thap(matcher: ProvinceMatcher) -> None:
    """A pre-merger name names the current province (named: true), with the old name as evidence."""
    found = {m.province_code: m for m in matcher.match("Tiền Giang thông xe cầu", "Tỉnh Tiền Giang thông xe cầu.")}
    assert found["82"].named and found["82"].province == "Đồng Tháp"
    assert "Tiền Giang" in found["82"].aliases


def test_plain_text_ward_counts_when_the_province_is_named(matcher: ProvinceMatcher) -> None:
    """In plain text a short ward name alone is only a hint, but it still adds to a named province."""
    alone = _scores(matcher, "tin moi", "nong dan lap vo trung mua xoai")
    named = _scores(matcher, "tin moi", "dong thap: nong dan lap vo trung mua xoai")
    assert alone.get("82", 0) < matcher.keep_threshold
    assert named["82"] > _scores(matcher, "tin moi", "dong thap: nong dan trung mua xoai")["82"]


def test_marked_ward_alone_still_keeps(matcher: ProvinceMatcher) -> None:
    """Text written with diacritics is unaffected: a ward alone keeps the article, as before."""
    assert _scores(matcher, "Xã Lấp Vò trúng mùa xoài", "Nông dân xã Lấp Vò trúng mùa.")["82"] >= 0.5


@pytest.mark.parametrize(("text", "code", "kept"), [
    ("Trucks queued at the Huu Nghi border gate for days.", "20", True),
    ("Hàng trăm xe ùn tắc tại cửa khẩu quốc tế Hữu Nghị.", "20", True),
    ("Bệnh viện Hữu Nghị tiếp nhận bệnh nhân.", "20", False),
    ("Halong Bay cruises resumed after the storm.", "22", True),
    ("Khu du lịch tâm linh Tây Yên Tử đón khách.", "22", False),
    ("Khu di tích Yên Tử đón khách dịp khai hội.", "22", True),
])
def test_border_and_bay_landmarks_of_the_shipped_config(matcher: ProvinceMatcher, text: str, code: str,
                                                        kept: bool) -> None:
    assert (_scores(matcher, "", text).get(code, 0) >= matcher.keep_threshold) is kept
