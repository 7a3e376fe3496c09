"""The `debunk` rule condition: a police denial is the answer to a rumour, not negative coverage.

Runs the shipped enricher and the shipped rules on a real denial, so the test follows what the
models say about it rather than a hand-made label.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.render import CONDITION_NAMES
from alerts.rules import evaluate_rules
from haidang.settings import DEFAULT_CONFIG_DIR, AlertRule, Source, load_settings
from haidang.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 20, 14, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
PRESS = Source(id="baoqn", name="Báo Quảng Ngãi", country="VN", language="vi", kind="provincial_press", trust="high")
DENIAL = ("Công an tỉnh Quảng Ngãi bác bỏ tin đồn vỡ đập thủy điện",
          ("Công an tỉnh Quảng Ngãi khẳng định thông tin \"đập thủy điện ở huyện Sơn Tây bị vỡ, hàng trăm người "
           "thiệt mạng\" lan truyền trên mạng xã hội là sai sự thật. Người đăng tin đã bị xử phạt. Tỉnh Quảng Ngãi "
           "đề nghị người dân không chia sẻ thông tin chưa được kiểm chứng, gây hoang mang dư luận."))
CRITICAL = ("Sạt lở nghiêm trọng ở Quảng Ngãi, hàng chục hộ dân phải di dời",
            ("Mưa lớn kéo dài gây sạt lở nghiêm trọng tại nhiều xã miền núi tỉnh Quảng Ngãi. Hàng chục hộ dân "
             "phải di dời khẩn cấp, nhiều tuyến đường bị chia cắt, thiệt hại ước tính hàng chục tỉ đồng."))


def _rule(**kw) -> AlertRule:
    return AlertRule(**{"name": "r", "severity": "thấp", "recipients": ["route_by_topic"], **kw})


def _enriched(tmp_path: Path, enricher, matched_article, slug: str, title: str, text: str):
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        return enricher.enrich(matched_article(PRESS, slug, title, text), PRESS, store)
    finally:
        store.close()


def test_the_shipped_negative_tone_rule_leaves_out_a_police_denial(tmp_path: Path, enricher, matched_article):
    denial = _enriched(tmp_path, enricher, matched_article, "bac-bo", *DENIAL)
    assert denial.labels["risk"]["debunk"], "the enricher recognises the denial"
    assert denial.labels["tone"]["label"] == "negative", "what the rule would have caught without the condition"
    rules = {r.name: r for r in load_settings(DEFAULT_CONFIG_DIR, environ={}).alert_rules}
    negative = rules["tin-tieu-cuc-ve-tinh"]
    assert negative.debunk is False
    assert evaluate_rules(denial, [negative], source=PRESS, now=NOW) == []
    # without the condition, the same rule would flag it: the condition is what keeps it out
    loose = negative.model_copy(update={"debunk": None})
    assert [m.rule.name for m in evaluate_rules(denial, [loose], source=PRESS, now=NOW)] == ["tin-tieu-cuc-ve-tinh"]


def test_critical_coverage_still_reaches_the_negative_rule(tmp_path: Path, enricher, matched_article):
    critical = _enriched(tmp_path, enricher, matched_article, "sat-lo", *CRITICAL)
    assert not critical.labels["risk"].get("debunk")
    assert critical.labels["tone"]["label"] == "negative"
    negative = _rule(relevant=True, tone=["negative"], debunk=False)
    [m] = evaluate_rules(critical, [negative], source=PRESS, now=NOW)
    assert [r["condition"] for r in m.reasons] == ["relevant", "tone"], "'not a debunk' adds no reason of its own"


def test_debunk_true_selects_denials_and_quotes_the_refuted_claim(tmp_path: Path, enricher, matched_article):
    denial = _enriched(tmp_path, enricher, matched_article, "bac-bo", *DENIAL)
    critical = _enriched(tmp_path, enricher, matched_article, "sat-lo", *CRITICAL)
    only = _rule(relevant=True, debunk=True)
    assert evaluate_rules(critical, [only], source=PRESS, now=NOW) == []
    [m] = evaluate_rules(denial, [only], source=PRESS, now=NOW)
    [reason] = [r for r in m.reasons if r["condition"] == "debunk"]
    assert any("vỡ" in e for e in reason["evidence"])
    assert "debunk" in CONDITION_NAMES and "debunk" in only.article_conditions()


def test_debunk_alone_is_a_condition():
    assert _rule(debunk=False).article_conditions() == ["debunk"]
