"""Spike and silence rules as the service runs them: counts from the store, one flag per surge and
per silence, state that survives a restart. Fixed datetimes throughout."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alerts_testkit import T0, build_article

from alerts.watch import Watcher, raised_flags
from haidang.settings import DEFAULT_CONFIG_DIR, AlertRule, Settings, load_settings
from haidang.store import open_store
from haidang.store.base import Store

SPIKE = "tang-dot-bien-so-tin"            # config/alerts.yaml: 60 min, x3, >= 10, cool-down 6 h, 14 days
SILENCE = "nguon-ngung-cap-nhat"          # config/alerts.yaml: 48 h, admins, digest only


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": str(tmp_path_factory.mktemp("home"))})


def _settings(base: Settings, tmp_path: Path, *names: str, sources: tuple[str, ...] = ("baoquangngai", "tuoitre"),
              **rule_updates: object) -> Settings:
    rules = [r.model_copy(update=rule_updates) for r in base.alert_rules if r.name in names]
    chosen = [s.model_copy(update={"enabled": True}) for s in base.sources if s.id in sources]
    store = base.app.store.model_copy(update={"data_dir": str(tmp_path / "data")})
    app = base.app.model_copy(update={"store": store})
    return base.model_copy(update={"alert_rules": rules, "sources": chosen, "app": app})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": str(tmp_path / "data")}).app.store)
    yield opened
    opened.close()


def _add(store: Store, prefix: str, n: int, at, source: str = "baoquangngai") -> None:
    for i in range(n):
        store.upsert(build_article(f"{prefix}-{i}", source=source, published=at - timedelta(minutes=i + 1),
                                   title=f"Tin {prefix} số {i} về Quảng Ngãi"))


def test_a_surge_raises_one_flag_until_the_cooldown_ends(base_settings: Settings, tmp_path: Path, store: Store):
    settings = _settings(base_settings, tmp_path, SPIKE)
    for day in range(1, 15):                       # the usual level: 2 mentions in that hour
        _add(store, f"usual{day}", 2, T0 - timedelta(days=day))
    _add(store, "surge", 12, T0)
    watcher = Watcher(settings, store, "51")
    assert watcher.counts(settings.alert_rules[0], T0) == (12, 2.0)

    report = watcher.run(T0)
    [flag] = report.flags
    assert flag.rule == SPIKE and flag.immediate and flag.recipients == ["so-ttt@example.gov.vn"]
    assert len(flag.article_ids) == 10 and flag.reasons[0]["condition"] == "spike"
    assert "12 bài" in flag.reasons[0]["evidence"][0]
    assert report.queued == 1
    [msg] = store.outbox()
    assert msg.flag_rule == SPIKE and msg.story_id == flag.story_id and msg.next_attempt_at == T0

    # The surge goes on; polls within the cool-down (6 h) stay silent, also after a restart.
    _add(store, "more", 15, T0 + timedelta(minutes=30))
    assert watcher.run(T0 + timedelta(minutes=5)).flags == []
    assert Watcher(settings, store, "51").run(T0 + timedelta(hours=5, minutes=59)).flags == []
    assert len(store.outbox()) == 1

    # A new surge after the cool-down is a new flag with its own story.
    _add(store, "later", 12, T0 + timedelta(hours=7))
    [again] = Watcher(settings, store, "51").run(T0 + timedelta(hours=7)).flags
    assert again.story_id != flag.story_id
    assert len(store.outbox()) == 2


def test_no_spike_below_the_factor_or_the_minimum(base_settings: Settings, tmp_path: Path, store: Store):
    settings = _settings(base_settings, tmp_path, SPIKE)
    for day in range(1, 15):
        _add(store, f"usual{day}", 5, T0 - timedelta(days=day))
    _add(store, "busy", 12, T0)                    # 12 < 3 x 5
    assert Watcher(settings, store, "51").run(T0).flags == []
    quiet = _settings(base_settings, tmp_path, SPIKE)
    other = open_store(quiet.app.store.model_copy(update={"data_dir": str(tmp_path / "other")}))
    try:
        _add(other, "few", 9, T0)                  # baseline 0, but fewer than min_count 10
        assert Watcher(quiet, other, "51").run(T0).flags == []
    finally:
        other.close()


def test_a_spike_in_quiet_hours_waits_until_morning(base_settings: Settings, tmp_path: Path, store: Store):
    settings = _settings(base_settings, tmp_path, SPIKE)
    night = T0.replace(hour=23)
    _add(store, "night", 11, night)
    assert len(Watcher(settings, store, "51").run(night).flags) == 1
    [msg] = store.outbox()
    assert msg.next_attempt_at == (night + timedelta(days=1)).replace(hour=6)


def test_a_silent_source_is_flagged_once_until_it_speaks_again(base_settings: Settings, tmp_path: Path,
                                                               store: Store):
    settings = _settings(base_settings, tmp_path, SILENCE)
    watcher = Watcher(settings, store, "51")
    assert watcher.run(T0).flags == []              # both sources get the grace period from now
    _add(store, "bqn", 1, T0 + timedelta(hours=47))

    [flag] = watcher.run(T0 + timedelta(hours=48)).flags
    assert flag.rule == SILENCE and flag.story_id.startswith("silence:tuoitre:")
    assert flag.recipients == ["so-ttt@example.gov.vn"] and not flag.immediate
    assert store.outbox() == []                      # digest only: nothing queued
    assert Watcher(settings, store, "51").run(T0 + timedelta(hours=50)).flags == []   # still silent: no repeat

    _add(store, "tt", 1, T0 + timedelta(hours=51), source="tuoitre")
    assert watcher.run(T0 + timedelta(hours=52)).flags == []            # it speaks: cleared
    later = T0 + timedelta(hours=51 + 49)
    flags = watcher.run(later).flags
    assert sorted(f.story_id.split(":")[1] for f in flags) == ["baoquangngai", "tuoitre"]
    assert all(f.story_id != flag.story_id for f in flags)

    logged = raised_flags(store, T0, later + timedelta(seconds=1))
    assert logged[0]["story_id"] == flag.story_id and len(logged) == 3
    assert raised_flags(store, T0, T0 + timedelta(hours=1)) == []


def test_an_immediate_silence_rule_never_breaks_the_pass(base_settings: Settings, tmp_path: Path, store: Store,
                                                          caplog: pytest.LogCaptureFixture):
    settings = _settings(base_settings, tmp_path, SILENCE, SPIKE, sources=("tuoitre",), immediate=True)
    watcher = Watcher(settings, store, "51")
    watcher.run(T0)
    with caplog.at_level(logging.INFO, logger="alerts.watch"):
        report = watcher.run(T0 + timedelta(days=3))
    assert [f.rule for f in report.flags] == [SILENCE]
    assert "tuoitre" in caplog.text
    [msg] = store.outbox()                           # its own email: no article, the source named
    assert "Nguồn tin ngừng cập nhật" in msg.subject and "tuoitre" in msg.text
    assert "<script" not in msg.html and "không có bài mới" in msg.html


def test_the_shipped_rules_include_a_spike_and_a_silence_rule(base_settings: Settings):
    by_name: dict[str, AlertRule] = {r.name: r for r in base_settings.alert_rules}
    assert by_name[SPIKE].spike is not None and by_name[SPIKE].spike.cooldown_minutes > 0
    assert by_name[SILENCE].silence is not None and "admins" in by_name[SILENCE].recipients


def test_spike_and_silence_flags_appear_in_the_digest(base_settings: Settings, tmp_path: Path, store: Store):
    from alerts.digest import build_digest, render_digest

    settings = _settings(base_settings, tmp_path, SILENCE, sources=("tuoitre",))
    watcher = Watcher(settings, store, "51")
    watcher.run(T0)
    [flag] = watcher.run(T0 + timedelta(days=3)).flags
    day = (T0 + timedelta(days=4)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    digest = build_digest(store, settings, day)
    listed = [f for f in digest.flags if f.story_id == flag.story_id]
    assert listed and "Nguồn tin ngừng cập nhật" in listed[0].title
    _, text, html = render_digest(digest)
    assert "Nguồn tin ngừng cập nhật" in text and "Nguồn tin ngừng cập nhật" in html


def test_a_silence_email_names_the_source_and_reads_as_vietnamese(base_settings: Settings, tmp_path: Path,
                                                                   store: Store):
    """The source's name, not its id, in the subject, the text and the reasons; hours as Vietnamese
    numbers; one reason per line; the rule's description with its slug."""
    rule = next(r for r in base_settings.alert_rules if r.name == SILENCE)
    short = rule.silence.model_copy(update={"hours": 0.02})        # type: ignore[union-attr]
    settings = _settings(base_settings, tmp_path, SILENCE, sources=("tuoitre",), immediate=True, silence=short)
    watcher = Watcher(settings, store, "51")
    watcher.run(T0)
    [flag] = watcher.run(T0 + timedelta(hours=1)).flags
    assert flag.reasons == [{"condition": "silence", "evidence": ["Tuổi Trẻ không có bài mới trong 0,02 giờ"]}]
    [msg] = store.outbox()
    assert msg.subject == "[Hải Đăng][thấp] Nguồn tin ngừng cập nhật: Tuổi Trẻ"
    lines = msg.text.splitlines()
    assert 'Nguồn tin "Tuổi Trẻ" (mã nguồn tuoitre) không có bài mới trong 0,02 giờ qua' in msg.text
    assert "- Nguồn im lặng: Tuổi Trẻ không có bài mới trong 0,02 giờ" in lines       # a line of its own
    assert "Quy tắc: Nguồn tin không có bài mới (nguon-ngung-cap-nhat)" in lines
    assert "silence" not in msg.text and "0.02" not in msg.text and "0.02" not in msg.html
    assert "<strong>Nguồn im lặng</strong>: Tuổi Trẻ không có bài mới trong 0,02 giờ" in msg.html
    assert "Nguồn tin không có bài mới (nguon-ngung-cap-nhat)" in msg.html


def test_the_digest_counts_source_alerts_apart_from_flagged_news(base_settings: Settings, tmp_path: Path,
                                                                  store: Store):
    from alerts.digest import build_digest, render_digest

    settings = _settings(base_settings, tmp_path, SILENCE, sources=("tuoitre",))
    watcher = Watcher(settings, store, "51")
    watcher.run(T0)
    watcher.run(T0 + timedelta(days=3))
    day = (T0 + timedelta(days=4)).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    digest = build_digest(store, settings, day)
    [alert] = digest.silence_flags
    assert digest.article_flags == [] and alert.kind == "silence"
    assert alert.title == "Nguồn tin ngừng cập nhật: Tuổi Trẻ (không có bài mới trong 48 giờ)"
    subject, text, html = render_digest(digest)
    assert subject.startswith("[Hải Đăng] Bản tin ngày ") and subject.endswith(": 0 tin, 0 tin có cảnh báo, 1 cảnh báo nguồn")
    assert "TIN CÓ CẢNH BÁO (0)\n- Không có." in text
    assert "CẢNH BÁO VỀ NGUỒN TIN VÀ LƯỢNG TIN (1)" in text
    assert "Quy tắc: Nguồn tin không có bài mới ·" in text and "nguon-ngung-cap-nhat" not in text
    assert "tuoitre" not in text and "Tuổi Trẻ (không có bài mới trong 48 giờ)" in html
