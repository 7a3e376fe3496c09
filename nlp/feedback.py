"""Officers' label corrections (haidang.web.respond.feedback_records) as rows the trainers read.

Tone corrections become plan-topics-shaped rows ({title, text, tone, main_province}) for nlp.tone.
Topic corrections become partial labels for nlp.topics: the officer names the article's main topic
(a positive) and, when the model led with another topic the officer did not keep, that topic is a
negative; the other eight topics are unknown and stay out of those fits. Province corrections train
nothing (the matcher is rules and a gazetteer): `province_summary` counts them for `haidang evaluate`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

__all__ = ["TONE_LABELS", "province_summary", "score_topic_rows", "tone_rows", "topic_rows"]

TONE_LABELS = ("negative", "neutral", "positive")


class _Topics(Protocol):
    """What `score_topic_rows` needs of nlp.topics.TopicClassifier."""

    def predict(self, title: str, text: str) -> list[dict[str, Any]]: ...


def tone_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tone corrections with their article text, as training rows; others and textless ones skipped."""
    rows = []
    for r in records:
        if r.get("field") != "tone" or r.get("label") not in TONE_LABELS or not r.get("text"):
            continue
        rows.append({"id": f"feedback-{r['article_id']}", "title": r.get("title") or "", "text": r["text"],
                     "tone": r["label"], "main_province": r.get("province")})
    return rows


def _model_topics(value: Any) -> list[str]:
    """The model's topics before the correction, leading one first (a list, or one id as a string)."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value or [] if v]


def topic_rows(records: list[dict[str, Any]], topic_ids: tuple[str, ...] | None = None,
               ) -> list[dict[str, Any]]:
    """Topic corrections with their article text as partial labels: {id, title, text, positive: [id],
    negative: [id] or []}.

    The negative is the model's leading topic (the record's "from": the audit entry keeps it, and
    records without it, as `feedback_records` wrote them before it passed "from" on, get none)
    when the officer chose a topic the model had not assigned at all; when the officer promoted
    one of the model's other topics, nothing is negative (a reordering says nothing is wrong).
    Records of unknown topics or without text are skipped. `topic_ids` defaults to nlp.topics.TOPIC_IDS.
    """
    if topic_ids is None:
        from nlp.topics import TOPIC_IDS
        topic_ids = TOPIC_IDS
    rows = []
    for r in records:
        label = r.get("label")
        if r.get("field") != "topic" or label not in topic_ids or not r.get("text"):
            continue
        before = _model_topics(r.get("from"))
        negative = [before[0]] if before and label not in before and before[0] in topic_ids else []
        title = r.get("title") or ""
        text = r["text"] if not title or r["text"].startswith(title) else f"{title}\n{r['text']}"
        rows.append({"id": f"feedback-{r['article_id']}", "title": title, "text": text,
                     "positive": [label], "negative": negative})
    return rows


def score_topic_rows(rows: list[dict[str, Any]], classifier: _Topics) -> dict[str, Any]:
    """The classifier on topic corrections, over the topics each names (the rest is unknown).

    tp: the officer's topic assigned; fn: not assigned; fp: the replaced topic still assigned.
    """
    tp = fn = fp = 0
    for row in rows:
        assigned = {item["id"] for item in classifier.predict("", row["text"])}
        tp += sum(1 for t in row["positive"] if t in assigned)
        fn += sum(1 for t in row["positive"] if t not in assigned)
        fp += sum(1 for t in row["negative"] if t in assigned)
    named_negatives = sum(len(row["negative"]) for row in rows)
    return {"documents": len(rows), "tp": tp, "fn": fn, "fp": fp,
            "main_topic_recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "replaced_topic_kept": round(fp / named_negatives, 4) if named_negatives else 0.0}


def province_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """How many articles the officers moved to another province (each a matcher error in their
    eyes), and the most frequent moves as "from->to" codes ("?" where the record lacks "from")."""
    moves: Counter[str] = Counter()
    for r in records:
        if r.get("field") != "province" or not r.get("label"):
            continue
        moves[f"{r.get('from') or '?'}->{r['label']}"] += 1
    return {"corrections": sum(moves.values()), "moves": dict(moves.most_common(10))}
