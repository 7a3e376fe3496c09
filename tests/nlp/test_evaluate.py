"""The evaluation harness on a tiny hand-written split (the real data lives outside the repo)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from nlp.evaluate import check_floors, evaluate_provinces, load_floors

DOCS = [
    {"id": "a", "text": "Lũ lớn ở tỉnh Kon Tum và Quảng Ngãi.", "provinces_named": ["Kon Tum", "Quảng Ngãi"],
     "provinces_implied": []},
    {"id": "b", "text": "Du khách đến Nha Trang.", "provinces_named": [], "provinces_implied": ["Khánh Hòa"]},
    {"id": "c", "text": "Bão trên Thái Bình Dương.", "provinces_named": ["Tiền Giang"], "provinces_implied": []},
]


def test_evaluate_maps_legacy_labels_to_current_codes(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "dev.jsonl.gz", "wt", encoding="utf-8") as fh:
        for doc in DOCS:
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    metrics = evaluate_provinces(tmp_path, "dev")
    assert metrics["named_tp"] == 1                      # Kon Tum and Quảng Ngãi are both 51
    assert metrics["named_fn"] == 1 and metrics["named_fp"] == 0
    assert metrics["provinces_named_precision"] == 1.0
    assert metrics["provinces_named_recall"] == 0.5
    assert metrics["provinces_implied_recall"] == 1.0
    assert [e["kind"] for e in metrics["errors"]] == ["missed_named"]


def test_check_floors() -> None:
    floors = load_floors()
    assert floors["provinces_named_precision"] >= 0.95
    assert check_floors({"provinces_named_precision": 0.99, "provinces_named_recall": 0.5}, floors={
        "provinces_named_precision": 0.95, "provinces_named_recall": 0.95}) == [
        "provinces_named_recall: 0.5000 is below the floor 0.9500"]
    assert "missing" in check_floors({}, floors={"x": 0.1})[0]


def test_the_command_shows_each_floor_and_fails_below_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from haidang.cli import app

    (tmp_path / "plan-topics").mkdir()
    with gzip.open(tmp_path / "plan-topics" / "dev.jsonl.gz", "wt", encoding="utf-8") as fh:
        for doc in DOCS:
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    result = CliRunner().invoke(app, ["evaluate", "--data", str(tmp_path), "--task", "provinces"])
    assert result.exit_code == 1, result.output           # recall 0.5 on this tiny split
    assert "floor 0.9500" in result.stdout
    assert "below floor: provinces_named_recall: 0.5000 is below the floor 0.9500" in result.stderr
