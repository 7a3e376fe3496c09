"""A week of daily digests as the monitoring team reads them: every article is counted in exactly
one digest (also one found days after it was published), articles not kept for the province are
not counted, and the weekend is reported once, on Monday (real SQLite store, real SMTP server)."""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime, timedelta
from pathlib import Path

from alerts_testkit import VN, SmtpServer, build_article

from alerts.digest import build_digest, queue_digest, render_digest
from alerts.outbox import deliver_due
from alerts.smtp import SmtpNotifier
from haidang.record import Article
from haidang.settings import Agency, AppSettings, Settings, Source, StoreSettings
from haidang.store.sqlite import SqliteStore

MON = date(2026, 11, 9)


def _settings(tmp_path: Path) -> Settings:
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=[Source(id="baoqn", name="Báo Quảng Ngãi", country="VN", language="vi",
                                    kind="provincial_press"),
                             Source(id="dantri", name="Dân trí", country="VN", language="vi", kind="national_press")],
                    topics={"thien_tai_dich_benh": {"name": "Thiên tai, dịch bệnh", "seeds": []}},
                    agencies=[Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=["ttt@example.vn"],
                                     leads=True)])


class _NoFlags:
    def flags_for(self, article, now=None):
        return []


def _art(slug: str, published: datetime, *, seen: datetime | None = None, source: str = "baoqn",
         relevant: bool = True) -> Article:
    a = build_article(slug, source=source, published=published, title=f"Tin {slug}",
                      labels={"topics": [{"id": "thien_tai_dich_benh", "score": 0.8}],
                              "tone": {"label": "negative", "score": 0.7},
                              "risk": {"score": 0.1, "level": "thấp", "reasons": []}})
    a.content.first_seen = seen or published + timedelta(minutes=5)
    a.story_id = f"story-{slug}"
    a.relevant = relevant
    return a


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


def test_an_article_found_days_late_is_counted_once_in_the_digest_of_the_day_it_was_found(tmp_path: Path):
    articles = [
        _art("dung-gio", _at(10, 9)),                                     # Tue digest of Wed 11/11
        _art("tim-thay-muon", _at(9, 10), seen=_at(11, 8), source="dantri"),  # published Mon, found Wed
        _art("sang-som", _at(11, 6, 30), seen=_at(11, 8)),                # before Wed's 07:00 digest, found after
        _art("tinh-khac", _at(10, 10), relevant=False),                   # kept with store_irrelevant: not counted
    ]
    settings = _settings(tmp_path)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        for a in articles:
            store.upsert(a)
        digests = {d: build_digest(store, settings, date(2026, 11, d), dispatcher=_NoFlags()) for d in (10, 11, 12)}
    assert {d: g.total for d, g in digests.items()} == {10: 0, 11: 1, 12: 2}, "each article in one digest"
    thursday = digests[12]
    assert thursday.found_late == 2 and thursday.previous_total == 1
    assert {r.key: (r.count, r.previous) for r in thursday.by_kind} == {"national_press": (1, 0),
                                                                         "provincial_press": (1, 1)}
    assert {r.key: r.count for r in thursday.by_topic} == {"thien_tai_dich_benh": 2}
    titles = [s.title for s in thursday.stories]
    assert sorted(titles) == ["Tin sang-som", "Tin tim-thay-muon"]
    assert all(o.found_late for s in thursday.stories for o in s.outlets)
    subject, text, html = render_digest(thursday)
    assert "2 tin" in subject
    assert "Tổng số bài: 2 (kỳ trước: 1, +1), thuộc 2 tin; trong đó 2 bài đăng trước kỳ, mới phát hiện trong kỳ" in text
    assert "(đăng trước kỳ, phát hiện trong kỳ)" in text and "mới phát hiện trong kỳ" in html
    assert "Tin tinh-khac" not in text


def test_the_weekend_is_reported_once_on_monday_and_delivered(tmp_path: Path, smtp_server: SmtpServer):
    settings = _settings(tmp_path)
    friday_night, saturday, sunday_late = _at(13, 22), _at(14, 10), _at(15, 23, 45)
    notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=10)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        for a in (_art("fri", friday_night), _art("sat", saturday), _art("sun", sunday_late)):
            store.upsert(a)
        queued = {day: queue_digest(store, settings, day, datetime.combine(day, datetime.min.time(), VN)
                                    + timedelta(hours=7), dispatcher=_NoFlags())
                  for day in (date(2026, 11, 13), date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 16))}
        report = deliver_due(store, notifier, _at(16, 7, 1))
    assert queued == {date(2026, 11, 13): 1, date(2026, 11, 14): 0, date(2026, 11, 15): 0, date(2026, 11, 16): 1}
    assert len(report.sent) == 2
    subjects = [str(email.message_from_bytes(e.original_content, policy=email.policy.default)["Subject"])
                for e in smtp_server.handler.envelopes]
    assert subjects == ["[Hải Đăng] Bản tin ngày 13/11/2026: Không có tin mới",
                        "[Hải Đăng] Bản tin ngày 16/11/2026: 3 tin, 0 tin có cảnh báo"]
