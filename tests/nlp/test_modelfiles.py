"""Model files: written as a zlib-compressed pickle with a card, read back equal; older .joblib files
(a local model a user trained before the change) still load; the shipped files are in the new form."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np

from nlp.modelfiles import MODEL_SUFFIX, MODELS_DIR, load_model, model_path, save_model


def _save(obj: object, name: str, folder: Path) -> Path:
    return save_model(obj, name, title="test", data=[], metrics={"ok": 1}, params={"seed": 1}, limits=["none"],
                      models_dir=folder)


def test_saved_model_reads_back_and_rewrites_byte_for_byte(tmp_path: Path) -> None:
    obj = {"coef": np.arange(12, dtype=np.float32).reshape(3, 4), "vocab": {"lý sơn": 0, "dung quất": 1}}
    path = _save(obj, "m", tmp_path)
    assert path.name == f"m{MODEL_SUFFIX}" and (tmp_path / "m.md").exists()
    back = load_model("m", tmp_path)
    assert back["vocab"] == obj["vocab"] and np.array_equal(back["coef"], obj["coef"])
    first = path.read_bytes()
    _save(obj, "m", tmp_path)
    assert path.read_bytes() == first                      # reproducible: same model, same bytes


def test_an_older_joblib_file_still_loads_and_a_new_save_replaces_it(tmp_path: Path) -> None:
    joblib.dump({"old": True}, tmp_path / "local.joblib", compress=("zlib", 3))
    assert model_path("local", tmp_path).name == "local.joblib"
    assert load_model("local", tmp_path) == {"old": True}
    _save({"new": True}, "local", tmp_path)
    assert not (tmp_path / "local.joblib").exists() and load_model("local", tmp_path) == {"new": True}


def test_shipped_models_are_in_the_current_form() -> None:
    for name in ("section", "topics", "tone", "risk_text"):
        assert model_path(name).name == f"{name}{MODEL_SUFFIX}" and model_path(name).exists()
    assert not list(MODELS_DIR.glob("*.joblib"))
