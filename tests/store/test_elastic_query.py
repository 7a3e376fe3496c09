"""The query language (haidang.store.query) translated to Elasticsearch query DSL; no cluster needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from haidang.store.base import SearchFilters
from haidang.store.es_query import TITLE_BOOST, es_date, es_filters, es_query
from haidang.store.query import parse_query

VN = timezone(timedelta(hours=7))


def _alt(kind: str, text: str) -> dict[str, Any]:
    if kind == "match":
        title = {"match": {"content.title": {"query": text, "operator": "and", "boost": TITLE_BOOST}}}
        body = {"match": {"content.text": {"query": text, "operator": "and"}}}
    else:
        title = {"match_phrase": {"content.title": {"query": text, "boost": TITLE_BOOST}}}
        body = {"match_phrase": {"content.text": {"query": text}}}
    return {"bool": {"should": [title, body], "minimum_should_match": 1}}


def test_words_are_folded_and_all_required() -> None:
    assert es_query(parse_query("Đồng THÁP")) == {"bool": {"must": [_alt("match", "dong"), _alt("match", "thap")]}}


def test_phrase_or_and_exclusions() -> None:
    q = es_query(parse_query('"sạt lở" OR lũ miền -"bóng đá" -Mười'))
    assert q == {"bool": {
        "must": [{"bool": {"should": [_alt("phrase", "sat lo"), _alt("match", "lu")], "minimum_should_match": 1}},
                 _alt("match", "mien")],
        "must_not": [_alt("phrase", "bong da"), _alt("match", "muoi")],
    }}


def test_punctuation_inside_a_word_makes_a_phrase() -> None:
    assert es_query(parse_query("TP.HCM")) == {"bool": {"must": [_alt("phrase", "tp hcm")]}}


@pytest.mark.parametrize("query", ["NEAR(dong thap)", "dong*", "title:dong", "dong AND thap", "dong~2",
                                   "(dong) [thap]", "{\"match_all\": {}}", "dong^3"])
def test_user_text_never_becomes_elasticsearch_syntax(query: str) -> None:
    dsl = es_query(parse_query(query))
    keys: set[str] = set()
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                keys.add(key)
                if key == "query" and isinstance(value, str):
                    texts.append(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dsl)
    assert keys <= {"bool", "must", "must_not", "should", "minimum_should_match", "match", "match_phrase",
                    "content.title", "content.text", "query", "operator", "boost"}
    assert texts and all(t.replace(" ", "").isalnum() and t == t.lower() for t in texts)


def test_filters() -> None:
    since = datetime(2025, 9, 3, 9, 0, tzinfo=VN)
    filters = SearchFilters(province="51", source="baoquangngai", since=since, until=since + timedelta(days=1),
                            lang="vi", relevant_only=True)
    assert es_filters(filters) == [
        {"term": {"haidang.provinces": "51"}},
        {"term": {"fetched.source_id": "baoquangngai"}},
        {"range": {"haidang.date_key": {"gte": "2025-09-03T02:00:00.000Z", "lt": "2025-09-04T02:00:00.000Z"}}},
        {"term": {"content.language": "vi"}},
        {"term": {"relevant": True}},
    ]
    assert es_filters(None) == [] and es_filters(SearchFilters()) == []


def test_filters_alone_and_nothing() -> None:
    assert es_query(None) == {"match_all": {}}
    assert es_query(None, SearchFilters(lang="en")) == {"bool": {"filter": [{"term": {"content.language": "en"}}]}}


def test_es_date_is_utc_with_milliseconds() -> None:
    assert es_date(datetime(2025, 1, 1, 7, 0, 0, 123456, tzinfo=VN)) == "2025-01-01T00:00:00.123Z"
    assert es_date(datetime(2025, 1, 1)) == "2025-01-01T00:00:00.000Z"     # naive is UTC
    assert es_date(datetime(2025, 1, 1, tzinfo=UTC)).endswith("Z")
