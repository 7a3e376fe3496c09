"""Reminder and escalation Subjects keep within SUBJECT_CHARS as a flag's do, however long the
article title (or, with the article gone, the title the flag's own Subject quoted): the words saying
what the email is stay whole, the title is cut with "…". Real SQLite; fixed times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alerts_testkit import build_article

from alerts.escalate import escalate_due
from alerts.flag import flag_key, follow_up_of
from haidang.settings import Agency, AlertRule, AppSettings, EscalationSettings, Settings, StoreSettings
from haidang.store.base import OutboxMessage, Store
from haidang.store.sqlite import SqliteStore

SUBJECT_CHARS = 130          # alerts.render.SUBJECT_CHARS, pinned here so a change is a decision
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)          # 08:00 in Quảng Ngãi, a Monday
POLICE, LEAD = "cong-an@example.gov.vn", "so-ttt@example.gov.vn"
RULE = "tin-tieu-cuc-ve-tinh"
HEADLINE = "Tin đồn vỡ đập thủy điện Nước Trong, hàng nghìn hộ dân huyện Sơn Tây phải sơ tán trong đêm"   # 88
# A flag Subject from before flag Subjects were capped: a 49-character outlet name and a real topic.
OLD_FLAG_SUBJECT = ("[Hải Đăng][trung bình] Tin tiêu cực về tỉnh — «Tin đồn vỡ đập thủy điện Nước Trong, hàng nghìn hộ "
                    "dân…» — Thiên tai, dịch bệnh, sự cố môi trường — Trang thông tin điện tử tổng hợp Tin Nhanh 24 giờ "
                    "(+2 nguồn khác)")
# Late enough (13 days) for three-digit hours, within look_back_days.
LATE = T0 + timedelta(days=13)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = SqliteStore(tmp_path / "h.sqlite3")
    yield opened
    opened.close()


def _settings(tmp_path: Path) -> Settings:
    agencies = [Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=[LEAD], leads=True),
                Agency(id="cong-an-tinh", name="Công an tỉnh", emails=[POLICE])]
    # "trung bình", the longest severity, so the fixed words are as long as they get.
    rules = [AlertRule(name=RULE, description="Tin tiêu cực về tỉnh", relevant=True, min_risk_level="cao",
                       severity="trung bình", recipients=["cong-an-tinh"], immediate=True)]
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=[], agencies=agencies, alert_rules=rules, escalation=EscalationSettings())


def _sent_flag(store: Store, story_id: str, subject: str) -> None:
    key = flag_key(RULE, story_id, POLICE)
    assert store.enqueue(OutboxMessage(key=key, flag_rule=RULE, story_id=story_id, recipient=POLICE,
                                       message_id=f"<{key}@haidang.local>", subject=subject, text="-", html="-",
                                       created_at=T0))
    store.mark_sent(key, T0)


def _subjects(store: Store, settings: Settings) -> dict[str, str]:
    report = escalate_due(store, settings, LATE)
    assert len(report.reminded) == 1 and len(report.escalated) == 1
    return {str(follow_up_of(m)): m.subject for m in store.outbox() if follow_up_of(m)}


@pytest.mark.parametrize("title", [HEADLINE, HEADLINE * 4, "Đ" * 500],
                         ids=["headline", "four-headlines", "one-word"])
def test_a_long_title_is_cut_and_the_fixed_words_kept(tmp_path: Path, store: Store, title: str) -> None:
    article = build_article("tin-don", title=title)
    article.story_id = article.id
    store.upsert(article)
    _sent_flag(store, article.id, "[Hải Đăng][trung bình] Tin tiêu cực về tỉnh")
    subjects = _subjects(store, _settings(tmp_path))
    assert subjects["reminder"].startswith(
        "[Hải Đăng][Nhắc lại][trung bình] Cảnh báo chưa có phương án xử lý sau 312 giờ — Tin đồn"
        if title != "Đ" * 500 else "[Hải Đăng][Nhắc lại][trung bình] Cảnh báo chưa có phương án xử lý sau 312 giờ — ĐĐ")
    assert subjects["escalation"].startswith(
        "[Hải Đăng][Cần chỉ đạo xử lý][trung bình] Cảnh báo chưa có phương án xử lý sau 312 giờ — ")
    for subject in subjects.values():
        assert len(subject) <= SUBJECT_CHARS, (len(subject), subject)
        assert subject.endswith("…") and "\n" not in subject
    # As much of the title as fits, cut at a word: the escalation's longer fixed words leave it less.
    for subject in subjects.values():
        kept = subject.split(" giờ — ", 1)[1].removesuffix("…")
        assert title.startswith(kept) and len(subject) >= SUBJECT_CHARS - 15, subject


def test_a_short_title_is_whole(tmp_path: Path, store: Store) -> None:
    article = build_article("tin-ngan", title="Sạt lở ở Sơn Tây")
    article.story_id = article.id
    store.upsert(article)
    _sent_flag(store, article.id, "[Hải Đăng][trung bình] Tin tiêu cực về tỉnh")
    subjects = _subjects(store, _settings(tmp_path))
    assert subjects["reminder"] == ("[Hải Đăng][Nhắc lại][trung bình] Cảnh báo chưa có phương án xử lý sau 312 giờ — "
                                    "Sạt lở ở Sơn Tây")


def test_an_old_flag_subject_with_long_outlet_and_topic_names_is_cut(tmp_path: Path, store: Store) -> None:
    """The article is no longer stored: the reminder names the title the flag's own Subject quoted
    (from before flag Subjects were capped), not that whole Subject with its tags, outlet and topic,
    and still keeps within the cap."""
    assert len(OLD_FLAG_SUBJECT) > 165
    _sent_flag(store, "story-gone", OLD_FLAG_SUBJECT)
    subjects = _subjects(store, _settings(tmp_path))
    for stage, subject in subjects.items():
        assert len(subject) <= SUBJECT_CHARS, (len(subject), subject)
        assert subject.endswith("…"), subject
        words = "[Cần chỉ đạo xử lý]" if stage == "escalation" else "[Nhắc lại]"
        assert subject.startswith(f"[Hải Đăng]{words}[trung bình] Cảnh báo chưa có phương án xử lý sau 312 giờ — "
                                  "Tin đồn vỡ đập thủy điện Nước Trong"), subject
        assert subject.count("[Hải Đăng]") == 1 and "«" not in subject
    # The email itself still quotes the flag's Subject whole, to find it by.
    reminder = next(m for m in store.outbox() if follow_up_of(m) == "reminder")
    assert OLD_FLAG_SUBJECT in reminder.text


@pytest.mark.parametrize(("flag_subject", "named"), [
    ("[Hải Đăng][trung bình] Tin tiêu cực về tỉnh — «Sạt lở ở «Sơn Tây» sau mưa» — Báo Quảng Ngãi",
     "Sạt lở ở «Sơn Tây» sau mưa"),
    ("[Hải Đăng][trung bình] Tin tiêu cực về tỉnh", "Tin tiêu cực về tỉnh"),       # no title quoted: tags dropped
], ids=["quoted-title", "no-title"])
def test_a_gone_article_is_named_by_its_flag_subject(tmp_path: Path, store: Store, flag_subject: str,
                                                    named: str) -> None:
    _sent_flag(store, "story-gone", flag_subject)
    subjects = _subjects(store, _settings(tmp_path))
    assert subjects["reminder"] == f"[Hải Đăng][Nhắc lại][trung bình] Cảnh báo chưa có phương án xử lý sau 312 giờ — {named}"
