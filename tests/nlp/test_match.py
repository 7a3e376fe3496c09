"""Province matching: data-driven trap cases, evidence fields, scoring and the match stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from haidang.record import Article, Content, Fetched
from haidang.textnorm import normalize
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher, match_article

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "matching"
LANDMARKS = {"51": ["Lý Sơn", "Dung Quất", "Sa Huỳnh", "Măng Đen"], "56": ["Nha Trang"]}


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                case = json.loads(line)
                cases.append(pytest.param(case, id=f"{path.stem}:{n}:{case['case']}"))
    return cases


@pytest.fixture(scope="module")
def matcher() -> ProvinceMatcher:
    return ProvinceMatcher(Gazetteer.load(landmarks=LANDMARKS))


@pytest.mark.parametrize("case", _cases())
def test_trap(matcher: ProvinceMatcher, case: dict[str, Any]) -> None:
    matches = {m.province_code: m for m in matcher.match(case.get("title", ""), case["text"])}
    for code in case.get("named", []):
        assert code in matches and matches[code].named, matches
    for code in case.get("unnamed", []):
        assert code in matches and not matches[code].named, matches
        assert matches[code].score >= matcher.keep_threshold
    for code in case.get("not_named", []):
        assert code not in matches or not matches[code].named, matches
    for code in case.get("below", []):
        assert code not in matches or matches[code].score < matcher.keep_threshold, matches
    for code in case.get("absent", []):
        assert code not in matches, matches
    if case.get("empty"):
        assert not matches


def test_spans_point_at_the_normalised_text(matcher: ProvinceMatcher) -> None:
    title = "Lũ ở Quảng Ngãi"
    text = "Mưa lớn tại tỉnh Kon Tum (nay thuộc Quảng Ngãi) và thành phố Nha Trang."
    [qn, *rest] = matcher.match(title, text)
    assert qn.province_code == "51" and qn.province == "Quảng Ngãi" and qn.named
    assert qn.where[0] == "title" and "body" in qn.where
    fields = {"title": title, "text": text}
    seen = {fields[s.field][s.start:s.end] for s in qn.spans}
    assert seen == {"Quảng Ngãi", "Kon Tum"}
    assert qn.count == 3 and set(qn.aliases) == {"Quảng Ngãi", "Kon Tum"}
    assert 0.0 < qn.score <= 1.0
    assert rest[0].province_code == "56" and not rest[0].named


def test_offsets_are_into_nfc_text_when_input_is_decomposed(matcher: ProvinceMatcher) -> None:
    import unicodedata
    text = unicodedata.normalize("NFD", "Ở Khánh Hoà có biển đẹp.")
    [m] = matcher.match("", text)
    span = m.spans[0]
    assert normalize(text)[span.start:span.end] == "Khánh Hòa"


def test_offsets_hold_after_characters_beyond_the_fold_table(matcher: ProvinceMatcher) -> None:
    """`textnorm.fold` takes another path for emoji, CJK and letterlike symbols; offsets must not move."""
    text = "😀 中国 30℃ \U000e0067 Lũ lớn ở Quảng Ngãi 👨\u200d👩\u200d👧 hôm nay"
    [m] = matcher.match("", text)
    assert [normalize(text)[s.start:s.end] for s in m.spans] == ["Quảng Ngãi"]


def test_matches_are_ordered_by_score(matcher: ProvinceMatcher) -> None:
    matches = matcher.match("Quảng Ngãi đón khách", "Khách từ Hà Nội và Quảng Ngãi.")
    assert [m.province_code for m in matches] == ["51", "01"]
    assert matches[0].score > matches[1].score


def test_lead_is_reported_as_where(matcher: ProvinceMatcher) -> None:
    lead = "Đồng Tháp mùa nước nổi."
    [m] = matcher.match("Mùa lũ", lead + " Nông dân chuẩn bị.", lead=lead)
    assert m.where == ["lead"]


def test_shared_ward_counts_with_support(matcher: ProvinceMatcher) -> None:
    # "phường 5" exists in many provinces; "quận 6" settles it as Hồ Chí Minh City.
    alone = matcher.match("", "Cháy ở phường 5.")
    assert alone == []
    supported = {m.province_code: m for m in matcher.match("", "Cháy ở phường 5, quận 6.")}
    assert supported["79"].count == 2


def test_relevant_uses_keep_threshold(matcher: ProvinceMatcher) -> None:
    matches = matcher.match("", "Ông Nguyễn Thái Bình ở Quảng Ngãi.")
    assert matcher.relevant(matches, "51")
    assert not matcher.relevant(matches, "33")     # a person's name is weak evidence
    strict = ProvinceMatcher(matcher.gazetteer, keep_threshold=0.99)
    assert not strict.relevant(matches, "51")


def test_match_article_fills_only_its_part(matcher: ProvinceMatcher) -> None:
    article = Article(fetched=Fetched(source_id="t", url="http://127.0.0.1/a"),
                      content=Content(title="Đảo Lý Sơn vào mùa tỏi", text="Nông dân Lý Sơn thu hoạch."))
    out = match_article(article, matcher, "Kon Tum")
    assert out is article
    assert out.province_code == "51" and out.relevant
    assert out.matches[0].province_code == "51" and not out.matches[0].named
    assert out.to_dict()["matches"][0]["spans"][0] == {"field": "title", "start": 4, "end": 10}


def test_match_article_rejects_unknown_target(matcher: ProvinceMatcher) -> None:
    article = Article(fetched=Fetched(source_id="t", url="http://127.0.0.1/a"))
    with pytest.raises(KeyError):
        match_article(article, matcher, "Atlantis")


def test_empty_input(matcher: ProvinceMatcher) -> None:
    assert matcher.match("", "") == []


def test_hidden_characters_and_odd_spaces_do_not_hide_a_province(matcher: ProvinceMatcher) -> None:
    """Zero-width characters, soft hyphens, bidi controls and no-break or doubled spaces (pasted or evasive text)
    are what a reader sees as "Quảng Ngãi"; the "Đồng Tháp Mười" trap holds across them too."""
    for text in ("UBND tỉnh Quả\u00adng Ngãi tổ chức hội nghị", "UBND tỉnh Quảng\u00a0Ngãi tổ chức hội nghị",
                 "UBND tỉnh Quảng  Ngãi tổ chức hội nghị", "UBND tỉnh Qu\u200bảng Ngãi tổ chức hội nghị",
                 "UBND tỉnh Quảng\tNgãi tổ chức hội nghị", "UBND tỉnh Quả\u202eng Ng\u2066ãi tổ chức hội nghị"):
        assert [m.province_code for m in matcher.match("", text)] == ["51"], repr(text)
    for text in ("Mùa nước nổi ở vùng Đồng Tháp\u00a0Mười đã về", "Mùa nước nổi ở vùng Đồng Tháp  Mười đã về",
                 "Mùa nước nổi ở vùng Đồng\u200b Tháp Mười đã về", "Mùa nước nổi ở vùng Đồng Tháp \u202dMười đã về"):
        assert all(m.province_code != "82" or not m.named for m in matcher.match("", text)), repr(text)


def test_a_crafted_page_is_matched_in_linear_time(matcher: ProvinceMatcher) -> None:
    """"a.a.a…" or "a-a-a…" made the URL patterns rescan the run from every letter (100 kB: minutes);
    a page naming places thousands of times made every hit scan every range. Now these take well under
    a second (no timing assertion: speed is for bench/; a regression shows as this test hanging)."""
    assert matcher.match("", "a." * 50_000 + " baoquangngai.vn") == []
    assert matcher.match("", "a-" * 50_000 + " www.x") == []
    many = matcher.match("", "Tỉnh Quảng Ngãi, xã Tịnh Khê, đặc khu Lý Sơn. " * 20_000)
    [qn] = [m for m in many if m.province_code == "51"]
    assert qn.count >= 20_000 and len(qn.spans) == 50


@pytest.mark.parametrize("url", ["Huế.info", "Huế.İnfo", "Huế.ınfo", "HUẾ.INFO/tin-moi"])
def test_a_url_hides_the_names_in_it_in_any_case(matcher: ProvinceMatcher, url: str) -> None:
    """The URL pre-check looks at folded text, where "İ" is "I" and "ı" stays: still a URL."""
    assert [m.province_code for m in matcher.match("", "Lũ lớn ở Huế hôm nay")] == ["46"]
    assert matcher.match("", f"Xem tại {url} hôm nay") == []


@pytest.mark.parametrize(("text", "surface"), [
    ("Du lịch hè đẹp lắm #QuảngNgãi", "QuảngNgãi"), ("Du lich he dep lam #quangngai", "quangngai"),
    ("Summer trip #QuangNgai #travel", "QuangNgai"), ("Ảnh đẹp #DuLịchLýSơn2026 nhé", "LýSơn"),
])
def test_a_name_written_as_one_word_in_a_hashtag_is_found(matcher: ProvinceMatcher, text: str,
                                                          surface: str) -> None:
    """Public platforms write places as hashtags; the span points at the name inside the tag."""
    found = matcher.match("", text)
    assert [m.province_code for m in found] == ["51"]
    assert [text[s.start:s.end] for s in found[0].spans] == [surface]


@pytest.mark.parametrize("text", [
    "Mùa nước nổi #ĐồngThápMười đã về",          # the region, not the province inside its name
    "Ảnh #QuàngNgãi",                             # other diacritics: another word
    "Xem https://baomoi.vn/tin#QuangNgai",         # a URL fragment
    "Trích dẫn &#QuangNgai; lỗi mã",               # an HTML entity, not a tag
    "#xuhuongquangngaiđẹp",                        # run together in lower case: no parts to find it in
])
def test_hashtags_keep_the_traps(matcher: ProvinceMatcher, text: str) -> None:
    assert not [m for m in matcher.match("", text) if m.named or m.score >= 0.5], text


@pytest.mark.parametrize(("text", "surface"), [
    ("Tin nóng ở Quảng\u200bNgãi hôm nay", "QuảngNgãi"),        # a hidden character between the words
    ("Tin nóng ở Quảng\u202aNgãi hôm nay", "QuảngNgãi"),        # a bidi control, dropped the same way
    ("Ai đi DuLịchQuảngNgãi cùng không", "QuảngNgãi"),           # words run together in a post
    ("Đảo LýSơn, QuảngNgãi.", "QuảngNgãi"),
])
def test_capitalised_words_run_together_outside_a_hashtag_are_found(matcher: ProvinceMatcher, text: str,
                                                                    surface: str) -> None:
    found = matcher.match("", text)
    assert [m.province_code for m in found] == ["51"] and found[0].named
    shown = normalize(text)
    assert surface in [shown[s.start:s.end] for s in found[0].spans]


@pytest.mark.parametrize("text", [
    "Mùa nước nổi ĐồngThápMười đã về",       # the region still wins over the province inside it
    "Ảnh QuàngNgãi",                          # other diacritics: another word
    "Chiều thứ sáuNam Định",                  # glued crawl text: one capitalised part, not a joined name
    "Mua iPhone và PetroVietnam tăng giá",    # brand names: no name in their parts
    "quangngai",                              # a lower-case run is read only as a whole hashtag
    "a" + "Bc" * 10_000,                      # a crafted run: too long to be a name, read in linear time
])
def test_words_run_together_keep_the_traps(matcher: ProvinceMatcher, text: str) -> None:
    assert not [m for m in matcher.match("", text) if m.named and m.province_code in {"51", "82"}], text


@pytest.fixture(scope="module")
def shipped_matcher() -> ProvinceMatcher:
    """The matcher with the shipped config/landmarks.yaml, as `haidang run` builds it."""
    from haidang.settings import load_settings
    return ProvinceMatcher(Gazetteer.load(landmarks=load_settings(Path(__file__).resolve().parents[2] / "config",
                                                                  environ={}).landmarks))


@pytest.mark.parametrize(("text", "implied"), [
    ("中国海军在西沙群岛附近举行演习。China expanded outposts in the Spratlys.", {"48", "56"}),
    ("하롱베이와 푸꾸옥, 나트랑은 인기가 많다.", {"22", "91", "56"}),
    ("越南李山岛渔民和芽庄的游客。", {"51", "56"}),
    ("我们会安排李山先生接待代表团。", set()),       # 会安排 "will arrange", 李山 a person: no landmark
])
def test_foreign_press_names_of_landmarks(shipped_matcher: ProvinceMatcher, text: str, implied: set[str]) -> None:
    found = shipped_matcher.match("", text)
    assert {m.province_code for m in found} == implied and not any(m.named for m in found)
