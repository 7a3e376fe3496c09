"""Debunk detection, claim extraction and known-claim matching (nlp/claims.py), with a real store."""

from __future__ import annotations

from pathlib import Path

from haidang.settings import StoreSettings
from haidang.store import open_store
from haidang.store.base import KnownClaim
from nlp.claims import candidate_keys, detect_debunk, find_claims, match_claims, propose

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
OTHER_TEXT = (
    "Thủy điện Sông Tranh 2 tăng lưu lượng xả lũ lên 2.000 m3/s từ 14 giờ chiều nay theo quy trình vận hành "
    "liên hồ chứa. Chính quyền các xã hạ du đã thông báo cho người dân."
)


def _store(tmp_path: Path):
    return open_store(StoreSettings(backend="sqlite", data_dir=str(tmp_path / "data")))


def test_debunk_extracts_claim_and_actor() -> None:
    found = detect_debunk(DEBUNK_TITLE, DEBUNK_TEXT)
    assert found is not None
    assert "Sông Tranh 2 bị vỡ" in found.claim and "sai sự thật" not in found.claim
    assert found.by is not None and found.by.startswith("Công an tỉnh Quảng Nam")
    assert any("sai sự thật" in s for s in found.evidence)


def test_debunk_phrasings() -> None:
    cases = [
        ("UBND huyện: Không có chuyện cấm chợ",
         "Chủ tịch UBND huyện Tư Nghĩa cho biết không có chuyện huyện cấm toàn bộ chợ truyền thống từ ngày mai.",
         "cấm toàn bộ chợ truyền thống"),
        ("Sở Y tế bác bỏ thông tin về ca bệnh lạ",
         "Sở Y tế tỉnh bác bỏ thông tin về việc xuất hiện ca bệnh lạ tử vong tại Bệnh viện Đa khoa tỉnh.",
         "ca bệnh lạ tử vong"),
        ("Đính chính", "Báo xin đính chính thông tin về việc khởi công cầu Cửa Đại vào tháng 9 năm nay.",
         "khởi công cầu Cửa Đại"),
        ("Phạt người tung tin",
         "Công an huyện xử phạt chủ tài khoản đã đăng tin sai sự thật rằng “trường học sẽ đóng cửa đến hết năm”.",
         "trường học sẽ đóng cửa đến hết năm"),
    ]
    for title, text, claim_part in cases:
        found = detect_debunk(title, text)
        assert found is not None, title
        assert claim_part in found.claim, (title, found.claim)


def test_no_debunk_in_ordinary_or_critical_news() -> None:
    assert detect_debunk("Lũ lớn gây thiệt hại nặng ở Quảng Ngãi",
                         "Mưa lớn làm 3 người chết, hơn 2.000 ngôi nhà bị ngập.") is None
    assert detect_debunk("Tuyên án vụ tham nhũng", "Tòa tuyên phạt bị cáo 12 năm tù vì tội nhận hối lộ.") is None
    # "không có chuyện" without an accountable body is casual speech, not a denial
    assert detect_debunk("", "Tôi nghĩ không có chuyện giá xăng giảm trong tháng này đâu.") is None
    assert detect_debunk("", "") is None


def test_false_information_named_as_a_task_is_not_a_denial() -> None:
    """The plans ask offices to handle false information; saying so refutes no claim."""
    plan = ("Sở Văn hóa, Thể thao và Du lịch chủ trì theo dõi, tổng hợp thông tin báo chí trong và ngoài nước viết "
            "về địa phương, kịp thời tham mưu xử lý các thông tin sai sự thật. Kế hoạch cũng yêu cầu xây dựng lực "
            "lượng phản ứng nhanh trên không gian mạng để đấu tranh, bác bỏ các thông tin xấu độc, sai trái, xuyên "
            "tạc ảnh hưởng đến uy tín, hình ảnh của tỉnh. Các cơ quan chủ động phát hiện, xử lý thông tin sai sự "
            "thật trên không gian mạng.")
    assert detect_debunk("Triển khai Kế hoạch công tác thông tin đối ngoại năm 2026", plan) is None
    assert detect_debunk("", "Công an tỉnh đề nghị người dân không chia sẻ thông tin chưa được kiểm chứng.") is None
    # The same words with the claim stated are a denial, and the judgement is not part of the claim.
    found = detect_debunk("", "Công an tỉnh bác bỏ các thông tin sai sự thật về việc trẻ em bị bắt cóc ở Lý Sơn "
                              "để lấy nội tạng.")
    assert found is not None and found.claim == "trẻ em bị bắt cóc ở Lý Sơn để lấy nội tạng"
    found = detect_debunk("", "Công an huyện xử lý các đối tượng đăng tải thông tin sai sự thật rằng "
                              "“nhà máy lọc dầu Dung Quất sắp đóng cửa vĩnh viễn” trên mạng xã hội.")
    assert found is not None and found.claim == "nhà máy lọc dầu Dung Quất sắp đóng cửa vĩnh viễn"


def test_match_catches_reworded_claim_inside_article() -> None:
    claim_text = "đập thủy điện Sông Tranh 2 bị vỡ, người dân hạ du phải sơ tán gấp"
    from crawlers.dedup import signature
    claim = KnownClaim(id="c1", text=claim_text, status="confirmed", signature=signature(claim_text))
    [(found, sim)] = match_claims(REPEAT_TITLE, REPEAT_TEXT, [claim])
    assert found.id == "c1" and sim >= 0.5
    assert match_claims("Xả lũ", OTHER_TEXT, [claim]) == []
    assert match_claims("", "", [claim]) == []


def test_propose_confirm_and_find_through_the_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        debunk = detect_debunk(DEBUNK_TITLE, DEBUNK_TEXT)
        assert debunk is not None
        cid = propose(store, debunk, rebuttal_url="https://baoquangnam.example.vn/bac-bo.html",
                      source_article_id="a1")
        assert cid is not None
        assert find_claims(store, REPEAT_TITLE, REPEAT_TEXT) == []     # proposed only
        store.confirm_claim(cid)
        found = find_claims(store, REPEAT_TITLE, REPEAT_TEXT)
        assert [c.id for c in found] == [cid]
        assert match_claims(REPEAT_TITLE, REPEAT_TEXT, found)
        # an exact copy is found through the LSH keys alone
        assert [c.id for c in find_claims(store, "", debunk.claim, scan=False)] == [cid]
    finally:
        store.close()


def test_candidate_keys_cover_windows() -> None:
    keys = candidate_keys(REPEAT_TITLE, REPEAT_TEXT)
    assert len(keys) > 40 and len(set(keys)) == len(keys)


def test_a_chinese_claim_is_caught_inside_a_longer_sentence() -> None:
    """Chinese runs between punctuation are no words: claims compare Chinese text by characters."""
    from crawlers.dedup import signature
    claim_text = "广义省李山岛发生地震造成多人死亡"
    claim = KnownClaim(id="zh1", text=claim_text, status="confirmed", signature=signature(claim_text))
    text = ("社交媒体上流传一条消息，称越南广义省李山岛发生强烈地震并造成多人死亡。"
            "记者向当地政府核实，尚未得到回应。")
    [(found, sim)] = match_claims("李山岛地震传闻", text, [claim])
    assert found.id == "zh1" and sim >= 0.5
    assert match_claims("李山岛旅游", "今年前十个月，李山岛接待游客超过三十万人次。", [claim]) == []
