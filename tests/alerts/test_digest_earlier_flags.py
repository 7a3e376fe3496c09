"""The digest's flag list as the head of office reads it: a story flagged days earlier that a new
outlet copies is listed apart ("Tin đã cảnh báo trước đó, có thêm bài mới"), under its first
article's title, with the date of the first flag and what officers did, and is not counted as a new
flag in the subject or heading; digest-only rules follow the same rule when the story's earlier
articles show they qualified then. Real SQLite store, real rules, real SMTP server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from alerts_testkit import VN, SmtpServer, build_article

from alerts.digest import build_digest, queue_digest, render_digest
from alerts.dispatch import AlertDispatcher
from alerts.flag import flag_key
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from crawlers.dedup import assign_story
from haidang.record import Article
from haidang.settings import Agency, AlertRule, AppSettings, DigestSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction, Store
from haidang.store.sqlite import SqliteStore

POLICE, LEAD = "cong-an@example.gov.vn", "so-ttt@example.gov.vn"
RISK_RULE, TONE_RULE = "tin-sai-su-that-rui-ro-cao", "tin-tieu-cuc-ve-tinh"
OUTLETS = {"forum": "Diễn đàn Người Quảng", "dantri": "Dân trí", "thanhnien": "Thanh Niên", "baoqn": "Báo Quảng Ngãi"}
HIGH = {"score": 0.82, "level": "cao", "reasons": [{"signal": "rumour_cue", "evidence": ["nghe nói"], "weight": 0.4}]}
LOW = {"score": 0.05, "level": "thấp", "reasons": []}
SEA = ("Tàu cá của ngư dân xã đảo Lý Sơn, tỉnh Quảng Ngãi bị tàu nước ngoài phun vòi rồng khi đang khai thác "
       "hải sản ở vùng biển Hoàng Sa, hai ngư dân bị thương và được đưa vào bờ điều trị.")
FLOOD = ("Mưa lớn kéo dài làm nhiều tuyến đường ở huyện Sơn Hà, tỉnh Quảng Ngãi bị sạt lở nghiêm trọng, giao "
         "thông bị chia cắt và hàng trăm hộ dân phải di dời khẩn cấp đến nơi an toàn.")
DAM = ("Nghe nói đập thủy điện Đakđrinh ở huyện Sơn Tây xả lũ trong đêm mà không báo trước, nhiều người kêu gọi "
       "chia sẻ gấp để bà con vùng hạ du biết mà chạy, chính quyền chưa lên tiếng về thông tin này.")
MARKET = ("Giá nông sản tại các chợ đầu mối của tỉnh Quảng Ngãi giảm mạnh trong tuần qua khiến nhiều hộ nông dân "
          "trồng rau màu ở các huyện đồng bằng gặp khó khăn trong tiêu thụ sản phẩm.")


def _settings(tmp_path: Path) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE])]
    rules = [AlertRule(name=RISK_RULE, description="Tin có nguy cơ sai sự thật cao về tỉnh", relevant=True,
                       min_risk_level="cao", severity="khẩn", recipients=["cong-an-tinh"], immediate=True),
             AlertRule(name=TONE_RULE, description="Tin có sắc thái tiêu cực về tỉnh", relevant=True,
                       tone=["negative"], severity="thấp", recipients=["so-ttt"], immediate=False)]
    sources = [Source(id=sid, name=name, country="VN", language="vi", kind="national_press")
               for sid, name in OUTLETS.items()]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=sources, agencies=agencies, alert_rules=rules,
                    digest=DigestSettings(recipients=["so-ttt"]))


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


def _article(slug: str, source: str, at: datetime, text: str, title: str, *, risk: dict, tone: str) -> Article:
    article = build_article(slug, source=source, published=at, text=text, title=title,
                            labels={"topics": [], "tone": {"label": tone, "score": 0.7}, "risk": risk})
    article.content.first_seen = at + timedelta(minutes=5)
    return article


def _arrive(store: Store, dispatcher: AlertDispatcher, article: Article) -> Article:
    assign_story(article, store)
    store.upsert(article)
    assert article.content.first_seen is not None
    dispatcher.on_stored(article, now=article.content.first_seen)
    return article


def test_a_story_flagged_days_earlier_is_listed_apart_and_not_counted(tmp_path: Path,
                                                                      smtp_server: SmtpServer) -> None:
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        # Monday 9/11: the sea story is flagged at once; a flood story qualifies for the digest only.
        sea = _arrive(store, dispatcher, _article("sea-1", "forum", _at(9, 9), SEA,
                                                  "Nghe nói tàu cá Lý Sơn bị tấn công", risk=HIGH, tone="negative"))
        flood = _arrive(store, dispatcher, _article("flood-1", "baoqn", _at(9, 10), FLOOD,
                                                    "Sạt lở chia cắt giao thông ở Sơn Hà", risk=LOW, tone="negative"))
        # A market story whose first article was neutral: only its copy raises the digest-only rule.
        market = _arrive(store, dispatcher, _article("market-1", "baoqn", _at(9, 11), MARKET,
                                                     "Giá nông sản giảm", risk=LOW, tone="neutral"))
        for m in store.outbox():
            store.mark_sent(m.key, _at(9, 9, 10))
        store.record_action(ResponseAction(
            flag_key=flag_key(RISK_RULE, sea.id, POLICE), story_id=sea.id, article_id=sea.id, rule=RISK_RULE,
            action="phan_bac", actor=POLICE, agency_id="cong-an-tinh", rebuttal_url="https://baoqn.vn/bac-bo.html",
            at=_at(9, 15), link_id="phan-bac-1"))
        # Tuesday 10/11: copies on other outlets (under their own titles), and a new rumour.
        sea_copy = _arrive(store, dispatcher, _article("sea-2", "dantri", _at(10, 14), SEA,
                                                       "Tàu cá Lý Sơn bị phun vòi rồng, hai ngư dân bị thương",
                                                       risk=HIGH, tone="negative"))
        flood_copy = _arrive(store, dispatcher, _article("flood-2", "thanhnien", _at(10, 15), FLOOD,
                                                         "Quảng Ngãi: đường lên Sơn Hà bị chia cắt", risk=LOW,
                                                         tone="negative"))
        market_copy = _arrive(store, dispatcher, _article("market-2", "dantri", _at(10, 16), MARKET,
                                                          "Nông dân Quảng Ngãi khó bán rau", risk=LOW,
                                                          tone="negative"))
        fresh = _arrive(store, dispatcher, _article("fresh", "forum", _at(10, 20), DAM,
                                                    "Nghe nói đập thủy điện xả lũ", risk=HIGH, tone="neutral"))
        assert sea_copy.story_id == sea.id and flood_copy.story_id == flood.id and market_copy.story_id == market.id
        assert fresh.story_id == fresh.id
        for m in store.outbox("pending"):
            store.mark_sent(m.key, _at(10, 20, 10))

        digest = build_digest(store, settings, date(2026, 11, 11), dispatcher=dispatcher)
        new = {f.story_id: f for f in digest.article_flags}
        earlier = {f.story_id: f for f in digest.earlier_flags}
        assert set(new) == {fresh.id, market.id}      # the market story qualified only with its copy
        assert set(earlier) == {sea.id, flood.id}
        assert earlier[sea.id].title == "Nghe nói tàu cá Lý Sơn bị tấn công"      # the first article's title
        assert earlier[sea.id].first_flagged is not None and earlier[sea.id].first_flagged.date() == date(2026, 11, 9)
        # Rebutted, then copied by an outlet that had not carried it: its resurfacing emails went out.
        assert earlier[sea.id].new_outlets == ["Dân trí"] and earlier[sea.id].resurfaced == {"sent": 2}
        assert earlier[sea.id].states == {"sent": 2}                        # the flag's own two emails
        assert earlier[flood.id].first_flagged == _at(9, 10, 5)   # when its first article qualified (found)
        assert not earlier[flood.id].immediate and earlier[flood.id].actions == []

        assert queue_digest(store, settings, date(2026, 11, 11), _at(11, 7), dispatcher=dispatcher) == 1
        notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
        assert len(deliver_due(store, notifier, _at(11, 7, 1)).sent) == 1
    [envelope] = smtp_server.handler.envelopes
    mail = message_from_bytes(envelope.original_content, policy=policy.default)       # type: ignore[arg-type]
    assert mail["Subject"] == "[Hải Đăng] Bản tin ngày 11/11/2026: 4 tin, 2 tin có cảnh báo"
    text = mail.get_body(("plain",)).get_content()                                    # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()                                     # type: ignore[union-attr]
    count = "(2: 1 gửi thư ngay, 1 chỉ đưa vào bản tin)"       # the flag pages count only the emailed one
    assert f"TIN CÓ CẢNH BÁO {count}" in text and f"Tin có cảnh báo {count}" in html
    section = text[text.index("TIN ĐÃ CẢNH BÁO TRƯỚC ĐÓ, CÓ THÊM BÀI MỚI (2)"):]
    assert "- [khẩn] Nghe nói tàu cá Lý Sơn bị tấn công\n" in section
    assert ("  Cảnh báo lần đầu: 09/11 · Quy tắc: Tin có nguy cơ sai sự thật cao về tỉnh; Tin có sắc thái tiêu "
            "cực về tỉnh · Bài mới trong kỳ: 1 (Dân trí)\n  Đã xử lý: đã phản bác – Công an tỉnh, 09/11\n"
            "  Cảnh báo tái xuất hiện trong kỳ: đã gửi 2 thư\n") in section
    assert "- [thấp] Sạt lở chia cắt giao thông ở Sơn Hà\n" in section and "Đã xử lý: chưa ghi nhận" in section
    listed = text[text.index(f"TIN CÓ CẢNH BÁO {count}"):text.index("TIN ĐÃ CẢNH BÁO TRƯỚC ĐÓ")]
    assert "Tàu cá Lý Sơn bị phun vòi rồng" not in listed and "Sạt lở" not in listed
    assert "- [khẩn] Nghe nói đập thủy điện xả lũ\n" in listed and "- [thấp] Giá nông sản giảm\n" in listed
    assert "Tin đã cảnh báo trước đó, có thêm bài mới (2)" in html
    assert "Đã xử lý: đã phản bác – Công an tỉnh, 09/11" in html


def test_article_text_in_the_earlier_list_stays_text(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        _arrive(store, dispatcher, _article("x-1", "forum", _at(9, 9), SEA, "<b>Tin</b> & <script>x()</script>",
                                            risk=HIGH, tone="negative"))
        _arrive(store, dispatcher, _article("x-2", "dantri", _at(10, 14), SEA, "Bản sao", risk=HIGH, tone="negative"))
        digest = build_digest(store, settings, date(2026, 11, 11), dispatcher=dispatcher)
        assert len(digest.earlier_flags) == 1
        _, _, html = render_digest(digest)
    assert "<script>x()" not in html and "&lt;b&gt;Tin&lt;/b&gt; &amp; &lt;script&gt;" in html
