"""Language identification: the Vietnamese fast path, langdetect for the rest, nothing for junk."""

from __future__ import annotations

import pytest

from nlp.language import detect_language

VI = "Ủy ban nhân dân tỉnh Quảng Ngãi tổ chức lễ khánh thành cầu Trà Khúc mới vào sáng nay."
EN = "The People's Committee of Quang Ngai province opened a new bridge over the Tra Khuc river this morning."
ZH = "广东省人民政府今天宣布了新的投资计划，以促进地区经济发展和扩大就业。"


def test_vietnamese_takes_the_fast_path() -> None:
    code, confidence = detect_language(VI)
    assert code == "vi" and confidence >= 0.9


def test_vietnamese_with_old_style_tone_marks_and_nfd() -> None:
    import unicodedata
    code, _ = detect_language(unicodedata.normalize("NFD", "Thời tiết ở Khánh Hoà hôm nay rất đẹp, khách du lịch đông."))
    assert code == "vi"


def test_english_text_with_a_vietnamese_name_is_english() -> None:
    code, confidence = detect_language(EN + " Mr. Nguyễn Văn Trường attended.")
    assert code == "en" and confidence > 0.5


def test_chinese() -> None:
    code, _ = detect_language(ZH)
    assert code is not None and code.startswith("zh")


@pytest.mark.parametrize("text", ["", "   \n ", "Hà Nội", "12345 67890", "@@@ ### $$$ %%% &&& *** ((( )))"])
def test_empty_tiny_or_garbled_is_unknown(text: str) -> None:
    assert detect_language(text) == (None, 0.0)


def test_deterministic() -> None:
    text = "Le gouvernement a annoncé une nouvelle politique économique pour la région du delta."
    assert len({detect_language(text) for _ in range(5)}) == 1


def test_never_raises_on_odd_input() -> None:
    assert detect_language("\x00\x01\ufffd" * 50) == (None, 0.0)
    assert detect_language(None) == (None, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["Hay lam, ung ho ban het minh",
                                  "Ai cho ma doi, lai con bi chui nua",
                                  "Nam nay mua to qua, duong ngap het roi",
                                  "Met moi qua di mat, khong muon di lam nua"])
def test_vietnamese_typed_without_diacritics_is_vietnamese(text: str) -> None:
    # langdetect alone reads these as Tagalog, Romanian, Tagalog and Indonesian.
    assert detect_language(text)[0] == "vi"


@pytest.mark.parametrize("text", [
    "Sa Huynh beach in Quang Ngai is lovely, and we went to Ly Son island with Nguyen Van Minh and Tran Thi Hoa",
    "Hoy vamos a la playa con mis amigos, que bueno",
    "Ang mga tao sa bayan ay masaya ngayong araw"])
def test_other_languages_with_vietnamese_names_keep_their_language(text: str) -> None:
    assert detect_language(text)[0] != "vi"


_GOOD = ("Sáng 12/3, UBND tỉnh Quảng Ngãi tổ chức hội nghị xúc tiến đầu tư tại đặc khu Lý Sơn với sự tham "
         "dự của nhiều doanh nghiệp trong và ngoài nước.")


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_vietnamese_decoded_with_the_wrong_encoding_is_garbled_not_vietnamese(encoding: str) -> None:
    garbled = _GOOD.encode("utf-8").decode(encoding, errors="replace")      # "Quáº£ng NgÃ£i"
    assert detect_language(garbled) == (None, 0.0)
    assert detect_language(_GOOD)[0] == "vi"


@pytest.mark.parametrize("text", [
    "ខេត្តក្វាងង៉ាយ Quảng Ngãi បានរៀបចំសន្និសីទវិនិយោគនៅកោះលីសឺន ដែលមានក្រុមហ៊ុនជាច្រើនចូលរួម",
    "ແຂວງ Quảng Ngãi ໄດ້ຈັດກອງປະຊຸມສົ່ງເສີມການລົງທຶນຢູ່ເກາະລີເຊີນ ມີບໍລິສັດຫຼາຍແຫ່ງເຂົ້າຮ່ວມ"])
def test_another_script_naming_a_vietnamese_place_is_not_vietnamese(text: str) -> None:
    """Khmer and Lao have no spaces between words, so the name alone passed the word share."""
    assert detect_language(text)[0] != "vi"
