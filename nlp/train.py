"""`haidang train`: rebuild every shipped model from ../shared/data, reproducibly (fixed seeds).

Shipped models are trained only on data whose licence allows redistribution: VNTC (section,
and weak supervision for topics), plan-topics (topics, tone) and VFND (risk text model), all
MIT. ReINTEL is research-only: `--local` trains a risk model on its train and dev posts into the
user's own models folder (LOCAL_MODELS_DIR), for the user who holds the data; it never enters the
repository.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.modelfiles import card_metrics, model_path

__all__ = ["SHIPPED", "ModelCheck", "check_models", "train_models"]

log = logging.getLogger(__name__)


def _section(data: Path, models_dir: Path | None = None) -> dict[str, Any]:
    from nlp.section import train_section
    return train_section(data / "vntc", models_dir=models_dir)


def _topics(data: Path, models_dir: Path | None = None) -> dict[str, Any]:
    from nlp.topics import train_topics
    return train_topics(data, models_dir=models_dir)


def _tone(data: Path, models_dir: Path | None = None) -> dict[str, Any]:
    from nlp.tone import train_tone
    return train_tone(data / "plan-topics", models_dir=models_dir)


def _risk(data: Path, models_dir: Path | None = None) -> dict[str, Any]:
    from nlp.risk import train_shipped_risk
    return train_shipped_risk(data / "vfnd", models_dir=models_dir)


SHIPPED: dict[str, Callable[..., dict[str, Any]]] = {
    "section": _section, "topics": _topics, "tone": _tone, "risk": _risk,
}
# The file each shipped model is written to (nlp/models/<file>.pickle.z and <file>.md).
_FILES = {"section": "section", "topics": "topics", "tone": "tone", "risk": "risk_text"}


def _check_tasks(tasks: list[str]) -> None:
    unknown = set(tasks) - set(SHIPPED)
    if unknown:
        raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {list(SHIPPED)}")


def train_models(data: Path, tasks: list[str], local: bool = False,
                 feedback: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Train the named shipped models (and the local risk model with `local`); metrics per model.

    `feedback`: officers' label corrections (haidang.web.respond.feedback_records). Tone
    corrections join the tone model's training data, topic corrections the topic model's as
    partial labels (nlp.feedback); province corrections train nothing (the matcher has no model).
    """
    _check_tasks(tasks)
    results = {}
    for name in tasks:
        log.info("training %s", name)
        if name == "tone" and feedback:
            from nlp.feedback import tone_rows
            from nlp.tone import train_tone
            results[name] = train_tone(data / "plan-topics", feedback=tone_rows(feedback))
        elif name == "topics" and feedback:
            from nlp.feedback import topic_rows
            from nlp.topics import train_topics
            results[name] = train_topics(data, feedback=topic_rows(feedback))
        else:
            results[name] = SHIPPED[name](data)
    if local:
        from nlp.risk import LOCAL_MODELS_DIR, train_local_risk
        results["risk_local"] = train_local_risk(data / "reintel", LOCAL_MODELS_DIR)
    return results


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """A shipped model against its rebuild from this checkout: the same bytes, or at least the same
    figures on its card (another BLAS or CPU may round the last bits of a weight otherwise)."""

    name: str
    same_bytes: bool
    same_metrics: bool
    differences: list[str]

    @property
    def ok(self) -> bool:
        return self.same_metrics


def _differences(shipped: Any, rebuilt: Any, path: str = "") -> list[str]:
    """Paths where two metric trees differ, with both values: "per_class.doi_song.f1: 0.9167 -> 0.9135"."""
    if isinstance(shipped, dict) and isinstance(rebuilt, dict):
        return [d for key in sorted(set(shipped) | set(rebuilt), key=str)
                for d in _differences(shipped.get(key), rebuilt.get(key), f"{path}.{key}" if path else str(key))]
    return [] if shipped == rebuilt else [f"{path or 'metrics'}: {shipped} -> {rebuilt}"]


def check_models(data: Path, tasks: list[str], models_dir: Path | None = None) -> list[ModelCheck]:
    """Rebuild the named shipped models in a temporary folder and compare each with the shipped one.

    Why: the models are trained on text after `normalize` and read by the matcher's gate, so a code
    change there changes what `haidang train` builds; a shipped file the code can no longer rebuild
    should be found before a user retrains and gets other figures.
    """
    _check_tasks(tasks)
    checks = []
    with tempfile.TemporaryDirectory(prefix="haidang-train-check-") as tmp:
        rebuilt = Path(tmp)
        for name in tasks:
            log.info("rebuilding %s to compare", name)
            SHIPPED[name](data, models_dir=rebuilt)
            file = _FILES[name]
            old, new = model_path(file, models_dir), model_path(file, rebuilt)
            diffs = _differences(card_metrics(file, models_dir), card_metrics(file, rebuilt))
            checks.append(ModelCheck(name, old.is_file() and old.read_bytes() == new.read_bytes(), not diffs, diffs))
    return checks
