"""Misinformation-risk score (nlp/risk.py): signals with evidence, debunks both ways, critical news, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from haidang.settings import StoreSettings
from haidang.store import open_store
from nlp.claims import find_claims, propose
from nlp.risk import LEVELS, SIGNALS, RiskScorer, level_for
from nlp.signals import LEXICON_SIGNALS

# The same debunk and its later reworded copy as tests/nlp/test_claims.py (no package: no import).
DEBUNK_TITLE = "Công an tỉnh Quảng Nam bác bỏ tin đồn vỡ đập thủy điện Sông Tranh 2"
DEBUNK_TEXT = (
    "Chiều 12/10, Công an tỉnh Quảng Nam khẳng định thông tin đập thủy điện Sông Tranh 2 bị vỡ, "
    "người dân hạ du phải sơ tán gấp là sai sự thật. Trước đó, một tài khoản Facebook đăng bài viết "
    "kèm hình ảnh cũ khiến nhiều người lo lắng. Công an đã mời người đăng tin lên làm việc và xử phạt "
    "hành chính 7,5 triệu đồng vì đưa thông tin sai sự thật trên mạng xã hội. Ban quản lý dự án cho biết "
    "đập vẫn vận hành an toàn."
)
REPEAT_TITLE = "Bà con Bắc Trà My chú ý"
REPEAT_TEXT = (
    "Nghe nói đập thủy điện Sông Tranh 2 đã bị vỡ, người dân vùng hạ du phải sơ tán gấp ngay trong đêm nay. "
    "Mọi người ở gần sông nhớ thu dọn đồ đạc quý giá và theo dõi tin tức."
)

PRESS = {"language": "vi", "source_kind": "provincial_press", "source_trust": "medium", "source_id": "baoquangnam"}
PLATFORM = {"language": "vi", "source_kind": "platform", "source_trust": "unknown", "source_id": "facebook-group"}


@pytest.fixture(scope="module")
def scorer() -> RiskScorer:
    return RiskScorer.load(local_models_dir=None)


def _signals(result: dict) -> dict[str, dict]:
    return {r["signal"]: r for r in result["reasons"]}


def test_result_shape_and_fixed_signal_ids(scorer: RiskScorer) -> None:
    result = scorer.score("SỐC!!! Nghe nói", "Nghe nói có tin đồn chưa được kiểm chứng, hãy chia sẻ ngay!!!", **PLATFORM)
    assert set(result) == {"score", "level", "reasons", "debunk"}
    assert 0 <= result["score"] <= 1 and result["level"] in {name for _, name in LEVELS}
    for reason in result["reasons"]:
        assert reason["signal"] in SIGNALS
        assert isinstance(reason["evidence"], list) and reason["evidence"]
        assert isinstance(reason["weight"], float)
    found = _signals(result)
    assert {"rumour_cue", "share_appeal", "clickbait", "source_kind"} <= set(found)
    assert any("nghe nói" in e.lower() for e in found["rumour_cue"]["evidence"])
    assert result["level"] == "cao"
    assert set(LEXICON_SIGNALS) <= set(SIGNALS)


def test_levels() -> None:
    assert level_for(0.1) == "thấp" and level_for(0.5) == "cần xem xét" and level_for(0.9) == "cao"


def test_unaccented_rumour_is_caught(scorer: RiskScorer) -> None:
    result = scorer.score("", "nghe noi benh vien tinh dang giau so ca nhiem, ai co thong tin khong", **PLATFORM)
    assert "rumour_cue" in _signals(result)


@pytest.mark.parametrize(("title", "text"), [
    ("Tuyên án 12 năm tù đối với nguyên giám đốc sở trong vụ án tham nhũng",
     ("Theo cáo trạng, bị cáo Nguyễn Văn A, nguyên Giám đốc Sở Tài nguyên và Môi trường, đã nhận hối lộ 5 tỷ đồng "
     "để giao đất trái phép, gây thiệt hại cho ngân sách hơn 200 tỷ đồng. Hội đồng xét xử TAND tỉnh tuyên phạt bị cáo "
     "12 năm tù về tội nhận hối lộ. Hai đồng phạm bị tuyên từ 3 đến 7 năm tù. Tòa cũng buộc các bị cáo nộp lại số tiền "
     "thu lợi bất chính. Viện kiểm sát đánh giá đây là vụ án nghiêm trọng, gây bức xúc trong dư luận.")),
    ("Lũ lớn nhấn chìm hàng nghìn ngôi nhà, 5 người chết và mất tích",
     ("Mưa lớn kéo dài ba ngày làm nước sông Trà Khúc dâng cao vượt báo động 3, gây ngập sâu hơn 12.000 ngôi nhà. "
     "Theo báo cáo của Ban Chỉ huy phòng chống thiên tai tỉnh, 5 người chết và mất tích, thiệt hại ước tính 1.200 tỷ đồng. "
     "Nhiều tuyến đường bị sạt lở nghiêm trọng, hàng trăm hộ dân bị cô lập. Người dân bức xúc vì việc xả lũ không được "
     "thông báo kịp thời. Chính quyền đang khẩn trương cứu trợ.")),
    ("Ô nhiễm nghiêm trọng: cá chết hàng loạt trên sông",
     ("Hàng tấn cá chết trắng sông khiến người dân điêu đứng. Sở Tài nguyên và Môi trường cho biết đã lấy mẫu nước "
     "xét nghiệm; kết quả ban đầu cho thấy nồng độ chất hữu cơ vượt quy chuẩn nhiều lần. Một doanh nghiệp bị đình chỉ "
     "hoạt động để điều tra. Người dân phản ánh tình trạng xả thải kéo dài nhiều tháng mà không được xử lý.")),
])
def test_critical_well_sourced_reporting_is_low(scorer: RiskScorer, title: str, text: str) -> None:
    result = scorer.score(title, text, **PRESS)
    assert result["level"] == "thấp", result
    assert not {"rumour_cue", "clickbait", "hostile_language", "known_false_claim"} & set(_signals(result))


def test_negative_vocabulary_alone_adds_nothing(scorer: RiskScorer) -> None:
    """The same neutral text with and without crime/disaster words scores within the model's wiggle."""
    neutral = scorer.score("Họp bàn kế hoạch", "Tỉnh tổ chức họp bàn kế hoạch phát triển kinh tế năm tới với các sở ngành.",
                           **PRESS)
    grim = scorer.score("Họp bàn khắc phục thảm họa", "Tỉnh tổ chức họp bàn khắc phục hậu quả vụ tai nạn thảm khốc làm 10 "
                        "người chết, hàng trăm người bị thương và thiệt hại nặng nề.", **PRESS)
    lexical = {"rumour_cue", "share_appeal", "clickbait", "hostile_language"}
    assert not lexical & set(_signals(grim))
    assert grim["level"] == neutral["level"] == "thấp"


def test_hostile_language(scorer: RiskScorer) -> None:
    result = scorer.score("", "Lũ khốn nạn đó đúng là đồ ngu, bọn bán nước cút đi cho rảnh.", **PLATFORM)
    assert "hostile_language" in _signals(result)


def test_cues_in_one_sentence_are_quoted_once(scorer: RiskScorer) -> None:
    """Two share appeals in one sentence count twice but read as one quote, not two overlapping ones."""
    text = "Hãy chia sẻ ngay, share gấp cho mọi người cùng biết. Nghe nói ở xã bên có dịch lạ."
    share = next(r for r in scorer.score("", text, language="vi", source_kind=None, source_trust=None)["reasons"]
                 if r["signal"] == "share_appeal")
    assert share["evidence"] == ["Hãy chia sẻ ngay, share gấp cho mọi người cùng biết."]   # a whole sentence: no "…"
    assert share["weight"] == pytest.approx(1.3)        # first phrase 1.0, the second +0.3


def test_a_quote_never_cuts_a_word(scorer: RiskScorer) -> None:
    """The context window used to open mid-word ("…ày chưa được kiểm chứng"), which reads as nonsense."""
    text = ("Một người dân trong xã kể lại câu chuyện về con đập thủy điện đầu nguồn, Tin này chưa được kiểm "
            "chứng nhưng đã lan truyền rất nhanh trên khắp các nhóm mạng xã hội địa phương trong tuần qua")
    [quote] = _signals(scorer.score("", text, language="vi", source_kind=None, source_trust=None))["rumour_cue"]["evidence"]
    assert quote.startswith("…") and quote.endswith("…") and "chưa được kiểm chứng" in quote
    inner = quote.strip("…")
    assert f" {inner} " in f" {text} ", "the quote starts and ends on whole words"


def test_source_signals_state_the_fact(scorer: RiskScorer) -> None:
    result = scorer.score("Thông báo", "Lịch tiếp công dân tháng 10 của Chủ tịch UBND tỉnh.", language="vi",
                          source_kind="platform", source_trust="low", source_id="page-x")
    found = _signals(result)
    assert found["source_kind"]["weight"] > 0 and found["source_trust"]["weight"] > 0
    assert found["source_trust"]["evidence"] == ["nguồn: page-x, độ tin cậy: thấp"]
    assert found["source_kind"]["evidence"] == ["nguồn: page-x, mạng xã hội / nền tảng"], "each quotes its own fact"
    named = scorer.score("Thông báo", "Lịch tiếp công dân tháng 10 của Chủ tịch UBND tỉnh.", language="vi",
                         source_kind="platform", source_trust="low", source_id="page-x", source_name="Trang X")
    assert _signals(named)["source_kind"]["evidence"] == ["nguồn: Trang X (page-x), mạng xã hội / nền tảng"]
    portal = scorer.score("Thông báo", "Lịch tiếp công dân tháng 10 của Chủ tịch UBND tỉnh.", language="vi",
                          source_kind="government_portal", source_trust="high", source_id="portal")
    assert portal["score"] < result["score"] and portal["level"] == "thấp"


def test_debunk_both_directions(scorer: RiskScorer, tmp_path: Path) -> None:
    store = open_store(StoreSettings(backend="sqlite", data_dir=str(tmp_path / "data")))
    try:
        # (a) the debunk report, even carried by a platform, is low risk and yields a proposed claim
        first = scorer.score(DEBUNK_TITLE, DEBUNK_TEXT, **PLATFORM)
        assert first["level"] == "thấp", first
        assert _signals(first)["debunk_report"]["weight"] < 0
        assert first["debunk"] is not None and "Sông Tranh 2" in first["debunk"]["claim"]
        assert first["debunk"]["by"].startswith("Công an tỉnh Quảng Nam")
        from nlp.claims import Debunk
        cid = propose(store, Debunk(**first["debunk"]), rebuttal_url="https://baoquangnam.example.vn/bac-bo.html",
                      source_article_id="a1")
        assert cid and [c.id for c in store.known_claims("proposed")] == [cid]
        # proposed claims flag nothing yet
        before = scorer.score(REPEAT_TITLE, REPEAT_TEXT, **PRESS, claims=find_claims(store, REPEAT_TITLE, REPEAT_TEXT))
        assert "known_false_claim" not in _signals(before)
        store.confirm_claim(cid)
        # (b) a later, reworded copy on another outlet is flagged with the rebuttal link
        later = scorer.score(REPEAT_TITLE, REPEAT_TEXT, language="vi", source_kind="national_press",
                             source_trust="medium", source_id="other-outlet",
                             claims=find_claims(store, REPEAT_TITLE, REPEAT_TEXT))
        reason = _signals(later)["known_false_claim"]
        assert reason["weight"] > 0 and later["level"] == "cao"
        assert any("https://baoquangnam.example.vn/bac-bo.html" in e for e in reason["evidence"])
        # the debunk itself, re-scored after confirmation, stays low: it refutes the claim it repeats
        again = scorer.score(DEBUNK_TITLE, DEBUNK_TEXT, **PLATFORM, claims=store.known_claims())
        assert again["level"] == "thấp" and _signals(again)["known_false_claim"]["weight"] == 0
    finally:
        store.close()


@pytest.mark.parametrize(("title", "text"), [
    ("", ""), ("", "   "), ("a", "?"), ("", "<URL>"), ("", "\x00\ufffd\ufffd#@!"), ("", "😀😀😀"),
    ("", "x" * 5000), ("", "!!!!" * 500), (None, None),
])
def test_bad_input_never_raises(scorer: RiskScorer, title: str, text: str) -> None:
    result = scorer.score(title, text, language=None, source_kind=None, source_trust=None)  # type: ignore[arg-type]
    assert 0 <= result["score"] <= 1


def test_english_text_gets_source_signals_only(scorer: RiskScorer) -> None:
    text = "SHOCKING!!! Rumour says the dam collapsed, share now before they delete it. Nghe nói."
    result = scorer.score("Breaking", text, language="en", source_kind="platform", source_trust="low", source_id="x")
    found = _signals(result)
    assert "text_not_assessed" in found and "en" in found["text_not_assessed"]["evidence"][0]
    assert {"source_kind", "source_trust"} <= set(found)
    assert not {"rumour_cue", "clickbait", "unreliable_text_model"} & set(found)


def test_short_text_says_so(scorer: RiskScorer) -> None:
    found = _signals(scorer.score("", "Tin đồn", language="vi", source_kind=None, source_trust=None))
    assert "quá ngắn" in found["text_not_assessed"]["evidence"][0]
    assert "rumour_cue" in found


def test_local_model_dir_absent_is_fine(tmp_path: Path) -> None:
    scorer = RiskScorer.load(local_models_dir=tmp_path / "nothing")
    assert scorer.local_model is None


def test_text_model_evidence_quotes_whole_syllables(scorer: RiskScorer) -> None:
    """The shipped model also reads character n-grams; its evidence quotes only words a reader can find."""
    from nlp.features import syllables

    text = REPEAT_TEXT + " Chia sẻ ngay cho mọi người biết, chính quyền đang giấu thông tin này!!!"
    reason = _signals(scorer.score(REPEAT_TITLE, text, **PLATFORM)).get("unreliable_text_model")
    assert reason is not None
    quoted = [e.strip("“”") for e in reason["evidence"][1:]]
    assert quoted, reason
    words = set(syllables(f"{REPEAT_TITLE} {text}"))
    for phrase in quoted:
        assert set(phrase.split()) <= words, phrase


def _reintel_like(path: Path, split: str = "train") -> None:
    """A small made-up set in ReINTEL's format: widely shared posts of alarm are the unreliable ones."""
    import gzip
    import json
    import random

    rng = random.Random(split)
    calm = ["UBND tỉnh tổ chức hội nghị tổng kết công tác năm và triển khai nhiệm vụ mới cho các sở ngành",
            "Trường tiểu học xã tổ chức lễ khai giảng năm học mới với sự tham gia của phụ huynh học sinh",
            "Hợp tác xã nông nghiệp thu hoạch lúa vụ mùa đạt năng suất cao nhờ áp dụng giống mới"]
    alarm = ["Nghe nói sắp phong tỏa toàn thành phố, mọi người tích trữ lương thực ngay kẻo không kịp",
             "Tin nóng bệnh viện giấu số ca nhiễm, người nhà bệnh nhân kể lại sự thật bị che giấu",
             "Chia sẻ gấp cho mọi người biết nước máy nhiễm độc, tuyệt đối không dùng từ hôm nay"]
    with gzip.open(path / f"{split}.jsonl.gz", "wt", encoding="utf-8") as out:
        for i in range(120):
            unreliable = i % 3 == 0
            text = f"{rng.choice(alarm if unreliable and i % 2 else calm + alarm)} {i}"
            shares = rng.randint(2000, 9000) if unreliable else rng.randint(0, 50)
            out.write(json.dumps({"text": text, "label_id": int(unreliable), "user_name": "x",
                                  "num_like_post": str(rng.randint(10, 500)), "num_comment_post": "unknown",
                                  "num_share_post": str(shares)}, ensure_ascii=False) + "\n")


def test_local_model_learns_from_every_labelled_split_but_the_one_measured(tmp_path: Path) -> None:
    """A user's local model learns from train and dev; an evaluation holds its split out, and refuses
    a model that saw it."""
    from nlp.risk import evaluate_risk, train_local_risk

    _reintel_like(tmp_path)
    _reintel_like(tmp_path, "dev")
    kept = train_local_risk(tmp_path, tmp_path / "kept")
    assert kept["splits"] == ["train", "dev"] and kept["train_rows"] == 240
    assert "reintel/dev.jsonl.gz" in (tmp_path / "kept" / "risk_text_local.md").read_text(encoding="utf-8")
    assert train_local_risk(tmp_path, tmp_path / "eval", holdout="dev")["splits"] == ["train"]
    with pytest.raises(ValueError, match="in-sample"):
        evaluate_risk(tmp_path, "dev", local_models_dir=tmp_path / "kept")
    assert evaluate_risk(tmp_path, "dev", local_models_dir=tmp_path / "eval")["rows"] == 120
    # Measuring train, the model trained for the occasion learns from dev alone.
    assert evaluate_risk(tmp_path, "train")["rows"] == 120
    with pytest.raises(ValueError, match="no labelled"):
        train_local_risk(tmp_path / "kept", tmp_path / "none")


def test_local_model_reads_stated_engagement(tmp_path: Path) -> None:
    """Counts a post states become an `engagement` reason, only with a local model trained with them."""
    from nlp.risk import train_local_risk

    _reintel_like(tmp_path)
    train_local_risk(tmp_path, tmp_path / "models")
    local = RiskScorer.load(local_models_dir=tmp_path / "models")
    assert local.local_engagement is not None
    text = "Hợp tác xã nông nghiệp thu hoạch lúa vụ mùa đạt năng suất cao nhờ áp dụng giống mới năm nay"
    bare = local.score("", text, **PLATFORM)
    viral = local.score("", text, **PLATFORM, engagement={"likes": 300, "shares": 8000})
    assert "engagement" not in _signals(bare)
    reason = _signals(viral)["engagement"]
    assert reason["weight"] > 0 and viral["score"] > bare["score"]
    assert reason["evidence"][0] == "300 lượt thích · 8.000 lượt chia sẻ"
    assert "→" in reason["evidence"][-1]
    # One local model: its text and count reasons together stay within the local bound.
    total = sum(r["weight"] for r in viral["reasons"] if r["signal"] in ("unreliable_text_model", "engagement"))
    assert abs(total) <= 3.0 + 1e-6
    # The shipped score never reads counts.
    shipped = RiskScorer.load(local_models_dir=None)
    assert shipped.score("", text, **PLATFORM, engagement={"shares": 8000}) == shipped.score("", text, **PLATFORM)
