"""index_templates/: every file is valid JSON, every Article field is mapped, versions agree.

These run everywhere (no cluster): they check the files `haidang index setup` installs, not a
cluster's reading of them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from haidang.record import Article, Content, Fetched, Match, Span
from haidang.store.es_setup import SMALL_INDICES, _renamed, index_names, load_templates, templates_dir
from haidang.textnorm import CJK_CHARS

FOLDER = templates_dir()


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.json")), ids=lambda p: p.name)
def test_every_template_file_is_json_with_a_comment(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data.get("_comment"), f"{path.name}: say what it is for in _comment"


def _properties() -> dict[str, Any]:
    return load_templates().mappings_component["template"]["mappings"]["properties"]


def _leaf_paths(cls: type, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, type) of every dataclass field under `cls`, descending into parts and lists of parts."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = prefix + f.name
        out.append((path, hints[f.name]))
        inner = [a for a in typing.get_args(hints[f.name]) if dataclasses.is_dataclass(a)]
        target = hints[f.name] if dataclasses.is_dataclass(hints[f.name]) else (inner[0] if inner else None)
        if target is not None:
            out += _leaf_paths(target, path + ".")
    return out


def _mapping_at(path: str) -> dict[str, Any] | None:
    node: dict[str, Any] = {"properties": _properties()}
    for part in path.split("."):
        node = (node.get("properties") or {}).get(part)
        if node is None:
            return None
    return node


def test_every_article_field_has_a_mapping() -> None:
    missing = [path for path, _ in _leaf_paths(Article) if _mapping_at(path) is None]
    assert missing == []


def test_part_classes_are_all_covered() -> None:
    # a new part type in record.py must be walked by the test above
    paths = {p for p, _ in _leaf_paths(Article)}
    for cls, at in ((Fetched, "fetched"), (Content, "content"), (Match, "matches"), (Span, "matches.spans")):
        assert {f"{at}.{f.name}" for f in dataclasses.fields(cls)} <= paths


def test_dates_are_date_fields_and_matches_and_reasons_nested() -> None:
    for path, hint in _leaf_paths(Article):
        if "datetime" in str(hint):
            assert _mapping_at(path)["type"] == "date", path
    assert _mapping_at("matches")["type"] == "nested"
    assert _mapping_at("matches.spans")["type"] == "nested"
    assert _mapping_at("labels.risk.reasons")["type"] == "nested"
    assert _mapping_at("labels.topics")["type"] == "nested"
    assert _mapping_at("fetched.source_id")["type"] == "keyword"
    assert _mapping_at("fetched.html")["index"] is False
    assert _properties()["haidang"]["properties"]["date_key"]["type"] == "date"


def test_text_fields_fold_and_keep_an_exact_subfield() -> None:
    for path in ("content.title", "content.text"):
        mapping = _mapping_at(path)
        assert mapping["type"] == "text" and mapping["analyzer"] == "vi_folded"
        assert mapping["fields"]["exact"]["analyzer"] == "vi_exact"


def test_vietnamese_analysis_chain() -> None:
    analysis = load_templates().settings_component["template"]["settings"]["analysis"]
    folded = analysis["analyzer"]["vi_folded"]
    assert folded["filter"] == ["lowercase", "asciifolding"]
    assert "đ => d" in analysis["char_filter"][folded["char_filter"][0]]["mappings"]
    assert "asciifolding" not in analysis["analyzer"]["vi_exact"]["filter"]
    tokenizer = analysis["tokenizer"][folded["tokenizer"]]
    assert set(tokenizer["tokenize_on_chars"]) == {"whitespace", "punctuation", "symbol"}


def test_index_template_composes_the_components_and_versions_agree() -> None:
    t = load_templates()
    assert t.index_template["index_patterns"] == ["haidang-articles-*"]
    assert t.index_template["composed_of"] == ["haidang-articles-settings", "haidang-articles-mappings"]
    assert t.version == t.index_template["_meta"]["haidang_template_version"]
    assert t.settings_component["version"] == t.mappings_component["version"] == t.version
    assert t.ilm_policy["policy"]["_meta"]["haidang_template_version"] == t.version
    settings = t.settings_component["template"]["settings"]
    assert settings["index.lifecycle.name"] == settings["index.lifecycle.rollover_alias"] == "haidang-articles"


def test_ilm_rolls_over_monthly() -> None:
    hot = load_templates().ilm_policy["policy"]["phases"]["hot"]["actions"]
    assert hot["rollover"]["max_age"] == "30d"


def test_small_indices_are_all_defined_and_strict() -> None:
    small = load_templates().small_indices["indices"]
    assert set(small) == set(SMALL_INDICES)
    for name, mapping in small.items():
        assert mapping["dynamic"] == "strict", name


def test_another_prefix_renames_every_name() -> None:
    t = load_templates()
    template = _renamed(t.index_template, "qn")
    assert template["index_patterns"] == ["qn-articles-*"]
    assert template["composed_of"] == ["qn-articles-settings", "qn-articles-mappings"]
    settings = _renamed(t.settings_component, "qn")["template"]["settings"]
    assert settings["index.lifecycle.rollover_alias"] == "qn-articles"
    names = index_names("qn")
    assert names["first_index"] == "qn-articles-000001" and names["audit"] == "qn-audit"


def test_cjk_characters_are_set_apart_as_queries_split_them() -> None:
    """The cjk_chars char filter holds textnorm.CJK_CHARS, in Java's escapes, in both analysers."""
    analysis = load_templates().settings_component["template"]["settings"]["analysis"]
    for analyzer in ("vi_folded", "vi_exact"):
        assert "cjk_chars" in analysis["analyzer"][analyzer]["char_filter"]
    chain = analysis["char_filter"]["cjk_chars"]
    assert chain["type"] == "pattern_replace" and chain["replacement"] == " $1 "
    python = re.sub(r"\\x\{([0-9a-f]+)\}|\\u([0-9a-f]{4})", lambda m: chr(int(m[1] or m[2], 16)), chain["pattern"])
    assert python == f"([{CJK_CHARS}])"
