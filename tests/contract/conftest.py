"""The `store` fixture for the contract suite, one parameter per backend, and Article builders.

SQLite always runs, on a fresh file in tmp_path. Elasticsearch runs only when ELASTICSEARCH_URL
is set; otherwise its cases are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest

from haidang.record import Article, Content, Fetched, Match, Span, article_id
from haidang.settings import StoreSettings
from haidang.store import SQLITE_FILE_NAME, open_store
from haidang.store.base import Store

VN = timezone(timedelta(hours=7))
T0 = datetime(2025, 7, 1, 8, 0, tzinfo=VN)


class MakeArticle(Protocol):
    def __call__(self, slug: str, title: str, text: str = "", **kw: Any) -> Article: ...


def build_article(slug: str, title: str, text: str = "", *, source: str = "baoquangngai",
                  published: datetime | None = None, first_seen: datetime | None = T0,
                  province: str | None = None, lang: str | None = "vi", relevant: bool = False,
                  matches: list[Match] | None = None, content_hash: str | None = None,
                  story_id: str | None = None) -> Article:
    """A stored-shape Article whose canonical URL (and so id) comes from `slug`."""
    url = f"https://{source}.example.vn/{slug}.html"
    return Article(
        id=article_id(url),
        fetched=Fetched(source_id=source, url=url, final_url=url, canonical_url=url,
                        fetched_at=first_seen, etag='"e1"'),
        content=Content(title=title, text=text or title, language=lang, published=published,
                        published_from="meta" if published else None, first_seen=first_seen,
                        content_hash=content_hash),
        matches=matches or [],
        relevant=relevant,
        province_code=province,
        story_id=story_id,
    )


def province_match(code: str, name: str, start: int, end: int) -> Match:
    return Match(province_code=code, province=name, named=True, aliases=[name],
                 spans=[Span(field="text", start=start, end=end)], score=0.9, where=["body"], count=1)


@pytest.fixture
def make_article() -> Callable[..., Article]:
    return build_article


def _sqlite(tmp_path: Path) -> Store:
    return open_store(StoreSettings(backend="sqlite", data_dir=str(tmp_path / "data")))


def _elasticsearch(tmp_path: Path, prefix: str | None = None) -> Store:
    """A store on ELASTICSEARCH_URL under its own index prefix, so tests never see each other's data."""
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        pytest.skip("ELASTICSEARCH_URL is not set: the Elasticsearch half of the contract suite needs a cluster")
    prefix = prefix or f"hdtest-{uuid.uuid4().hex[:12]}"
    return open_store(StoreSettings(backend="elasticsearch", elasticsearch_url=url, elasticsearch_prefix=prefix,
                                    data_dir=str(tmp_path / "data")))


def _drop(store: Store) -> None:
    """Delete an Elasticsearch store's indices after a test (the cluster outlives the test)."""
    delete_all = getattr(store, "delete_all", None)
    if delete_all is not None:
        delete_all()


@pytest.fixture(params=[
    pytest.param("sqlite"),
    pytest.param("elasticsearch", marks=pytest.mark.elasticsearch),
])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    opened = _sqlite(tmp_path) if backend == "sqlite" else _elasticsearch(tmp_path)
    yield opened
    if backend == "elasticsearch":
        _drop(opened)
    opened.close()


@pytest.fixture
def backup_target(backend: str, tmp_path: Path) -> str:
    """Where `Store.backup` should write in this backend's terms."""
    if backend == "sqlite":
        return str(tmp_path / "copy" / SQLITE_FILE_NAME)
    return f"hdcopy-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def open_backup(backend: str) -> Callable[[str], Store]:
    """Opens what `Store.backup(target)` wrote, as a store of the same backend."""
    def _open(target: str) -> Store:
        if backend == "sqlite":
            return open_store(StoreSettings(backend="sqlite", data_dir=str(Path(target).parent)))
        # ElasticStore.backup copies into indices under the prefix `target`; the copy is dropped
        # again when the test closes it.
        copy = _elasticsearch(Path(target), prefix=target)
        close = copy.close

        def close_and_drop() -> None:
            _drop(copy)
            close()

        copy.close = close_and_drop  # type: ignore[method-assign]
        return copy
    return _open
