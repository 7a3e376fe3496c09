"""The rebuttal kit: own coverage by topic and similarity, earlier rebuttals of similar claims."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from haidang.reports.kit import own_source_ids, rebuttal_kit
from haidang.settings import ReportSettings
from nlp.claims import Debunk, propose

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=VN)

RUMOUR = ("Tin đồn đập thủy điện Đăk Đrinh bị vỡ, nước lũ tràn về các xã phía hạ du Quảng Ngãi, "
          "người dân cần sơ tán ngay trong đêm.")


def _store_coverage(store, make_article):
    close = make_article("dap-an-toan", title="Đập thủy điện Đăk Đrinh vẫn an toàn",
                         text="Công ty thủy điện Đăk Đrinh khẳng định đập vẫn an toàn, hồ chứa vận hành bình thường, "
                              "người dân hạ du không phải sơ tán.", when=NOW - timedelta(days=2))
    portal = make_article("ubnd-kiem-tra", source="quangngai-gov", title="UBND tỉnh kiểm tra an toàn đập thủy điện",
                          text="Đoàn công tác kiểm tra an toàn hồ đập thủy điện trước mùa mưa lũ ở hạ du.",
                          when=NOW - timedelta(days=10))
    far = make_article("an-ninh-khac", title="Bắt đối tượng trộm cắp xe máy",
                       text="Công an phường bắt đối tượng trộm cắp xe máy tại chợ.", when=NOW - timedelta(days=5))
    other_topic = make_article("du-lich", title="Đập thủy điện đón khách du lịch", topics=("du_lich_van_hoa",),
                               text="Khách du lịch tham quan đập thủy điện Đăk Đrinh và hồ chứa.",
                               when=NOW - timedelta(days=3))
    old = make_article("cu", title="Đập thủy điện Đăk Đrinh an toàn (bài cũ)",
                       text="Đập thủy điện Đăk Đrinh an toàn, người dân hạ du không phải sơ tán.",
                       when=NOW - timedelta(days=200))
    not_own = make_article("vne", source="vnexpress", title="Đập thủy điện Đăk Đrinh an toàn",
                           text="Đập thủy điện Đăk Đrinh an toàn, người dân hạ du không phải sơ tán.",
                           when=NOW - timedelta(days=1))
    other_province = make_article("dt", source="baodongthap", title="Đập thủy điện Đăk Đrinh an toàn",
                                  text="Đập thủy điện Đăk Đrinh an toàn.", when=NOW - timedelta(days=1))
    for a in (close, portal, far, other_topic, old, not_own, other_province):
        store.upsert(a)
    return close, portal, far


def test_own_coverage_is_same_topic_recent_own_outlets_most_similar_first(store, settings, make_article):
    close, portal, far = _store_coverage(store, make_article)
    flagged = make_article("tin-don", source="fb", title="Tin đồn vỡ đập thủy điện Đăk Đrinh", text=RUMOUR,
                           when=NOW - timedelta(hours=3), risk="cao")
    copy = make_article("tin-don-copy", source="baoquangngai", title="Tin đồn vỡ đập thủy điện Đăk Đrinh",
                        text=RUMOUR, when=NOW - timedelta(hours=2), story=flagged.story_id)
    store.upsert(flagged)
    store.upsert(copy)

    kit = rebuttal_kit(store, settings, flagged, limit=5, now=NOW)

    ids = [c.article_id for c in kit.coverage]
    assert ids[:2] == [close.id, portal.id]          # most similar first, newspaper and portal
    assert set(ids) <= {close.id, portal.id, far.id}  # same topic, own outlets, within kit_days
    assert copy.id not in ids and flagged.id not in ids
    sims = [c.similarity for c in kit.coverage]
    assert sims == sorted(sims, reverse=True) and 0 < sims[-1] <= sims[0] <= 1
    first = kit.coverage[0]
    assert first.source_name == "Báo Quảng Ngãi" and first.topics == ("an_ninh_trat_tu",)
    assert first.published is not None and first.published.utcoffset() == timedelta(hours=7)
    assert kit.since == NOW - timedelta(days=settings.app.reports.kit_days)
    assert rebuttal_kit(store, settings, flagged, limit=1, now=NOW).coverage[0].article_id == close.id


def test_earlier_rebuttals_are_confirmed_similar_claims_with_links(store, settings, make_article):
    debunk = make_article("bac-bo", title="Công an tỉnh bác bỏ tin đồn vỡ đập Đăk Đrinh",
                          text="Công an tỉnh khẳng định thông tin đập thủy điện Đăk Đrinh bị vỡ là sai sự thật.",
                          when=NOW - timedelta(days=40))
    store.upsert(debunk)
    confirmed = propose(store, Debunk(claim="đập thủy điện Đăk Đrinh bị vỡ, nước lũ tràn về hạ du", by="Công an tỉnh"),
                        rebuttal_url=debunk.fetched.url, source_article_id=debunk.id)
    store.confirm_claim(confirmed)
    unconfirmed = propose(store, Debunk(claim="đập thủy điện Đăk Đrinh bị vỡ trong đêm qua", by=None),
                          rebuttal_url="https://example.vn/x", source_article_id=None)
    no_link = propose(store, Debunk(claim="nước lũ tràn về hạ du đập Đăk Đrinh bị vỡ", by=None),
                      rebuttal_url=None, source_article_id=None)
    store.confirm_claim(no_link)
    unrelated = propose(store, Debunk(claim="giá xăng tăng gấp đôi từ ngày mai trên toàn quốc", by=None),
                        rebuttal_url="https://example.vn/y", source_article_id=None)
    store.confirm_claim(unrelated)
    flagged = make_article("tin-don", source="fb", title="Tin đồn vỡ đập", text=RUMOUR, when=NOW)

    kit = rebuttal_kit(store, settings, flagged, now=NOW)

    assert {r.claim_id for r in kit.rebuttals} == {confirmed, unconfirmed}   # no link, unrelated: out
    r = next(x for x in kit.rebuttals if x.claim_id == confirmed)
    assert r.rebuttal_url == debunk.fetched.url and r.similarity >= 0.3 and r.confirmed
    assert r.source_title == debunk.content.title and r.source_name == "Báo Quảng Ngãi"
    # a claim only proposed is shown (the denial is what an officer needs first), marked as such
    assert not next(x for x in kit.rebuttals if x.claim_id == unconfirmed).confirmed
    store.dismiss_claim(unconfirmed)
    assert [x.claim_id for x in rebuttal_kit(store, settings, flagged, now=NOW).rebuttals] == [confirmed]


def test_a_denial_is_not_its_own_earlier_rebuttal(store, settings, make_article):
    debunk = make_article("bac-bo", title="Công an tỉnh bác bỏ tin đồn vỡ đập Đăk Đrinh",
                          text="Công an tỉnh khẳng định thông tin đập thủy điện Đăk Đrinh bị vỡ là sai sự thật.",
                          when=NOW - timedelta(days=1))
    copy = make_article("bac-bo-lai", source="quangngai-gov", title=debunk.content.title, text=debunk.content.text,
                        when=NOW, story=debunk.story_id)
    store.upsert(debunk)
    store.upsert(copy)
    propose(store, Debunk(claim="đập thủy điện Đăk Đrinh bị vỡ, nước lũ tràn về hạ du", by="Công an tỉnh"),
            rebuttal_url=debunk.fetched.url, source_article_id=debunk.id)
    assert rebuttal_kit(store, settings, debunk, now=NOW).rebuttals == []
    assert rebuttal_kit(store, settings, copy, now=NOW).rebuttals == [], "nor of its syndicated copies"
    rumour = make_article("tin-don", source="fb", title="Tin đồn vỡ đập", text=RUMOUR, when=NOW)
    [r] = rebuttal_kit(store, settings, rumour, now=NOW).rebuttals
    assert r.source_article_id == debunk.id and not r.confirmed


def test_an_empty_store_gives_an_empty_kit(store, settings, make_article):
    kit = rebuttal_kit(store, settings, make_article("x", text=RUMOUR), now=NOW)
    assert kit.empty and kit.own_sources == ["baoquangngai", "quangngai-gov"]


def test_own_sources_default_to_provincial_press_and_portals(settings):
    unnamed = settings.model_copy(update={"app": settings.app.model_copy(update={"reports": ReportSettings()})})
    assert own_source_ids(unnamed) == ["baoquangngai", "quangngai-gov", "baodongthap"]


def test_the_flag_email_marks_a_rebuttal_only_proposed(store, settings, make_article):
    from alerts.render import render_flag
    from tests.alerts.alerts_testkit import build_flag

    debunk = make_article("bac-bo", title="Công an tỉnh bác bỏ tin đồn vỡ đập Đăk Đrinh",
                          text="Công an tỉnh khẳng định thông tin đập thủy điện Đăk Đrinh bị vỡ là sai sự thật.",
                          when=NOW - timedelta(days=1))
    store.upsert(debunk)
    propose(store, Debunk(claim="đập thủy điện Đăk Đrinh bị vỡ, nước lũ tràn về hạ du", by="Công an tỉnh"),
            rebuttal_url=debunk.fetched.url, source_article_id=debunk.id)
    rumour = make_article("tin-don", source="fb", title="Tin đồn vỡ đập", text=RUMOUR, when=NOW, risk="cao")
    kit = rebuttal_kit(store, settings, rumour, now=NOW)
    _, text, html = render_flag(build_flag([rumour], ["x@example.vn"]), [rumour], sources={}, kit=kit)
    line = next(x for x in text.splitlines() if debunk.fetched.url in x)
    assert line.endswith("(tin sai này mới được đề xuất, chưa được cán bộ xác nhận)"), "one claim per line"
    assert "chưa được cán bộ xác nhận" in html
