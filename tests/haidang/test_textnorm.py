"""Text normalisation: tone-mark placement, hidden characters, and `fold` as `fold_char` per character."""

from __future__ import annotations

import pytest

from haidang.textnorm import BIDI_CONTROLS, INVISIBLE_CHARS, fold, fold_char, normalize


@pytest.mark.parametrize(("text", "expected"), [
    ("hoà", "hòa"), ("hòa", "hòa"), ("Hoà bình", "Hòa bình"), ("HOÀ", "HÒA"), ("oà", "òa"),
    ("Thanh Hoá\nQuảng Trị", "Thanh Hóa\nQuảng Trị"), ("khoẻ", "khỏe"), ("KHOẺ", "KHỎE"),
    ("thuỳ", "thùy"), ("Thuỷ", "Thủy"), ("Thủy", "Thủy"), ("thuý\u2060", "thúy"),
])
def test_open_syllables_take_the_new_tone_placement(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("text", [
    "quý", "quỳ", "Quỷ", "QUỶ", "qoà",     # after "q" the pair is consonant + vowel: the mark stays
    "qúy",                                   # the old style on "u" after "q" is not a pair: left as written
    "hoàn", "hoà_", "hoà1",                  # the pair does not end the syllable
    "oÀ",                                    # mixed case the other way round: not in the table
])
def test_other_placements_are_left_as_written(text: str) -> None:
    assert normalize(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("hoa\u0300", "hòa"), ("Thuy\u0309", "Thủy"), ("Qua\u0309ng Nga\u0303i", "Quảng Ngãi"),
    ("Hoa\u0300 Bi\u0300nh", "Hòa Bình"),
])
def test_decomposed_input_is_composed_then_placed(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("hidden", [*INVISIBLE_CHARS, "\x00", "\x1f", "\x7f"])
def test_a_hidden_character_between_a_letter_and_its_mark_is_dropped(hidden: str) -> None:
    """Dropped before composing, so the mark joins its letter (and then moves, as any other)."""
    assert normalize(f"hoa{hidden}\u0300") == "hòa"
    assert normalize(f"Qua{hidden}\u0309ng{hidden} Ngãi") == "Quảng Ngãi"


@pytest.mark.parametrize("control", BIDI_CONTROLS)
def test_bidi_controls_are_dropped_from_text_without_right_to_left_letters(control: str) -> None:
    """In Vietnamese or English they can only hide something: here, a province from the matcher."""
    assert normalize(f"hoà{control}") == "hòa"
    assert normalize(f"Qua{control}\u0309ng Ng{control}ãi") == "Quảng Ngãi"


@pytest.mark.parametrize("rtl", ["שלום", "مرحبا", "ܫܠܡܐ"])
def test_bidi_controls_stay_where_right_to_left_text_needs_them(rtl: str) -> None:
    text = f"Đoàn khách \u2067{rtl}\u2069 thăm hoà bình"
    assert normalize(text) == f"Đoàn khách \u2067{rtl}\u2069 thăm hòa bình"


def test_spaces_become_one_plain_space_and_line_breaks_stay() -> None:
    assert normalize("Hà\u00a0 Nội\tthủ\u3000 đô\n\nmới") == "Hà Nội thủ đô\n\nmới"
    assert normalize("Quảng\t Ngãi \t\tLý \tSơn\t") == "Quảng Ngãi Lý Sơn "     # tabs beside spaces: one space


@pytest.mark.parametrize(("text", "expected"), [
    ("Đồng Tháp “Mười”", "dong thap “muoi”"), ("THỦY", "thuy"), ("Quảng Ngãi", "quang ngai"),
    ("ASCII Only", "ascii only"), ("Huế 😀 30℃", "hue 😀 30℃"),
    ("İı ſ \u212a Σ \u212b \u2126 ＡＢ", "Iı ſ k σ a ω ａｂ"),   # one character each, no compatibility folding
])
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_is_fold_char_of_each_character() -> None:
    """`fold` goes through a table below U+2070 and `fold_char` beyond it (speed): offsets into
    folded text stay right only while both give `fold_char` of every character."""
    below = "".join(map(chr, range(0x2070)))
    beyond = "".join(map(chr, range(0x2070, 0x10000))) + "😀\U000e0067\U0010fffd 中国 한국 ＡＢ ℃ Ω Å"
    for text in (below, beyond, below + beyond + below, beyond + "Đồng Tháp" + beyond, "Đà Nẵng 😀", "😀"):
        assert fold(text) == "".join(map(fold_char, text))
