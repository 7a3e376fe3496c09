"""The daily digest: window, counts and changes, flags and their state, one entry per story,
the foreign press, an empty day, hostile text kept as text, and `haidang digest --to`."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alerts_testkit import VN, build_article, build_flag
from typer.testing import CliRunner

from alerts.digest import DIGEST_RULE, build_digest, digest_window, queue_digest, render_digest
from alerts.flag import flag_key
from haidang.cli import app
from haidang.record import Article
from haidang.settings import (
    DEFAULT_CONFIG_DIR,
    Agency,
    AppSettings,
    ConfigError,
    Settings,
    Source,
    StoreSettings,
    load_settings,
)
from haidang.store.base import OutboxMessage
from haidang.store.sqlite import SqliteStore
from haidang.wording import NO_TOPIC

DAY = date(2026, 3, 13)                     # a Friday: window Thu 07:00 → Fri 07:00
IN = datetime(2026, 3, 12, 15, 0, tzinfo=VN)
BEFORE = datetime(2026, 3, 11, 15, 0, tzinfo=VN)   # the previous window


def _source(sid: str, kind: str, name: str | None = None) -> Source:
    return Source(id=sid, name=name or sid, country="VN", language="vi", kind=kind)


def _settings(tmp_path: Path, sources: list[Source] | None = None) -> Settings:
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=sources or [_source("baoquangngai", "provincial_press", "Báo Quảng Ngãi"),
                                        _source("vnexpress", "national_press", "VnExpress"),
                                        _source("bbc", "foreign_press", "BBC Tiếng Việt")],
                    topics={"an_ninh_trat_tu": {"name": "An ninh, trật tự", "seeds": []},
                            "du_lich_van_hoa": {"name": "Du lịch, văn hóa", "seeds": []}})


def _art(slug: str, *, source: str = "baoquangngai", when: datetime = IN, topic: str = "an_ninh_trat_tu",
         tone: str = "negative", story: str | None = None, title: str | None = None, text: str = "") -> Article:
    a = build_article(slug, source=source, published=when, title=title or f"Tin {slug}", text=text,
                      labels={"topics": [{"id": topic, "score": 0.8}], "tone": {"label": tone, "score": 0.7},
                              "risk": {"score": 0.1, "level": "thấp", "reasons": []}})
    a.story_id = story or f"story-{slug}"
    return a


class _Rules:
    """Stands in for AlertDispatcher: flags every article whose title has 'đập'."""

    def flags_for(self, article, now=None):
        if "đập" not in article.content.title:
            return []
        flag = build_flag([article], ["a@example.vn"])
        flag.story_id = article.story_id
        return [flag]


def _store(tmp_path: Path, articles: list[Article]) -> SqliteStore:
    store = SqliteStore(tmp_path / "h.sqlite3")
    for a in articles:
        store.upsert(a)
    return store


def test_window_is_the_day_before_seven_and_the_weekend_on_mondays():
    start, end = digest_window(DAY)
    assert (start, end) == (datetime(2026, 3, 12, 7, tzinfo=VN), datetime(2026, 3, 13, 7, tzinfo=VN))
    start, end = digest_window(date(2026, 3, 16))          # Monday
    assert start == datetime(2026, 3, 13, 7, tzinfo=VN) and end - start == timedelta(days=3)


def test_counts_and_changes_against_the_previous_window(tmp_path: Path):
    articles = [_art("a1"), _art("a2", topic="du_lich_van_hoa", tone="positive", source="vnexpress"),
                _art("a3", source="bbc"), _art("b1", when=BEFORE), _art("b2", when=BEFORE - timedelta(days=2)),
                _art("late", when=datetime(2026, 3, 13, 7, 0, tzinfo=VN))]   # at 07:00: tomorrow's digest
    with _store(tmp_path, articles) as store:
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert (d.total, d.previous_total) == (3, 1)
    topics = {r.key: (r.count, r.previous, r.delta) for r in d.by_topic}
    assert topics == {"an_ninh_trat_tu": (2, 1, 1), "du_lich_van_hoa": (1, 0, 1)}
    assert d.by_topic[0].label == "An ninh, trật tự"
    assert {r.key: r.delta for r in d.by_tone} == {"negative": 1, "positive": 1}
    assert {r.key: (r.count, r.previous) for r in d.by_kind} == {
        "provincial_press": (1, 1), "national_press": (1, 0), "foreign_press": (1, 0)}
    subject, text, html = render_digest(d)
    assert "3 tin" in subject and "13/03/2026" in subject
    assert "- An ninh, trật tự: 2 bài (+1), 2 tin" in text and "- Tiêu cực: 2 bài (+1), 2 tin" in text
    assert "- Báo chí nước ngoài: 1 bài (+1), 1 tin" in text
    assert "<img" not in html and "data:" not in html        # Gmail and Outlook show neither SVG nor data: images
    bars = re.findall(r'<td width="(\d+)%" bgcolor="#1f6fb2"', html)
    assert bars == ["100", "50"]                              # 2 and 1 articles: table cells every client draws


def test_monday_covers_the_weekend(tmp_path: Path):
    sat = datetime(2026, 3, 14, 12, tzinfo=VN)
    fri_morning = datetime(2026, 3, 13, 8, tzinfo=VN)
    with _store(tmp_path, [_art("sat", when=sat), _art("fri", when=fri_morning),
                           _art("thu", when=datetime(2026, 3, 12, 12, tzinfo=VN))]) as store:
        d = build_digest(store, _settings(tmp_path), date(2026, 3, 16), dispatcher=_Rules())
    assert d.weekend and d.total == 2 and d.previous_total == 1
    assert "cuối tuần" in render_digest(d)[1]


def test_one_entry_per_story_most_outlets_first_and_flag_state(tmp_path: Path):
    copies = [_art(f"dap{i}", source=s, story="dam", title="Tin đồn vỡ đập")
              for i, s in enumerate(["baoquangngai", "vnexpress", "bbc"])]
    copies.append(_art("dap-again", source="vnexpress", story="dam", title="Tin đồn vỡ đập (cập nhật)",
                       when=IN + timedelta(hours=1)))
    copies[2].content.engagement = {"likes": 1520, "shares": 3400}
    articles = [*copies, _art("single", title="Lễ hội")]
    with _store(tmp_path, articles) as store:
        key = flag_key("tin_sai_cao", "dam", "a@example.vn")
        store.enqueue(OutboxMessage(key=key, flag_rule="tin_sai_cao", story_id="dam", recipient="a@example.vn",
                                    message_id=f"<{key}@x>", subject="s", text="t", html="h", created_at=IN))
        store.mark_sent(key, IN)
        bad = flag_key("other", "gone", "b@example.vn")
        store.enqueue(OutboxMessage(key=bad, flag_rule="other", story_id="gone", recipient="b@example.vn",
                                    message_id=f"<{bad}@x>", subject="Thư cũ", text="t", html="h", created_at=IN))
        store.mark_failed(bad, "550 no such user")
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert [s.story_id for s in d.stories] == ["dam", "story-single"]
    assert len(d.stories[0].outlets) == 3            # one per outlet, the repeat is not listed twice
    assert {o.url for o in d.stories[0].outlets} >= {copies[0].fetched.url, copies[2].fetched.url}
    assert len(d.flags) == 1
    flag = d.flags[0]
    assert flag.story_id == "dam" and flag.article_count == 4 and flag.states == {"sent": 1}
    assert [(m.recipient, m.error) for m in d.failed] == [("b@example.vn", "550 no such user")]
    subject, text, html = render_digest(d)
    assert "1 tin có cảnh báo" in subject and "1 thư gửi lỗi" in subject
    assert "Trạng thái: đã gửi 1 thư" in text and "550 no such user" in html
    assert html.count(copies[0].fetched.url) == 1 + 1   # the flag's link and the story's outlet
    for body in (text, html):      # counts the page stated, beside its outlet
        assert "(1.520 lượt thích · 3.400 lượt chia sẻ)" in body and body.count("lượt thích") == 1
    assert f"{copies[2].fetched.url} (1.520" in text and f"{copies[0].fetched.url}\n" in text


def test_foreign_press_section(tmp_path: Path):
    with _store(tmp_path, [_art("bbc1", source="bbc", title="Foreign view"), _art("home")]) as store:
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert [(a.source_name, a.title, a.tone) for a in d.foreign] == [("BBC Tiếng Việt", "Foreign view", "negative")]
    html = render_digest(d)[2]
    section = html.split("Báo chí nước ngoài", 1)[1].split("Tin nổi bật", 1)[0]
    assert "Foreign view" in section and "BBC Tiếng Việt" in section and "Tin home" not in section


def test_empty_day_gives_a_short_digest(tmp_path: Path):
    with _store(tmp_path, []) as store:
        d = build_digest(store, _settings(tmp_path), DAY)       # the real dispatcher, no rules
    assert d.empty
    subject, text, html = render_digest(d)
    assert "Không có tin mới" in subject and "Không có tin mới" in text and "Không có tin mới" in html
    assert "<img" not in html and len(text) < 400


def test_hostile_text_stays_text(tmp_path: Path):
    evil = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" & \u202eevil ' + "x" * 500
    topic = "<b>topic</b>&"
    a = _art("evil", title=evil + " đập", text=evil + " Quảng Ngãi", topic=topic, source="bbc")
    a.fetched.canonical_url = "javascript:alert(3)"
    with _store(tmp_path, [a]) as store:
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    subject, text, html = render_digest(d)
    assert "<script" not in html and "<b>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&amp;lt;" not in html
    assert 'href="javascript' not in html and "\u202e" not in html and "\u202e" not in text
    assert "\n" not in subject
    assert "&lt;b&gt;topic&lt;/b&gt;&amp;" in html        # the topic label in the chart's table, escaped


def test_claims_waiting_for_a_person_are_listed_until_decided(tmp_path: Path):
    from nlp.claims import propose_text

    with _store(tmp_path, [_art("a1")]) as store:
        ids = [propose_text(store, f"Tin đồn số {n}: đập thủy điện ở huyện miền núi bị vỡ <b>{n}</b>",
                            rebuttal_url=None) for n in range(7)]
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
        _subject, text, html = render_digest(d)
        assert d.claims_waiting == 7 and len(d.claims_waiting_texts) == 5
        assert "CHỜ CÁN BỘ XÁC NHẬN (7)" in text and "… và 2 tin khác." in text
        assert "Tin đồn số 6" in text and "Tin đồn số 1" not in text        # the newest first
        assert 'id="claims-waiting"' in html and "&lt;b&gt;6&lt;/b&gt;" in html
        for claim_id in ids:
            assert claim_id
            store.confirm_claim(claim_id)
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert d.claims_waiting == 0 and "CHỜ CÁN BỘ XÁC NHẬN" not in render_digest(d)[1]


def test_an_empty_day_still_shows_claims_waiting(tmp_path: Path):
    from nlp.claims import propose_text

    with _store(tmp_path, []) as store:
        propose_text(store, "Đập thủy điện ở huyện miền núi đã bị vỡ trong đêm qua", rebuttal_url=None)
        d = build_digest(store, _settings(tmp_path), DAY)
    assert d.empty
    _subject, text, html = render_digest(d)
    assert "Không có tin mới" in text and "CHỜ CÁN BỘ XÁC NHẬN (1)" in text and "- Đập thủy điện" in text
    assert 'id="claims-waiting"' in html and "<li dir=\"auto\">Đập thủy điện" in html


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HAIDANG_HOME", "HAIDANG_STORE", "HAIDANG_CONFIG", "ELASTICSEARCH_URL"):
        monkeypatch.delenv(name, raising=False)
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "haidang.yaml").write_text(f"store:\n  data_dir: {tmp_path / 'data'}\n", encoding="utf-8")
    (cfg / "sources.yaml").write_text(
        "sources:\n  - {id: baoquangngai, name: Báo Quảng Ngãi, country: VN, language: vi, kind: provincial_press}\n",
        encoding="utf-8")
    (tmp_path / "data").mkdir()
    with SqliteStore(tmp_path / "data" / "haidang.sqlite3") as store:
        store.upsert(_art("cli", title="Tin cho dòng lệnh"))
    return cfg


def test_cli_writes_the_html_digest(config_dir: Path, tmp_path: Path):
    target = tmp_path / "out" / "digest.html"
    result = CliRunner().invoke(app, ["digest", "--date", "2026-03-13", "--to", str(target), "-c", str(config_dir)])
    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Tin cho dòng lệnh" in html
    printed = CliRunner().invoke(app, ["digest", "--date", "2026-03-13", "-c", str(config_dir)])
    assert printed.exit_code == 0 and "Tin cho dòng lệnh" in printed.output
    bad = CliRunner().invoke(app, ["digest", "--date", "13/03/2026", "-c", str(config_dir)])
    assert bad.exit_code != 0


def test_queue_digest_once_per_day_and_recipient_even_when_empty(tmp_path: Path):
    settings = _settings(tmp_path).model_copy(update={"agencies": [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=["ttt@example.vn"],
                                leads=True)]})
    now = datetime(2026, 3, 13, 7, 0, tzinfo=VN)
    with _store(tmp_path, [_art("a")]) as store:
        assert queue_digest(store, settings, DAY, now, dispatcher=_Rules()) == 1
        assert queue_digest(store, settings, DAY, now, dispatcher=_Rules()) == 0     # a rerun after a restart
        assert queue_digest(store, settings, DAY + timedelta(days=31), now, dispatcher=_Rules()) == 1   # a Monday
        queued = store.outbox()
    assert [m.recipient for m in queued] == ["ttt@example.vn", "ttt@example.vn"]
    assert {m.flag_rule for m in queued} == {DIGEST_RULE}
    empty = next(m for m in queued if m.story_id.endswith((DAY + timedelta(days=31)).isoformat()))
    assert "Không có tin mới" in empty.subject


def test_digest_recipients_must_be_known_agencies(tmp_path: Path):
    cfg = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, cfg)
    text = (cfg / "alerts.yaml").read_text(encoding="utf-8")
    (cfg / "alerts.yaml").write_text(text.replace("recipients: [so-ttt]", "recipients: [so-khong-co]"),
                                     encoding="utf-8")
    with pytest.raises(ConfigError, match="alerts.yaml:[0-9]+.*so-khong-co"):
        load_settings(cfg, environ={})


def test_a_flag_on_an_old_story_found_in_the_window_is_in_the_digest(tmp_path: Path):
    """Published last month, found (and flagged) in the window: the digest of that window lists
    its flag and counts it (no earlier digest could: the system had not found it yet)."""
    old = _art("dap-cu", title="Tin đồn vỡ đập", when=IN - timedelta(days=30), story="dam-cu")
    old.content.first_seen = IN
    found_later = _art("dap-sau", title="Tin đồn vỡ đập", when=IN - timedelta(days=30), story="dam-sau")
    found_later.content.first_seen = IN + timedelta(days=2)              # after the window: not this digest
    with _store(tmp_path, [old, found_later]) as store:
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert [f.story_id for f in d.flags] == ["dam-cu"] and d.flags[0].title == "Tin đồn vỡ đập"
    assert (d.total, d.found_late) == (1, 1)


def test_subject_prefix_no_topic_wording_and_empty_sections(tmp_path: Path):
    """Every email starts with [Hải Đăng]; an article without a topic reads as haidang.wording.NO_TOPIC;
    a section with nothing in it says so rather than leaving a bare heading."""
    untagged = _art("khong-chu-de", title="Tin chưa xếp chủ đề")
    untagged.labels["topics"] = []
    with _store(tmp_path, [untagged]) as store:
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    d.stories = []                                              # as a day whose articles form no story
    subject, text, html = render_digest(d)
    assert subject == "[Hải Đăng] Bản tin ngày 13/03/2026: 1 tin, 0 tin có cảnh báo"
    no_topic = NO_TOPIC[:1].upper() + NO_TOPIC[1:]               # a list item starts with a capital
    assert f"- {no_topic}: 1 bài (+1), 1 tin" in text and no_topic in html
    assert "không rõ" not in text and "(không rõ)" not in html
    assert "TIN NỔI BẬT\n- Không có." in text
    assert re.search(r"Tin nổi bật</h2>\s*<p>Không có.</p>", html)
    d.by_topic = []
    _, text, html = render_digest(d)
    assert "THEO CHỦ ĐỀ\n- Không có." in text and "Không có.</td>" in html
    with _store(tmp_path / "empty", []) as store:
        empty = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert render_digest(empty)[0] == "[Hải Đăng] Bản tin ngày 13/03/2026: Không có tin mới"


def test_foreign_articles_flagged_in_the_window_are_listed_as_found_late(tmp_path: Path):
    """A foreign article published last week and found today is flagged today: the foreign-press
    section lists it too (marked), so the two sections never contradict each other."""
    old = _art("bbc-cu", source="bbc", title="Tin đồn vỡ đập (BBC)", when=IN - timedelta(days=7), story="dam-bbc")
    old.content.first_seen = IN
    with _store(tmp_path, [old, _art("bbc-moi", source="bbc", title="Lý Sơn mùa tỏi")]) as store:
        d = build_digest(store, _settings(tmp_path), DAY, dispatcher=_Rules())
    assert [f.story_id for f in d.article_flags] == ["dam-bbc"]
    assert [(a.title, a.found_late) for a in d.foreign] == [("Lý Sơn mùa tỏi", False), ("Tin đồn vỡ đập (BBC)", True)]
    _, text, html = render_digest(d)
    assert "BÁO CHÍ NƯỚC NGOÀI (2 bài đăng hoặc được phát hiện trong kỳ)" in text
    assert "Tin đồn vỡ đập (BBC) — BBC Tiếng Việt, Thứ năm, 05/03/2026 15:00 (đăng trước kỳ, phát hiện trong kỳ)" in text
    assert "(đăng trước kỳ, phát hiện trong kỳ)" in html
