"""What agencies read in flag emails, reminders and the digest: Vietnamese names, never internal ids or
shell commands, one word ("cảnh báo") for a flag, list items capitalised, delivery in plain words.

(REPORT F10, F11; the email for an article without a plan topic: F12.)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from alerts_testkit import T0, VN, build_article, build_flag

from alerts.digest import CountRow, Digest, DigestFlag, render_digest
from alerts.links import LinkSigner
from alerts.render import environment, reader_evidence, render_flag, signal_label, signal_name
from haidang.reports.kit import RebuttalKit
from haidang.wording import SIGNAL_NAMES, rule_name, rule_name_with_id

SECRET = "kiem-thu-khoa-ky-duong-dan-0123456789abcdef"
RULE, DESCRIPTION = "tin-sai-su-that-rui-ro-cao", "Tin có nguy cơ sai sự thật cao về tỉnh"
_SOURCES: Any = {"forum-nguoiquang": SimpleNamespace(name="Diễn đàn Người Quảng", kind="platform"),
                 "foreign-en": SimpleNamespace(name="Asia Review", kind="foreign_press")}
# What nlp.risk stores for a forum post (ids inside the evidence strings, as in the stored record).
_RISK_REASONS = [
    {"signal": "rumour_cue", "evidence": ["…Nghe nói nhóm người lạ…"], "weight": 1.2},
    {"signal": "share_appeal", "evidence": ["…hãy chia sẻ gấp…"], "weight": 1.0},
    {"signal": "source_trust", "weight": 1.0, "evidence": [
        "nguồn: Diễn đàn Người Quảng (forum-nguoiquang), mạng xã hội / nền tảng, độ tin cậy: thấp"]},
    {"signal": "text_not_assessed", "weight": 0.0,
     "evidence": ["ngôn ngữ: en; không áp dụng từ điển và mô hình tiếng Việt"]},
]
_IDS = ("rumour_cue", "share_appeal", "source_trust", "text_not_assessed", "forum-nguoiquang", RULE,
        "haidang explain")


def _rumour() -> tuple[Any, list[Any]]:
    article = build_article("tin-don", source="forum-nguoiquang", labels={
        "topics": [], "tone": {"label": "neutral", "score": 0.5},
        "risk": {"score": 0.96, "level": "cao", "reasons": _RISK_REASONS}})
    flag = build_flag([article], ["ca@example.gov.vn"])
    flag.rule, flag.description, flag.topics = RULE, DESCRIPTION, []
    flag.reasons = [{"condition": "relevant", "evidence": "Quảng Ngãi"},
                    {"condition": "min_risk_level", "evidence": "cao (0,96)"},
                    {"signal": "rumour_cue", "evidence": ["Nghe nói"]}]
    return flag, [article]


def test_a_flag_email_with_links_names_everything_and_points_to_the_web_page() -> None:
    flag, articles = _rumour()
    signer = LinkSigner(SECRET, "https://haidang.quangngai.example.vn")
    links = signer.links_for(flag, "ca@example.gov.vn", articles[0].id, now=T0)
    subject, text, html = render_flag(flag, articles, sources=_SOURCES, links=links)
    for body in (text, html):
        for signal in ("rumour_cue", "share_appeal", "source_trust", "text_not_assessed"):
            assert SIGNAL_NAMES[signal] in body
        assert DESCRIPTION in body
        assert "nguồn: Diễn đàn Người Quảng, mạng xã hội / nền tảng, độ tin cậy: thấp" in body
        assert "ngôn ngữ: tiếng Anh; không áp dụng" in body
        assert "Mỗi đường dẫn mở trang của cảnh báo này trên hệ thống Hải Đăng" in body
        assert "https://haidang.quangngai.example.vn/xu-ly/" in body
        # With a page to open, no reference is needed: neither ids nor commands.
        assert "Mã tin" not in body and "Mã bản ghi" not in body
    # Links carry the ids inside their signed tokens; what the reader reads carries none.
    readable = re.sub(r"https?://\S+?(?=[\s\"<])", "", text + html)
    for token in (*_IDS, articles[0].id):
        assert token not in readable, token
    assert RULE not in subject


def test_without_links_the_email_gives_a_reference_to_quote_not_a_command() -> None:
    flag, articles = _rumour()
    _, text, html = render_flag(flag, articles, sources=_SOURCES)
    assert f"Mã tin (dùng khi trao đổi với bộ phận theo dõi thông tin): {articles[0].id}" in text
    assert f"<code>{articles[0].id}</code>" in html
    for body in (text, html):
        assert "haidang" not in body.replace("Hải Đăng", "") and "Xem giải thích" not in body
        assert "không kèm đường dẫn ghi nhận xử lý" in body


def test_an_article_without_a_topic_says_so_instead_of_listing_other_subjects() -> None:
    flag, articles = _rumour()
    kit = RebuttalKit(article_id=articles[0].id, since=T0 - timedelta(days=90), until=T0, own_sources=["bqn"],
                      no_topic=True)
    _, text, html = render_flag(flag, articles, sources=_SOURCES, kit=kit)
    for body in (text, html):
        assert "Tư liệu phản bác" in body
        assert "chưa xác định được chủ đề của kế hoạch nên không tìm tin cùng chủ đề của tỉnh" in body
        assert "cùng chủ đề trên báo" not in body
    # A foreign-press notice (no risk to rebut) does not get an empty rebuttal section.
    calm = build_article("foreign", source="foreign-en", labels={
        "topics": [], "risk": {"score": 0.13, "level": "thấp", "reasons": []}})
    _, text, _ = render_flag(build_flag([calm], ["x@example.vn"]), [calm], sources=_SOURCES, kit=kit)
    assert "Tư liệu phản bác" not in text


def test_reader_evidence_drops_only_the_outlets_id_and_names_the_language() -> None:
    fact = "nguồn: Asia Review (fixture) (foreign-en), báo chí nước ngoài, độ tin cậy: trung bình"
    assert reader_evidence(fact, "Asia Review (fixture)") == (
        "nguồn: Asia Review (fixture), báo chí nước ngoài, độ tin cậy: trung bình")
    assert reader_evidence(fact, "Tên khác") == fact          # a renamed source: shown as stored
    assert reader_evidence(fact) == fact
    assert reader_evidence("ngôn ngữ: zh-cn; không áp dụng") == "ngôn ngữ: tiếng Trung; không áp dụng"
    assert reader_evidence("ngôn ngữ: xx") == "ngôn ngữ: xx"
    assert reader_evidence("Nghe nói (tin-don), chia sẻ", "Nghe nói") == "Nghe nói (tin-don), chia sẻ"
    assert reader_evidence("a\u202eb") == "ab"                     # bidi controls go, as everywhere


def test_names_for_readers_and_for_analysts() -> None:
    assert signal_label("rumour_cue") == SIGNAL_NAMES["rumour_cue"]
    assert signal_label("new_signal") == "new_signal"               # unknown: shown as stored
    assert signal_name("rumour_cue") == f"{SIGNAL_NAMES['rumour_cue']} (rumour_cue)"   # haidang explain
    assert rule_name(RULE, DESCRIPTION) == DESCRIPTION and rule_name(RULE, None) == RULE
    assert rule_name_with_id(RULE, DESCRIPTION) == f"{DESCRIPTION} ({RULE})"


def test_hostile_evidence_stays_text_in_the_html_email() -> None:
    flag, articles = _rumour()
    articles[0].labels["risk"]["reasons"] = [{"signal": "<i>x</i>", "evidence": ["<script>bad()</script>"]}]
    _, _, html = render_flag(flag, articles, sources=_SOURCES)
    assert "<script>bad()" not in html and "&lt;script&gt;bad()&lt;/script&gt;" in html
    assert "<i>x</i>" not in html and "&lt;i&gt;x&lt;/i&gt;" in html


def _reminder(action_links: list[dict[str, str]], links_missing: str | None = None) -> tuple[str, str, str]:
    env = environment()
    values = {"stage": "reminder", "severity": "khẩn", "rule": RULE, "rule_description": DESCRIPTION,
              "flag": {"rule": RULE, "description": DESCRIPTION}, "title": "Tin đồn", "article_gone": False,
              "url": "https://x.vn/a",
              "record_id": "abc123def456", "original_subject": "[Hải Đăng][khẩn] Nguy cơ tin sai",
              "sent_at": T0, "hours": 24.0, "escalate_after_hours": 48, "escalation_pending": True,
              "lead_name": "Sở Thông tin và Truyền thông", "notified": [{"name": "Công an tỉnh", "address": "ca@x.vn"}],
              "addressee": "", "action_links": action_links, "links_missing": links_missing,
              "subject": {"title": "Tin đồn"}}     # as alerts.escalate passes it (the shortened title)
    return (env.get_template("reminder_subject.txt.j2").render(values),
            env.get_template("reminder.txt.j2").render(values), env.get_template("reminder.html.j2").render(values))


def test_a_reminder_names_the_rule_and_shows_a_reference_only_without_links() -> None:
    _, text, html = _reminder([{"id": "phan_bac", "name": "Đã phản bác", "url": "https://h.vn/xu-ly/t"}])
    for body in (text, html):
        assert DESCRIPTION in body and RULE not in body
        assert "abc123def456" not in body and "Mã bản ghi" not in body and "Mã tin" not in body
        assert "Mỗi đường dẫn mở trang của cảnh báo" in body
    _, text, html = _reminder([], "no_signer")
    assert "Mã tin (dùng khi trao đổi với bộ phận theo dõi thông tin): abc123def456" in text
    assert "abc123def456" in html and RULE not in text + html


def _digest(states: dict[str, int], rules: list[str], labels: list[str], immediate: bool = True) -> Digest:
    day = date(2026, 3, 13)
    start = datetime(2026, 3, 12, 7, tzinfo=VN)
    flag = DigestFlag(story_id="s1", title="Tin đồn vỡ đập", url="https://x.vn/a", severity="khẩn", rules=rules,
                      immediate=immediate, recipients=["a@x.vn"], article_count=2, states=states, rule_labels=labels)
    return Digest(day=day, timezone="Asia/Ho_Chi_Minh", start=start, end=start + timedelta(days=1),
                  previous_start=start - timedelta(days=1), total=4, previous_total=2, story_count=4,
                  by_topic=[CountRow(key="(không rõ)", label="(không rõ)", count=2, previous=1),
                            CountRow(key="du_lich_van_hoa", label="Du lịch, văn hóa", count=2, previous=1)],
                  by_tone=[CountRow(key="positive", label="positive", count=3, previous=1),
                           CountRow(key="(không rõ)", label="(không rõ)", count=1, previous=1)],
                  by_kind=[CountRow(key="provincial_press", label="provincial_press", count=4, previous=2)],
                  flags=[flag], failed=[], foreign=[], stories=[])


def test_digest_lists_start_with_a_capital_and_flags_are_called_canh_bao() -> None:
    subject, text, html = render_digest(_digest({"sent": 2}, [RULE], [DESCRIPTION]))
    assert subject == "[Hải Đăng] Bản tin ngày 13/03/2026: 4 tin, 1 tin có cảnh báo"
    for item in ("- Chưa xác định chủ đề: 2 bài (+1)", "- Du lịch, văn hóa: 2 bài (+1)", "- Tích cực: 3 bài (+2)",
                 "- Không rõ: 1 bài (+0)", "- Báo chí địa phương: 4 bài (+2)", "TIN CÓ CẢNH BÁO (1)"):
        assert item in text, item
    for cell in (">Chưa xác định chủ đề<", ">Tích cực<", ">Báo chí địa phương<", "Tin có cảnh báo (1)"):
        assert cell in html, cell
    for body in (subject, text, html):
        assert "gắn cờ" not in body and "cờ báo" not in body.lower() and "câu chuyện" not in body
        assert RULE not in body
    assert f"Quy tắc: {DESCRIPTION} · 2 bài · Trạng thái: đã gửi 2 thư" in text
    assert "Trạng thái: đã gửi 2 thư" in html and "đã gửi:" not in text + html


def test_digest_delivery_reads_as_a_sentence_whatever_the_states() -> None:
    labels = [DESCRIPTION, "tin-tieu-cuc"]
    _, text, html = render_digest(_digest({"failed": 1, "sent": 2, "pending": 3}, [RULE, "tin-tieu-cuc"], labels))
    line = "Trạng thái: đã gửi 2 thư, 3 thư đang chờ gửi, 1 thư gửi lỗi"
    assert line in text and line in html
    assert f"Quy tắc: {DESCRIPTION}; tin-tieu-cuc ·" in text       # a rule without description: its name
    _, text, _ = render_digest(_digest({}, [RULE], [], immediate=False))
    assert f"Quy tắc: {RULE} · 2 bài · Trạng thái: chỉ đưa vào bản tin" in text   # no label: the name
    _, text, _ = render_digest(_digest({}, [RULE], [DESCRIPTION]))
    assert "Trạng thái: chưa đưa vào hàng đợi gửi" in text
