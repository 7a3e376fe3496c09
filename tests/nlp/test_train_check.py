"""`haidang train --check`: a shipped model is rebuilt in a temporary folder and compared with what
ships, by bytes and by the figures on its card, so that code which no longer rebuilds the shipped
files is found. The trainers here are small stand-ins (the real ones need ../shared and minutes);
the comparison and the CLI around it are the real code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from haidang.cli import app
from nlp import modelfiles, train
from nlp.modelfiles import save_model


def _trainer(accuracy: float, weights: list[int]) -> Any:
    def fit(data: Path, models_dir: Path | None = None) -> dict[str, Any]:
        save_model({"w": weights}, "section", title="t", data=[], params={"seed": 13}, limits=[],
                   metrics={"accuracy": accuracy, "per_class": {"the_thao": {"f1": accuracy}}}, models_dir=models_dir)
        return {"accuracy": accuracy}
    return fit


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    _trainer(0.938, [1, 2])(tmp_path, folder)
    return folder


def test_an_identical_rebuild_is_reported_byte_for_byte(monkeypatch: pytest.MonkeyPatch, shipped: Path) -> None:
    monkeypatch.setitem(train.SHIPPED, "section", _trainer(0.938, [1, 2]))
    [check] = train.check_models(shipped.parent, ["section"], models_dir=shipped)
    assert check.same_bytes and check.ok and check.differences == []


def test_same_figures_from_other_bytes_pass(monkeypatch: pytest.MonkeyPatch, shipped: Path) -> None:
    monkeypatch.setitem(train.SHIPPED, "section", _trainer(0.938, [1, 3]))
    [check] = train.check_models(shipped.parent, ["section"], models_dir=shipped)
    assert not check.same_bytes and check.ok


def test_other_figures_fail_and_say_where(monkeypatch: pytest.MonkeyPatch, shipped: Path) -> None:
    monkeypatch.setitem(train.SHIPPED, "section", _trainer(0.9377, [1, 2]))
    [check] = train.check_models(shipped.parent, ["section"], models_dir=shipped)
    assert not check.ok
    assert check.differences == ["accuracy: 0.938 -> 0.9377", "per_class.the_thao.f1: 0.938 -> 0.9377"]


def test_the_check_writes_nothing_where_the_models_ship(monkeypatch: pytest.MonkeyPatch, shipped: Path) -> None:
    before = {p.name: p.read_bytes() for p in shipped.iterdir()}
    monkeypatch.setitem(train.SHIPPED, "section", _trainer(0.5, [9]))
    train.check_models(shipped.parent, ["section"], models_dir=shipped)
    assert {p.name: p.read_bytes() for p in shipped.iterdir()} == before


def test_cli_exits_1_when_a_rebuild_differs(monkeypatch: pytest.MonkeyPatch, shipped: Path) -> None:
    monkeypatch.setattr(modelfiles, "MODELS_DIR", shipped)   # where the shipped models are read
    monkeypatch.setitem(train.SHIPPED, "section", _trainer(0.9377, [1, 2]))
    result = CliRunner().invoke(app, ["train", "--check", "-t", "section", "--data", str(shipped.parent)])
    assert result.exit_code == 1, result.output
    assert "other figures" in result.output and "accuracy: 0.938 -> 0.9377" in result.output
    monkeypatch.setitem(train.SHIPPED, "section", _trainer(0.938, [1, 2]))
    result = CliRunner().invoke(app, ["train", "--check", "-t", "section", "--data", str(shipped.parent)])
    assert result.exit_code == 0 and "byte for byte" in result.output


def test_cli_check_refuses_feedback_and_local(shipped: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--check", "--local", "--data", str(shipped.parent)])
    assert result.exit_code == 2 and "--check" in result.output


def test_cli_train_prints_counts_and_splits_not_nested_tables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`haidang train --local` said only the prior: the rows and splits a model learnt from are
    printed as well (the local model's result carries them); per-class tables stay on the card."""
    monkeypatch.setitem(train.SHIPPED, "section", lambda data, models_dir=None: {
        "accuracy": 0.9377, "train_rows": 3490, "splits": ["train", "dev"], "path": "/tmp/m [x].joblib",
        "per_class": {"the_thao": {"f1": 0.9}}, "deduplicated": True})
    result = CliRunner().invoke(app, ["train", "-t", "section", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "section: accuracy 0.9377, train_rows 3490, splits train + dev, path /tmp/m [x].joblib" in line
    assert "per_class" not in line and "deduplicated" not in line
