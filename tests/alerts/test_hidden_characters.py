"""Characters a reader cannot see never reach an email: invisible format characters (they hide or
split a word) and bidirectional controls (they reorder what is read) are dropped from the subject,
the plain text and the HTML of flag emails and of the digest, wherever the text came from: an
article's title or text, an outlet, topic, rule or agency name from config/."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alerts_testkit import VN, build_article, build_flag

from alerts.digest import build_digest, render_digest
from alerts.render import clean_text, render_flag
from haidang.record import Article
from haidang.settings import Agency, AppSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction
from haidang.store.sqlite import SqliteStore

# Written out rather than imported from haidang.textnorm, so that a shorter list there fails here.
INVISIBLE = {"soft hyphen": "\u00ad", "Mongolian vowel separator": "\u180e", "zero-width space": "\u200b",
             "zero-width non-joiner": "\u200c", "zero-width joiner": "\u200d", "word joiner": "\u2060",
             "function application": "\u2061", "invisible times": "\u2062", "invisible separator": "\u2063",
             "invisible plus": "\u2064", "national digit shapes": "\u206e", "byte order mark": "\ufeff",
             "language tag": "\U000e0001", "tag latin capital A": "\U000e0041"}
BIDI = {"Arabic letter mark": "\u061c", "left-to-right mark": "\u200e", "right-to-left mark": "\u200f",
        "left-to-right embedding": "\u202a", "right-to-left embedding": "\u202b",
        "pop directional formatting": "\u202c", "left-to-right override": "\u202d",
        "right-to-left override": "\u202e", "left-to-right isolate": "\u2066", "right-to-left isolate": "\u2067",
        "first strong isolate": "\u2068", "pop directional isolate": "\u2069"}
HIDDEN = {**INVISIBLE, **BIDI}

TITLE = "Tin đồn vỡ đập thủy điện ở Quảng Ngãi"
TEXT = "Sáng nay, nhiều tài khoản lan truyền tin đập thủy điện bị vỡ. Chính quyền bác bỏ."
OUTLET = "Báo Quảng Ngãi"
TOPIC = "An ninh, trật tự"
RULE = "Tin có nguy cơ sai sự thật cao về tỉnh"


def _hide(text: str, char: str, *, decomposed: bool = False) -> str:
    """`char` after every character of `text` (NFD first when `decomposed`: between letters and
    their tone marks too, where dropping it must still leave NFC text)."""
    return char.join(unicodedata.normalize("NFD", text) if decomposed else text)


def _flag_email(char: str, *, decomposed: bool = False) -> tuple[str, str, str]:
    article = build_article("hidden", title=_hide(TITLE, char, decomposed=decomposed),
                            text=_hide(TEXT, char, decomposed=decomposed))
    flag = build_flag([article], ["x@example.vn"])
    flag.description = _hide(RULE, char)
    sources: Any = {"baoquangngai": SimpleNamespace(name=_hide(OUTLET, char), kind="provincial_press")}
    return render_flag(flag, [article], sources=sources, topic_names={"an_ninh_trat_tu": _hide(TOPIC, char)})


@pytest.mark.parametrize("name", HIDDEN)
def test_hidden_characters_never_reach_a_flag_email(name: str) -> None:
    """Zero-width and other invisible characters were written into emails as they came (only the
    bidi controls and C0/C1 controls were taken out); they split a word the reader sees whole."""
    char = HIDDEN[name]
    for decomposed in (False, True):
        subject, text, html = _flag_email(char, decomposed=decomposed)
        for part in (subject, text, html):
            assert char not in part, name
            assert unicodedata.is_normalized("NFC", part)
            for words in (TITLE, OUTLET, TOPIC):
                assert words in part, (name, words)
        assert subject == f"[Hải Đăng][cao] Nguy cơ tin sai — «{TITLE}» — {TOPIC} — {OUTLET}"
        for part in (text, html):
            assert RULE in part and "Sáng nay, nhiều tài khoản lan truyền tin đập thủy điện bị vỡ." in part


def test_a_right_to_left_override_cannot_make_an_address_or_a_sentence_read_otherwise() -> None:
    """"Trojan Source" spoofs: an override shows "exe.gnp" as "png.exe"; an isolate shows a sentence's
    words in an order it does not have. The email shows the characters in the order they are stored."""
    spoofs = {"https://baoquangngai.example.vn/\u202egnp.exe": "https://baoquangngai.example.vn/gnp.exe",
              "Công an \u2067tỉnh bác bỏ\u2069 xác nhận tin đồn": "Công an tỉnh bác bỏ xác nhận tin đồn",
              "\u202btin thật\u202c \u200fđã kiểm chứng": "tin thật đã kiểm chứng"}
    for stored, shown in spoofs.items():
        article = build_article("spoof", title=stored, text=f"{stored} ở Quảng Ngãi")
        article.fetched.canonical_url = stored if stored.startswith("https") else article.fetched.canonical_url
        subject, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article])
        for part in (subject, text, html):
            assert shown in part
            assert not any(char in part for char in BIDI.values())


def test_an_emoji_sequence_loses_its_joiners_but_none_of_its_pictures() -> None:
    """ZWJ is dropped everywhere, emoji included: stored text has none already (haidang.textnorm),
    one rule is simpler than telling emoji from letters, and a family shown as three people loses
    nothing an officer needs."""
    assert clean_text("Cả gia đình 👨\u200d👩\u200d👧 phải sơ tán") == "Cả gia đình 👨👩👧 phải sơ tán"
    assert clean_text("Cờ 🏳\ufe0f\u200d🌈") == "Cờ 🏳\ufe0f🌈"          # variation selectors stay


def test_line_breaks_and_tabs_stay_and_visible_text_is_untouched() -> None:
    visible = "Quảng Ngãi: 30 người sơ tán\n\tđêm 12/3 — «khẩn»; ngày 13: مرحبا, 你好, Привет"
    assert clean_text(visible) == visible


class _FlagEverything:
    """Stands in for AlertDispatcher: every article is flagged under a rule described in `RULE`."""

    def __init__(self, char: str) -> None:
        self.char = char

    def flags_for(self, article: Article, now: datetime | None = None) -> list[Any]:
        flag = build_flag([article], ["a@example.vn"])
        flag.story_id = article.story_id or article.id
        flag.description = _hide(RULE, self.char)
        return [flag]


@pytest.mark.parametrize("name", ["zero-width space", "right-to-left override", "word joiner"])
def test_hidden_characters_never_reach_the_digest(name: str, tmp_path: Path) -> None:
    """The agency named on an action ("đã phản bác – Sở …") reached the digest as configured."""
    char = HIDDEN[name]
    settings = Settings(
        config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
        sources=[Source(id="baoquangngai", name=_hide(OUTLET, char), country="VN", language="vi",
                        kind="provincial_press")],
        agencies=[Agency(id="so-tttt", name=_hide("Sở Thông tin và Truyền thông", char), emails=["a@example.vn"])],
        topics={"an_ninh_trat_tu": {"name": _hide(TOPIC, char), "seeds": []}})
    article = build_article("d", title=_hide(TITLE, char), text=_hide(TEXT, char),
                            published=datetime(2026, 3, 12, 15, tzinfo=VN))
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        store.upsert(article)
        store.record_action(ResponseAction(
            flag_key="k", story_id="story-1", article_id=article.id, rule="tin_sai_cao", action="phan_bac",
            actor="a@example.vn", agency_id="so-tttt", at=datetime(2026, 3, 12, 18, tzinfo=VN), link_id="l1"))
        digest = build_digest(store, settings, datetime(2026, 3, 13).date(), dispatcher=_FlagEverything(char))
    subject, text, html = render_digest(digest)
    for part in (subject, text, html):
        assert char not in part
    for part in (text, html):
        assert TITLE in part and OUTLET in part and RULE in part
        assert "đã phản bác – Sở Thông tin và Truyền thông" in part
