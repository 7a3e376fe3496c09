"""`haidang train`: rebuild every shipped model from ../shared/data, reproducibly (fixed seeds).

Shipped models are trained only on data whose licence allows redistribution: VNTC (section,
and weak supervision for topics), plan-topics (topics, tone) and VFND (risk text model), all
MIT. ReINTEL is research-only: `--local` trains a risk model on it into the data folder, for
the user who holds the data; it never enters the repository.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SHIPPED", "train_models"]

log = logging.getLogger(__name__)


def _section(data: Path) -> dict[str, Any]:
    from nlp.section import train_section
    return train_section(data / "vntc")


def _topics(data: Path) -> dict[str, Any]:
    from nlp.topics import train_topics
    return train_topics(data)


def _tone(data: Path) -> dict[str, Any]:
    from nlp.tone import train_tone
    return train_tone(data / "plan-topics")


def _risk(data: Path) -> dict[str, Any]:
    from nlp.risk import train_shipped_risk
    return train_shipped_risk(data / "vfnd")


SHIPPED: dict[str, Callable[[Path], dict[str, Any]]] = {
    "section": _section, "topics": _topics, "tone": _tone, "risk": _risk,
}


def train_models(data: Path, tasks: list[str], local: bool = False,
                 feedback: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Train the named shipped models (and the local risk model with `local`); metrics per model.

    `feedback`: officers' label corrections (haidang.web.respond.feedback_records). Tone
    corrections join the tone model's training data, topic corrections the topic model's as
    partial labels (nlp.feedback); province corrections train nothing (the matcher has no model).
    """
    unknown = set(tasks) - set(SHIPPED)
    if unknown:
        raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {list(SHIPPED)}")
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
