"""One story, one entry, one title in the daily digest, whichever outlets carried it and in whatever
order the crawler stored its copies: the highlights ("Tin nổi bật"), the flags, the stories flagged
before, and the counts (articles and stories apart) name it once, by its first article, as the
deadline report does. Real SQLite store, real near-duplicate detection, real rules, rendered text
and HTML as the monitoring team reads them."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from alerts_testkit import VN, build_article

from alerts.digest import build_digest, render_digest
from alerts.dispatch import AlertDispatcher
from crawlers.dedup import assign_story
from haidang.record import Article
from haidang.reports.report import build_report
from haidang.settings import Agency, AlertRule, AppSettings, DigestSettings, Settings, Source, StoreSettings
from haidang.store.base import Store
from haidang.store.sqlite import SqliteStore

DAY = date(2026, 11, 11)                   # Wednesday: the window is Tue 10/11 07:00 → Wed 07:00
OUTLETS = {"baoqn": ("Báo Quảng Ngãi", "provincial_press"), "dantri": ("Dân trí", "national_press"),
           "thanhnien": ("Thanh Niên", "national_press"), "forum": ("Diễn đàn Người Quảng", "platform"),
           "bbc": ("BBC Tiếng Việt", "foreign_press"), "rfa": ("RFA Tiếng Việt", "foreign_press")}
SEA = ("Tàu cá QNg 90999 TS của ngư dân xã đảo Lý Sơn, tỉnh Quảng Ngãi bị một tàu nước ngoài phun vòi rồng khi "
       "đang khai thác hải sản. Vụ việc xảy ra vào khoảng 5 giờ sáng tại vùng biển thuộc quần đảo Hoàng Sa của "
       "Việt Nam. Hai ngư dân bị thương nhẹ ở tay và chân, được đồng đội sơ cứu ngay trên tàu rồi đưa vào bờ. "
       "Toàn bộ ngư cụ và một phần hải sản đánh bắt được bị hư hỏng, thiệt hại ước tính hơn 300 triệu đồng. "
       "Chủ tàu đã trình báo sự việc với Đồn Biên phòng Lý Sơn ngay sau khi cập cảng an toàn. Chính quyền địa "
       "phương đã đến thăm hỏi, động viên các ngư dân và hỗ trợ chi phí điều trị ban đầu.")
FLOOD = [
    ("Mưa lớn kéo dài nhiều ngày làm tuyến đường ĐT 623 lên huyện Sơn Tây, tỉnh Quảng Ngãi bị sạt lở nghiêm "
     "trọng tại nhiều điểm."),
    ("Hàng nghìn mét khối đất đá từ taluy dương đổ xuống mặt đường khiến giao thông bị chia cắt hoàn toàn từ "
     "chiều qua."),
    "Lực lượng chức năng đã lập chốt cảnh báo, không cho người và phương tiện qua lại khu vực nguy hiểm.",
    "Ngành giao thông đã huy động máy xúc, máy ủi đến hiện trường để khắc phục, dự kiến thông xe trong ngày mai.",
    "Huyện cũng đã di dời khẩn cấp hơn 120 hộ dân sống ở vùng có nguy cơ sạt lở cao đến nơi an toàn.",
    "Các hộ dân được bố trí tạm trú tại trường học và nhà văn hóa thôn, được hỗ trợ lương thực, nước uống.",
    "Trung tâm Khí tượng thủy văn tỉnh dự báo mưa còn tiếp diễn trong hai ngày tới với lượng mưa phổ biến 100 mm.",
    "Người dân được khuyến cáo không đi qua các ngầm tràn, khu vực có nguy cơ lũ quét và sạt lở đất.",
    "Ủy ban nhân dân tỉnh yêu cầu các địa phương trực ban nghiêm túc, báo cáo kịp thời tình hình thiệt hại.",
]
HIGH = {"score": 0.82, "level": "cao", "reasons": [{"signal": "rumour_cue", "evidence": ["nghe nói"], "weight": 0.4}]}
LOW = {"score": 0.05, "level": "thấp", "reasons": []}
RUMOUR = "NÓNG: tàu cá Lý Sơn bị tấn công, chia sẻ gấp!!!"
SEA_BAOQN = "Tàu cá Lý Sơn bị phun vòi rồng, hai ngư dân bị thương"
SEA_DANTRI = "Hai ngư dân Quảng Ngãi bị thương khi tàu cá bị tấn công ở Hoàng Sa"
FLOOD_A, FLOOD_B = "Sạt lở chia cắt đường lên Sơn Tây", "Quảng Ngãi: di dời 120 hộ dân khỏi vùng sạt lở"


def _settings(tmp_path: Path) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=["so-ttt@example.gov.vn"],
                       leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=["cong-an@example.gov.vn"])]
    rules = [AlertRule(name="tin-sai", description="Tin có nguy cơ sai sự thật cao về tỉnh", relevant=True,
                       min_risk_level="cao", severity="khẩn", recipients=["cong-an-tinh"], immediate=True),
             AlertRule(name="tieu-cuc", description="Tin có sắc thái tiêu cực về tỉnh", relevant=True,
                       tone=["negative"], severity="thấp", recipients=["so-ttt"], immediate=False)]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=[Source(id=sid, name=name, country="VN", language="vi", kind=kind)
                             for sid, (name, kind) in OUTLETS.items()],
                    agencies=agencies, alert_rules=rules, digest=DigestSettings(recipients=["so-ttt"]),
                    topics={"bien_dao": {"name": "Biển, đảo", "seeds": []},
                            "thien_tai": {"name": "Thiên tai", "seeds": []}})


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


def _article(slug: str, source: str, published: datetime, found: datetime, text: str, title: str, *,
             risk: dict | None = None, topic: str = "bien_dao") -> Article:
    article = build_article(slug, source=source, published=published, text=text, title=title,
                            labels={"topics": [{"id": topic, "score": 0.8}], "tone": {"label": "negative", "score": 0.7},
                                    "risk": risk or LOW})
    article.content.first_seen = found
    return article


def _arrive(store: Store, dispatcher: AlertDispatcher, article: Article) -> Article:
    """As the pipeline stores an article: its story, the store, its immediate flags (sent at once)."""
    assign_story(article, store)
    store.upsert(article)
    dispatcher.on_stored(article, now=article.content.first_seen)
    for m in store.outbox("pending"):
        store.mark_sent(m.key, article.content.first_seen)
    return article


def _two_stories(store: Store, dispatcher: AlertDispatcher, *, original_found: datetime) -> dict[str, Article]:
    """The sea story: a forum repost found first (Monday evening, flagged at once) of the provincial
    paper's article published two hours before it, which its feed lists at `original_found`; then
    national and foreign copies in the window. The flood story: two heavily edited reports stored
    before the copy close to both, so the store keeps two ids for it (a late syndication match)."""
    flood = " ".join
    stored = {
        "forum": _article("sea-forum", "forum", _at(9, 20), _at(9, 20, 5), "Nghe nói " + SEA, RUMOUR, risk=HIGH),
        "baoqn": _article("sea-baoqn", "baoqn", _at(9, 18), original_found, SEA, SEA_BAOQN),
        "dantri": _article("sea-dantri", "dantri", _at(10, 10), _at(10, 10, 5), SEA + " Dân trí sẽ tiếp tục thông tin.",
                           SEA_DANTRI),
        "bbc": _article("sea-bbc", "bbc", _at(10, 11), _at(10, 11, 5), SEA, "Tàu cá Việt Nam bị phun vòi rồng"),
        "flood-a": _article("flood-a", "baoqn", _at(10, 9), _at(10, 9, 5), flood(FLOOD[0:6]), FLOOD_A,
                            topic="thien_tai"),
        "flood-b": _article("flood-b", "thanhnien", _at(10, 9, 30), _at(10, 9, 35), flood(FLOOD[3:9]), FLOOD_B,
                            topic="thien_tai"),
        "flood-c": _article("flood-c", "dantri", _at(10, 12), _at(10, 12, 5), flood(FLOOD[1:8]),
                            "Đường lên Sơn Tây bị chia cắt vì sạt lở", topic="thien_tai"),
        "flood-d": _article("flood-d", "rfa", _at(10, 13), _at(10, 13, 5), flood(FLOOD[3:9]) + " RFA.",
                            "Lở đất ở Quảng Ngãi", topic="thien_tai"),
    }
    for article in sorted(stored.values(), key=lambda a: a.content.first_seen or _at(1, 0)):
        _arrive(store, dispatcher, article)
    return stored


def _section(text: str, heading: str, following: str) -> str:
    return text[text.index(heading):text.index(following, text.index(heading))]


def test_a_story_is_listed_once_under_its_first_headline_and_counted_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        a = _two_stories(store, dispatcher, original_found=_at(10, 8))       # the original: found late
        # What the crawler left: the forum repost founded the sea story (stored first); the flood story
        # has two ids, the copy close to both joined one.
        assert {a[k].story_id for k in ("forum", "baoqn", "dantri", "bbc")} == {a["forum"].id}
        assert a["flood-b"].story_id != a["flood-a"].story_id == a["flood-c"].story_id
        digest = build_digest(store, settings, DAY, dispatcher=dispatcher)
    subject, text, html = render_digest(digest)

    assert subject == "[Hải Đăng] Bản tin ngày 11/11/2026: 2 tin (7 bài), 1 tin có cảnh báo"
    assert ("Tổng số bài: 7 (kỳ trước: 1, +6), thuộc 2 tin; trong đó 1 bài đăng trước kỳ, mới phát hiện trong kỳ\n"
            "Bài: mỗi bài đăng trên một nguồn. Tin: một sự việc; các bài đăng lại cùng một tin chỉ tính một tin.\n"
            ) in text
    assert "- Thiên tai: 4 bài (+4), 1 tin\n" in text and "- Biển, đảo: 3 bài (+2), 1 tin\n" in text
    assert "- Tiêu cực: 7 bài (+6), 2 tin\n" in text and "- Báo chí trung ương: 3 bài (+3), 2 tin\n" in text

    # The flood story: one flag, one highlight, named by its first report, with every outlet.
    flags = _section(text, "TIN CÓ CẢNH BÁO (1, chỉ đưa vào bản tin)", "TIN ĐÃ CẢNH BÁO TRƯỚC ĐÓ")
    assert f"- [thấp] {FLOOD_A}\n" in flags and FLOOD_B not in flags
    assert "· 4 bài (Báo Quảng Ngãi, Thanh Niên, Dân trí, RFA Tiếng Việt) ·" in flags
    highlights = text[text.index("TIN NỔI BẬT"):]
    assert re.findall(r"^\d+\. (.*) \(", highlights, re.MULTILINE) == [FLOOD_A, SEA_BAOQN]
    assert "1. Sạt lở chia cắt đường lên Sơn Tây (4 nguồn; Thiên tai)\n" in highlights
    assert "https://thanhnien.example.vn/flood-b.html" in highlights

    # The sea story: under the provincial paper's headline (published first) in both of its sections,
    # never under the forum repost the crawler happened to store first.
    earlier = _section(text, "TIN ĐÃ CẢNH BÁO TRƯỚC ĐÓ, CÓ THÊM BÀI MỚI (1)", "BÁO CHÍ NƯỚC NGOÀI")
    assert f"- [thấp] {SEA_BAOQN}\n" in earlier and "https://baoqn.example.vn/sea-baoqn.html" in earlier
    assert "2. Tàu cá Lý Sơn bị phun vòi rồng, hai ngư dân bị thương (3 nguồn; Biển, đảo)\n" in highlights
    assert "Đăng đầu tiên" not in highlights           # its first article is one of the listed outlets
    assert RUMOUR not in text and "NÓNG" not in html

    # The HTML says the same, in table cells and list items.
    assert "Tổng số bài: <strong>7</strong> (kỳ trước: 1, +6), thuộc <strong>2</strong> tin" in html
    assert re.search(r">Số bài</th>.*>So với kỳ trước</th>.*>Số tin</th>", html)
    assert re.search(r">Thiên tai</td><td[^>]*>4</td><td[^>]*>\+4</td><td[^>]*>1</td>", html)
    listed = re.findall(r'<li><strong dir="auto">([^<]*)</strong>', html)
    assert listed == [FLOOD_A, SEA_BAOQN]
    assert "Tin có cảnh báo (1, chỉ đưa vào bản tin)" in html and html.count(f">{FLOOD_B}<") == 1     # its own outlet's link only


def test_a_story_begun_before_the_window_says_where_and_the_report_names_it_alike(tmp_path: Path) -> None:
    """The provincial paper's original was found on Monday, after the forum repost the crawler stored
    first: Wednesday's digest lists only its copies, under the original's headline, and says where and
    when it appeared first. The deadline report names the flagged story by the same article."""
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        a = _two_stories(store, dispatcher, original_found=_at(9, 21))
        digest = build_digest(store, settings, DAY, dispatcher=dispatcher)
        report = build_report(store, settings, date(2026, 11, 1), date(2026, 11, 10), now=_at(11, 8))
    _, text, html = render_digest(digest)

    assert "Tổng số bài: 6 (kỳ trước: 2, +4), thuộc 2 tin\n" in text
    highlights = text[text.index("TIN NỔI BẬT"):]
    assert ("2. Tàu cá Lý Sơn bị phun vòi rồng, hai ngư dân bị thương (2 nguồn; Biển, đảo)\n"
            "   Đăng đầu tiên: Báo Quảng Ngãi, Thứ hai, 09/11/2026 18:00: https://baoqn.example.vn/sea-baoqn.html\n"
            "   - Dân trí: https://dantri.example.vn/sea-dantri.html\n") in highlights
    assert ("Đăng đầu tiên: Báo Quảng Ngãi, Thứ hai, 09/11/2026 18:00: "
            f'<a href="https://baoqn.example.vn/sea-baoqn.html" dir="auto">{SEA_BAOQN}</a>') in html
    [earlier] = digest.earlier_flags
    assert earlier.title == SEA_BAOQN and earlier.new_outlets == ["Dân trí", "BBC Tiếng Việt"]
    # The report's flag (the forum repost's email, Monday) names the story as the digest does.
    [flag] = [f for f in report.flags if f.rule == "tin-sai"]
    assert flag.story_id == a["forum"].id and (flag.title, flag.source_name) == (SEA_BAOQN, "Báo Quảng Ngãi")


def test_copies_at_the_same_minute_take_the_provincial_headline_and_stay_text(tmp_path: Path) -> None:
    """A forum post and the provincial paper publish the story at the same minute: the paper's
    headline names it (officers know their province's press), escaped like every article text."""
    settings = _settings(tmp_path)
    hostile = '<script>alert(1)</script> Tàu cá "Lý Sơn" & vòi rồng'
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        dispatcher = AlertDispatcher(settings, store)
        _arrive(store, dispatcher, _article("dup-forum", "forum", _at(10, 9), _at(10, 9, 1), SEA, "Tin nóng Lý Sơn"))
        _arrive(store, dispatcher, _article("dup-baoqn", "baoqn", _at(10, 9), _at(10, 9, 20), SEA, hostile))
        digest = build_digest(store, settings, DAY, dispatcher=dispatcher)
    subject, text, html = render_digest(digest)
    assert [s.title for s in digest.stories] == [hostile] and [f.title for f in digest.flags] == [hostile]
    assert subject == "[Hải Đăng] Bản tin ngày 11/11/2026: 1 tin (2 bài), 1 tin có cảnh báo"
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Tàu cá &#34;Lý Sơn&#34; &amp;" in html
    assert "Tin nóng Lý Sơn" not in _section(text, "TIN CÓ CẢNH BÁO", "BÁO CHÍ NƯỚC NGOÀI")
