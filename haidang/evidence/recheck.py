"""Re-checks the pages of flagged articles after a takedown or correction was requested, on a schedule,
and records whether each page changed, disappeared or stayed the same.

Pages are fetched through the crawler (`crawlers.runner.crawl`, a Scrapy child process), so
robots.txt, throttling, the size cap and the private-address guard apply as for any crawl.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawlers.decode import decode_document
from crawlers.events import CrawlEvent, CrawlFailure, FetchedDoc, HostPaused, NotModified, Skipped
from crawlers.extract import extract_article
from crawlers.pauses import keep_pause
from haidang.evidence.capture import SYSTEM_ACTOR, evidence_text, text_sha256
from haidang.record import Article, Fetched
from haidang.settings import RecheckSettings, Selectors, SiteCrawl, Source
from haidang.store.base import AuditEntry, Evidence, EvidenceOutcome, Store

if TYPE_CHECKING:
    from haidang.settings import Settings

__all__ = [
    "GONE_STATUSES",
    "RECHECK_ACTIONS",
    "RecheckReport",
    "RecheckTarget",
    "due_rechecks",
    "judge",
    "recheck_due",
]

_log = logging.getLogger(__name__)

RECHECK_ACTIONS = frozenset({"de_nghi_go_bo", "de_nghi_cai_chinh"})   # takedown, correction requested
# 451: unavailable for legal reasons, which is what a takedown usually ends in.
GONE_STATUSES = frozenset({404, 410, 451})
_HTTP_STATUS_RE = re.compile(r"^HTTP (\d{3}) ")   # crawlers.middlewares.failure_events' wording
_FIRST_PAGE = ("first copy of the page: the flag was raised on its feed entry (source follow_links: false), "
               "so no earlier page was kept to compare it with")


@dataclass(kw_only=True, slots=True)
class RecheckTarget:
    """One page due for a re-check, and what it is compared with."""

    article_id: str
    story_id: str | None
    source_id: str
    url: str
    baseline_sha256: str                 # text_sha256 of the last kept text
    requested_at: datetime               # the first takedown/correction request
    # False for a feed-only item (flagged on its feed entry) whose page no check has kept yet:
    # its first fetch is the first copy of the page, not a change from the feed's summary.
    page_kept: bool = True


@dataclass(slots=True)
class RecheckReport:
    """What one `recheck_due` pass found: article id -> outcome."""

    outcomes: dict[str, EvidenceOutcome] = field(default_factory=dict)

    def count(self, outcome: EvidenceOutcome) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def due_rechecks(store: Store, settings: RecheckSettings, now: datetime) -> list[RecheckTarget]:
    """Pages whose last re-check is `every_hours` old (or that have none yet), for articles with a
    takedown or correction request made less than `for_days` ago; a page found gone is done."""
    window = timedelta(days=settings.for_days)
    requests: dict[str, list[datetime]] = {}
    for action in store.actions(since=now - window, until=now + timedelta(microseconds=1)):
        if action.action in RECHECK_ACTIONS:
            requests.setdefault(action.article_id, []).append(action.at)
    targets = []
    for article_id, times in sorted(requests.items()):
        kept = store.evidence(article_id)
        checks = [e for e in kept if e.kind == "recheck"]
        if any(e.outcome == "gone" for e in checks):
            continue
        if checks and now - max(e.fetched_at for e in checks) < timedelta(hours=settings.every_hours):
            continue
        article = store.get(article_id)
        if article is None:
            _log.warning("takedown/correction requested for article %s, which is not in the store", article_id)
            continue
        texts = [e.text for e in kept if e.text]
        baseline = texts[-1] if texts else evidence_text(article.content)
        page_kept = bool(article.fetched.html or article.fetched.body_sha256) or any(e.html for e in checks)
        targets.append(RecheckTarget(
            article_id=article_id, story_id=article.story_id, source_id=article.fetched.source_id,
            url=article.fetched.final_url or article.fetched.url, baseline_sha256=text_sha256(baseline),
            requested_at=min(times), page_kept=page_kept))
    return targets


def recheck_due(store: Store, settings: Settings, now: datetime) -> RecheckReport:
    """Fetch every page due for a re-check once, and record the outcome of each as evidence (kind
    "recheck") and in the audit log. The scheduler calls this every few hours; a disabled
    `recheck:` section does nothing."""
    report = RecheckReport()
    if not settings.app.recheck.enabled:
        return report
    targets = due_rechecks(store, settings.app.recheck, now)
    if not targets:
        return report
    sources = {s.id: s for s in settings.sources}
    results: dict[str, CrawlEvent] = {}
    web = [t for t in targets if _is_web(t.url)]
    if web:
        from crawlers.runner import crawl  # starts Scrapy in a child process; imported only when needed

        probes = _probe_sources(web, sources)
        # A host that asked to wait (Retry-After) is not asked: its pages are "unreachable" this time.
        paused = {p.host: p.until for p in store.host_pauses(now)}
        events = _keeping_pauses(crawl(probes, settings.app.crawl, {}, paused), store)
        results = dict(_results(events, {t.url for t in web}))
    for target in targets:
        source = sources.get(target.source_id)
        evidence = judge(target, results.get(target.url), source, now=now, timezone=settings.app.timezone)
        _record(store, target, evidence, now)
        report.outcomes[target.article_id] = evidence.outcome or "unreachable"
    return report


def judge(target: RecheckTarget, event: CrawlEvent | None, source: Source | None, *, now: datetime,
          timezone: str = "Asia/Ho_Chi_Minh") -> Evidence:
    """The evidence record for what one re-check fetch gave.

    The extracted text is compared, not the bytes: news pages change their bytes on every load
    (ads, counters, tokens). The page is kept only when its text changed; an unchanged one keeps
    the hash of the bytes and the time. `fetched_at` is the time of the pass (`now`), which the
    schedule counts from; the fetch itself happens within that pass, seconds later.

    A feed-only item's first page fetched is kept as "captured": there is no earlier page to
    compare it with, and its text differs from the feed's summary without anything having changed.
    """
    base = {"article_id": target.article_id, "url": target.url, "kind": "recheck"}
    empty = hashlib.sha256(b"").hexdigest()
    if not _is_web(target.url):
        return Evidence(**base, fetched_at=now, sha256=empty, outcome="unreachable",  # type: ignore[arg-type]
                        note=f"cannot be re-checked: the item's link {target.url!r} is not a web (http/https) "
                             "address; only the kept feed entry shows what was published")
    if isinstance(event, FetchedDoc) and event.body is not None:
        text, problem = _extract(event, source, timezone)
        digest = hashlib.sha256(event.body).hexdigest()
        notes = [problem] if problem else []
        if event.final_url and event.final_url != event.url:
            notes.append(f"redirected to {event.final_url}")
        if not target.page_kept:
            notes.insert(0, _FIRST_PAGE)
        changed = not target.page_kept or text_sha256(text) != target.baseline_sha256
        outcome: EvidenceOutcome = "captured" if not target.page_kept else "changed" if changed else "unchanged"
        return Evidence(**base, fetched_at=now, sha256=digest,  # type: ignore[arg-type]
                        html=event.body if changed else b"", text=text if changed else "",
                        status_code=event.status, outcome=outcome,
                        content_type=event.headers.get("content-type"), note="; ".join(notes) or None)
    if isinstance(event, NotModified):      # no validators are sent, but a broken cache may answer 304
        return Evidence(**base, fetched_at=now, sha256=empty, status_code=304, outcome="unchanged",  # type: ignore[arg-type]
                        note="the server answered 304 not modified")
    if isinstance(event, CrawlFailure):
        match = _HTTP_STATUS_RE.match(event.message)
        status = int(match.group(1)) if match else None
        outcome = "gone" if status in GONE_STATUSES else "unreachable"
        return Evidence(**base, fetched_at=now, sha256=empty, status_code=status, outcome=outcome,  # type: ignore[arg-type]
                        note=f"{event.error_class}: {event.message}"[:500])
    if isinstance(event, Skipped):
        return Evidence(**base, fetched_at=now, sha256=empty, outcome="unreachable",  # type: ignore[arg-type]
                        note=f"not fetched: {event.reason}")
    return Evidence(**base, fetched_at=now, sha256=empty, outcome="unreachable",  # type: ignore[arg-type]
                    note="the crawl gave no answer for this page; it is tried again at the next re-check")


def _is_web(url: str) -> bool:
    """Whether the crawler can fetch `url` at all: feed items may link elsewhere (tel:, magnet:, a bare id)."""
    return urlsplit(url).scheme.lower() in ("http", "https")


def _probe_sources(targets: Iterable[RecheckTarget], sources: dict[str, Source]) -> list[Source]:
    """One source per configured source, fetching just the pages due (its `local` flag and
    selectors kept); a page whose source left the config is fetched as a public site's."""
    pages: dict[str, list[str]] = {}
    for target in targets:
        pages.setdefault(target.source_id, []).append(target.url)
    probes = []
    for source_id, urls in sorted(pages.items()):
        source = sources.get(source_id) or Source(id=source_id, name=source_id, country="VN", language="vi",
                                                  kind="platform")
        probes.append(source.model_copy(update={
            "feeds": [], "follow_links": False, "enabled": True, "crawl": SiteCrawl(pages=sorted(set(urls)))}))
    return probes


def _keeping_pauses(events: Iterable[CrawlEvent], store: Store) -> Iterator[CrawlEvent]:
    """The events, after keeping each Retry-After pause among them for the next crawls."""
    for event in events:
        if isinstance(event, HostPaused):
            keep_pause(store, event)
        yield event


def _results(events: Iterable[CrawlEvent], wanted: set[str]) -> Iterator[tuple[str, CrawlEvent]]:
    """The event that decides each wanted URL (as requested, before redirects)."""
    for event in events:
        url = getattr(event, "url", None)
        if url in wanted and isinstance(event, (FetchedDoc, CrawlFailure, Skipped, NotModified)):
            yield url, event


def _extract(doc: FetchedDoc, source: Source | None, timezone: str) -> tuple[str, str | None]:
    """The page's text as the pipeline would extract it; "" and why when it cannot be read."""
    assert doc.body is not None
    decoded = decode_document(doc.body, doc.headers.get("content-type"))
    article = Article(fetched=Fetched(source_id=doc.source_id, url=doc.url, final_url=doc.final_url or doc.url,
                                      status=doc.status, fetched_at=doc.fetched_at, html=decoded.text))
    try:
        article = extract_article(article, source.selectors if source else Selectors(), timezone=timezone)
    except Exception as exc:  # noqa: BLE001 - a page with no text left is itself a finding
        return "", f"no text could be extracted ({type(exc).__name__}: {exc})"[:300]
    return evidence_text(article.content), None


def _record(store: Store, target: RecheckTarget, evidence: Evidence, now: datetime) -> None:
    evidence_id = store.save_evidence(evidence)
    store.append_audit(AuditEntry(
        at=now, actor=SYSTEM_ACTOR, kind="evidence", target=target.article_id,
        detail={"evidence_id": evidence_id, "kind": "recheck", "outcome": evidence.outcome, "url": target.url,
                "status_code": evidence.status_code, "sha256": evidence.sha256, "story_id": target.story_id,
                "requested_at": target.requested_at.isoformat(), "note": evidence.note},
    ))
    log = _log.warning if evidence.outcome == "unreachable" else _log.info
    log("re-check of %s (%s): %s%s", target.article_id, target.url, evidence.outcome,
        f" ({evidence.note})" if evidence.note else "")
