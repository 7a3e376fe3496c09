"""Fixtures for the web app: settings with users, a store holding a flagged story, signed links."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from alerts.flag import Flag
from alerts.links import LinkSigner
from crawlers.dedup import assign_story
from haidang.record import Article, Content, Fetched, Match, Span, article_id
from haidang.settings import DEFAULT_CONFIG_DIR, Settings, User, load_settings
from haidang.store import open_store
from haidang.store.base import Store
from haidang.web import create_app
from haidang.web.sessions import hash_password

VN = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 12, 10, 0, tzinfo=VN)            # a Thursday morning
SECRET = "kiem-thu-khoa-ky-duong-dan-0123456789abcdef"
RECIPIENT = "canbo@sotttt.quangngai.example.vn"
PASSWORDS = {"xem": "mat-khau-xem-1", "canbo": "mat-khau-canbo-2", "quantri": "mat-khau-quantri-3",
             "cach": "  mật khẩu có dấu cách  "}     # `users add` keeps spaces: so must the login
HOSTILE = "<script>window.__pwned = 1; alert('x')</script><img src=x onerror=\"window.__pwned=2\">"
_TEXT = ("Nhiều tài khoản mạng xã hội lan truyền tin đập thủy điện ở Quảng Ngãi bị vỡ trong đêm, "
         "người dân hạ du phải sơ tán gấp. Hãy chia sẻ ngay trước khi bị xóa. Nguồn tin giấu tên cho biết "
         "nước đã tràn qua nhiều xã ven sông.")


def build_article(slug: str, *, source: str = "baoquangngai", title: str = "Tin đồn vỡ đập ở Quảng Ngãi",
                  text: str = _TEXT) -> Article:
    url = f"https://{source}.example.vn/{slug}.html"
    start = text.find("Quảng Ngãi")
    return Article(
        id=article_id(url),
        fetched=Fetched(source_id=source, url=url, final_url=url, canonical_url=url, fetched_at=T0),
        content=Content(title=title, text=text, language="vi", published=T0, published_from="meta",
                        first_seen=T0),
        matches=[Match(province_code="51", province="Quảng Ngãi", named=True, aliases=["Quảng Ngãi"],
                       spans=[Span(field="text", start=max(start, 0), end=max(start, 0) + 10)], score=0.9,
                       where=["body"], count=1)],
        relevant=True, province_code="51",
        labels={"topics": [{"id": "thien_tai_dich_benh", "score": 0.8, "evidence": ["vỡ đập"]}],
                "tone": {"label": "negative", "score": 0.7, "evidence": ["sơ tán gấp"], "scope": "province"},
                "risk": {"score": 0.74, "level": "cao", "reasons": [
                    {"signal": "rumour_cue", "evidence": ["nguồn tin giấu tên"], "weight": 1.2},
                    {"signal": "share_appeal", "evidence": ["hãy chia sẻ", "trước khi bị xóa"], "weight": 1.0}]}},
    )


@dataclass
class Clock:
    now: datetime = T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class WebKit:
    settings: Settings
    client: TestClient
    clock: Clock
    signer: LinkSigner
    flag: Flag
    main: Article
    copy: Article
    open: Callable[[], Store]
    links: dict[str, str] = field(default_factory=dict)

    def path(self, action: str) -> str:
        """The path of the recipient's signed link for `action` (as in the email)."""
        return self.links[action].removeprefix(self.signer.base_url)


@functools.cache
def _base_settings() -> Settings:
    """config/ loaded once with four users (argon2 hashing is slow on purpose, so hash once)."""
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": "/nonexistent"})
    users = [User(name="xem", role="viewer", password_hash=hash_password(PASSWORDS["xem"])),
             User(name="canbo", role="officer", password_hash=hash_password(PASSWORDS["canbo"])),
             User(name="quantri", role="administrator", password_hash=hash_password(PASSWORDS["quantri"])),
             User(name="cach", role="viewer", password_hash=hash_password(PASSWORDS["cach"]))]
    return settings.model_copy(update={"users": users})


def web_settings(data_dir: Path) -> Settings:
    """The shared settings with the store in `data_dir`."""
    base = _base_settings()
    store = base.app.store.model_copy(update={"data_dir": str(data_dir)})
    return base.model_copy(update={"app": base.app.model_copy(update={"store": store})})


def seed_store(store: Store, *, title: str = "Tin đồn vỡ đập ở Quảng Ngãi") -> tuple[Article, Article]:
    main = build_article("tin-don", title=title)
    copy = build_article("ban-sao", source="tuoitre", title="Lan truyền tin vỡ đập")
    for article in (main, copy):
        assign_story(article, store)
        store.upsert(article)
    assert main.story_id == copy.story_id
    return main, copy


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[WebKit]:
    settings = web_settings(tmp_path / "data")

    def open_() -> Store:
        return open_store(settings.app.store)

    with open_() as store:   # type: ignore[attr-defined]
        main, copy = seed_store(store, title=f"Tin đồn vỡ đập {HOSTILE} ở Quảng Ngãi")
    clock = Clock()
    app = create_app(settings, open_, SECRET, now=clock)
    signer: LinkSigner = app.state.signer
    flag = Flag(rule="tin_sai_nguy_co_cao", severity="cao", story_id=main.story_id or main.id,
                article_ids=[main.id, copy.id], agencies=["so-ttt"], recipients=[RECIPIENT], immediate=True)
    links = signer.links_for(flag, RECIPIENT, main.id, now=T0)
    with TestClient(app, base_url="http://testserver") as client:
        yield WebKit(settings=settings, client=client, clock=clock, signer=signer, flag=flag, main=main, copy=copy,
                     open=open_, links=links)
