"""The enricher end to end on a real SQLite store: labels with reasons, and the debunk → known claim loop."""

from __future__ import annotations

from pathlib import Path

from haidang.settings import Source
from haidang.store.sqlite import SqliteStore
from nlp.enrich import Enricher

DEBUNK = ("Công an tỉnh Quảng Ngãi bác bỏ tin đồn bắt cóc trẻ em ở Lý Sơn",
          ("Ngày 12/3, Công an tỉnh Quảng Ngãi khẳng định thông tin \"nhóm người lạ bắt cóc trẻ em tại đặc khu Lý Sơn "
          "để lấy nội tạng\" lan truyền trên mạng xã hội là sai sự thật. Cơ quan công an đã xác minh, không có vụ "
          "việc nào như vậy xảy ra và đề nghị người dân không chia sẻ thông tin chưa được kiểm chứng."))
COPY = ("Cảnh báo khẩn ở Lý Sơn",
        ("Nhóm người lạ đang bắt cóc trẻ em ở đặc khu Lý Sơn để lấy nội tạng, phụ huynh hãy cảnh giác. "
        "Nhiều người đã chia sẻ tin này trên mạng."))
CRITICAL = ("Xét xử vụ tham nhũng tại Ban quản lý dự án tỉnh Quảng Ngãi",
            ("Tòa án nhân dân tỉnh Quảng Ngãi mở phiên sơ thẩm xét xử 5 bị cáo trong vụ tham ô tài sản, gây thiệt hại "
            "hơn 20 tỉ đồng. Theo cáo trạng của Viện kiểm sát, các bị cáo đã lập hồ sơ khống để rút tiền ngân sách."))

PLATFORM = Source(id="mxh", name="Trang mạng", country="VN", language="vi", kind="platform", trust="unknown")
PRESS = Source(id="baoqn", name="Báo Quảng Ngãi", country="VN", language="vi", kind="provincial_press", trust="high")


def test_debunk_proposes_claim_and_a_later_copy_is_flagged_with_the_rebuttal(tmp_path: Path, enricher, matched_article):
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        debunk = enricher.enrich(matched_article(PRESS, "bac-bo", *DEBUNK), PRESS, store)
        risk = debunk.labels["risk"]
        assert risk["level"] == "thấp"
        assert any(r["signal"] == "debunk_report" for r in risk["reasons"])
        proposed = store.known_claims("proposed")
        assert len(proposed) == 1 and "bắt cóc trẻ em" in proposed[0].text
        store.confirm_claim(proposed[0].id)          # a person confirms; nothing is confirmed automatically
        enricher.refresh_claims()

        copy = enricher.enrich(matched_article(PLATFORM, "canh-bao", *COPY), PLATFORM, store)
        risk = copy.labels["risk"]
        assert risk["level"] == "cao"
        reason = next(r for r in risk["reasons"] if r["signal"] == "known_false_claim")
        assert any("bac-bo" in str(e) for e in reason["evidence"]), "the rebuttal link is the evidence"
    finally:
        store.close()


def test_a_claim_confirmed_in_one_store_flags_nothing_in_another(tmp_path: Path, enricher, matched_article):
    """One loaded enricher serves two deployments' stores (a test run, a second data folder)."""
    with SqliteStore(tmp_path / "a.sqlite3") as first, SqliteStore(tmp_path / "b.sqlite3") as second:
        enricher.enrich(matched_article(PRESS, "bac-bo", *DEBUNK), PRESS, first)
        first.confirm_claim(first.known_claims("proposed")[0].id)
        enricher.refresh_claims()
        assert enricher.enrich(matched_article(PLATFORM, "a", *COPY), PLATFORM, first).labels["risk"]["level"] == "cao"
        risk = enricher.enrich(matched_article(PLATFORM, "b", *COPY), PLATFORM, second).labels["risk"]
        assert not any(r["signal"] == "known_false_claim" for r in risk["reasons"])
        assert enricher.enrich(matched_article(PLATFORM, "c", *COPY), PLATFORM, first).labels["risk"]["level"] == "cao"


def test_critical_coverage_is_not_misinformation(enricher, matched_article):
    a = matched_article(PRESS, "xet-xu", *CRITICAL)
    labels = enricher.labels(a.content.title, a.content.text, matches=a.matches, target="51", source=PRESS)
    assert labels["tone"]["label"] == "negative"
    assert labels["risk"]["level"] == "thấp"
    assert all(r["evidence"] or r["signal"] in ("source_kind", "source_trust") for r in labels["risk"]["reasons"])


def test_every_label_is_present_for_bad_input(enricher):
    for title, text in [("", ""), ("", "ok"), ("", "�����"), ("", "广义省举行投资促进会议，吸引了众多企业。")]:
        labels = enricher.labels(title, text)
        assert isinstance(labels["section"]["label"], str)
        assert labels["tone"]["label"] in ("positive", "neutral", "negative")
        assert labels["risk"]["level"] in ("thấp", "cần xem xét", "cao")
        assert labels["notes"] or labels["language"]["label"] not in ("vi",)


def test_a_huge_text_is_read_in_its_first_part_and_says_so(enricher, matched_article):
    """A 4 MB page cost seconds and a gigabyte in the models; only MAX_TEXT_CHARS are read."""
    from nlp.enrich import MAX_TEXT_CHARS
    from nlp.match import MAX_SPANS

    paragraph = "Tỉnh Quảng Ngãi tổ chức hội nghị xúc tiến đầu tư, thu hút nhiều doanh nghiệp tham dự. "
    text = paragraph * (4_000_000 // len(paragraph))
    article = matched_article(PRESS, "dai", "Hội nghị xúc tiến đầu tư", text)
    [qn] = [m for m in article.matches if m.province_code == "51"]
    assert qn.count == text.count("Quảng Ngãi") > MAX_TEXT_CHARS // len(paragraph)   # mentions past the cut too
    assert len(qn.spans) == MAX_SPANS                                                 # but not a record of them all
    labels = enricher.labels(article.content.title, text, matches=article.matches, target="51", source=PRESS)
    assert "văn bản dài: chỉ phân tích 50.000 ký tự đầu" in labels["notes"]
    assert labels["section"]["label"] == "kinh_doanh" and labels["tone"]["label"] == "positive"


def test_a_place_found_by_the_gazetteer_is_a_vietnamese_angle_for_topics() -> None:
    """A province kept through a special zone alone ("đặc khu Vân Đồn") still gets its plan topics."""
    from haidang.record import Match

    enricher = Enricher.load(local_models_dir=None)
    title = "Đặc khu Vân Đồn thu hút thêm 3 dự án FDI"
    text = ("Ngày 20/11, Ban quản lý khu kinh tế cho biết đặc khu Vân Đồn vừa trao giấy chứng nhận đầu tư cho "
            "3 dự án FDI với tổng vốn 500 triệu USD, tập trung vào du lịch nghỉ dưỡng và logistics.")
    assert enricher.labels(title, text)["topics"] == []          # no province name, no national word
    found = Match(province_code="22", province="Quảng Ninh", named=False, score=0.8)
    topics = enricher.labels(title, text, matches=[found], target="22")["topics"]
    assert "dau_tu_thuong_mai" in [t["id"] for t in topics]
    weak = Match(province_code="22", province="Quảng Ninh", named=False, score=0.3)
    assert enricher.labels(title, text, matches=[weak], target="22")["topics"] == []
