"""Builds the components from settings and runs them: one collection pass (`haidang run`), a source
check, or the scheduled service (`haidang serve`: APScheduler jobs and clean shutdown).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from alerts.dispatch import AlertDispatcher, make_notifier, make_signer
from alerts.outbox import DeliveryPolicy, deliver_due
from crawlers.events import CrawlEvent, CrawlFailure, FetchedDoc, HostPaused, Skipped, SourceFinished
from crawlers.pauses import keep_pause, pause_text, paused_until
from crawlers.runner import crawl
from haidang.errors import HaidangError, PermanentStoreError, StoreError
from haidang.malloc import release_free
from haidang.pipeline import Pipeline, SourceTally
from haidang.record import Article
from haidang.settings import Settings, Source, data_folder_problem
from haidang.store import open_store
from haidang.store.base import Store
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher

if TYPE_CHECKING:
    from nlp.enrich import Enricher

__all__ = ["JOBS_FILE", "LOCK_FILE", "LOG_FILE", "CrawlLock", "JobInfo", "Service", "ServiceLockedError",
           "SourceCheck", "check_sources", "crawl_lock", "enrich_stored", "host_pauses", "load_enricher", "poll_source",
           "run_job", "run_once", "scheduled_jobs"]


def load_enricher(settings: Settings) -> Enricher:
    """The models, loaded once per process; the topic seed phrases come from config/topics.yaml."""
    from nlp.enrich import Enricher

    return Enricher.load(settings.topic_seeds(), topic_seeds_en=settings.topic_seeds_en())


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


def host_pauses(store: Store, sources: Iterable[Source], now: datetime | None = None
                ) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """The hosts paused by a Retry-After at `now` ({host: until}), and the sources not to crawl at
    all because every host their configured URLs name is among them ({source id: until})."""
    now = now or datetime.now(UTC)
    hosts = {p.host: p.until for p in store.host_pauses(now)}
    skipped = {s.id: until for s in sources if (until := paused_until(s, hosts, now)) is not None}
    return hosts, skipped


def run_once(settings: Settings, sources: list[Source], console: Console | None = None, *,
             sign_links: bool = True) -> dict[str, SourceTally]:
    """One pass over `sources`: crawl, run every document through the pipeline, record the run.

    A source whose hosts all asked to wait (Retry-After, kept in the store) is not crawled: its
    tally says until when. `sign_links=False`: flag emails carry no action links and the secret is
    not read (the demo, when the secret in the environment is unusable and it said so).
    """
    _make_data_dir(settings)
    gazetteer = Gazetteer.load(landmarks=settings.landmarks)
    matcher = ProvinceMatcher(gazetteer, keep_threshold=settings.app.match.keep_threshold)
    target = gazetteer.resolve_province(settings.app.province)
    store = open_store(settings.app.store)
    try:
        dispatcher = (AlertDispatcher(settings, store, signer=make_signer(settings) if sign_links else None)
                      if settings.alert_rules else None)
        if dispatcher is not None:
            dispatcher.catch_up(store)
        pipeline = Pipeline(store, matcher, target, sources, settings.app.match, settings.app.timezone,
                            enricher=load_enricher(settings),
                            on_stored=dispatcher.on_stored if dispatcher is not None else None)
        validators = store.get_validators()
        paused_hosts, paused = host_pauses(store, sources)
        events = crawl([s for s in sources if s.id not in paused], settings.app.crawl, validators, paused_hosts)
        if console is None:
            tallies = pipeline.run(events, paused=paused)
            _deliver(settings, dispatcher)
            return tallies
        with Progress(SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(),
                      TextColumn("{task.fields[summary]}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            tasks = {s.id: progress.add_task(s.id, total=None, summary="") for s in sources if s.id not in paused}
            for sid, until in paused.items():
                paused_task = progress.add_task(sid, total=1, summary=pause_text(until, settings.app.timezone))
                progress.update(paused_task, completed=1)      # finished: not crawled in this run

            def _show(source_id: str, tally: SourceTally) -> None:
                task = tasks.get(source_id)
                if task is None:
                    return
                progress.update(task, summary=f"{tally.fetched} fetched, {tally.new} new, {tally.errors} errors")
                if tally.finished:
                    progress.update(task, total=1, completed=1)

            tallies = pipeline.run(events, on_event=_show, paused=paused)
            for task in tasks.values():
                progress.update(task, total=1, completed=1)
        _deliver(settings, dispatcher)
        return tallies
    finally:
        store.close()


def _make_data_dir(settings: Settings) -> None:
    """Create the data folder, or say why it cannot be used and what to do (not a traceback), in the
    words `haidang config check` uses for HAIDANG_HOME (settings.data_folder_problem)."""
    problem = data_folder_problem(settings.data_dir)
    if problem is not None:
        raise PermanentStoreError(problem)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermanentStoreError(
            f"cannot create the data folder {settings.data_dir}: {exc.strerror or exc}: give the user running "
            f"Hải Đăng write access to it, or point HAIDANG_HOME (store.data_dir in config/haidang.yaml) at a "
            f"writable folder") from exc


def crawl_lock(settings: Settings, command: str) -> CrawlLock:
    """The crawl lock of the settings' data folder (the folder made first), not yet taken."""
    _make_data_dir(settings)
    return CrawlLock(settings.data_dir, command, settings.app.timezone)


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

    @property
    def ok(self) -> bool:
        """Answered, robots.txt allows us, and one item came back: the source can be collected.
        A host paused by its outlet (Retry-After) was not asked, so it is not ok either."""
        return self.reachable == "yes" and self.robots == "allowed" and self.sample != "-"


def check_sources(settings: Settings, sources: Iterable[Source]) -> list[SourceCheck]:
    """Fetch each source's first feed or start page once: reachable? robots verdict? one sample item.

    A check is a request like any other: a host paused by a Retry-After gets none (the row says until
    when), and a long Retry-After the check receives pauses the host for the runs too."""
    crawl_settings = settings.app.crawl.model_copy(update={"max_pages_per_source": 1})
    tz = settings.app.timezone
    _make_data_dir(settings)
    store = open_store(settings.app.store)
    try:
        results = []
        paused_hosts, _ = host_pauses(store, [])          # read once; the checks' own pauses are added below
        for source in sources:
            probe = source.model_copy(update={"follow_links": False, "feeds": source.feeds[:1]})
            until = paused_until(probe, paused_hosts, datetime.now(UTC))
            if until is not None:
                results.append(SourceCheck(source.id, f"not asked: {pause_text(until, tz)}", "-", "-"))
                continue
            reachable, robots, sample = "no", "allowed", "-"
            for event in crawl([probe], crawl_settings, {}, paused_hosts):
                if isinstance(event, HostPaused):
                    keep_pause(store, event)
                    paused_hosts[event.host] = event.until
                    reachable = f"no: {pause_text(event.until, tz)}"
                elif isinstance(event, FetchedDoc):
                    reachable = "yes"
                    sample = (event.entry.title if event.entry else event.url) or event.url
                elif isinstance(event, Skipped) and event.reason == "robots":
                    robots = "disallowed"
                elif isinstance(event, Skipped) and event.reason == "retry-after" and reachable == "no":
                    reachable = "not asked: host paused (Retry-After from the outlet)"
                elif isinstance(event, CrawlFailure):
                    if event.stage == "robots":
                        # RFC 9309: an unreachable robots.txt means "do not fetch", not a refusal
                        robots = "unreachable" if event.error_class == "RobotsUnreachable" else "disallowed"
                    elif reachable == "no":
                        reachable = f"no ({event.error_class}: {event.message[:60]})"
            results.append(SourceCheck(source.id, reachable, robots, sample[:100]))
        return results
    finally:
        store.close()


# -- the scheduled service (`haidang serve`) ------------------------------------------------------

JOBS_FILE = "jobs.sqlite"      # APScheduler's persistent job store, in the data folder
LOCK_FILE = "crawl.lock"       # held by the one `haidang serve` or `haidang run` crawling a data folder (CrawlLock)
LOG_FILE = "service.log"       # one JSON line per job run

_jobs_log = logging.getLogger("haidang.service.jobs")
_log = logging.getLogger(__name__)

# The Service running in this process, by data folder. Persisted jobs carry only the data folder
# (picklable, stable across restarts); the job functions find the live components here.
_RUNNING: dict[str, Service] = {}
_RUNNING_LOCK = threading.Lock()


class ServiceLockedError(HaidangError):
    """Another `haidang serve` or `haidang run` holds the data folder's crawl lock: two would fetch
    every source twice (doubling the load on outlets we promise to crawl politely)."""


class CrawlLock:
    """The data folder's crawl lock: `haidang serve` holds it for the life of its process, `haidang
    run` for its pass, so only one process crawls the sources of a data folder at a time.

    An flock(2) on the data folder rather than a lease with a holder's pid (as the outbox's in
    alerts.outbox): the kernel drops it when the holding process ends, however it ends (SIGKILL, out
    of memory, reboot), so a lock left by a dead run is taken over at once with no staleness check,
    and a live holder is never mistaken for a dead one. The text of `<data>/crawl.lock` (command,
    pid, host, since) only tells a refused process who holds it; deleting or replacing that file
    frees nothing (a lock on the file would be, by a process locking a new file while the holder
    keeps the deleted one). The data folder is local (SQLite's WAL needs it),
    so flock's scope is enough; two hosts sharing one Elasticsearch store each with its own data
    folder are not covered. Commands that do not crawl (`demo` on its fixture sites, `analyze`,
    `web`, `search`, `status`, ...) never take it.
    """

    def __init__(self, data_dir: Path, command: str, timezone: str = "UTC") -> None:
        self.path = data_dir / LOCK_FILE
        self.command = command
        self._tz = timezone
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ServiceLockedError saying who holds it (never waits).

        The flock is on the data folder itself, whose inode lives as long as the data: on the file,
        an operator deleting it "as a stale lock" (or a restore replacing it) while a crawler holds
        it would let a second crawler lock a new file. The file only carries the holder's record."""
        try:
            folder = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException:
                os.close(folder)
                raise
        except BlockingIOError:
            raise ServiceLockedError(self._held_by(self._holder_text())) from None
        except OSError as exc:
            raise self._unusable(exc) from exc
        record = {"command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as exc:
            os.close(folder)                      # closing drops the flock
            raise self._unusable(exc) from exc
        self._fd = folder

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _holder_text(self) -> str:
        try:
            with open(self.path, "rb") as record:
                return record.read(4096).decode("utf-8", "replace")
        except OSError:                           # deleted, or not readable: who holds it is unknown
            return ""

    def _unusable(self, exc: OSError) -> PermanentStoreError:
        problem = data_folder_problem(self.path.parent)
        return PermanentStoreError(problem or f"cannot write {self.path}: {exc.strerror or exc}")

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _held_by(self, text: str) -> str:
        """One line: who holds the lock, since when, and what to do."""
        try:
            holder = json.loads(text)
            since = datetime.fromisoformat(holder["since"]).astimezone(ZoneInfo(self._tz))
            command, pid, host = holder["command"], holder["pid"], holder["host"]
            if type(pid) is not int or not all(isinstance(v, str) and v.isprintable() for v in (command, host)):
                raise ValueError("not a record this class writes")     # a line to print as it is
            who = f"another `haidang {command}` (pid {pid} on {host}, since {since:%Y-%m-%d %H:%M:%S %z})"
        except (ValueError, KeyError, TypeError, OverflowError):  # being written this instant, or not ours
            who = "another `haidang serve` or `haidang run`"
        return (f"{who} is already running on {self.path.parent} and holds {self.path}: this "
                f"`haidang {self.command}` would fetch every source a second time, so it does not start; "
                f"wait for it to finish, or stop it")


@dataclass(kw_only=True, slots=True)
class JobInfo:
    """A scheduled job as `haidang status` shows it: its last run (from the store) and next run."""

    id: str
    last_run: dict[str, Any] | None = None
    next_run: datetime | None = None


@dataclass(slots=True)
class _Interruptible:
    """Crawl events until the service stops, then a clean end: each unfinished source gets an
    "Interrupted" failure (so the pipeline keeps no feed validator that would hide the items not
    yet stored, and the next start crawls them) and its SourceFinished. The crawl child is killed."""

    events: Iterator[CrawlEvent]
    source_ids: list[str]
    stopping: threading.Event
    interrupted: bool = False
    _finished: set[str] = field(default_factory=set)

    def __iter__(self) -> Iterator[CrawlEvent]:
        try:
            for event in self.events:
                if isinstance(event, SourceFinished):
                    self._finished.add(event.source_id)
                yield event                       # the pipeline handles it before asking again
                if self.stopping.is_set() and set(self.source_ids) - self._finished:
                    self.interrupted = True
                    for sid in self.source_ids:
                        if sid not in self._finished:
                            yield CrawlFailure(source_id=sid, url="", stage="crawl", error_class="Interrupted",
                                               message="the service stopped during this crawl; the next run "
                                                       "fetches what was not stored", transient=True)
                            yield SourceFinished(source_id=sid)
                    return
        finally:
            close = getattr(self.events, "close", None)
            if close is not None:
                close()                           # kills the crawl child if it is still running


class Service:
    """The scheduler of one deployment: each enabled source at its poll interval, the spike and
    silence rules, the daily digest and outbox retries, on a BackgroundScheduler whose job store
    persists in `<data>/jobs.sqlite`.

    `start()` returns at once (the jobs run in threads), so the caller's thread stays free (a web
    server); `stop()` waits for the running jobs, which end between two articles. Only one
    Service may run per data folder: a lock file refuses a second one.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._data = settings.data_dir
        self._key = str(self._data.resolve())
        self._sources = {s.id: s for s in settings.sources}
        self._stopping = threading.Event()
        self._deliver_lock = threading.Lock()     # one delivery at a time: never send a message twice
        self._components_lock = threading.Lock()
        self._components: tuple[ProvinceMatcher, str, Enricher] | None = None
        self._scheduler: Any = None
        self._lock: CrawlLock | None = None
        self._log_handler: logging.Handler | None = None
        self._signer = make_signer(settings)      # None without the secret: flag emails carry no links

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Take the data folder's lock, schedule the jobs (keeping persisted run times, so runs
        missed while down are caught up once), re-queue flags a crash may have lost, and go."""
        _make_data_dir(self.settings)
        self._take_lock()
        try:
            self._attach_log()
            with _RUNNING_LOCK:
                _RUNNING[self._key] = self
            self._stopping.clear()
            self._scheduler = self._build_scheduler()
            self._scheduler.start(paused=True)
            self._sync_jobs()
            self._catch_up()
            self._scheduler.resume()
        except BaseException:
            self._release()
            raise
        _log.info("service started on %s with jobs %s", self._data,
                  ", ".join(sorted(j.id for j in self._scheduler.get_jobs())))

    def stop(self) -> None:
        """Stop between articles: running jobs finish the article in hand and end; no new job starts."""
        self._stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._release()
        _log.info("service stopped on %s", self._data)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def job_ids(self) -> list[str]:
        return sorted(j.id for j in self._scheduler.get_jobs()) if self._scheduler is not None else []

    def _take_lock(self) -> None:
        lock = CrawlLock(self._data, "serve", self.settings.app.timezone)
        lock.acquire()
        self._lock = lock

    def _release(self) -> None:
        with _RUNNING_LOCK:
            if _RUNNING.get(self._key) is self:
                del _RUNNING[self._key]
        if self._log_handler is not None:
            _jobs_log.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _attach_log(self) -> None:
        handler = logging.FileHandler(self._data / LOG_FILE, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.setLevel(logging.INFO)
        _jobs_log.addHandler(handler)
        if _jobs_log.level == logging.NOTSET or _jobs_log.level > logging.INFO:
            _jobs_log.setLevel(logging.INFO)
        self._log_handler = handler

    # -- scheduling -------------------------------------------------------------------------

    def _build_scheduler(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        service = self.settings.app.service
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self._data / JOBS_FILE}")},
            executors={"default": ThreadPoolExecutor(3),
                       "sources": ThreadPoolExecutor(service.parallel_sources)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": service.misfire_grace_s},
            timezone=ZoneInfo(self.settings.app.timezone))

    def _wanted_jobs(self) -> dict[str, dict[str, Any]]:
        """Job id -> add_job arguments. Ids are stable, so a restart finds its persisted jobs."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        service = self.settings.app.service
        data = self._key
        jobs: dict[str, dict[str, Any]] = {}
        for source in self.settings.sources:
            if source.enabled:
                jobs[f"source:{source.id}"] = {
                    "func": "haidang.service:poll_source", "args": (data, source.id), "executor": "sources",
                    "trigger": IntervalTrigger(minutes=source.poll_minutes), "first_now": True}
        if any(r.enabled and (r.spike or r.silence) for r in self.settings.alert_rules):
            jobs["watch"] = {"func": "haidang.service:run_job", "args": (data, "watch"),
                             "trigger": IntervalTrigger(minutes=service.watch_minutes)}
        if self.settings.digest.enabled:
            hour, minute = (int(x) for x in self.settings.digest.time.split(":"))
            jobs["digest"] = {"func": "haidang.service:run_job", "args": (data, "digest"),
                              "trigger": CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(self.settings.app.timezone)),
                              "misfire_grace_time": int(service.digest_grace_hours * 3600)}
        jobs["outbox"] = {"func": "haidang.service:run_job", "args": (data, "outbox"),
                          "trigger": IntervalTrigger(minutes=service.outbox_minutes)}
        if self.settings.escalation.enabled:
            jobs["escalate"] = {"func": "haidang.service:run_job", "args": (data, "escalate"),
                                "trigger": IntervalTrigger(minutes=service.escalate_minutes)}
        if self.settings.app.recheck.enabled:
            jobs["recheck"] = {"func": "haidang.service:run_job", "args": (data, "recheck"),
                               "trigger": IntervalTrigger(minutes=service.recheck_minutes)}
        if self.settings.app.store.retention_text_days is not None:
            jobs["retention"] = {"func": "haidang.service:run_job", "args": (data, "retention"),
                                 "trigger": CronTrigger(hour=3, minute=15, timezone=ZoneInfo(self.settings.app.timezone)),
                                 "misfire_grace_time": int(service.digest_grace_hours * 3600)}
        jobs["reports"] = {"func": "haidang.service:run_job", "args": (data, "reports"),
                           "trigger": CronTrigger(hour=6, minute=30, timezone=ZoneInfo(self.settings.app.timezone)),
                           "misfire_grace_time": int(service.digest_grace_hours * 3600)}
        return jobs

    def _sync_jobs(self) -> None:
        """Add, change or remove jobs to match the settings. A job whose function, arguments and
        schedule are unchanged is kept as persisted, with its next run time: if that time passed
        while the service was down, it runs once now (coalesced) instead of being rescheduled."""
        wanted = self._wanted_jobs()
        for job in self._scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
                _log.info("removed job %s (no longer configured)", job.id)
        now = datetime.now(UTC)
        interrupted = self._interrupted_jobs([j for j, spec in wanted.items() if spec.get("first_now")])
        for job_id, spec in wanted.items():
            existing = self._scheduler.get_job(job_id)
            grace = spec.get("misfire_grace_time", self.settings.app.service.misfire_grace_s)
            if (existing is not None and existing.func_ref == spec["func"] and tuple(existing.args) == spec["args"]
                    and _same_trigger(existing.trigger, spec["trigger"]) and existing.misfire_grace_time == grace
                    and existing.executor == spec.get("executor", "default")):
                if job_id in interrupted:
                    self._scheduler.modify_job(job_id, next_run_time=now)   # finish what the stop cut short
                continue
            extra: dict[str, Any] = {}
            if spec.get("first_now") and (existing is None or job_id in interrupted):
                extra["next_run_time"] = now          # a new (or cut-short) source is polled at once
            self._scheduler.add_job(spec["func"], spec["trigger"], args=spec["args"], id=job_id, name=job_id,
                                    executor=spec.get("executor", "default"), misfire_grace_time=grace,
                                    replace_existing=True, **extra)

    def _interrupted_jobs(self, job_ids: list[str]) -> set[str]:
        """Source jobs whose last run a stop cut short (or that were waiting when it came)."""
        store = open_store(self.settings.app.store)
        try:
            return {j for j in job_ids if (store.get_alert_state(f"job:{j}") or {}).get("interrupted")}
        finally:
            store.close()

    def _catch_up(self) -> None:
        """Flags of articles stored just before a crash are queued again (idempotently) and sent."""
        if not any(r.enabled for r in self.settings.alert_rules):
            return
        store = open_store(self.settings.app.store)
        try:
            queued = AlertDispatcher(self.settings, store, signer=self._signer).catch_up(store)
            sent = self.deliver(store)
        finally:
            store.close()
        _jobs_log.info(json.dumps({"job": "catch-up", "at": datetime.now(UTC).isoformat(), "queued": queued,
                                   **sent}, ensure_ascii=False))

    # -- what the jobs do -------------------------------------------------------------------

    def _pipeline_parts(self) -> tuple[ProvinceMatcher, str, Enricher]:
        """Gazetteer, matcher and models: loaded once per service, shared by the source jobs."""
        with self._components_lock:
            if self._components is None:
                gazetteer = Gazetteer.load(landmarks=self.settings.landmarks)
                matcher = ProvinceMatcher(gazetteer, keep_threshold=self.settings.app.match.keep_threshold)
                target = gazetteer.resolve_province(self.settings.app.province)
                self._components = (matcher, target, load_enricher(self.settings))
            return self._components

    def province_code(self) -> str:
        return self._pipeline_parts()[1]

    def deliver(self, store: Store, now: datetime | None = None) -> dict[str, int]:
        """Send what is due, one delivery at a time in this process; counts sent/retried/failed."""
        with self._deliver_lock:
            report = deliver_due(store, make_notifier(self.settings), now or datetime.now(UTC),
                                 policy=DeliveryPolicy.from_settings(self.settings.app.outbox))
        return {"sent": len(report.sent), "retried": len(report.retried), "failed": len(report.failed)}

    def run_source(self, source_id: str) -> dict[str, Any]:
        """One poll of one source. Each stored article goes through the alert rules at once and
        its flags are delivered right away, so a flag reaches the server seconds after the store."""
        source = self._sources.get(source_id)
        if source is None or not source.enabled:
            return {"source": source_id, "skipped": "not an enabled source"}
        matcher, target, enricher = self._pipeline_parts()
        if self._stopping.is_set():
            return {"source": source_id, "skipped": "stopping", "interrupted": True}
        store = open_store(self.settings.app.store)
        delivered = {"sent": 0, "retried": 0, "failed": 0}
        try:
            paused_hosts, paused = host_pauses(store, [source])
            if source_id in paused:     # polled again at its next interval, which asks the store again
                return {"source": source_id, "skipped": pause_text(paused[source_id], self.settings.app.timezone)}
            dispatcher = (AlertDispatcher(self.settings, store, signer=self._signer)
                          if self.settings.alert_rules else None)

            def on_stored(article: Article, *, body: bytes | None = None) -> int:
                assert dispatcher is not None
                queued = dispatcher.on_stored(article, body=body)     # the page as fetched: evidence
                if queued:
                    for k, v in self.deliver(store).items():
                        delivered[k] += v
                return queued

            pipeline = Pipeline(store, matcher, target, [source], self.settings.app.match, self.settings.app.timezone,
                                enricher=enricher, on_stored=on_stored if dispatcher is not None else None)
            # This source's validators only: the table grows with every page ever fetched, and what
            # is passed here is read, pickled into the crawl child and freed again at every poll.
            validators = store.get_validators(source_id=source.id)
            events = _Interruptible(crawl([source], self.settings.app.crawl, validators, paused_hosts),
                                    [source.id], self._stopping)
            tally = pipeline.run(events)[source.id]
        finally:
            store.close()
        return {"source": source_id, "fetched": tally.fetched, "stored": tally.new + tally.updated,
                "new": tally.new, "updated": tally.updated, "unchanged": tally.duplicates,
                "skipped": sum(tally.skipped.values()), "failed": tally.errors, "flagged": tally.flagged,
                "mail_sent": delivered["sent"], "mail_retried": delivered["retried"],
                "mail_failed": delivered["failed"], "interrupted": events.interrupted,
                "ok": not (tally.errors and not tally.fetched)}   # nothing read, only failures: not ok

    def run_watch(self, now: datetime | None = None) -> dict[str, Any]:
        """The spike and silence rules once; their immediate flags delivered."""
        from alerts.watch import Watcher

        now = now or datetime.now(UTC)
        store = open_store(self.settings.app.store)
        try:
            report = Watcher(self.settings, store, self.province_code()).run(now)
            sent = self.deliver(store, now) if report.queued else {"sent": 0, "retried": 0, "failed": 0}
        finally:
            store.close()
        return {"flagged": len(report.flags), "queued": report.queued, "rules": sorted({f.rule for f in report.flags}),
                **{f"mail_{k}": v for k, v in sent.items()}}

    def run_digest(self, now: datetime | None = None) -> dict[str, Any]:
        """Queue today's digest (local date; idempotent per day and recipient) and send it."""
        from alerts.digest import queue_digest

        now = now or datetime.now(UTC)
        day = now.astimezone(ZoneInfo(self.settings.app.timezone)).date()
        store = open_store(self.settings.app.store)
        try:
            queued = queue_digest(store, self.settings, day, now=now)
            sent = self.deliver(store, now)
        finally:
            store.close()
        return {"day": day.isoformat(), "queued": queued, **{f"mail_{k}": v for k, v in sent.items()}}

    def run_outbox(self, now: datetime | None = None) -> dict[str, Any]:
        """Retry what is due (messages the server did not take, flags held past quiet hours)."""
        store = open_store(self.settings.app.store)
        try:
            sent = self.deliver(store, now)
        finally:
            store.close()
        return {f"mail_{k}": v for k, v in sent.items()}

    def run_escalate(self, now: datetime | None = None) -> dict[str, Any]:
        """Reminders for flags nobody acted on, then escalation to the leading agency; sent at once."""
        from alerts.escalate import escalate_due

        now = now or datetime.now(UTC)
        store = open_store(self.settings.app.store)
        try:
            report = escalate_due(store, self.settings, now, signer=self._signer)
            queued = len(report.reminded) + len(report.escalated)
            sent = self.deliver(store, now) if queued else {"sent": 0, "retried": 0, "failed": 0}
        finally:
            store.close()
        return {"reminded": len(report.reminded), "escalated": len(report.escalated),
                **{f"mail_{k}": v for k, v in sent.items()}}

    def run_recheck(self, now: datetime | None = None) -> dict[str, Any]:
        """Re-fetch pages whose takedown or correction was requested; record changed or gone."""
        from haidang.evidence.recheck import recheck_due

        now = now or datetime.now(UTC)
        store = open_store(self.settings.app.store)
        try:
            report = recheck_due(store, self.settings, now)
        finally:
            store.close()
        return {"checked": len(report.outcomes),
                **{o: report.count(o) for o in ("unchanged", "changed", "gone", "unreachable") if report.count(o)}}

    def run_reports(self, now: datetime | None = None) -> dict[str, Any]:
        """The plan-deadline reports due today (once each), written and mailed to the compiling agency."""
        from haidang.reports.deadlines import queue_due_reports

        now = now or datetime.now(UTC)
        store = open_store(self.settings.app.store)
        try:
            queued = queue_due_reports(store, self.settings, now)
            sent = self.deliver(store, now) if queued else {"sent": 0, "retried": 0, "failed": 0}
        finally:
            store.close()
        return {"queued": queued, **{f"mail_{k}": v for k, v in sent.items()}}

    def run_retention(self, now: datetime | None = None) -> dict[str, Any]:
        """Drop page text past store.retention_text_days; metadata, labels, flags and the audit log stay."""
        from haidang.store.retention import RetainingStore, apply_retention

        store = open_store(self.settings.app.store)
        try:
            if not isinstance(store, RetainingStore):
                raise StoreError(f"{type(store).__name__} cannot drop article text (no drop_bodies)")
            dropped = apply_retention(store, self.settings.app.store, now or datetime.now(UTC))
        finally:
            store.close()
        return {"bodies_dropped": dropped}

    def record(self, job_id: str, entry: dict[str, Any]) -> None:
        """Log one JSON line for a job run and keep it as the job's last run for `haidang status`."""
        _jobs_log.info(json.dumps(entry, ensure_ascii=False, sort_keys=False))
        try:
            store = open_store(self.settings.app.store)
            try:
                store.set_alert_state(f"job:{job_id}", entry)
            finally:
                store.close()
        except HaidangError as exc:
            _log.warning("could not record the last run of %s: %s", job_id, exc)


def _same_trigger(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if hasattr(a, "interval"):
        return bool(a.interval == b.interval)
    return repr(a) == repr(b)


def _run_job(data_dir: str, job_id: str, work: Callable[[Service], dict[str, Any]]) -> None:
    """Run one job against the Service of `data_dir` in this process; log one JSON line, never raise
    (an exception would only reach APScheduler's log, without the job's counts)."""
    with _RUNNING_LOCK:
        service = _RUNNING.get(data_dir)
    if service is None:
        _log.warning("job %s fired but no service runs on %s in this process; skipped", job_id, data_dir)
        return
    started = time.monotonic()
    entry: dict[str, Any] = {"job": job_id, "at": datetime.now(UTC).isoformat()}
    try:
        entry.update(work(service))
        entry.setdefault("ok", True)        # a job may say it did not do its work (a source it could not read)
    except Exception as exc:  # noqa: BLE001 - the next run tries again; the log says why
        _log.exception("job %s failed", job_id)
        entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
    entry["duration_s"] = round(time.monotonic() - started, 3)
    service.record(job_id, entry)
    if service.settings.app.service.malloc_trim:
        release_free()          # what the job freed goes back to the system, not into an arena's free lists


def poll_source(data_dir: str, source_id: str) -> None:
    """Scheduled job: one poll of one source (max_instances=1, so one source never overlaps itself)."""
    _run_job(data_dir, f"source:{source_id}", lambda s: s.run_source(source_id))


# What each scheduled job (other than the per-source polls) runs on the Service.
_JOBS: dict[str, Callable[[Service], dict[str, Any]]] = {
    "watch": Service.run_watch,             # spike and silence rules
    "digest": Service.run_digest,           # the daily digest
    "outbox": Service.run_outbox,           # delivery of due outbox messages
    "escalate": Service.run_escalate,       # reminders and escalation of flags nobody acted on
    "recheck": Service.run_recheck,         # re-checks after takedown or correction requests
    "retention": Service.run_retention,     # page text past store.retention_text_days
    "reports": Service.run_reports,         # reports due before the plans' deadlines
}


def run_job(data_dir: str, job_id: str) -> None:
    """Scheduled job by name (the job store persists this reference and its arguments)."""
    _run_job(data_dir, job_id, _JOBS[job_id])


def scheduled_jobs(settings: Settings, store: Store) -> list[JobInfo]:
    """The service's jobs with their last run (kept in the store) and next run (read from the job
    store file without starting a scheduler); empty when the service never ran here."""
    path = settings.data_dir / JOBS_FILE
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT id, next_run_time FROM apscheduler_jobs ORDER BY id").fetchall()
    except sqlite3.Error as exc:
        _log.warning("could not read %s: %s", path, exc)
        return []
    return [JobInfo(id=job_id, last_run=store.get_alert_state(f"job:{job_id}"),
                    next_run=datetime.fromtimestamp(ts, UTC) if ts is not None else None)
            for job_id, ts in rows]

