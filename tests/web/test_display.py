"""Stored labels and audit details as the words officers read: one tone wording, names not codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from haidang.store.base import AuditEntry
from haidang.web.display import LabelNames, audit_row
from haidang.web.wording import AUDIT_KINDS

ROOT = Path(__file__).resolve().parents[2]
NAMES = LabelNames(topics={"an_ninh_trat_tu": "An ninh, trật tự", "bien_dao": "Biển đảo, chủ quyền biển đảo"},
                   provinces={"51": "Quảng Ngãi", "52": "Gia Lai"})
AT = datetime(2026, 3, 11, 14, 40, tzinfo=UTC)


def _when(dt: datetime) -> str:
    return dt.isoformat()


def test_values_are_named_and_empty_is_said() -> None:
    assert NAMES.tone("neutral") == "trung tính" and NAMES.tone(None) == "không có"
    assert NAMES.topic([]) == "chưa xác định chủ đề" and NAMES.topic(None) == "chưa xác định chủ đề"
    assert NAMES.topic(["bien_dao", "an_ninh_trat_tu"]) == "Biển đảo, chủ quyền biển đảo; An ninh, trật tự"
    assert NAMES.province("51") == "Quảng Ngãi"
    assert NAMES.province("99") == "99" and NAMES.topic("cu") == "cu"      # unknown values shown as stored
    assert NAMES.change("tone", "neutral", "positive") == {"field": "tone", "name": "Sắc thái",
                                                           "from": "trung tính", "to": "tích cực"}


def test_a_correction_reads_as_change_lines() -> None:
    entry = AuditEntry(at=AT, actor="canbo@example.vn", kind="label_correction", target="a1", detail={
        "article_id": "a1", "flag_key": "k1", "note": None,
        "changes": {"province": {"from": "51", "to": "52"}, "tone": {"from": "neutral", "to": "positive"},
                    "topic": {"from": [], "to": "an_ninh_trat_tu"}}})
    row = audit_row(entry, NAMES, _when)
    assert row["kind_name"] == "Sửa nhãn" and row["kind"] == "label_correction"
    assert [f"{c['name']}: {c['from']} → {c['to']}" for c in row["changes"]] == [
        "Chủ đề: chưa xác định chủ đề → An ninh, trật tự", "Sắc thái: trung tính → tích cực", "Tỉnh: Quảng Ngãi → Gia Lai"]
    assert [(d["key"], d["name"]) for d in row["details"]] == [("article_id", "Mã bài viết"),
                                                              ("flag_key", "Mã cảnh báo")]


def test_other_details_are_named_with_their_values() -> None:
    action = audit_row(AuditEntry(at=AT, actor="a", kind="action", target="k", detail={
        "action": "phan_bac", "rule": "r1", "rebuttal_url": "https://x.vn/a"}), NAMES, _when)
    assert action["kind_name"] == "Ghi nhận xử lý"
    assert [(d["name"], d["value"]) for d in action["details"]] == [
        ("Hành động", "Đã phản bác"), ("Bài phản bác", "https://x.vn/a"), ("Quy tắc", "r1")]
    claim = audit_row(AuditEntry(at=AT, actor="a", kind="claim", target="c", detail={"status": "dismissed"}),
                      NAMES, _when)
    assert claim["details"] == [{"key": "status", "name": "Trạng thái", "value": "không phải tin sai"}]
    odd = audit_row(AuditEntry(at=AT, actor="a", kind="moi_ra", target="t", detail={"la": 1}), NAMES, _when)
    assert odd["kind_name"] == "moi_ra" and odd["details"] == [{"key": "la", "name": "la", "value": "1"}]


def test_every_audit_kind_the_project_writes_has_a_name() -> None:
    written = set()
    for folder in ("haidang", "alerts", "nlp", "crawlers"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for call in re.finditer(r"AuditEntry\([^)]{0,200}?\bkind=([^,]+),", text, re.DOTALL):
                written.update(re.findall(r'"(\w+)"', call.group(1)))      # kind="a" if ok else "b"
    assert {"action", "claim", "label_correction", "login", "login_failed"} <= written
    assert written <= set(AUDIT_KINDS), written - set(AUDIT_KINDS)
