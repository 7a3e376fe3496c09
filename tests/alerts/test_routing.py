"""Routing: agencies by rule and by topic, the leading agency, one flag per story."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.flag import Flag, flag_key
from alerts.routing import group_by_story, route
from alerts.rules import evaluate_rules
from haidang.record import Article, Fetched
from haidang.settings import DEFAULT_CONFIG_DIR, Agency, AlertRule, load_settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=VN)

AGENCIES = [
    Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=["so-ttt@example.gov.vn"], leads=True,
           receives_admin=True),
    Agency(id="so-ngoai-vu", name="Sở Ngoại vụ", emails=["ngoaivu@example.gov.vn"], topics=["doi_ngoai", "kieu_bao"]),
    Agency(id="bien-phong", name="Bộ Chỉ huy Bộ đội Biên phòng tỉnh", emails=["bdbp@example.gov.vn"],
           topics=["bien_dao", "bien_gioi"]),
    Agency(id="so-khdt", name="Sở Kế hoạch và Đầu tư", emails=["khdt@example.gov.vn", "SO-TTT@example.gov.vn"],
           topics=["dau_tu_thuong_mai"]),
    Agency(id="so-ct", name="Sở Công Thương", emails=["congthuong@example.gov.vn"], topics=["dau_tu_thuong_mai"]),
]


def article(id: str, *topics: str, source_id: str = "vnexpress", story_id: str | None = "story-1") -> Article:
    return Article(id=id, story_id=story_id, relevant=True, fetched=Fetched(source_id=source_id, url=f"https://x/{id}"),
                   labels={"topics": [{"id": t, "score": 0.8, "evidence": []} for t in topics]})


def flag_for(a: Article, **kw: Any) -> Flag:
    r = AlertRule(**{"name": "r", "relevant": True, "severity": "trung bình", "recipients": ["route_by_topic"], **kw})
    [m] = evaluate_rules(a, [r], source=None, now=NOW)
    return route(m, AGENCIES, a)


def test_route_by_topic_reaches_each_owner_in_file_order():
    f = flag_for(article("a1", "dau_tu_thuong_mai", "bien_dao"))
    assert f.agencies == ["bien-phong", "so-khdt", "so-ct"]
    assert f.recipients == ["bdbp@example.gov.vn", "khdt@example.gov.vn", "SO-TTT@example.gov.vn",
                            "congthuong@example.gov.vn"]
    assert (f.rule, f.severity, f.story_id, f.article_ids, f.immediate) == ("r", "trung bình", "story-1", ["a1"], False)
    assert f.topics == ["dau_tu_thuong_mai", "bien_dao"]
    assert f.reasons == [{"condition": "relevant", "evidence": "True"}]
    assert f.created_at == NOW


def test_leading_agency_for_serious_flags_and_addresses_deduplicated():
    f = flag_for(article("a1", "dau_tu_thuong_mai"), severity="cao")
    assert f.agencies == ["so-ttt", "so-khdt", "so-ct"]
    assert [r.lower() for r in f.recipients].count("so-ttt@example.gov.vn") == 1
    assert flag_for(article("a1", "dau_tu_thuong_mai"), severity="thấp").agencies == ["so-khdt", "so-ct"]


def test_unowned_topic_goes_to_the_lead_and_named_agencies_and_admins():
    assert flag_for(article("a1", "thien_tai_dich_benh")).agencies == ["so-ttt"]
    assert flag_for(article("a1"), recipients=["so-ngoai-vu"]).agencies == ["so-ngoai-vu"]
    assert flag_for(article("a1", "bien_dao"), recipients=["admins", "route_by_topic"]).agencies == ["so-ttt", "bien-phong"]


def test_story_grouping_lists_every_outlet_once():
    a = flag_for(article("a1", "bien_dao", source_id="vnexpress"))
    b = flag_for(article("a2", "bien_dao", source_id="tuoitre"), severity="cao")
    b.created_at = NOW - timedelta(minutes=5)
    other = flag_for(article("a3", "bien_dao", story_id="story-2"))
    a_again = flag_for(article("a1", "bien_dao"))
    merged = group_by_story([a, b, other, a_again])
    assert [(f.story_id, f.article_ids) for f in merged] == [("story-1", ["a1", "a2"]), ("story-2", ["a3"])]
    one = merged[0]
    assert one.severity == "cao" and one.agencies == ["bien-phong", "so-ttt"]
    assert one.recipients == ["bdbp@example.gov.vn", "so-ttt@example.gov.vn"]
    assert one.created_at == NOW - timedelta(minutes=5)
    assert one.reasons == [{"condition": "relevant", "evidence": "True"}]
    assert a.article_ids == ["a1"]                                         # inputs untouched
    assert len({flag_key(f.rule, f.story_id, r) for f in merged for r in f.recipients}) == 3


def test_different_rules_on_one_story_stay_apart():
    a = flag_for(article("a1", "bien_dao"), name="one")
    b = flag_for(article("a1", "bien_dao"), name="two")
    assert [f.rule for f in group_by_story([a, b])] == ["one", "two"]


def test_shipped_config_routes_high_risk_to_police_lead_and_topic_owner():
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    a = article("a1", "bien_dao")
    a.labels["risk"] = {"score": 0.9, "level": "cao", "reasons": []}
    rule = next(r for r in settings.alert_rules if r.name == "tin-sai-su-that-rui-ro-cao")
    [m] = evaluate_rules(a, [rule], source=None, now=NOW)
    f = route(m, settings.agencies, a)
    assert {"so-ttt", "cong-an-tinh", "bien-phong", "vp-ubnd"} == set(f.agencies)
    assert f.severity == "khẩn" and f.immediate
