"""Shared by the report tests: a deployment's settings, an article factory, a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from haidang.record import Article, Content, Fetched, Match, article_id
from haidang.settings import Agency, AppSettings, ReportSettings, Settings, Source, StoreSettings
from haidang.store.sqlite import SqliteStore

VN = timezone(timedelta(hours=7))


def _source(sid: str, kind: str, name: str, language: str = "vi", country: str = "VN") -> Source:
    return Source(id=sid, name=name, country=country, language=language, kind=kind)


SOURCES = [
    _source("baoquangngai", "provincial_press", "Báo Quảng Ngãi"),
    _source("quangngai-gov", "government_portal", "Cổng TTĐT tỉnh Quảng Ngãi"),
    _source("baodongthap", "provincial_press", "Báo Đồng Tháp"),
    _source("vnexpress", "national_press", "VnExpress"),
    _source("bbc", "foreign_press", "BBC News", "en", "GB"),
    _source("fb", "platform", "Facebook"),
]
TOPICS = {
    "an_ninh_trat_tu": {"name": "An ninh, trật tự", "seeds": []},
    "du_lich_van_hoa": {"name": "Du lịch, văn hóa", "seeds": []},
    "bien_dao": {"name": "Biển đảo, chủ quyền biển đảo", "seeds": []},
}
AGENCIES = [
    Agency(id="so-ttt", name="Sở Thông tin và Truyền thông", emails=["so-ttt@example.gov.vn"], leads=True),
    Agency(id="cong-an-tinh", name="Công an tỉnh", emails=["ca@example.gov.vn"], topics=["an_ninh_trat_tu"]),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    reports = ReportSettings(own_sources=["baoquangngai", "quangngai-gov"])
    app = AppSettings(store=StoreSettings(data_dir=str(tmp_path / "data")), reports=reports)
    return Settings(config_dir=str(tmp_path), app=app, sources=SOURCES, topics=TOPICS, agencies=AGENCIES)


@pytest.fixture
def make_article() -> Callable[..., Article]:
    def make(slug: str, *, source: str = "baoquangngai", title: str = "", text: str = "",
             when: datetime | None = datetime(2026, 3, 12, 10, 0, tzinfo=VN), topics: tuple[str, ...] = ("an_ninh_trat_tu",),
             tone: str = "neutral", language: str = "vi", story: str | None = None,
             risk: str = "thấp", extra: dict[str, Any] | None = None) -> Article:
        url = f"https://{source}.example.vn/{slug}.html"
        labels: dict[str, Any] = {"topics": [{"id": t, "score": 0.8} for t in topics],
                                  "tone": {"label": tone, "score": 0.7},
                                  "risk": {"score": 0.8 if risk == "cao" else 0.1, "level": risk, "reasons": []}}
        labels.update(extra or {})
        return Article(
            id=article_id(url), fetched=Fetched(source_id=source, url=url, final_url=url, canonical_url=url),
            content=Content(title=title or f"Tin {slug}", text=text or f"Nội dung {slug} ở Quảng Ngãi.",
                            language=language, published=when, first_seen=when),
            matches=[Match(province_code="51", province="Quảng Ngãi", named=True, score=0.9)],
            relevant=True, province_code="51", labels=labels, story_id=story or f"story-{slug}")

    return make


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "h.sqlite3")
    try:
        yield s
    finally:
        s.close()
