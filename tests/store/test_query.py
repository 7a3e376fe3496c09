"""The query language parser: backend-neutral AST, folding, and helpful errors."""

from __future__ import annotations

import pytest

from haidang.errors import QueryError
from haidang.store.highlight import find_matches, make_snippet
from haidang.store.query import Clause, Phrase, Query, Term, matches_text, parse_query


def _q(*clauses: tuple, exclusions: tuple = ()) -> Query:
    return Query(clauses=tuple(Clause(c) for c in clauses), exclusions=exclusions)


def test_words_are_and_clauses_and_folded() -> None:
    assert parse_query("Đồng Tháp") == _q((Term("dong"),), (Term("thap"),))
    assert parse_query("dong thap") == parse_query("ĐỒNG THÁP") == parse_query("  đồng   tháp ")


def test_tone_mark_placement_and_decomposed_input() -> None:
    assert parse_query("hoà") == parse_query("hòa") == parse_query("hoa")
    assert parse_query("Thuỷ") == parse_query("thủy")
    assert parse_query("Ha\u0300 No\u0323i") == parse_query("Hà Nội")     # NFD input


def test_phrases() -> None:
    assert parse_query('"Đồng Tháp" lũ') == _q((Phrase(("dong", "thap")),), (Term("lu"),))
    assert parse_query('"Lý"') == _q((Term("ly"),))
    assert parse_query('"a"b') == _q((Term("a"),), (Term("b"),))


def test_or_binds_neighbours() -> None:
    assert parse_query('bão OR lũ OR "sạt lở" miền Trung') == _q(
        (Term("bao"), Term("lu"), Phrase(("sat", "lo"))), (Term("mien"),), (Term("trung"),))
    assert parse_query("bão or lũ") == _q((Term("bao"),), (Term("or"),), (Term("lu"),))


def test_exclusions() -> None:
    assert parse_query('Đồng Tháp -"bóng đá" -Mười') == _q(
        (Term("dong"),), (Term("thap"),), exclusions=(Phrase(("bong", "da")), Term("muoi")))


def test_punctuation_splits_words_into_a_phrase() -> None:
    assert parse_query("TP.HCM") == _q((Phrase(("tp", "hcm")),))
    assert parse_query("covid-19") == _q((Phrase(("covid", "19")),))
    assert parse_query("bão, lũ!") == _q((Term("bao"),), (Term("lu"),))
    assert parse_query("snake_case") == _q((Phrase(("snake", "case")),))
    assert parse_query("lũ & bão") == _q((Term("lu"),), (Term("bao"),))


def test_repeats_are_dropped() -> None:
    assert parse_query("bão bão OR bão") == _q((Term("bao"),))


def test_backend_operators_are_plain_words() -> None:
    query = parse_query("NEAR(dong thap) dong* ^thap title:lu AND NOT")
    words = {w for alt in query.positives() for w in (alt.words if isinstance(alt, Phrase) else (alt.word,))}
    assert words == {"near", "dong", "thap", "title", "lu", "and", "not"}
    assert not query.exclusions


@pytest.mark.parametrize(("query", "hint"), [
    ("", "empty"),
    ("   ", "empty"),
    ("-", "lone '-'"),
    ("bão - lũ", "lone '-'"),
    ('"Đồng Tháp', "unclosed quote"),
    ('bão "', "unclosed quote"),
    ('""', "no words"),
    ("-bão", "only excludes"),
    ('-"bóng đá" -lũ', "only excludes"),
    ("OR bão", "OR at position 1"),
    ("bão OR", "ends the query"),
    ("bão OR OR lũ", "OR at position 8"),
    ("-bão OR lũ", "cannot join exclusions"),
    ("bão OR -lũ", "exclusions cannot be alternatives"),
    ("-…", "excludes nothing"),
    ("… !!", "no letters or digits"),
])
def test_errors_say_what_to_fix(query: str, hint: str) -> None:
    with pytest.raises(QueryError, match=hint.replace("(", r"\(")) as info:
        parse_query(query)
    assert "e.g." in str(info.value) or "no " in str(info.value) or "excludes nothing" in str(info.value)


def test_snippet_highlights_original_text() -> None:
    text = "Tỉnh ĐỒNG THÁP và Đồng Tháp Mười; hoà bình."
    snippet, spans = make_snippet(text, parse_query('"dong thap" hoa'))
    assert snippet == "Tỉnh «ĐỒNG THÁP» và «Đồng Tháp» Mười; «hoà» bình."
    assert [snippet[s:e] for s, e in spans] == ["ĐỒNG THÁP", "Đồng Tháp", "hoà"]


def test_snippet_none_without_match_and_exclusions_not_marked() -> None:
    assert make_snippet("Không có gì", parse_query("bao")) is None
    assert find_matches("bao lu", parse_query("bao -lu")) == [(0, 3, 0)]


def test_snippet_window_prefers_all_terms() -> None:
    text = "lũ " + "chữ " * 100 + "bão và lũ cùng đến " + "chữ " * 100
    snippet, _ = make_snippet(text, parse_query("bao lu"), width=80)
    assert "«bão» và «lũ»" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) <= 100


def test_a_long_article_full_of_matches_gets_its_snippet_in_one_pass() -> None:
    """Every window rescanned every later match: 1.4 MB of "bão lũ" took 133 s per hit. The window
    scan now stops at the window's end (no timing assertion: a regression shows as a hang here)."""
    text = "Mưa bão lũ kéo dài. " + "bão lũ " * 100_000
    snippet, spans = make_snippet(text, parse_query("bão"))  # type: ignore[misc]
    assert snippet.startswith("Mưa «bão»") and len(spans) >= 20


def test_cjk_characters_are_words_of_their_own() -> None:
    """Chinese writes no spaces and Korean glues particles on: a query word in them is a phrase."""
    assert parse_query("广义省").clauses[0].alternatives == (Phrase(("广", "义", "省")),)
    assert parse_query("꽝응아이").clauses[0].alternatives == (Phrase(("꽝", "응", "아", "이")),)
    assert parse_query("ダナン").clauses[0].alternatives == (Phrase(("ダ", "ナ", "ン")),)
    # one character is a term; letters beside it stay a word of their own
    assert parse_query("省").clauses[0].alternatives == (Term("省"),)
    assert parse_query("Lý Sơn岛").clauses[1].alternatives == (Phrase(("son", "岛")),)
    # kana keep their voicing marks, as Elasticsearch's asciifolding keeps them
    assert parse_query("が").clauses[0].alternatives == (Term("が"),)


def test_cjk_words_match_inside_longer_runs_in_memory() -> None:
    """Alert rules (matches_text) read a CJK query as the stores do."""
    assert matches_text(parse_query("广义省"), "越南广义省李山岛吸引游客")
    assert not matches_text(parse_query("广东省"), "越南广义省李山岛吸引游客")
    assert matches_text(parse_query("꽝응아이 -하노이"), "꽝응아이성에서 열린 축제")
    assert not matches_text(parse_query("か"), "ダナンが")


def test_cjk_matches_are_highlighted_inside_runs() -> None:
    snippet, _ = make_snippet("越南广义省李山岛附近 and Quảng Ngãi", parse_query("广义省 quang"))  # type: ignore[misc]
    assert snippet == "越南«广义省»李山岛附近 and «Quảng» Ngãi"
    snippet, _ = make_snippet("꽝응아이성에서 열린 축제", parse_query("꽝응아이"))  # type: ignore[misc]
    assert snippet == "«꽝응아이»성에서 열린 축제"
    # a Latin word beside a CJK character is still a whole word; inside a longer word it is not
    snippet, _ = make_snippet("OCOP广义 OCOPs", parse_query("ocop"))  # type: ignore[misc]
    assert snippet == "«OCOP»广义 OCOPs"
