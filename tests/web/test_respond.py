"""What an officer's answer teaches the pipeline: rebuttals flag copies, dismissals calm them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alerts.flag import flag_key
from alerts.links import FlagLink
from haidang.record import Article
from haidang.store.sqlite import SqliteStore
from haidang.web.respond import claim_text, feedback_records, record_correction, record_response
from nlp.enrich import Enricher

from .conftest import RECIPIENT, T0, build_article

_COPY_TEXT = ("Nhiều tài khoản trên mạng lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, "
              "người dân hạ du phải sơ tán gấp. Hãy chia sẻ ngay trước khi bị xóa. Nguồn tin giấu tên cho biết "
              "nước đã tràn qua nhiều xã ven sông.")


def _link(article: Article, action: str) -> FlagLink:
    return FlagLink(flag_key=flag_key("tin_sai", article.id, RECIPIENT), rule="tin_sai", story_id=article.id,
                    article_id=article.id, recipient=RECIPIENT, action=action, expires=2**40)


def _risk_signals(enricher: Enricher, store: SqliteStore) -> dict[str, dict]:
    copy = build_article("ban-sao-facebook", source="facebook-group", title="Tin khẩn", text=_COPY_TEXT)
    enricher.refresh_claims()
    labels = enricher.enrich(copy, None, store).labels
    return {r["signal"]: r for r in labels["risk"]["reasons"]} | {"_score": labels["risk"]}


def test_claim_text_is_title_and_first_sentences() -> None:
    article = build_article("a", title="Tin đồn vỡ đập")
    text = claim_text(article)
    assert text.startswith("Tin đồn vỡ đập. Nhiều tài khoản") and len(text) <= 400


def test_rebuttal_flags_later_copies_with_its_link(tmp_path: Path, enricher: Enricher) -> None:
    with SqliteStore(tmp_path / "db.sqlite3") as store:
        original = build_article("goc")
        store.upsert(original)
        assert "known_false_claim" not in _risk_signals(enricher, store)
        url = "https://baoquangngai.example.vn/bac-bo.html"
        assert record_response(store, _link(original, "phan_bac"), original, note=None, rebuttal_url=url,
                               client="127.0.0.1", now=T0)
        reason = _risk_signals(enricher, store)["known_false_claim"]
        assert reason["weight"] > 0 and any(url in e for e in reason["evidence"])


def test_dismissal_lowers_the_risk_of_near_duplicates(tmp_path: Path, enricher: Enricher) -> None:
    with SqliteStore(tmp_path / "db.sqlite3") as store:
        original = build_article("goc")
        store.upsert(original)
        before = _risk_signals(enricher, store)
        assert record_response(store, _link(original, "khong_phai_tin_sai"), original,
                               note="đã xác minh: đập an toàn", rebuttal_url=None, client=None, now=T0)
        after = _risk_signals(enricher, store)
        assert after["dismissed_claim"]["weight"] < 0
        assert after["_score"]["score"] < before["_score"]["score"]
        assert "known_false_claim" not in after


def test_a_link_records_once(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "db.sqlite3") as store:
        article = build_article("goc")
        link = _link(article, "de_nghi_go_bo")
        assert record_response(store, link, article, note=None, rebuttal_url=None, client=None, now=T0)
        assert record_response(store, link, article, note=None, rebuttal_url=None, client=None,
                               now=T0 + timedelta(minutes=1)) is None
        assert len(store.actions()) == 1


def test_corrections_become_feedback_records(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "db.sqlite3") as store:
        article = build_article("goc")
        store.upsert(article)
        record_correction(store, actor=RECIPIENT, article=article, changes={"tone": ("negative", "neutral")},
                          note=None, client=None, now=T0)
        record_correction(store, actor="khac@example.vn", article=article,
                          changes={"tone": ("negative", "positive"), "topic": (["x"], "an_ninh_trat_tu")},
                          note="sửa lại", client=None, now=T0 + timedelta(hours=1))
        records = feedback_records(store)
        assert [(r["field"], r["label"], r["by"]) for r in records] == [
            ("tone", "positive", "khac@example.vn"), ("topic", "an_ninh_trat_tu", "khac@example.vn")]
        assert records[0]["title"] == article.content.title and records[0]["text"] == article.content.text
        assert records[0]["from"] == "negative" and records[1]["from"] == ["x"]    # what the model had said
