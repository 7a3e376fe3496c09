"""The deadline report over two years of a province office's SQLite store: time and peak memory per format.

The store holds 20,000 articles over two years (about half kept as relevant), recombined from
sentences of real Vietnamese news (../shared/data/vntc, else the public plans), labelled with the
shipped topics, tones and risk levels, each with its decoded page (`--page-kb`, default 16 KB: the
store keeps pages until retention drops them, and retention is off by default). About a quarter
are copies of a story carried by several outlets (story ids and near-duplicate keys as
crawlers.dedup leaves them); a few are found days after publication or have no date. The shipped
config/alerts.yaml rules decide which stories were flagged: their emails fill the outbox with
reminders, escalations, resurfacings, failures, the daily digests and monthly reports (bodies as
large as rendered ones: 4 KB text and 10 KB HTML a flag, three times that a digest), and officers
recorded actions on them. The built store is cached under the temp folder, keyed by
size, page size, seed and schema version, so reruns only measure.

Each case is what `haidang report --from 2024-03-01 --to 2026-02-28 --format FORMAT` does
(build_report, then the writer) and runs in a fresh child process, so its peak resident memory
(VmHWM) is its own; "base" is the child's peak after imports, before the report. Each case
reports the fastest of `--rounds` runs, its least CPU time (user and system: steadier than wall time
on a shared machine) and the largest peak. `--profile DIR` writes a cProfile of one
run per case and prints its top functions. It measures, it sets no target.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import multiprocessing
import pstats
import random
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from alerts.digest import DIGEST_RULE, digest_recipients
from alerts.dispatch import AlertDispatcher
from alerts.flag import flag_key, resurfacing_key
from bench.search import load_sentences
from bench.synthetic import enqueue_flag_emails, message, store_story, stories
from haidang.reports.report import REPORT_RULE
from haidang.settings import DEFAULT_CONFIG_DIR, Settings, load_settings
from haidang.store.base import ACTION_NAMES, ResponseAction
from haidang.store.schema import latest_version
from haidang.store.sqlite import SqliteStore

__all__ = ["build_store", "main"]

_log = logging.getLogger("bench.reports")

_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_VN = timezone(timedelta(hours=7))
_START = datetime(2024, 3, 1, tzinfo=_VN)       # two years of articles...
_DAYS = 730
PERIOD = (date(2024, 3, 1), date(2026, 2, 28))  # ...and the report over all of them
_NOW = datetime(2026, 3, 2, 9, tzinfo=_VN)
FORMATS = ("xlsx", "docx")
# Share of the immediate flags found in the store whose emails are in the outbox: as in
# bench.digest, a province office's outbox after a year holds about 5,000 messages.
_FLAGS_QUEUED = 0.25
def _store_stories(store: SqliteStore, settings: Settings, sentences: list[str], count: int, seed: int,
                   page_bytes: int, rng: random.Random) -> list[tuple[str, str, list[str], datetime, list[str]]]:
    """Store the articles and story keys; return the immediate flags whose emails went out:
    (rule, story, recipients, when, the story's outlets)."""
    rules = [r for r in settings.alert_rules if r.immediate and r.spike is None and r.silence is None]
    dispatcher = AlertDispatcher(settings, store)
    queued = []
    stored = 0
    for story in stories(settings, sentences, count, seed, start=_START, days=_DAYS, page_bytes=page_bytes):
        first = store_story(store, story)
        stored += 1 + len(story.copies)
        if stored // 5_000 > (stored - 1 - len(story.copies)) // 5_000:
            _log.info("built %d/%d articles", stored, count)
        at = (first.content.first_seen or _START) + timedelta(minutes=rng.randint(1, 20))
        for flag in dispatcher.flags_for(first, rules, now=at):
            if rng.random() < _FLAGS_QUEUED:
                queued.append((flag.rule, flag.story_id, flag.recipients, at,
                               [a.fetched.source_id for a in story.copies]))
    return queued


def _store_flags(store: SqliteStore, settings: Settings, queued: list[tuple[str, str, list[str], datetime, list[str]]],
                 rng: random.Random) -> tuple[int, int]:
    """Each flag's emails, follow-ups, actions and resurfacings; returns (messages, actions)."""
    agencies = [a.id for a in settings.agencies]
    messages = acted = 0
    for rule, story_id, recipients, at, outlets in queued:
        messages += enqueue_flag_emails(store, rng, rule, story_id, recipients, at)
        if rng.random() < 0.45:
            action_id = ""
            for _ in range(rng.choice([1, 1, 2, 2, 3])):
                action_id = store.record_action(ResponseAction(
                    flag_key=flag_key(rule, story_id, recipients[0]), story_id=story_id, article_id=story_id,
                    rule=rule, action=rng.choice(list(ACTION_NAMES)), actor=recipients[0],  # type: ignore[arg-type]
                    agency_id=rng.choice(agencies), note="Đã xử lý",
                    at=at + timedelta(hours=rng.uniform(0.5, 72))))
                acted += 1
            if outlets and rng.random() < 0.3:       # a copy found after the action: emails say so
                messages += store.enqueue(message(resurfacing_key(rule, story_id, recipients[0], action_id,
                                                                   outlets[-1]),
                                                   rule, story_id, recipients[0], at + timedelta(days=5)))
    return messages, acted


def _store_digests(store: SqliteStore, settings: Settings) -> int:
    """The daily digests and monthly reports: outbox rows the report reads and skips."""
    messages = 0
    day, last = _START.date(), (_START + timedelta(days=_DAYS)).date()
    while day <= last:
        for recipient in digest_recipients(settings):
            if day.weekday() < 5:
                sent = f"digest-{day.isoformat()}"
                messages += store.enqueue(message(flag_key(DIGEST_RULE, sent, recipient), DIGEST_RULE, sent,
                                                   recipient, datetime(day.year, day.month, day.day, 7, 5, tzinfo=_VN),
                                                   subject="Bản tin hằng ngày", size=3))
            if day.day == 1:
                sent = f"report-{day.isoformat()}"
                messages += store.enqueue(message(flag_key(REPORT_RULE, sent, recipient), REPORT_RULE, sent,
                                                   recipient, datetime(day.year, day.month, 1, 8, tzinfo=_VN),
                                                   subject="Báo cáo định kỳ", size=3))
        day += timedelta(days=1)
    return messages


def build_store(path: Path, settings: Settings, sentences: list[str], count: int, seed: int,
                page_bytes: int) -> float:
    """Write the articles, story keys, outbox and actions into a new store at `path`; return the seconds."""
    partial = path.with_name(path.name + ".building")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    began = time.perf_counter()
    rng = random.Random(seed + 1)
    with SqliteStore(partial) as store:
        queued = _store_stories(store, settings, sentences, count, seed, page_bytes, rng)
        messages, acted = _store_flags(store, settings, queued, rng)
        messages += _store_digests(store, settings)
        _log.info("outbox: %d messages (%d flags queued), %d actions", messages, len(queued), acted)
    partial.rename(path)
    return time.perf_counter() - began


def _settings(home: Path) -> Settings:
    return load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": str(home)})


def _peak_mb() -> float:
    """This process's peak resident memory. On Linux from VmHWM: ru_maxrss of a spawned child also
    counts the parent's resident memory when it forked (the kernel carries it across exec)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # KiB on Linux, bytes on macOS
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_case(path: Path, home: Path, fmt: str, out: Path, profile: Path | None) -> dict[str, Any]:
    """In a fresh process: build the report and write it, as `haidang report` does."""
    from haidang.reports.document import write_docx
    from haidang.reports.report import build_report
    from haidang.reports.workbook import write_xlsx

    settings = _settings(home)
    writer = write_xlsx if fmt == "xlsx" else write_docx
    base = _peak_mb()
    profiler = cProfile.Profile() if profile else None
    began, cpu = time.perf_counter(), _cpu_s()
    if profiler:
        profiler.enable()
    # Opened as open_store (the CLI, the web app) opens it: the memory-mapped reads count towards
    # resident memory, and SqliteStore's own default (2 GiB) would map the whole store.
    with SqliteStore(path, cache_mib=settings.app.store.sqlite_cache_mib,
                     mmap_mib=settings.app.store.sqlite_mmap_mib, create=False) as store:
        report = build_report(store, settings, *PERIOD, now=_NOW)
    built = time.perf_counter()
    written = writer(report, out)
    done = time.perf_counter()
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(str(profile))
    return {"build_s": built - began, "write_s": done - built, "total_s": done - began, "cpu_s": _cpu_s() - cpu,
            "base_mb": base,
            "peak_mb": _peak_mb(), "bytes": written.stat().st_size, "articles": report.total,
            "foreign": len(report.foreign), "flags": len(report.flags), "digest": len(report.digest_items),
            "actions": len(report.actions), "open": len(report.open_items), "resurfaced": len(report.resurfaced)}


def _in_child(*args: Any) -> dict[str, Any]:
    """`_run_case` in a spawned process, so its peak memory is the case's own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run_case, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--page-kb", type=int, default=16, help="decoded page stored with each article (KB)")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--rounds", type=int, default=2, help="runs per format; the fastest time counts")
    parser.add_argument("--format", choices=FORMATS, action="append", help="measure only these (repeatable)")
    parser.add_argument("--profile", type=Path, help="write a cProfile per format here and print its top")
    parser.add_argument("--shared", type=Path, default=_SHARED, help="the shared folder (default ../shared)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "haidang-bench")
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("haidang.store.schema").setLevel(logging.WARNING)

    args.cache.mkdir(parents=True, exist_ok=True)
    home = args.cache / "reports-home"
    path = args.cache / f"reports-{args.articles}-{args.page_kb}kb-{args.seed}-schema{latest_version()}.sqlite3"
    if args.rebuild or not path.exists():
        sentences = load_sentences(args.shared, limit=60_000)
        _log.info("building %d articles into %s", args.articles, path)
        seconds = build_store(path, _settings(home), sentences, args.articles, args.seed, args.page_kb * 1024)
        _log.info("built in %.1f s", seconds)
    else:
        _log.info("using cached store %s (--rebuild to build again)", path)
    _log.info("store: %.0f MB on disk", path.stat().st_size / 2**20)

    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.format or FORMATS:
            runs = [_in_child(path, home, fmt, Path(tmp) / f"bao-cao.{fmt}", None) for _ in range(args.rounds)]
            best = min(runs, key=lambda r: r["total_s"])
            _log.info("report %s..%s as %s: %.2f s (build %.2f s, write %.2f s; runs %s), CPU %.2f s (runs %s), "
                      "peak %.0f MB (base %.0f MB; runs %s), %.1f MB file", *PERIOD, fmt, best["total_s"],
                      best["build_s"], best["write_s"], ", ".join(f"{r['total_s']:.2f}" for r in runs),
                      min(r["cpu_s"] for r in runs), ", ".join(f"{r['cpu_s']:.2f}" for r in runs),
                      max(r["peak_mb"] for r in runs), best["base_mb"], ", ".join(f"{r['peak_mb']:.0f}" for r in runs),
                      best["bytes"] / 2**20)
            _log.info("  %d articles, %d foreign, %d flags, %d digest items, %d actions, %d open, %d resurfaced",
                      best["articles"], best["foreign"], best["flags"], best["digest"], best["actions"], best["open"],
                      best["resurfaced"])
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                stats = args.profile / f"reports-{fmt}.prof"
                _in_child(path, home, fmt, Path(tmp) / f"bao-cao.{fmt}", stats)
                _log.info("profile written to %s; top by cumulative time:", stats)
                pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
