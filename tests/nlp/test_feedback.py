"""Officer tone corrections join the tone model's training data and its evaluation (no ../shared needed)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from nlp.feedback import tone_rows
from nlp.tone import score_rows, train_tone

_WORDS = {"negative": "thiệt hại nặng nề, người dân bức xúc vì sạt lở và ngập lụt kéo dài",
          "neutral": "hội nghị thường kỳ bàn về kế hoạch công tác quý tới theo lịch",
          "positive": "tăng trưởng mạnh, du khách hài lòng và nhiều dự án thành công tốt đẹp"}


def _rows(n: int, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{label}-{i}", "title": f"Tin Quảng Ngãi số {i}",
             "text": f"Tại Quảng Ngãi, {words} (bài {i}).", "tone": label, "main_province": "Quảng Ngãi"}
            for label, words in _WORDS.items() for i in range(n)]


def _write(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def test_tone_rows_keep_only_tone_corrections_with_text() -> None:
    records = [{"article_id": "a", "field": "tone", "label": "neutral", "title": "T", "text": "văn bản",
                "province": "51"},
               {"article_id": "b", "field": "topic", "label": "bien_dao", "title": "T", "text": "x"},
               {"article_id": "c", "field": "tone", "label": "neutral", "title": "T", "text": None},
               {"article_id": "d", "field": "tone", "label": "rất xấu", "title": "T", "text": "x"}]
    assert tone_rows(records) == [{"id": "feedback-a", "title": "T", "text": "văn bản", "tone": "neutral",
                                   "main_province": "51"}]


def test_training_with_feedback_records_it_and_scores_it(tmp_path: Path) -> None:
    data = tmp_path / "plan-topics"
    data.mkdir()
    _write(data / "train.jsonl.gz", _rows(8, "tr"))
    _write(data / "dev.jsonl.gz", _rows(2, "dev"))
    feedback = tone_rows([{"article_id": f"f{i}", "field": "tone", "label": "positive", "title": "Tin Quảng Ngãi",
                           "text": "Tại Quảng Ngãi, du khách hài lòng, dự án thành công tốt đẹp.", "province": "51"}
                          for i in range(3)])
    models = tmp_path / "models"
    metrics = train_tone(data, models_dir=models, feedback=feedback)
    assert metrics["feedback_rows"] == 3 and metrics["dev"]["documents"] == 6
    assert "officer feedback (3 tone corrections" in (models / "tone.md").read_text(encoding="utf-8")
    scored = score_rows(feedback, models_dir=models)
    assert scored["documents"] == 3 and scored["accuracy"] == 1.0
