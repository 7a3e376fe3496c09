"""The shipped gazetteer: province lookups, the old-to-new mapping, and that it loads offline."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlp
from nlp.gazetteer import DEFAULT_GAZETTEER_PATH, Gazetteer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(landmarks={"51": ["Sa Huỳnh"]})


def test_nlp_is_this_repository_package() -> None:
    # `nlp` is also an unrelated PyPI package; ours must win.
    assert Path(nlp.__file__).resolve().parent == REPO / "nlp"


def test_shipped_file_is_in_the_repository_and_small() -> None:
    assert DEFAULT_GAZETTEER_PATH.is_relative_to(REPO)
    assert DEFAULT_GAZETTEER_PATH.stat().st_size < 3_000_000


def test_34_current_provinces(gazetteer: Gazetteer) -> None:
    codes = gazetteer.codes()
    assert len(codes) == 34
    assert {"51", "82", "19", "56", "01", "79", "48"} <= set(codes)


@pytest.mark.parametrize(("code", "name"), [
    ("51", "Quảng Ngãi"), ("56", "Khánh Hòa"), ("82", "Đồng Tháp"), ("19", "Thái Nguyên"),
    ("38", "Thanh Hóa"), ("79", "Hồ Chí Minh"),
])
def test_province_names_use_new_style_tone_marks(gazetteer: Gazetteer, code: str, name: str) -> None:
    assert gazetteer.province_name(code) == name


@pytest.mark.parametrize(("query", "code"), [
    ("51", "51"), ("01", "01"),
    ("Quảng Ngãi", "51"), ("quang ngai", "51"), ("QUẢNG NGÃI", "51"), ("tỉnh Quảng Ngãi", "51"),
    ("Quang Ngai Province", "51"), ("Kon Tum", "51"), ("tỉnh Kon Tum", "51"), ("kon tum", "51"),
    ("Khánh Hoà", "56"), ("Khánh Hòa", "56"), ("Ninh Thuận", "56"),
    ("Tiền Giang", "82"), ("Đồng Tháp", "82"), ("Bắc Kạn", "19"), ("Thái Nguyên", "19"),
    ("Quảng Nam", "48"), ("Hà Tây", "01"), ("Hanoi", "01"), ("TP.HCM", "79"),
    ("Ho Chi Minh City", "79"), ("thành phố Hồ Chí Minh", "79"), ("Sài Gòn", "79"), ("Huế", "46"),
    ("Thừa Thiên Huế", "46"), ("Bà Rịa - Vũng Tàu", "79"), ("BR-VT", "79"), ("Bình Dương", "79"),
])
def test_resolve_province(gazetteer: Gazetteer, query: str, code: str) -> None:
    assert gazetteer.resolve_province(query) == code


@pytest.mark.parametrize("bad", ["Atlantis", "99", "", "tỉnh"])
def test_resolve_province_errors_say_what_to_give(gazetteer: Gazetteer, bad: str) -> None:
    with pytest.raises(KeyError, match="province"):
        gazetteer.resolve_province(bad)


def test_split_legacy_province_keeps_every_target_likeliest_first(gazetteer: Gazetteer) -> None:
    # Tiền Giang went mostly to Đồng Tháp (82) and partly to Tây Ninh (80).
    assert gazetteer.legacy_codes("Tiền Giang") == ("82", "80")
    assert gazetteer.legacy_codes("Kon Tum") == ("51",)


def test_province_name_unknown_code(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError, match="not a current province code"):
        gazetteer.province_name("62")


def test_landmarks_come_from_the_caller(gazetteer: Gazetteer) -> None:
    assert any(p.kind == "landmark" and p.name == "Sa Huỳnh" for p in gazetteer.places)
    assert not any(p.kind == "landmark" for p in Gazetteer.load().places)


def test_landmark_with_unknown_province_fails_loudly() -> None:
    with pytest.raises(KeyError, match="Atlantis"):
        Gazetteer.load(landmarks={"Atlantis": ["X"]})


def test_wards_and_former_districts_are_shipped(gazetteer: Gazetteer) -> None:
    kinds = {p.kind for p in gazetteer.places}
    assert {"province", "district", "ward", "legacy_ward", "not_place"} <= kinds
    son_tinh = [p for p in gazetteer.places if p.kind == "district" and p.name == "Sơn Tịnh"]
    assert son_tinh and son_tinh[0].codes == ("51",)


def test_missing_file_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="gazetteer build"):
        Gazetteer.load(tmp_path / "nope.json.gz")
