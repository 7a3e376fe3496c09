"""Daily digest, deadline report and flag list on a year of a province office's SQLite store.

The store holds 60,000 articles over one year (about half kept as relevant: the ~30,000 a province
office gathers), recombined from sentences of real Vietnamese news (../shared/data/vntc, else the
public plans), labelled with the shipped topics, tones and risk levels; about a quarter are copies
of a story carried by several outlets (story ids and near-duplicate keys as crawlers.dedup leaves
them); a few are found days after publication or have no date. The shipped config/alerts.yaml
rules decide which stories were flagged: their emails fill the outbox (~5,000 messages with
reminders, escalations, resurfacings, failures, the daily digests and monthly reports), and
officers recorded ~1,500 actions on them. The built store is cached under the temp folder, keyed by
size, seed and schema version, so reruns only measure.

Targets (what an operator waiting at the screen or for the morning email accepts):
  build_digest (a day, a Monday, a day a year back)   < 2 s each
  build_report for a quarter                          < 10 s
  build_report for a year                             < 30 s
  GET /canh-bao (logged in, through the app)          p95 < 500 ms
list_flags over the whole outbox, the bulk of that page, is reported beside it with no target of
its own. Each digest and report case reports the faster of `--rounds` timings, the flag list and
page p50 and p95 of `--flag-rounds`; exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

from alerts.digest import DIGEST_RULE, build_digest, digest_recipients
from alerts.dispatch import AlertDispatcher
from alerts.flag import flag_key, resurfacing_key
from bench.search import load_sentences
from bench.synthetic import enqueue_flag_emails, message, store_story, stories
from haidang.reports.report import REPORT_RULE, build_report
from haidang.settings import DEFAULT_CONFIG_DIR, Settings, User, load_settings
from haidang.store.base import ACTION_NAMES, ResponseAction
from haidang.store.schema import latest_version
from haidang.store.sqlite import SqliteStore
from haidang.web.flags import list_flags

__all__ = ["build_store", "main"]

_log = logging.getLogger("bench.digest")

_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_VN = timezone(timedelta(hours=7))
_START = datetime(2025, 3, 1, tzinfo=_VN)       # one year of articles, up to the morning of...
_DAYS = 367
TODAY = date(2026, 3, 3)                        # ...this Tuesday: the digest the office reads today
_TARGET_DIGEST_S = 2.0
_TARGET_QUARTER_S = 10.0
_TARGET_YEAR_S = 30.0
_TARGET_PAGE_P95_MS = 500.0
_USER, _PASSWORD = "canbo", "mat-khau-bench-canbo"
_SECRET = "bench-khoa-ky-duong-dan-0123456789abcdef"
# Share of the immediate flags found in the store whose emails are in the outbox: tuned so the
# outbox holds about 5,000 messages, as a province office's does after a year.
_FLAGS_QUEUED = 0.25


def build_store(path: Path, settings: Settings, sentences: list[str], count: int, seed: int) -> float:
    """Write the articles, story keys, outbox and actions into a new store at `path`; return the seconds."""
    partial = path.with_name(path.name + ".building")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    began = time.perf_counter()
    rng = random.Random(seed + 1)
    dispatcher_rules = [r for r in settings.alert_rules if r.immediate and r.spike is None and r.silence is None]
    agencies = [a.id for a in settings.agencies]
    queued: list[tuple[str, str, list[str], datetime]] = []     # (rule, story, recipients, at)
    store = SqliteStore(partial)
    try:
        dispatcher = AlertDispatcher(settings, store)
        stored = 0
        for story in stories(settings, sentences, count, seed, start=_START, days=_DAYS):
            first = store_story(store, story)
            stored += 1 + len(story.copies)
            if stored // 10_000 > (stored - 1 - len(story.copies)) // 10_000:
                _log.info("built %d/%d articles", stored, count)
            at = (first.content.first_seen or _START) + timedelta(minutes=rng.randint(1, 20))
            for flag in dispatcher.flags_for(first, dispatcher_rules, now=at):
                if rng.random() < _FLAGS_QUEUED:
                    queued.append((flag.rule, flag.story_id, flag.recipients, at))
        messages = 0
        acted = 0
        for rule, story_id, recipients, at in queued:
            messages += enqueue_flag_emails(store, rng, rule, story_id, recipients, at)
            if rng.random() < 0.45:
                for _ in range(rng.choice([1, 1, 2, 2, 3])):
                    action_at = at + timedelta(hours=rng.uniform(0.5, 72))
                    store.record_action(ResponseAction(
                        flag_key=flag_key(rule, story_id, recipients[0]), story_id=story_id, article_id=story_id,
                        rule=rule, action=rng.choice(list(ACTION_NAMES)), actor=recipients[0],  # type: ignore[arg-type]
                        agency_id=rng.choice(agencies), note="Đã xử lý", at=action_at))
                    acted += 1
                if rng.random() < 0.05:
                    messages += store.enqueue(message(resurfacing_key(rule, story_id, recipients[0], "a1"), rule,
                                                       story_id, recipients[0], at + timedelta(days=5)))
        day = _START.date()
        while day <= TODAY:
            if day.weekday() < 5:
                morning = datetime(day.year, day.month, day.day, 7, 5, tzinfo=_VN)
                for recipient in digest_recipients(settings):
                    sent = f"digest-{day.isoformat()}"
                    messages += store.enqueue(message(flag_key(DIGEST_RULE, sent, recipient), DIGEST_RULE, sent,
                                                       recipient, morning, subject="Bản tin hằng ngày"))
            if day.day == 1:
                sent = f"report-{day.isoformat()}"
                for recipient in digest_recipients(settings):
                    messages += store.enqueue(message(flag_key(REPORT_RULE, sent, recipient), REPORT_RULE, sent,
                                                       recipient, datetime(day.year, day.month, 1, 8, tzinfo=_VN),
                                                       subject="Báo cáo định kỳ"))
            day += timedelta(days=1)
        _log.info("outbox: %d messages (%d flags queued), %d actions", messages, len(queued), acted)
    finally:
        store.close()
    seconds = time.perf_counter() - began
    partial.rename(path)
    return seconds


def _settings(home: Path) -> Settings:
    from haidang.web.sessions import hash_password

    settings = load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": str(home)})
    users = [User(name=_USER, role="officer", password_hash=hash_password(_PASSWORD), agency=None)]
    return settings.model_copy(update={"users": users})


def _timed(run: Callable[[], object], rounds: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return times, result


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def _page_times(settings: Settings, path: Path, rounds: int) -> tuple[list[float], int]:
    """GET /canh-bao as a logged-in officer through the app, as a browser asks for it."""
    from starlette.testclient import TestClient

    from haidang.web import create_app

    app = create_app(settings, lambda: SqliteStore(path), _SECRET,
                     now=lambda: datetime(2026, 3, 3, 9, tzinfo=_VN).astimezone(UTC))
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/dang-nhap")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, "no CSRF token on the login page"
        done = client.post("/dang-nhap", data={"csrf": csrf.group(1), "username": _USER, "password": _PASSWORD,
                                               "next": "/canh-bao"}, follow_redirects=False)
        assert done.status_code == 303, done.text[:500]
        client.get("/canh-bao")                  # warm: templates compiled, page cache filled
        times, status = [], 200
        for _ in range(rounds):
            began = time.perf_counter()
            response = client.get("/canh-bao")
            times.append(time.perf_counter() - began)
            status = response.status_code
    return times, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.digest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=20260303)
    parser.add_argument("--rounds", type=int, default=2, help="timings per digest/report case; the fastest counts")
    parser.add_argument("--flag-rounds", type=int, default=20, help="timings of the flag list and page")
    parser.add_argument("--only", choices=["digest", "report", "flags"], action="append",
                        help="measure only these cases (repeatable)")
    parser.add_argument("--shared", type=Path, default=_SHARED, help="the shared folder (default ../shared)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "haidang-bench")
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "haidang.store.schema"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    only = set(args.only or ["digest", "report", "flags"])

    args.cache.mkdir(parents=True, exist_ok=True)
    settings = _settings(args.cache / "digest-home")
    # "-b": built by bench.synthetic (source languages, emails as large as bench.reports's)
    path = args.cache / f"digest-{args.articles}-{args.seed}-b-schema{latest_version()}.sqlite3"
    if args.rebuild or not path.exists():
        sentences = load_sentences(args.shared, limit=60_000)
        _log.info("building %d articles into %s", args.articles, path)
        _log.info("built in %.1f s", build_store(path, settings, sentences, args.articles, args.seed))
    else:
        _log.info("using cached store %s (--rebuild to build again)", path)

    failed = 0

    def verdict(name: str, value: float, target: float, unit: str, detail: str = "") -> None:
        nonlocal failed
        ok = value < target
        failed += not ok
        _log.info("%s: %.3f %s%s: %s (target < %g %s)", name, value, unit, detail, "ok" if ok else "OVER TARGET",
                  target, unit)

    with SqliteStore(path) as store:
        _log.info("store: %d articles, %d outbox messages, %d actions", store.count(),
                  len(store.outbox(bodies=False)), len(store.actions()))
        store.facets(None, ("topic", "tone", "source"))          # warm the page cache
        if "digest" in only:
            for name, day in [("a day", TODAY), ("a Monday", TODAY - timedelta(days=1)),
                              ("a day a year back", TODAY - timedelta(days=364))]:
                times, digest = _timed(partial(build_digest, store, settings, day), args.rounds)
                detail = (f" ({digest.total} articles, {len(digest.flags)} flags, "  # type: ignore[attr-defined]
                          f"{len(digest.failed)} failed, {len(digest.stories)} stories)")  # type: ignore[attr-defined]
                verdict(f"build_digest, {name} ({day})", min(times), _TARGET_DIGEST_S, "s", detail)
        if "report" in only:
            now = datetime(2026, 3, 3, 9, tzinfo=_VN)
            for name, start, end, target in [
                    ("a quarter", date(2025, 12, 1), date(2026, 2, 28), _TARGET_QUARTER_S),
                    ("a year", date(2025, 3, 1), date(2026, 2, 28), _TARGET_YEAR_S)]:
                times, report = _timed(partial(build_report, store, settings, start, end, now=now), args.rounds)
                detail = (f" ({report.total} articles, {len(report.flags)} flags, "  # type: ignore[attr-defined]
                          f"{len(report.digest_items)} digest items, {len(report.actions)} actions)")  # type: ignore[attr-defined]
                verdict(f"build_report, {name} ({start}..{end})", min(times), target, "s", detail)
        if "flags" in only:
            skip = {DIGEST_RULE, REPORT_RULE} | {r.name for r in settings.alert_rules if r.silence is not None}
            list_flags(store, skip)
            times, entries = _timed(partial(list_flags, store, skip), args.flag_rounds)
            _log.info("list_flags, whole outbox: %.1f ms p95 (p50 %.1f ms, %d flags)", _p95(times) * 1000,
                      sorted(times)[len(times) // 2] * 1000, len(entries))  # type: ignore[arg-type]
    if "flags" in only:
        times, status = _page_times(settings, path, args.flag_rounds)
        verdict("GET /canh-bao", _p95(times) * 1000, _TARGET_PAGE_P95_MS, "ms",
                f" p95 (p50 {sorted(times)[len(times) // 2] * 1000:.1f} ms, HTTP {status})")
        failed += status != 200
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
