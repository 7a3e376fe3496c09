"""Rule matching: each condition, with its reasons; spikes, silent sources and quiet hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.rules import evaluate_rules, in_quiet_hours, silent_sources, spike_flags
from haidang.record import Article, Content, Fetched, Match
from haidang.settings import DEFAULT_CONFIG_DIR, Agency, AlertRule, QuietHours, Source, load_settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 14, 30, tzinfo=VN)
BBC = Source(id="bbc-vietnamese", name="BBC News Tiếng Việt", country="GB", language="vi", kind="foreign_press")
VNE = Source(id="vnexpress", name="VnExpress", country="VN", language="vi", kind="national_press")


def article(*, risk: dict[str, Any] | None = None, tone: str = "neutral", topics: tuple[str, ...] = (),
            relevant: bool = True, source_id: str = "vnexpress", language: str | None = "vi",
            id: str = "a1", story_id: str | None = "s1") -> Article:
    labels: dict[str, Any] = {"tone": {"label": tone},
                              "topics": [{"id": t, "score": 0.9, "evidence": [t]} for t in topics]}
    if risk is not None:
        labels["risk"] = risk
    return Article(id=id, story_id=story_id, relevant=relevant, province_code="51",
                   fetched=Fetched(source_id=source_id, url=f"https://example.org/{id}"),
                   content=Content(title="Tin", text="Quảng Ngãi", language=language),
                   matches=[Match(province_code="51", province="Quảng Ngãi", named=True, aliases=["Quảng Ngãi"])],
                   labels=labels)


def rule(**kw: Any) -> AlertRule:
    return AlertRule(**{"name": "r", "severity": "cao", "recipients": ["route_by_topic"], **kw})


HIGH_RISK = {"score": 0.81, "level": "cao",
             "reasons": [{"signal": "rumour_cue", "evidence": "nghe nói", "weight": 1.2}]}


def names(matches: list) -> list[str]:
    return [m.rule.name for m in matches]


def test_relevant_condition_and_its_evidence():
    [m] = evaluate_rules(article(), [rule(relevant=True)], source=VNE, now=NOW)
    assert m.reasons == [{"condition": "relevant", "evidence": "Quảng Ngãi"}]
    assert (m.article_id, m.story_id, m.source_id, m.at) == ("a1", "s1", "vnexpress", NOW)
    assert evaluate_rules(article(relevant=False), [rule(relevant=True)], source=VNE, now=NOW) == []


def test_topics_any_of():
    r = rule(topics=["bien_dao", "bien_gioi"])
    [m] = evaluate_rules(article(topics=("kinh_te_xa_hoi", "bien_dao")), [r], source=VNE, now=NOW)
    assert m.reasons == [{"condition": "topics", "evidence": [{"id": "bien_dao", "score": 0.9, "evidence": ["bien_dao"]}]}]
    assert evaluate_rules(article(topics=("kinh_te_xa_hoi",)), [r], source=VNE, now=NOW) == []


def test_risk_rule_carries_the_risk_reasons():
    [m] = evaluate_rules(article(risk=HIGH_RISK), [rule(relevant=True, min_risk_level="cao")], source=VNE, now=NOW)
    assert {"condition": "min_risk_level", "evidence": "cao (0,81)"} in m.reasons
    assert {"signal": "rumour_cue", "evidence": "nghe nói", "weight": 1.2} in m.reasons


def test_critical_but_low_risk_article_does_not_trigger_the_risk_rule():
    critical = article(tone="negative", risk={"score": 0.12, "level": "thấp", "reasons": []})
    rules = [rule(name="risk", min_risk_level="cần xem xét"), rule(name="neg", tone=["negative"])]
    assert names(evaluate_rules(critical, rules, source=VNE, now=NOW)) == ["neg"]


def test_risk_score_threshold_and_missing_risk():
    r = rule(min_risk_score=0.5)
    assert evaluate_rules(article(risk=HIGH_RISK), [r], source=VNE, now=NOW)
    assert evaluate_rules(article(risk={"score": 0.49, "level": "cần xem xét"}), [r], source=VNE, now=NOW) == []
    assert evaluate_rules(article(risk=None), [r], source=VNE, now=NOW) == []


def test_source_kind_and_language():
    foreign = rule(relevant=True, source_kinds=["foreign_press"])
    [m] = evaluate_rules(article(source_id="bbc-vietnamese"), [foreign], source=BBC, now=NOW)
    assert {"condition": "source_kinds", "evidence": "bbc-vietnamese: foreign_press"} in m.reasons
    assert evaluate_rules(article(), [foreign], source=VNE, now=NOW) == []
    assert evaluate_rules(article(), [foreign], source=None, now=NOW) == []
    english = rule(languages=["en"])
    assert evaluate_rules(article(language="en"), [english], source=VNE, now=NOW)
    assert evaluate_rules(article(language=None), [english], source=VNE, now=NOW) == []   # falls back to vi


def test_query_is_evaluated_by_the_injected_matcher():
    r = rule(query='"tàu lạ"')
    seen: list[str] = []

    def matcher(a: Article, q: str) -> bool:
        seen.append(q)
        return a.id == "a1"

    assert evaluate_rules(article(), [r], source=VNE, query_matches=matcher, now=NOW)[0].reasons == [
        {"condition": "query", "evidence": '"tàu lạ"'}]
    assert evaluate_rules(article(id="a2"), [r], source=VNE, query_matches=matcher, now=NOW) == []
    assert seen == ['"tàu lạ"', '"tàu lạ"']
    with pytest.raises(ValueError, match="query_matches"):
        evaluate_rules(article(), [r], source=VNE, now=NOW)


def test_all_conditions_must_hold_and_spike_silence_disabled_rules_are_skipped():
    rules = [rule(name="both", relevant=True, tone=["negative"]),
             rule(name="off", relevant=True, enabled=False),
             rule(name="spike", spike={"window_minutes": 60, "factor": 3, "min_count": 10, "cooldown_minutes": 360}),
             rule(name="silence", silence={"hours": 48}, recipients=["so-ttt"])]
    assert evaluate_rules(article(tone="neutral"), rules, source=VNE, now=NOW) == []
    assert names(evaluate_rules(article(tone="negative"), rules, source=VNE, now=NOW)) == ["both"]


def test_shipped_rules_flag_a_foreign_press_item_and_high_risk():
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    got = names(evaluate_rules(article(source_id="bbc-vietnamese", risk=HIGH_RISK), settings.alert_rules,
                               source=BBC, now=NOW))
    assert got == ["tin-sai-su-that-rui-ro-cao", "tin-can-xem-xet", "bao-chi-nuoc-ngoai-ve-tinh"]


SPIKE = rule(name="spike", spike={"window_minutes": 60, "factor": 3, "min_count": 10, "cooldown_minutes": 360})


def test_spike_needs_factor_and_min_count():
    assert spike_flags(12, 3.0, SPIKE, NOW, None)
    assert not spike_flags(8, 3.0, SPIKE, NOW, None)        # under min_count
    assert not spike_flags(12, 5.0, SPIKE, NOW, None)       # under 3 x baseline
    assert spike_flags(10, 0.0, SPIKE, NOW, None)           # no history: min_count alone


def test_spike_cool_down_gives_one_flag_per_surge():
    fired: list[datetime] = []
    for minute in range(0, 300, 5):                         # a five-hour surge polled every 5 minutes
        t = NOW + timedelta(minutes=minute)
        if spike_flags(40, 3.0, SPIKE, t, fired[-1] if fired else None):
            fired.append(t)
    assert fired == [NOW]
    assert spike_flags(40, 3.0, SPIKE, NOW + timedelta(minutes=360), NOW)   # after the cool-down


def test_silent_sources():
    r = rule(name="silence", silence={"hours": 48}, recipients=["admins"])
    last = {"b": NOW - timedelta(hours=49), "a": NOW - timedelta(hours=48), "c": NOW - timedelta(hours=47)}
    assert silent_sources(last, r, NOW) == ["a", "b"]
    with pytest.raises(ValueError):
        silent_sources(last, SPIKE, NOW)


NIGHT = QuietHours(start="22:00", end="06:00")


def test_quiet_hours_defer_to_their_end():
    r = rule(relevant=True, severity="cao", quiet_hours=NIGHT)
    assert in_quiet_hours(r, datetime(2026, 11, 20, 23, 15, tzinfo=VN), VN) == datetime(2026, 11, 21, 6, 0, tzinfo=VN)
    assert in_quiet_hours(r, datetime(2026, 11, 21, 2, 0, tzinfo=VN), "Asia/Ho_Chi_Minh") == datetime(
        2026, 11, 21, 6, 0, tzinfo=VN)
    assert in_quiet_hours(r, datetime(2026, 11, 21, 6, 0, tzinfo=VN), VN) is None
    assert in_quiet_hours(r, datetime(2026, 11, 20, 21, 59, tzinfo=VN), VN) is None
    # 16:30 UTC is 23:30 in Vietnam: the window is local time
    assert in_quiet_hours(r, datetime(2026, 11, 20, 16, 30, tzinfo=ZoneInfo("UTC")), VN) == datetime(
        2026, 11, 21, 6, 0, tzinfo=VN)


def test_daytime_window_agency_window_and_khan_override():
    lunch = QuietHours(start="11:30", end="13:30")
    assert in_quiet_hours(lunch, datetime(2026, 11, 20, 12, 0, tzinfo=VN), VN) == datetime(2026, 11, 20, 13, 30, tzinfo=VN)
    assert in_quiet_hours(lunch, datetime(2026, 11, 20, 23, 0, tzinfo=VN), VN) is None
    agency = Agency(id="x", name="X", emails=["x@example.gov.vn"], quiet_hours=NIGHT)
    assert in_quiet_hours(agency, datetime(2026, 11, 20, 23, 0, tzinfo=VN), VN) is not None
    urgent = rule(relevant=True, severity="khẩn", quiet_hours=NIGHT)
    assert in_quiet_hours(urgent, datetime(2026, 11, 20, 23, 15, tzinfo=VN), VN) is None
    assert in_quiet_hours(rule(relevant=True), datetime(2026, 11, 20, 23, 15, tzinfo=VN), VN) is None
    with pytest.raises(ValueError):
        in_quiet_hours(NIGHT, datetime(2026, 11, 20, 23, 15), VN)
