"""What a deployer reads when the province is given wrong: the fix is in the message."""

from __future__ import annotations

import pytest

from nlp.gazetteer import Gazetteer, UnknownProvince


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(landmarks={"22": ["Yên Tử", "Hạ Long"]})


@pytest.mark.parametrize(("given", "code"), [
    ("Đồng Tháp", "82"), ("dong thap", "82"), ("DONG THAP", "82"), ("Dong Thap Province", "82"),
    ("tỉnh Đồng Tháp", "82"), ("Tiền Giang", "82"), ("tien giang", "82"), ("82", "82"),
    ("Quảng Ninh", "22"), ("quang ninh", "22"), ("22", "22"), ("Lạng Sơn", "20"), ("lang son", "20"),
])
def test_accepted_forms(gazetteer: Gazetteer, given: str, code: str) -> None:
    assert gazetteer.resolve_province(given) == code


def test_message_is_not_quoted_twice(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError) as info:
        gazetteer.resolve_province("Atlantis")
    assert str(info.value).startswith("unknown province 'Atlantis'")
    assert isinstance(info.value, UnknownProvince)


def test_misspelt_name_suggests_the_province(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError, match=r"did you mean Đồng Tháp \(82\)\?"):
        gazetteer.resolve_province("Dong Thapp")


def test_misspelt_former_name_says_where_it_went(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError, match="Tiền Giang, now 82 Đồng Tháp"):
        gazetteer.resolve_province("Tien Gian")


def test_pre_2025_code_gives_the_current_one(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError, match="before 1 July 2025 '87' was Đồng Tháp, now part of 82 Đồng Tháp"):
        gazetteer.resolve_province("87")


@pytest.mark.parametrize(("given", "says"), [
    ("Đồng Tháp Mười", "not a province: a region"),
    ("dong thap muoi", "not a province: a region"),
    ("Mỹ Tho", "a place in 82 Đồng Tháp"),
    ("Hạ Long", "22 Quảng Ninh"),
])
def test_a_place_that_is_not_a_province_is_named_as_such(gazetteer: Gazetteer, given: str, says: str) -> None:
    with pytest.raises(KeyError, match=says):
        gazetteer.resolve_province(given)


def test_empty_province(gazetteer: Gazetteer) -> None:
    with pytest.raises(KeyError, match="no province given"):
        gazetteer.resolve_province("  ")
