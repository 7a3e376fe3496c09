"""Province names written without diacritics inside text written with them ("mixed" text).

In marked text a capitalised unmarked name is most often a person spelt correctly ("Lê Quang Ninh",
"vận động viên Thanh Hoa"), so it counts as the province only with evidence: a unit word before or
after it, unmarked words around it (an English sentence, a reader's question typed without marks),
or a spelling Vietnamese never writes without marks ("Dong Thap": "-p" needs a tone mark).
Each case here is a real pattern from VNTC, ReINTEL or ViHSD, shortened.
"""

from __future__ import annotations

from typing import Any

import pytest

from nlp.match import ProvinceMatcher

# A reader's question typed without marks inside an answered (marked) article (VNTC).
QUESTION = ("Hỏi: em co ho khau o Bac Lieu nen phai du thi tai Can Tho, nhung em muon du thi tai TP.HCM. "
            "Đáp: Bạn nên liên hệ trực tiếp với trường.")
# A letter to an advice column, its sender's name typed without marks (VNTC "tâm sự").
LETTER = ("Tôi đồng ý với chị.\nFrom: {name} To: tamsu@vnexpress.net Sent: Monday, March 07\n"
          "Chào bạn, tôi đã đọc thư của bạn.")


def _found(matcher: ProvinceMatcher, text: str, title: str = "") -> dict[str, Any]:
    return {m.province_code: m for m in matcher.match(title, text)}


@pytest.mark.parametrize(("text", "code", "alias"), [
    # English sentence quoting a Vietnamese name: the words around "Quang Ngai" are unmarked.
    ("Floods hit Quang Ngai on Monday, said ông Nguyễn Văn Ánh, a local official.", "51", "Quang Ngai"),
    # An English form with its unit word after it (matched before this change too).
    ("Floods hit Quang Ngai province, said ông Nguyễn Văn A.", "51", "Quang Ngai"),
    # A Vietnamese unit word before it.
    ("Theo ông Nguyễn Văn Ánh, lũ lớn ở tỉnh Quang Ngai đã làm 3 người chết.", "51", "Quang Ngai"),
    ("Du khách đổ về thành phố Da Nang dịp nghỉ lễ.", "48", "Da Nang"),
    ("Giá lúa ở TP Can Tho tăng mạnh trong tuần.", "92", "Can Tho"),
    (QUESTION, "96", "Bac Lieu"),
    (QUESTION, "92", "Can Tho"),
    # Spelt so that it can only be the name with its marks dropped: "Tháp", "Lắk" have stop finals.
    ("Người dân Dong Thap đã thu hoạch xong lúa hè thu.", "82", "Dong Thap"),
    ("Cũng có thể sau này tôi lên Dak Lak, Kon Tum ngồi một mình.", "66", "Dak Lak"),
])
def test_unmarked_name_with_evidence_names_the_province(matcher: ProvinceMatcher, text: str, code: str,
                                                        alias: str) -> None:
    found = _found(matcher, text)
    assert code in found and found[code].named, found
    assert alias in found[code].aliases
    assert matcher.relevant(list(found.values()), code)


@pytest.mark.parametrize(("text", "code"), [
    # People spelt correctly: the unmarked form is itself a correct Vietnamese name.
    ("HLV phó Lê Quang Ninh cũng đang tạm thời bị cấm hành nghề.", "22"),
    ("Trên đường chạy, Thanh Hoa thất bại ở cự ly 100 m rào nữ.", "38"),
    ("Shi Yinhong, chuyên gia của ĐH Thanh Hoa (Bắc Kinh), nhận xét.", "38"),
    ("Theo ông Đinh Quang Tri, Phó tổng giám đốc Tổng công ty Điện lực, giá sẽ giảm.", "44"),
    ("Chuyền hai Phong có thể hình lý tưởng, dẻo và có cơ tiến bộ.", "31"),
    # Capitals carry nothing in an all-caps headline.
    ("XÁC MINH HAI TRƯỜNG HỢP LIÊN QUAN TỚI NGƯỜI NHIỄM COVID", "96"),
])
def test_correctly_spelt_person_among_marked_words_is_not_the_province(matcher: ProvinceMatcher, text: str,
                                                                       code: str) -> None:
    assert code not in _found(matcher, text)


def test_correct_syllables_alone_are_not_enough(matcher: ProvinceMatcher) -> None:
    """"Quang" and "Ngai" are correct syllables, and a person's name ("Ông Nguyễn Văn Ngai" in VNTC):
    among marked words, with no unit word, the unmarked form is no evidence of the province."""
    assert "51" not in _found(matcher, "Người dân Quang Ngai đã di dời khỏi vùng lũ.")
    assert "51" not in _found(matcher, "Ông Nguyễn Văn Ngai, Phó giám đốc Sở, cho biết như vậy.")


@pytest.mark.parametrize("text", [
    "Du khách đến vùng Dong Thap Muoi vào mùa nước nổi.",
    "Nông dân Dong Thap Muoi đã thu hoạch xong lúa.",
    "Mùa nước nổi, vùng Dong Thap muoi ngập sâu.",
    "Floods reached Dong Thap Muoi on Monday, ông Nguyễn Văn Ánh said.",
])
def test_dong_thap_muoi_unmarked_is_still_the_region(matcher: ProvinceMatcher, text: str) -> None:
    assert "82" not in _found(matcher, text)


@pytest.mark.parametrize(("text", "code"), [
    # Names typed without marks in Western order (given name first) end in a family name.
    ("Thai Nguyen nói đúng đấy, mình cũng thấy vậy.", "19"),
    ("Binh Duong cũng nghĩ thế, chán thật sự.", "79"),
    (LETTER.format(name="Thai Nguyen"), "19"),
    # One unmarked syllable is a common given name.
    (LETTER.format(name="Hue Van"), "46"),
    # Followed by another capitalised word: part of a longer name.
    ("Chúc mừng Kien Giang Tran đã đạt giải nhất cuộc thi.", "91"),
])
def test_unmarked_person_names_are_not_provinces(matcher: ProvinceMatcher, text: str, code: str) -> None:
    found = _found(matcher, text)
    assert code not in found or not found[code].named, found


def test_unmarked_family_name_before_makes_a_person(matcher: ProvinceMatcher) -> None:
    """"Tran Ngo Vinh Phuc": a family name typed without marks right before it: weak evidence only."""
    found = _found(matcher, "Bình luận của Tran Ngo Vinh Phuc về bài viết nhận được nhiều phản hồi.")
    assert "25" not in found or (not found["25"].named and found["25"].score < matcher.keep_threshold)


def test_a_longer_unmarked_name_hides_the_province_inside_it(matcher: ProvinceMatcher) -> None:
    """An address typed without marks: "Dien Bien Phu" is a street here, not Điện Biên province."""
    text = ("Nguyen Thi Giang (144/1c Bis Dien Bien Phu F:25 Q:Binh Thanh TPHCM)\n"
            "Thạc sĩ Trần Thanh Phong, Trưởng phòng Đào tạo, trả lời: bạn cần có bằng tốt nghiệp.")
    found = _found(matcher, text)
    assert "11" not in found or not found["11"].named, found


def test_marked_names_are_unaffected(matcher: ProvinceMatcher) -> None:
    found = _found(matcher, "Người dân Quảng Ngãi và Đồng Tháp đã về nhà; ông Nguyễn Thái Bình cho biết.")
    assert found["51"].named and found["82"].named
    assert "33" not in found or not found["33"].named


def test_many_unmarked_names_in_marked_text_stay_linear(matcher: ProvinceMatcher) -> None:
    """Each unmarked name looks at a bounded stretch around it: a long one-line page stays fast
    (no timing assertion; a quadratic regression shows as this test hanging)."""
    text = "Người dân Quang Ngai đã về, floods hit Quang Ngai on the day and Dong Thap too. " * 5000
    found = _found(matcher, text)
    assert found["82"].count == 5000 and "51" not in found
