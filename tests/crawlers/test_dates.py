"""Vietnamese and foreign date strings to aware datetimes in Asia/Ho_Chi_Minh."""

from __future__ import annotations

import pytest

from crawlers.dates import parse_date

CASES = [
    # VnExpress article date and old-style header
    ("Thứ ba, 28/03/2023 08:26", "2023-03-28T08:26:00+07:00"),
    ("Thứ ba, 10/3/2026, 08:05 (GMT+7)", "2026-03-10T08:05:00+07:00"),
    ("28/3/2023, 08:26 (GMT+7)", "2023-03-28T08:26:00+07:00"),
    ("Thứ Năm, 12/3/2026 | 14:05", "2026-03-12T14:05:00+07:00"),
    ("12-03-2026 - 07:30", "2026-03-12T07:30:00+07:00"),
    ("07:30 12/03/2026", "2026-03-12T07:30:00+07:00"),
    # dateparser alone returns None for this one
    ("Cập nhật lúc 8h30 ngày 12/3/2026", "2026-03-12T08:30:00+07:00"),
    ("10/03/2026 08:15 GMT+7", "2026-03-10T08:15:00+07:00"),       # Tuổi Trẻ
    ("Thứ Ba, 10/03/2026 - 07:30", "2026-03-10T07:30:00+07:00"),   # provincial paper
    ("Ngày đăng: 09/03/2026", "2026-03-09T00:00:00+07:00"),        # government portal
    ("ngày 12 tháng 3 năm 2026", "2026-03-12T00:00:00+07:00"),
    ("3:05 chiều 12/3/2026", "2026-03-12T15:05:00+07:00"),
    ("05/04/2026 10:00 (GMT+0)", "2026-04-05T17:00:00+07:00"),     # D/M, never M/D; offset honoured
    # ISO 8601: naive means local time of the source; explicit offsets are honoured
    ("2026-03-10T07:45:00", "2026-03-10T07:45:00+07:00"),
    ("2026-03-10 07:45", "2026-03-10T07:45:00+07:00"),
    ("2026-03-10T07:45:00+07:00", "2026-03-10T07:45:00+07:00"),
    ("2026-03-10T00:45:00Z", "2026-03-10T07:45:00+07:00"),
    ("2026-03-10T07:45:00.000+0900", "2026-03-10T05:45:00+07:00"),
    ("2026-03-10", "2026-03-10T00:00:00+07:00"),
    # English forms (dateparser)
    ("March 12, 2026 7:30 AM GMT+7", "2026-03-12T07:30:00+07:00"),
    ("March 12, 2026 7:30 PM GMT", "2026-03-13T02:30:00+07:00"),
    ("Wed, 11 Mar 2026 02:00:00 GMT", "2026-03-11T09:00:00+07:00"),
    ("9 March 2026", "2026-03-09T00:00:00+07:00"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse(text: str, expected: str) -> None:
    value = parse_date(text)
    assert value is not None
    assert value.isoformat() == expected
    assert str(value.tzinfo) == "Asia/Ho_Chi_Minh"


# "Thứ ba" alone: dateparser answers with some Tuesday; a wrong date must never outrank a later,
# better source, so no year means no date.
@pytest.mark.parametrize("text", ["", "   ", "garbage", "Thứ ba", "Lượt xem: 1.254", "31/02/2026",
                                  "12/13/2026", "25:61 12/3/2026", "hôm qua", None])
def test_garbage_is_none(text: str | None) -> None:
    assert parse_date(text) is None


def test_site_formats_come_first() -> None:
    value = parse_date("2026.03.10 | 7h", formats=["%Y.%m.%d | %Hh"])
    assert value is not None and value.isoformat() == "2026-03-10T07:00:00+07:00"


def test_other_zone() -> None:
    value = parse_date("10/03/2026 08:15", timezone="Asia/Seoul")
    assert value is not None and value.isoformat() == "2026-03-10T08:15:00+09:00"


# Each names no real moment; none may come back as a neighbouring one (dateparser read "2026-13-01"
# as 13 January, datetime arithmetic would carry 24:00 into the next day).
@pytest.mark.parametrize("text", [
    "2026-13-01", "2026-02-30", "2026-02-30 10:00", "2026-01-01 24:00", "2026-01-01T25:00:00",
    "2026-01-01T24:00:00+07:00", "29/02/2023 08:00", "31/04/2026", "Thứ ba, 28/03/2023 24:00",
    "28/03/2023 25:10", "28/03/2023 08:60", "Thứ ba, 28/03/2023 24h30", "30 tháng 2 năm 2026",
    "February 30, 2026 7:30 AM GMT+7", "Mon, 30 Feb 2026 10:00:00 GMT",
])
def test_impossible_dates_are_none_never_moved(text: str) -> None:
    assert parse_date(text) is None


def test_29_february_of_a_leap_year_is_a_date() -> None:
    value = parse_date("29/02/2024 08:00")
    assert value is not None and value.isoformat() == "2024-02-29T08:00:00+07:00"
