"""Officer label corrections join the tone and topic models' training data and their evaluation
(no ../shared needed: small made-up datasets in tmp_path, a real SQLite store)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

from haidang.record import Article, Content, Fetched, article_id
from haidang.store.sqlite import SqliteStore
from haidang.web.respond import feedback_records, record_correction
from nlp.evaluate import run_evaluations
from nlp.feedback import province_summary, score_topic_rows, tone_rows, topic_rows
from nlp.tone import score_rows, train_tone
from nlp.topics import TopicClassifier, train_topics

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


# --- topics and provinces -------------------------------------------------------------------------

T0 = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
_TOPIC_WORDS = {
    "an_ninh_trat_tu": "công an tỉnh bắt giữ đối tượng trộm cắp tài sản, khởi tố vụ án hình sự",
    "kinh_te_xa_hoi": "tỉnh khởi công xây dựng trường học và bệnh viện, nâng cấp đường giao thông nông thôn",
    "dau_tu_thuong_mai": "tỉnh cấp phép dự án đầu tư nước ngoài, kim ngạch xuất khẩu của doanh nghiệp tăng",
}
_FESTIVAL = "Lễ hội đua thuyền truyền thống trên sông Trà Khúc thu hút đông đảo du khách về huyện Sơn Tịnh."


def _plan_rows(n: int, prefix: str) -> list[dict]:
    rows = [{"doc_id": f"{prefix}-{topic}-{i}", "title": "", "text": f"Quảng Ngãi: {words} (tin {prefix} {i}).",
             "topics": [topic], "tone": "neutral", "provinces_named": ["Quảng Ngãi"], "provinces_implied": []}
            for topic, words in _TOPIC_WORDS.items() for i in range(n)]
    return rows + [{"doc_id": f"{prefix}-none-{i}", "title": "", "topics": [], "tone": "neutral",
                    "text": f"Đội bóng giành chiến thắng ở vòng đấu thứ {i}, khán giả cổ vũ nhiệt tình.",
                    "provinces_named": [], "provinces_implied": []} for i in range(n)]


def _topic_data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "plan-topics").mkdir(parents=True)
    (root / "vntc").mkdir()
    _write(root / "plan-topics" / "train.jsonl.gz", _plan_rows(6, "tr"))
    _write(root / "plan-topics" / "dev.jsonl.gz", _plan_rows(2, "dev"))
    _write(root / "vntc" / "train.jsonl.gz",
           [{"doc_id": f"v{i}", "text": f"Bản tin tổng hợp số {i} về thời tiết và giá vàng trong ngày."} for i in range(30)])
    return root


def _article(slug: str, title: str, text: str) -> Article:
    url = f"https://baoquangngai.example.vn/{slug}.html"
    return Article(id=article_id(url),
                   fetched=Fetched(source_id="baoquangngai", url=url, final_url=url, canonical_url=url, fetched_at=T0),
                   content=Content(title=title, text=text, language="vi", published=T0, published_from="meta",
                                   first_seen=T0),
                   relevant=True, province_code="51",
                   labels={"topics": [{"id": "kinh_te_xa_hoi", "score": 0.6, "evidence": []}]})


def _corrections(tmp_path: Path) -> list[dict]:
    """Three officers' corrections in a real SQLite store, read back as `haidang train` reads them."""
    with SqliteStore(tmp_path / "db.sqlite3") as store:
        for i in range(3):
            article = _article(f"le-hoi-{i}", f"Quảng Ngãi: lễ hội số {i}", _FESTIVAL)
            store.upsert(article)
            record_correction(store, actor="canbo@example.vn", article=article,
                              changes={"topic": (["kinh_te_xa_hoi"], "du_lich_van_hoa")}, note=None, client=None,
                              now=T0)
        record_correction(store, actor="canbo@example.vn", article=article, changes={"province": ("51", "48")},
                          note="bài về Đà Nẵng", client=None, now=T0)
        return feedback_records(store)


def test_topic_rows_from_store_records(tmp_path: Path) -> None:
    rows = topic_rows(_corrections(tmp_path))
    assert len(rows) == 3
    assert all(row["positive"] == ["du_lich_van_hoa"] for row in rows)
    assert rows[0]["text"].startswith("Quảng Ngãi: lễ hội số") and _FESTIVAL in rows[0]["text"]


def test_topic_rows_negative_is_the_replaced_leading_topic() -> None:
    base = {"field": "topic", "title": "", "text": "văn bản"}
    rows = topic_rows([{**base, "article_id": "a", "label": "du_lich_van_hoa", "from": ["kinh_te_xa_hoi", "x"]},
                       {**base, "article_id": "b", "label": "du_lich_van_hoa",
                        "from": ["kinh_te_xa_hoi", "du_lich_van_hoa"]},          # promoted: nothing negative
                       {**base, "article_id": "c", "label": "bien_dao", "from": []},
                       {**base, "article_id": "d", "label": "không có", "from": ["bien_dao"]},   # unknown id
                       {**base, "article_id": "e", "label": "bien_dao", "text": None},
                       {**base, "article_id": "f", "field": "tone", "label": "neutral"}])
    assert [(r["id"], r["positive"], r["negative"]) for r in rows] == [
        ("feedback-a", ["du_lich_van_hoa"], ["kinh_te_xa_hoi"]), ("feedback-b", ["du_lich_van_hoa"], []),
        ("feedback-c", ["bien_dao"], [])]


def test_province_corrections_are_counted(tmp_path: Path) -> None:
    summary = province_summary(_corrections(tmp_path))
    assert summary["corrections"] == 1 and sum(summary["moves"].values()) == 1
    assert next(iter(summary["moves"])).endswith("->48")
    assert province_summary([{"article_id": "a", "field": "province", "label": "48", "from": "51"}]) == {
        "corrections": 1, "moves": {"51->48": 1}}


def test_topic_training_with_feedback_learns_the_corrected_topic(tmp_path: Path) -> None:
    """No annotated article is about festivals: only the officers' corrections teach du_lich_van_hoa."""
    root = _topic_data(tmp_path)
    rows = topic_rows(_corrections(tmp_path))
    plain = train_topics(root, models_dir=tmp_path / "plain", seed=3)
    taught = train_topics(root, models_dir=tmp_path / "taught", seed=3, feedback=rows)
    assert "feedback_rows" not in plain and taught["feedback_rows"] == 3
    card = (tmp_path / "taught" / "topics.md").read_text(encoding="utf-8")
    assert "officer feedback (3 topic corrections" in card
    before = score_topic_rows(rows, TopicClassifier.load(models_dir=tmp_path / "plain"))
    after = score_topic_rows(rows, TopicClassifier.load(models_dir=tmp_path / "taught"))
    assert before["main_topic_recall"] == 0.0 and after["main_topic_recall"] == 1.0
    # The annotated topics still work.
    clf = TopicClassifier.load(models_dir=tmp_path / "taught")
    assert [t["id"] for t in clf.predict("", "Quảng Ngãi: " + _TOPIC_WORDS["an_ninh_trat_tu"])][:1] == ["an_ninh_trat_tu"]


def test_evaluate_reports_topic_and_province_feedback(tmp_path: Path) -> None:
    root = _topic_data(tmp_path)
    records = _corrections(tmp_path)
    results, _ = run_evaluations(root, tasks=["topics", "provinces"], feedback=records)
    topics, provinces = results["topics"], results["provinces"]
    assert topics["topics_feedback_documents"] == 3
    assert 0.0 <= topics["topics_feedback_main_topic_recall"] <= 1.0
    assert 0.0 <= topics["topics_with_feedback_micro_f1"] <= 1.0
    assert provinces["provinces_feedback_corrections"] == 1
    results, _ = run_evaluations(root, tasks=["topics"])
    assert not any("feedback" in k for k in results["topics"])
