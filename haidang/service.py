"""Builds the components from settings and runs one collection pass (`haidang run`) or a source check.

The scheduler that repeats passes arrives with the alert issue; it will call `run_once` too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from alerts.dispatch import AlertDispatcher
from crawlers.events import CrawlFailure, FetchedDoc, Skipped
from crawlers.runner import crawl
from haidang.pipeline import Pipeline, SourceTally
from haidang.settings import Settings, Source
from haidang.store import open_store
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher

if TYPE_CHECKING:
    from nlp.enrich import Enricher

__all__ = ["SourceCheck", "check_sources", "enrich_stored", "load_enricher", "run_once"]


def load_enricher(settings: Settings) -> Enricher:
    """The models, loaded once per process; the topic seed phrases come from config/topics.yaml."""
    from nlp.enrich import Enricher

    return Enricher.load(settings.topic_seeds())


def enrich_stored(settings: Settings, only_missing: bool = False) -> tuple[int, int]:
    """Recompute the labels of stored articles (after a model update); returns (seen, changed)."""
    enricher = load_enricher(settings)
    sources = {s.id: s for s in settings.sources}
    store = open_store(settings.app.store)
    seen = changed = 0
    try:
        for article in store.iter_articles():
            seen += 1
            if only_missing and article.labels:
                continue
            before = article.labels
            article = enricher.enrich(article, sources.get(article.fetched.source_id), store)
            if article.labels != before and store.set_labels(article.id, article.labels):
                changed += 1
    finally:
        store.close()
    return seen, changed


def run_once(settings: Settings, sources: list[Source], console: Console | None = None) -> dict[str, SourceTally]:
    """One pass over `sources`: crawl, run every document through the pipeline, record the run."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    gazetteer = Gazetteer.load(landmarks=settings.landmarks)
    matcher = ProvinceMatcher(gazetteer, keep_threshold=settings.app.match.keep_threshold)
    target = gazetteer.resolve_province(settings.app.province)
    store = open_store(settings.app.store)
    try:
        dispatcher = AlertDispatcher(settings, store) if settings.alert_rules else None
        if dispatcher is not None:
            dispatcher.catch_up(store)
        pipeline = Pipeline(store, matcher, target, sources, settings.app.match, settings.app.timezone,
                            enricher=load_enricher(settings),
                            on_stored=dispatcher.on_stored if dispatcher is not None else None)
        validators = store.get_validators()
        events = crawl(sources, settings.app.crawl, validators)
        if console is None:
            tallies = pipeline.run(events)
            _deliver(settings, dispatcher)
            return tallies
        with Progress(SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(),
                      TextColumn("{task.fields[summary]}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            tasks = {s.id: progress.add_task(s.id, total=None, summary="") for s in sources}

            def _show(source_id: str, tally: SourceTally) -> None:
                task = tasks.get(source_id)
                if task is None:
                    return
                progress.update(task, summary=f"{tally.fetched} fetched, {tally.new} new, {tally.errors} errors")
                if tally.finished:
                    progress.update(task, total=1, completed=1)

            tallies = pipeline.run(events, on_event=_show)
            for task in tasks.values():
                progress.update(task, total=1, completed=1)
        _deliver(settings, dispatcher)
        return tallies
    finally:
        store.close()


def _deliver(settings: Settings, dispatcher: AlertDispatcher | None) -> None:
    if dispatcher is not None:
        from alerts.dispatch import make_notifier
        dispatcher.deliver(make_notifier(settings))


@dataclass
class SourceCheck:
    source_id: str
    reachable: str
    robots: str
    sample: str


def check_sources(settings: Settings, sources: Iterable[Source]) -> list[SourceCheck]:
    """Fetch each source's first feed or start page once: reachable? robots verdict? one sample item."""
    crawl_settings = settings.app.crawl.model_copy(update={"max_pages_per_source": 1})
    results = []
    for source in sources:
        probe = source.model_copy(update={"follow_links": False, "feeds": source.feeds[:1]})
        reachable, robots, sample = "no", "allowed", "-"
        for event in crawl([probe], crawl_settings, {}):
            if isinstance(event, FetchedDoc):
                reachable = "yes"
                sample = (event.entry.title if event.entry else event.url) or event.url
            elif isinstance(event, Skipped) and event.reason == "robots":
                robots = "disallowed"
            elif isinstance(event, CrawlFailure):
                if event.stage == "robots":
                    robots = "disallowed"
                elif reachable != "yes":
                    reachable = f"no ({event.error_class}: {event.message[:60]})"
        results.append(SourceCheck(source.id, reachable, robots, sample[:100]))
    return results
