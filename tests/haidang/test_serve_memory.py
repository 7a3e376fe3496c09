"""What one poll of `haidang serve` holds is bounded by its source, not by the age of the store.

The validators table gains a row for every page ever fetched and is never pruned; a poll that
read all of it pickled the whole table into its crawl child and freed it again, so the main
process's memory at each poll grew with every month of service (bench/serve_memory.py
--seed-validators measures it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from crawlers.events import CrawlEvent, SourceFinished
from haidang.service import Service
from haidang.settings import load_settings
from haidang.store import open_store
from haidang.store.base import Validators

OTHER_PAGES = 3000        # pages of other sources already fetched: the table a long run builds


def test_a_poll_hands_its_crawl_only_its_own_sources_validators(demo_config: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(demo_config, environ={})
    polled = next(s for s in settings.sources if s.enabled and s.feeds)
    own = {f"https://{polled.id}.example/bai/{i}.html" for i in range(5)}
    unattached = "https://migrated.example/bai/1.html"     # from before source ids were kept
    store = open_store(settings.app.store)
    try:
        for url in own:
            store.set_validators(Validators(url=url, etag='"own"'), source_id=polled.id)
        for i in range(OTHER_PAGES):
            store.set_validators(Validators(url=f"https://other.example/bai/{i}.html", etag=f'"{i}"'),
                                 source_id=f"other-{i % 7}")
        store.set_validators(Validators(url=unattached, last_modified="Tue, 01 Jul 2025 01:00:00 GMT"))
    finally:
        store.close()

    handed: list[dict[str, Validators]] = []

    def crawl(sources: list[Any], crawl_settings: Any, validators: Mapping[str, Validators],
              paused: Any = None) -> Iterator[CrawlEvent]:
        handed.append(dict(validators))         # what the real crawl pickles into its child
        yield SourceFinished(source_id=sources[0].id)

    monkeypatch.setattr("haidang.service.crawl", crawl)
    service = Service(settings)
    for _ in range(2):
        result = service.run_source(polled.id)
        assert result["source"] == polled.id and result["failed"] == 0
    assert [set(v) for v in handed] == [own | {unattached}] * 2
