"""Province-matching quality against the hand-labelled plan-topics set, and the pinned floors.

Labels use the 63 pre-2025 province names plus Hà Tây; they are mapped to current codes with the
gazetteer's old-to-new table, so a hit on "Kon Tum" and a label "Kon Tum" both become "51".
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nlp.datasets import read_jsonl
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher

__all__ = ["FLOORS_PATH", "TASKS", "check_floors", "evaluate_provinces", "load_floors", "run_evaluations"]

log = logging.getLogger(__name__)

FLOORS_PATH = Path(__file__).resolve().parent / "floors.json"
_LABEL_ALIASES = {"TP Hồ Chí Minh": "Hồ Chí Minh"}   # the guidelines' spelling of the city label


def _label_codes(gazetteer: Gazetteer, names: list[str]) -> set[str]:
    """Pre-2025 label names to current codes (the likeliest one for a province later split)."""
    return {gazetteer.legacy_codes(_LABEL_ALIASES.get(n, n))[0] for n in names}


def _ratio(num: int, den: int) -> float:
    return round(num / den, 4) if den else 1.0


def evaluate_provinces(data_dir: Path, split: str = "dev", gazetteer: Gazetteer | None = None,
                       matcher: ProvinceMatcher | None = None) -> dict[str, Any]:
    """Precision/recall on named provinces and recall on implied ones, per (document, code).

    Named: our matches with named=true against `provinces_named`. A named hit on a province the
    annotators filed as implied (the guidelines file "Huế" alone as implied Thừa Thiên Huế, while
    since 2025 Huế *is* the province's name) is counted apart, as `named_as_implied`, not as an
    error. Implied recall: `provinces_implied` codes found by any match. `errors` lists each
    miss and false alarm with the aliases we matched, for study.
    """
    gazetteer = gazetteer or (matcher.gazetteer if matcher else Gazetteer.load())
    matcher = matcher or ProvinceMatcher(gazetteer)
    tp = fp = fn = named_as_implied = 0
    implied_total = implied_found = 0
    errors: list[dict[str, Any]] = []
    docs = 0
    for doc in read_jsonl(Path(data_dir) / f"{split}.jsonl.gz"):
        docs += 1
        gold_named = _label_codes(gazetteer, doc.get("provinces_named") or [])
        gold_implied = _label_codes(gazetteer, doc.get("provinces_implied") or []) - gold_named
        matches = matcher.match(doc.get("title") or "", doc["text"])
        by_code = {m.province_code: m for m in matches}
        ours_named = {m.province_code for m in matches if m.named}
        for code in ours_named:
            if code in gold_named:
                tp += 1
            elif code in gold_implied:
                named_as_implied += 1
            else:
                fp += 1
                errors.append({"id": doc["id"], "kind": "false_named", "code": code,
                               "aliases": by_code[code].aliases})
        for code in gold_named - ours_named:
            fn += 1
            errors.append({"id": doc["id"], "kind": "missed_named", "code": code,
                           "found_as": by_code[code].aliases if code in by_code else [],
                           "labels": doc.get("provinces_named")})
        for code in gold_implied:
            implied_total += 1
            if code in by_code:
                implied_found += 1
            else:
                errors.append({"id": doc["id"], "kind": "missed_implied", "code": code,
                               "labels": doc.get("provinces_implied")})
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {
        "split": split, "documents": docs,
        "provinces_named_precision": precision, "provinces_named_recall": recall,
        "provinces_named_f1": f1, "named_tp": tp, "named_fp": fp, "named_fn": fn,
        "named_as_implied": named_as_implied,
        "provinces_named_precision_strict": _ratio(tp, tp + fp + named_as_implied),
        "provinces_implied_recall": _ratio(implied_found, implied_total),
        "implied_total": implied_total, "implied_found": implied_found,
        "errors": errors,
    }


def _provinces_task(data: Path, split: str, settings: Any) -> dict[str, Any]:
    from nlp.match import ProvinceMatcher
    gazetteer = Gazetteer.load(landmarks=settings.landmarks if settings else None)
    matcher = ProvinceMatcher(gazetteer, keep_threshold=settings.app.match.keep_threshold) if settings else None
    metrics = evaluate_provinces(data / "plan-topics", split=split, gazetteer=gazetteer, matcher=matcher)
    return {k: v for k, v in metrics.items() if k != "errors"}


def _section_task(data: Path, split: str, settings: Any) -> dict[str, Any]:
    from nlp.section import evaluate_section
    return evaluate_section(data / "vntc", split=split)


def _topics_task(data: Path, split: str, settings: Any) -> dict[str, Any]:
    from nlp.topics import evaluate_topics
    return evaluate_topics(data, split=split)


def _tone_task(data: Path, split: str, settings: Any) -> dict[str, Any]:
    from nlp.tone import evaluate_tone
    return evaluate_tone(data / "plan-topics", split=split)


def _risk_task(data: Path, split: str, settings: Any) -> dict[str, Any]:
    from nlp.risk import evaluate_risk
    return evaluate_risk(data / "reintel", split=split, vfnd_dir=data / "vfnd")


def _tone_feedback(data: Path, split: str, feedback: list[dict[str, Any]]) -> dict[str, Any]:
    from nlp.feedback import tone_rows
    from nlp.tone import score_rows

    rows = tone_rows(feedback)
    if not rows:
        return {"feedback_documents": 0}
    own = score_rows(rows)
    both = score_rows(list(read_jsonl(data / "plan-topics" / f"{split}.jsonl.gz")) + rows)
    return {"feedback_documents": own["documents"], "feedback_accuracy": own["accuracy"],
            "feedback_macro_f1": own["tone_macro_f1"], "with_feedback_accuracy": both["accuracy"],
            "with_feedback_macro_f1": both["tone_macro_f1"]}


def _topics_feedback(data: Path, split: str, feedback: list[dict[str, Any]]) -> dict[str, Any]:
    """The installed topic model on the officers' topic corrections (over the topics each names),
    and micro-F1 on `split` plus them, the corrections counting only for the topics they name."""
    from nlp.feedback import score_topic_rows, topic_rows
    from nlp.topics import TOPIC_IDS, TopicClassifier, evaluate_topics

    rows = topic_rows(feedback)
    if not rows:
        return {"feedback_documents": 0}
    clf = TopicClassifier.load()
    own = score_topic_rows(rows, clf)
    base = evaluate_topics(data, split=split, classifier=clf)
    per = base["per_topic"]
    tp = sum(per[t]["tp"] for t in TOPIC_IDS)
    fp = sum(per[t]["predicted"] for t in TOPIC_IDS) - tp + own["fp"]
    fn = sum(per[t]["support"] for t in TOPIC_IDS) - tp + own["fn"]
    tp += own["tp"]
    return {"feedback_documents": own["documents"], "feedback_main_topic_recall": own["main_topic_recall"],
            "feedback_replaced_topic_kept": own["replaced_topic_kept"],
            "with_feedback_micro_f1": round(2 * tp / max(1, 2 * tp + fp + fn), 4)}


def _provinces_feedback(feedback: list[dict[str, Any]]) -> dict[str, Any]:
    from nlp.feedback import province_summary

    summary = province_summary(feedback)
    return {"feedback_corrections": summary["corrections"], "feedback_moves": summary["moves"]}


TASKS: dict[str, Any] = {"provinces": _provinces_task, "section": _section_task, "topics": _topics_task,
                         "tone": _tone_task, "risk": _risk_task}


def run_evaluations(data: Path, split: str = "dev", tasks: list[str] | None = None,
                    settings: Any = None, feedback: list[dict[str, Any]] | None = None,
                    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Run the named evaluations; return their metrics and every figure below its floor.

    With `feedback` (officers' corrections), tone is also measured on the corrected articles
    ("tone_feedback_*") and on `split` plus them ("tone_with_feedback_*"), topics likewise
    ("topics_feedback_*", "topics_with_feedback_micro_f1"), and the province corrections are
    counted ("provinces_feedback_*": articles the matcher got wrong per officers); floors stay on `split`.
    """
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    floors = load_floors()
    for name in tasks or list(TASKS):
        raw = TASKS[name](Path(data), split, settings)
        if name == "tone" and feedback:
            raw.update(_tone_feedback(Path(data), split, feedback))
        if name == "topics" and feedback:
            raw.update(_topics_feedback(Path(data), split, feedback))
        if name == "provinces" and feedback:
            raw.update(_provinces_feedback(feedback))
        # One namespace for every figure: "section_accuracy", as floors.json names them.
        metrics = {k if k.startswith(name + "_") else f"{name}_{k}": v for k, v in raw.items()}
        results[name] = metrics
        failures.extend(check_floors(metrics, {k: v for k, v in floors.items() if k.startswith(name + "_")}))
    return results, failures


def load_floors(path: Path = FLOORS_PATH) -> dict[str, float]:
    """The pinned minimum for each metric (nlp/floors.json); lower one only on purpose."""
    return {k: float(v) for k, v in json.loads(Path(path).read_text(encoding="utf-8")).items()}


def check_floors(metrics: dict[str, Any], floors: dict[str, float] | None = None) -> list[str]:
    """One message per metric below its floor (or missing); empty when all pass."""
    floors = load_floors() if floors is None else floors
    failures = []
    for name, floor in sorted(floors.items()):
        value = metrics.get(name)
        if not isinstance(value, (int, float)):
            failures.append(f"{name}: missing from the metrics (floor {floor})")
        elif value < floor:
            failures.append(f"{name}: {value:.4f} is below the floor {floor:.4f}")
    return failures


def _main(argv: list[str] | None = None) -> int:
    """`python -m nlp.evaluate [split] [data_dir]`: metrics, then every error, for study.

    Until `haidang evaluate` wires it, this is the way to run it; landmarks come from config
    through haidang.settings, as in the service.
    """
    import sys

    from haidang.settings import load_settings

    args = sys.argv[1:] if argv is None else argv
    split = args[0] if args else "dev"
    data_dir = Path(args[1]) if len(args) > 1 else Path(__file__).resolve().parents[2] / "shared/data/plan-topics"
    gazetteer = Gazetteer.load(landmarks=load_settings().landmarks)
    metrics = evaluate_provinces(data_dir, split, gazetteer=gazetteer)
    for err in metrics.pop("errors"):
        print(json.dumps(err, ensure_ascii=False))
    print(json.dumps(metrics, ensure_ascii=False, indent=1))
    failures = check_floors(metrics)
    for failure in failures:
        print("FLOOR", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(_main())
