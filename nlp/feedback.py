"""Officers' label corrections (haidang.web.respond.feedback_records) as rows the trainers read.

Only tone corrections train a model so far: they become plan-topics-shaped rows
({title, text, tone, main_province}) for nlp.tone. Topic and province corrections are kept and
exported, but no trainer reads them yet (the topic model's thresholds are tuned per topic on
plan-topics dev, and a handful of corrections would move them by chance).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TONE_LABELS", "tone_rows"]

TONE_LABELS = ("negative", "neutral", "positive")


def tone_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tone corrections with their article text, as training rows; others and textless ones skipped."""
    rows = []
    for r in records:
        if r.get("field") != "tone" or r.get("label") not in TONE_LABELS or not r.get("text"):
            continue
        rows.append({"id": f"feedback-{r['article_id']}", "title": r.get("title") or "", "text": r["text"],
                     "tone": r["label"], "main_province": r.get("province")})
    return rows
