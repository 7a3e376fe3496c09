"""The rebuttal kit for an article without a plan topic: it says so instead of offering the province's
latest articles on other subjects as "cùng chủ đề" (REPORT F12); and the reports' words for a flag."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from haidang.reports import wording
from haidang.reports.kit import rebuttal_kit
from nlp.claims import Debunk, propose

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=VN)
RUMOUR = ("NÓNG: Lý Sơn có người lạ bắt cóc trẻ em. Nghe nói nhóm người lạ đang bắt cóc trẻ em ở đặc khu Lý Sơn, "
          "Quảng Ngãi. Tin này chưa được kiểm chứng nhưng mọi người hãy chia sẻ gấp.")


def _own_coverage(store, make_article):
    """The province's own recent articles, sharing words (Lý Sơn, Quảng Ngãi) with the rumour, on other subjects."""
    festival = make_article("le-hoi", title="Hội nghị xúc tiến đầu tư du lịch tại đặc khu Lý Sơn",
                            text="Hội nghị xúc tiến đầu tư du lịch tại đặc khu Lý Sơn, Quảng Ngãi thu hút nhiều "
                                 "doanh nghiệp; trẻ em biểu diễn văn nghệ chào mừng khách.",
                            topics=("du_lich_van_hoa",), when=NOW - timedelta(days=2))
    police = make_article("an-ninh", source="quangngai-gov", title="Lý Sơn tăng cường bảo đảm an ninh cho trẻ em",
                          text="Công an đặc khu Lý Sơn, Quảng Ngãi tăng cường tuần tra, bảo vệ trẻ em dịp hè.",
                          topics=("an_ninh_trat_tu",), when=NOW - timedelta(days=1))
    for a in (festival, police):
        store.upsert(a)
    return festival, police


def test_an_article_without_a_topic_gets_no_coverage_and_says_why(store, settings, make_article):
    _own_coverage(store, make_article)
    rumour = make_article("tin-don", source="fb", title="NÓNG: Lý Sơn có người lạ bắt cóc trẻ em!!!", text=RUMOUR,
                          topics=(), when=NOW - timedelta(hours=2), risk="cao")
    store.upsert(rumour)

    kit = rebuttal_kit(store, settings, rumour, now=NOW)

    assert kit.no_topic and kit.coverage == [] and kit.empty


def test_an_article_with_a_topic_still_gets_its_topics_coverage(store, settings, make_article):
    _festival, police = _own_coverage(store, make_article)
    rumour = make_article("tin-don", source="fb", title="NÓNG: Lý Sơn có người lạ bắt cóc trẻ em!!!", text=RUMOUR,
                          topics=("an_ninh_trat_tu",), when=NOW - timedelta(hours=2), risk="cao")

    kit = rebuttal_kit(store, settings, rumour, now=NOW)

    assert not kit.no_topic
    assert [c.article_id for c in kit.coverage] == [police.id]        # same topic only, not the festival
    assert kit.coverage[0].topics == ("an_ninh_trat_tu",)


def test_earlier_rebuttals_do_not_need_a_topic(store, settings, make_article):
    debunk = make_article("bac-bo", title="Công an tỉnh bác bỏ tin đồn bắt cóc trẻ em tại Lý Sơn",
                          text="Công an tỉnh khẳng định thông tin người lạ bắt cóc trẻ em ở Lý Sơn là sai sự thật.",
                          when=NOW - timedelta(days=3))
    store.upsert(debunk)
    claim = propose(store, Debunk(claim="người lạ bắt cóc trẻ em ở đặc khu Lý Sơn", by="Công an tỉnh"),
                    rebuttal_url=debunk.fetched.url, source_article_id=debunk.id)
    store.confirm_claim(claim)
    rumour = make_article("tin-don", source="fb", title="NÓNG: Lý Sơn có người lạ bắt cóc trẻ em!!!", text=RUMOUR,
                          topics=(), when=NOW, risk="cao")

    kit = rebuttal_kit(store, settings, rumour, now=NOW)

    assert kit.no_topic and not kit.empty
    assert [r.claim_id for r in kit.rebuttals] == [claim] and kit.coverage == []


def test_the_reports_call_a_flag_canh_bao_and_a_story_a_tin():
    words = [*wording.HEADINGS.values(), *wording.SUMMARY.values(), *wording.COLUMNS.values(),
             *wording.TIMING.values(), *wording.SHEETS.values()]
    for text in words:
        assert "cờ báo" not in text.lower() and "câu chuyện" not in text and "gắn cờ" not in text, text
    assert wording.HEADINGS["flags"] == "4. Cảnh báo đã phát" and wording.SHEETS["flags"] == "Cảnh báo"
    assert all(len(name) <= 31 for name in wording.SHEETS.values())    # Excel's limit on sheet names
