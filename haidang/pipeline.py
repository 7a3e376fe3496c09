"""Runs the stages for each fetched document (decode → extract → match → enrich → dedup → store) and counts outcomes.

It does no parsing, matching or SQL itself: each stage lives in its own module and fills its own
part of the Article. One bad item is recorded as a failure and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from crawlers.decode import decode_document
from crawlers.dedup import assign_story
from crawlers.events import (
    CrawlFailure,
    FetchedDoc,
    HostPaused,
    NotModified,
    Skipped,
    SourceFinished,
    ValidatorUpdate,
)
from crawlers.extract import extract_article
from crawlers.pauses import keep_pause
from haidang.errors import HaidangError
from haidang.record import Article, Fetched
from haidang.settings import MatchSettings, Source
from haidang.store.base import FailureRecord, SourceRun, Store, Validators
from nlp.match import ProvinceMatcher, match_article

if TYPE_CHECKING:
    from nlp.enrich import Enricher

__all__ = ["Outcome", "Pipeline", "SourceTally"]

log = logging.getLogger(__name__)

Outcome = Literal["new", "updated", "unchanged", "not-modified", "skipped", "error"]

_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")


class OnStored(Protocol):
    """The alert chain's hook: sees each newly stored article with the response body as fetched
    (kept as evidence when the article is flagged); returns how many messages it queued."""

    def __call__(self, article: Article, *, body: bytes | None = None) -> int: ...


@dataclass
class SourceTally:
    """Counts for one source in one run; becomes a SourceRun record."""

    source_id: str
    started_at: datetime
    fetched: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    syndicated: int = 0
    flagged: int = 0                     # alert messages queued
    skipped: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    last_error: str | None = None
    finished: bool = False
    # Not crawled in this run: every host its configured URLs name asked (Retry-After) to wait until then.
    paused_until: datetime | None = None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_run(self) -> SourceRun:
        return SourceRun(
            source_id=self.source_id, started_at=self.started_at, finished_at=_now(),
            fetched=self.fetched, new=self.new, updated=self.updated, duplicates=self.duplicates,
            skipped=dict(self.skipped), errors=self.errors, last_error=self.last_error,
        )


class Pipeline:
    """Turns crawl events into stored Articles for one deployment province."""

    def __init__(self, store: Store, matcher: ProvinceMatcher, target_code: str,
                 sources: Iterable[Source], match: MatchSettings, tz: str = "Asia/Ho_Chi_Minh",
                 enricher: Enricher | None = None, on_stored: OnStored | None = None):
        self._store = store
        self._enricher = enricher
        self._on_stored = on_stored     # the alert chain; it sees each article as it is stored
        self._matcher = matcher
        self._target = target_code
        self._sources = {s.id: s for s in sources}
        self._match = match
        self._tz = tz
        # Configured entry points (feeds, sitemaps, start pages) -> source id.
        self._entry_owner = {url: s.id for s in self._sources.values()
                             for url in [*s.feeds, *(s.crawl.sitemaps + s.crawl.start_urls if s.crawl else [])]}

    def run(self, events: Iterable[object],
            on_event: Callable[[str, SourceTally], None] | None = None,
            paused: Mapping[str, datetime] | None = None) -> dict[str, SourceTally]:
        """Consume one crawl's events; store articles; record runs, failures, validators and the
        hosts that asked to wait (HostPaused, kept for the next runs).

        Validators are written when the source has finished, and only for URLs whose content
        reached the store; a feed's only when none of its items failed or was left by the page
        cap or a paused host: a feed answered "not modified" next time would otherwise hide a page
        never stored. `paused` ({source id: until}) names the sources left out of this crawl because
        their hosts asked to wait: their tallies say so, and no run is recorded for them (nothing was
        tried, so their last success and last error stay as they were).
        """
        tallies = {sid: SourceTally(sid, _now()) for sid in self._sources}
        for sid, until in (paused or {}).items():
            tally = tallies.setdefault(sid, SourceTally(sid, _now()))
            tally.paused_until, tally.finished = until, True
        pending: dict[str, list[Validators]] = {}
        url_source: dict[str, str] = {}     # URLs seen this run -> source, for ValidatorUpdate
        failed: set[str] = set()            # URLs whose document did not reach the store
        kept_pauses: dict[str, datetime] = {}   # host -> until, of the pauses stored in this run
        for event in events:
            if isinstance(event, ValidatorUpdate):
                owner = url_source.pop(event.url, None) or self._entry_owner.get(event.url)
                if owner is not None and event.url not in failed:
                    pending.setdefault(owner, []).append(
                        Validators(url=event.url, etag=event.etag, last_modified=event.last_modified))
                continue
            sid = event.source_id  # type: ignore[attr-defined]
            tally = tallies.setdefault(sid, SourceTally(sid, _now()))
            url = getattr(event, "url", None)
            if url:
                url_source[url] = sid
            if isinstance(event, FetchedDoc):
                tally.fetched += 1
                if self.process(event, tally) == "error":
                    failed.add(event.url)
            elif isinstance(event, NotModified):
                tally.duplicates += 1
            elif isinstance(event, Skipped):
                tally.skip(event.reason)
            elif isinstance(event, CrawlFailure):
                failed.add(event.url)
                self._fail(tally, event.url, event.stage, event.error_class, event.message)
            elif isinstance(event, HostPaused):
                if event.until > kept_pauses.get(event.host, event.at):   # once per answer, not per page it stopped
                    kept_pauses[event.host] = event.until
                    keep_pause(self._store, event)
            elif isinstance(event, SourceFinished):
                self._finish(tally, pending.pop(tally.source_id, []))
            if on_event is not None:
                on_event(tally.source_id, tally)
        for tally in tallies.values():
            if not tally.finished:
                self._finish(tally, pending.pop(tally.source_id, []))
        return tallies

    def process(self, doc: FetchedDoc, tally: SourceTally) -> Outcome:
        """One document through every stage; failures are recorded, never raised."""
        stage = "decode"
        try:
            source = self._sources.get(doc.source_id)
            if source is None:
                raise HaidangError(f"document from unknown source {doc.source_id!r}")
            article = self._to_article(doc)
            if article is None:
                tally.skip("not-html")
                return "skipped"
            stage = "extract"
            article = extract_article(article, source.selectors, timezone=self._tz)
            stage = "match"
            article = match_article(article, self._matcher, self._target)
            if not article.relevant and not self._match.store_irrelevant:
                tally.skip("not-relevant")
                return "skipped"
            if self._enricher is not None:
                stage = "enrich"
                article = self._enricher.enrich(article, source, self._store)
            stage = "dedup"
            article = assign_story(article, self._store)
            stage = "store"
            outcome = self._store.upsert(article)
        except Exception as exc:  # noqa: BLE001 - one bad item never stops a run; it is recorded
            log.warning("%s %s failed at %s: %s", doc.source_id, doc.url, stage, exc)
            self._fail(tally, doc.url, stage, type(exc).__name__, str(exc))
            return "error"
        if outcome in ("new", "updated") and self._on_stored is not None:
            try:
                tally.flagged += self._on_stored(article, body=doc.body)
            except Exception as exc:  # noqa: BLE001 - the article is stored; the next run's catch-up re-queues
                log.warning("alert rules failed for %s: %s", doc.url, exc)
                self._fail(tally, doc.url, "alert", type(exc).__name__, str(exc))
        if outcome == "new":
            tally.new += 1
            if article.story_id and article.story_id != article.id:
                tally.syndicated += 1
        elif outcome == "updated":
            tally.updated += 1
        else:
            tally.duplicates += 1
        return outcome

    def _to_article(self, doc: FetchedDoc) -> Article | None:
        entry = doc.entry
        fetched = Fetched(
            source_id=doc.source_id, url=doc.url, final_url=doc.final_url or doc.url,
            status=doc.status, fetched_at=doc.fetched_at, feed_url=doc.feed_url,
        )
        if entry is not None:
            fetched.feed_title = entry.title
            fetched.feed_summary = entry.summary
            fetched.feed_published = entry.published
            fetched.feed_author = entry.author
            fetched.feed_comments = entry.comments
        if doc.body is not None:
            ctype = doc.headers.get("content-type")
            if ctype and not ctype.split(";")[0].strip().lower().startswith(_HTML_TYPES):
                return None
            decoded = decode_document(doc.body, ctype)
            fetched.html = decoded.text
            fetched.encoding = decoded.encoding
            fetched.encoding_from = decoded.source
            fetched.content_type = ctype
            fetched.etag = doc.headers.get("etag")
            fetched.last_modified = doc.headers.get("last-modified")
            fetched.body_sha256 = hashlib.sha256(doc.body).hexdigest()
        article = Article(fetched=fetched)
        article.content.first_seen = doc.fetched_at
        return article

    def _fail(self, tally: SourceTally, url: str, stage: str, error_class: str, message: str) -> None:
        tally.errors += 1
        tally.last_error = f"{stage}: {error_class}: {message}"[:500]
        try:
            self._store.record_failure(FailureRecord(
                source_id=tally.source_id, url=url, stage=stage, error_class=error_class,
                message=message[:2000], at=_now()))
        except Exception as exc:  # noqa: BLE001 - the run goes on even if the failure log cannot be written
            # One line, not a traceback per item: a full disk fails every item in turn.
            log.warning("could not record the failure of %s: %s: %s", url, type(exc).__name__, exc)

    def _finish(self, tally: SourceTally, validators: list[Validators]) -> None:
        if tally.finished:
            return
        tally.finished = True
        # An entry point answered "not modified" next time would hide the items that failed now,
        # or that the page cap or a paused host left for a later run.
        incomplete = tally.errors or tally.skipped.get("page-cap") or tally.skipped.get("retry-after")
        for v in validators:
            if incomplete and v.url in self._entry_owner:
                continue
            self._store.set_validators(v, tally.source_id)
        if tally.source_id in self._sources:
            self._store.record_run(tally.to_run())


def _now() -> datetime:
    return datetime.now(UTC)
