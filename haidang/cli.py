"""The `haidang` command: parse arguments, call the library, print. No logic of its own."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from haidang.errors import ConfigError, HaidangError, QueryError
from haidang.record import Article
from haidang.settings import (
    DEFAULT_CONFIG_DIR,
    ENVIRONMENT,
    Settings,
    check_config_dir,
    check_environment,
    load_settings,
)

app = typer.Typer(help="Hải Đăng: media monitoring for provincial foreign-information offices.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)
gazetteer_app = typer.Typer(help="The place-name gazetteer.", no_args_is_help=True)
sources_app = typer.Typer(help="Configured sources.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alert rules: try one on stored articles (the email queue is `haidang outbox`).",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(gazetteer_app, name="gazetteer")
app.add_typer(sources_app, name="sources")
app.add_typer(alerts_app, name="alerts")
index_app = typer.Typer(help="Elasticsearch index templates.", no_args_is_help=True)
kibana_app = typer.Typer(help="Kibana saved objects.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(kibana_app, name="kibana")

out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
# No emoji codes: "alerts.yaml:100: rules.76..." would print as "alerts.yaml💯 rules.76...".
err = Console(stderr=True, highlight=False, emoji=False, width=None if sys.stderr.isatty() else 140)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config folder (default: config/ or HAIDANG_CONFIG).")]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def _store(settings: Settings, *, create: bool = True):
    """The configured store. Commands that only read pass create=False: with no SQLite store there
    they say so and exit 2, creating nothing (an empty new one would hide a wrong --config)."""
    from haidang.store import open_store
    from haidang.store.base import StoreMissing
    if create:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return open_store(settings.app.store, create=create)
    except StoreMissing as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _matcher(settings: Settings):
    from nlp.gazetteer import Gazetteer
    from nlp.match import ProvinceMatcher
    gaz = Gazetteer.load(landmarks=settings.landmarks)
    return gaz, ProvinceMatcher(gaz, keep_threshold=settings.app.match.keep_threshold)


def _parse_when(value: str | None, tz: str, *, end: bool = False) -> datetime | None:
    """Dates for --since/--until: 2026-03-01, 2026-03-01T08:00, or relative 7d / 12h."""
    if not value:
        return None
    value = value.strip()
    units = {"d": "days", "h": "hours", "w": "weeks", "m": "minutes"}
    if value[:-1].isdigit() and value[-1] in units:
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM or a span like 7d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(tz))
    if end and len(value) == 10:
        when += timedelta(days=1)
    return when


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@app.command()
def run(config: ConfigOpt = None,
        source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only these source ids.")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """One pass over every configured source: fetch → extract → match → store.

    Exits 1 when no source could be read at all (every one failed, nothing fetched), so a
    scheduler notices an offline machine; a run where some sources worked exits 0. Exits 3 at once,
    fetching nothing, while another `haidang run` or `haidang serve` crawls the same data folder."""
    _setup_logging(verbose)
    settings = _settings(config)
    from haidang.service import crawl_lock, run_once
    sources = [s for s in settings.sources if s.enabled and (not source or s.id in source)]
    if not sources:
        err.print("[yellow]no enabled sources match; nothing to do[/yellow]")
        raise typer.Exit(1)
    lock = crawl_lock(settings, "run")
    _take_crawl_lock(lock.acquire)
    try:
        tallies = run_once(settings, sources, console=err)
    finally:
        lock.release()
    _print_summary(tallies, settings.app.timezone)
    out.print(f"data: {settings.data_dir}")
    if tallies and all(t.errors and not (t.fetched or t.duplicates) for t in tallies.values()):
        err.print("[red]no source could be read in this run[/red]: see the errors above")
        raise typer.Exit(1)


EXIT_LOCKED = 3     # `run`/`serve`: another process crawls this data folder; nothing was done


def _take_crawl_lock(take: Any) -> None:
    """Call `take` (a crawl lock's acquire, or Service.start); when another process holds the data
    folder, say who in one line and exit EXIT_LOCKED, so cron or systemd can tell it from a failure."""
    from haidang.service import ServiceLockedError
    try:
        take()
    except ServiceLockedError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from None


def _rule_label(message: Any) -> str:
    """The message's rule, with "reminder:" or "escalation:" before it for a follow-up of a flag."""
    from alerts.flag import follow_up_of
    stage = follow_up_of(message)
    return f"{stage}:{message.flag_rule}" if stage else message.flag_rule


def _print_summary(tallies: dict[str, Any], timezone: str) -> None:
    from crawlers.pauses import pause_text
    table = Table(title="Kết quả thu thập (collection summary)")
    for col in ("source", "fetched", "new", "updated", "duplicates", "syndicated", "flagged", "skipped", "errors"):
        table.add_column(col, justify="left" if col in ("source", "skipped") else "right")
    for sid, t in sorted(tallies.items()):
        reasons = [f"{k} {v}" for k, v in sorted(t.skipped.items())]
        if t.paused_until is not None:      # not requested at all: the outlet asked to wait
            reasons.insert(0, f"[yellow]{pause_text(t.paused_until, timezone)}[/yellow]")
        skipped = ", ".join(reasons) or "0"
        table.add_row(sid, str(t.fetched), str(t.new), str(t.updated), str(t.duplicates),
                      str(t.syndicated), str(t.flagged), skipped, f"[red]{t.errors}[/red]" if t.errors else "0")
    out.print(table)
    for sid, t in sorted(tallies.items()):
        if t.last_error:
            out.print(f"[red]{escape(sid)}[/red]: {escape(t.last_error)}")


@app.command()
def serve(config: ConfigOpt = None,
          web: Annotated[bool, typer.Option(help="Also serve the officers' web app (needs the link secret).")] = True,
          verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the service: every source at its poll interval, alerts, digest, reports, re-checks and
    retries, and the officers' web app, until SIGTERM/Ctrl-C. Exits 3 at once while another
    `haidang serve` or `haidang run` crawls the same data folder."""
    import signal
    import threading

    _setup_logging(verbose)
    logging.getLogger("haidang.service.jobs").setLevel(logging.INFO)   # one JSON line per job run
    settings = _settings(config)
    from haidang.malloc import limit_arenas
    limit_arenas(settings.app.service.malloc_arenas)      # before any worker thread starts
    from haidang.service import LOG_FILE, Service
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = None
    if web:
        secret = _link_secret(settings)
        if not secret:
            err.print(f"[yellow]{settings.app.web.secret_env} is not set[/yellow]: no web app, and flag emails "
                      "carry no action links (set it to 32+ random characters to turn both on)")
        else:
            from haidang.web import build_server
            try:
                server = build_server(settings, secret)
            except ValueError as exc:
                err.print(f"[red]{escape(str(exc))}[/red] ({settings.app.web.secret_env})")
                raise typer.Exit(2) from None
    service = Service(settings)
    _take_crawl_lock(service.start)       # another `serve` or `run` on this data folder: exit 3
    err.print(f"serving {len(settings.sources)} source(s) from {settings.data_dir}; "
              f"job log {settings.data_dir / LOG_FILE}; stop with Ctrl-C or SIGTERM")
    web_thread = None
    if server is not None:
        # uvicorn installs no signal handlers off the main thread: SIGTERM stays with the handler above.
        web_thread = threading.Thread(target=server.run, name="haidang-web", daemon=True)
        web_thread.start()
        err.print(f"web app on http://{server.config.host}:{server.config.port} "
                  f"(links point to {settings.app.web.base_url})")
    try:
        while not stop.wait(1.0):
            if web_thread is not None and not web_thread.is_alive():
                err.print("[red]the web app stopped (port in use?)[/red]; the scheduler goes on")
                web_thread = None
    finally:
        if server is not None:
            server.should_exit = True
        if web_thread is not None:
            web_thread.join(timeout=10)
        err.print("stopping: finishing the article in hand")
        service.stop()
    err.print("stopped cleanly")


@app.command()
def demo(keep: Annotated[bool, typer.Option(help="Keep serving the fixture sites until Ctrl-C.")] = False,
         data: Annotated[Path | None, typer.Option(help="Data folder (default: a new temporary one).")] = None,
         smtp: Annotated[str | None, typer.Option(help="Send the messages to this SMTP server (HOST:PORT, "
                                                  "no TLS) instead of writing .eml files.")] = None) -> None:
    """Run the whole pipeline offline against the bundled fixture sites on 127.0.0.1.

    Collects, labels and stores, runs the alert rules and the daily digest, and writes every message
    it would send as .eml files (and the digest as .html) in its data folder.
    """
    from haidang.demo import parse_smtp, run_demo
    if smtp:
        try:
            parse_smtp(smtp)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--smtp") from None
    run_demo(out, err, data_dir=data, keep_serving=keep, smtp=smtp)


@app.command()
def search(query: Annotated[str, typer.Argument(help='Query: words, "phrases", OR, -exclusions.')],
           config: ConfigOpt = None,
           province: Annotated[str | None, typer.Option(help="Province code or name.")] = None,
           source: Annotated[str | None, typer.Option(help="Source id.")] = None,
           since: Annotated[str | None, typer.Option(help="From date (published, else first seen).")] = None,
           until: Annotated[str | None, typer.Option(help="Until date, inclusive for a day.")] = None,
           lang: Annotated[str | None, typer.Option(help="Language code, e.g. vi, en.")] = None,
           limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
           as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hit.")] = False) -> None:
    """Full-text search with and without diacritics."""
    from haidang.store.base import SearchFilters
    settings = _settings(config)
    code = None
    if province:
        gaz, _ = _matcher(settings)
        try:
            code = gaz.resolve_province(province)
        except (KeyError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--province") from None
    filters = SearchFilters(province=code, source=source, lang=lang,
                            since=_parse_when(since, settings.app.timezone),
                            until=_parse_when(until, settings.app.timezone, end=True))
    if source and source not in {s.id for s in settings.sources}:
        # Still searched: articles stay stored after their source leaves the configuration.
        err.print(f"[yellow]note:[/yellow] {escape(source)} is not a configured source id; "
                  "searching the stored articles under that id anyway")
    store = _store(settings, create=False)
    try:
        result = store.search(query, filters, limit=limit)
    except QueryError as exc:
        err.print(f"[red]query error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    tz = ZoneInfo(settings.app.timezone)
    if as_json:
        for h in result.hits:
            print(json.dumps({"id": h.id, "title": h.title, "source": h.source_id, "url": h.url,
                              "published": h.published.astimezone(tz).isoformat() if h.published else None,
                              "score": round(h.score, 4), "snippet": h.snippet,
                              "highlights": h.highlights}, ensure_ascii=False))
        return
    out.print(f"{result.total} kết quả (results) cho [bold]{escape(query)}[/bold]")
    # Best first; the relevance score itself is left to --json: its scale is the backend's
    # (bm25 on a small store gives every hit ~1.00), so it tells a reader nothing the order doesn't.
    for rank, h in enumerate(result.hits, 1):
        when = h.published.astimezone(tz).strftime("%d/%m/%Y %H:%M") if h.published else "?"
        out.print(f"\n{rank}. [bold]{escape(h.title)}[/bold]  [dim]{h.id}[/dim]")
        out.print(f"  {escape(h.source_id)} · {when} · {escape(h.url)}")
        out.print("  " + _highlight(h.snippet))


def _stored_article(settings: Settings, ref: str) -> Article:
    """The stored article with id or URL `ref`, or exit 1 saying so."""
    from haidang.explain import find_article
    store = _store(settings, create=False)
    try:
        article = find_article(store, ref)
    finally:
        store.close()
    if article is None:
        err.print(f"[red]no stored article[/red] with id or URL {escape(ref)}")
        raise typer.Exit(1)
    return article


def _highlight(snippet: str) -> str:
    """Matches in bold on a terminal; piped output keeps the « » marks so they survive."""
    if not out.is_terminal:
        return escape(snippet)
    return escape(snippet).replace("«", "[bold yellow]").replace("»", "[/bold yellow]")


@app.command()
def status(config: ConfigOpt = None) -> None:
    """Per source: last success, last error, articles stored, feed validators held, and the
    sources paused because their outlet asked to wait (Retry-After)."""
    from alerts.render import shorten
    from haidang.service import scheduled_jobs
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        rows = {s.source_id: s for s in store.source_status()}
        pauses = store.host_pauses(datetime.now(UTC))
        failures = store.failures()
        failed_mail = store.outbox("failed", bodies=False)
        pending_mail = len(store.outbox("pending", bodies=False))
        claims_waiting = len(store.known_claims("proposed"))
        jobs = scheduled_jobs(settings, store)
    finally:
        store.close()
    tz = ZoneInfo(settings.app.timezone)
    fmt = lambda d: d.astimezone(tz).strftime("%d/%m/%Y %H:%M") if d else "-"
    table = Table(title="Trạng thái nguồn (source status)")
    for col in ("source", "last success", "last error", "articles", "validators"):
        table.add_column(col)
    ids = [s.id for s in settings.sources] + sorted(set(rows) - {s.id for s in settings.sources})
    for sid in ids:
        r = rows.get(sid)
        if r is None:
            table.add_row(sid, "never run", "-", "0", "0")
            continue
        last_err = f"{fmt(r.last_error_at)} {r.last_error or ''}".strip() if r.last_error else "-"
        table.add_row(sid, fmt(r.last_success), escape(shorten(last_err, 120)), str(r.articles), str(r.validators))
    out.print(table)
    _print_pauses(settings, pauses)
    if failures:
        out.print(f"\n{len(failures)} failed item(s); latest:")
        for f in failures[:20]:
            out.print(f"  {fmt(f.at)} {escape(f.source_id)} {f.stage} {escape(f.error_class)}: "
                      f"{escape(shorten(f.message, 150))} ({escape(f.url)})")
    out.print(f"\noutbox: {pending_mail} pending, {len(failed_mail)} failed for good")
    for m in failed_mail[:20]:
        out.print(f"  [red]failed[/red] {fmt(m.created_at)} {escape(_rule_label(m))} → {escape(m.recipient)} "
                  f"after {m.attempts} attempt(s): {escape(shorten(m.last_error or '', 150))}")
    if failed_mail:
        out.print("  (keys: `haidang outbox list --status failed`; send again: `haidang outbox retry KEY|--all-failed`)")
    if claims_waiting:
        out.print(f"\nclaims proposed from debunk reports, waiting for a person: {claims_waiting} "
                  "(`haidang claims list`; they flag nothing until confirmed)")
    if jobs:
        table = Table(title="Lịch chạy của dịch vụ (haidang serve jobs)")
        for col in ("job", "last run", "result", "next run"):
            table.add_column(col)
        for j in jobs:
            last = j.last_run or {}
            when = datetime.fromisoformat(last["at"]) if last.get("at") else None
            counts = ", ".join(f"{k} {v}" for k, v in last.items()
                               if k not in ("job", "at", "ok", "source", "duration_s") and v not in (0, False, None, []))
            result = ("ok" if last.get("ok") else "[red]error[/red]") if last else "-"
            table.add_row(escape(j.id), fmt(when), f"{result} {escape(counts)}".strip(), fmt(j.next_run))
        out.print(table)


def _print_pauses(settings: Settings, pauses: list[Any]) -> None:
    """One line per source a Retry-After pauses: the sources whose configured URLs are on a paused
    host, else the source whose request got the answer (a page host, say)."""
    from crawlers.pauses import RETRY_AFTER_CAP, entry_urls, host_key, pause_text, span_text
    tz = ZoneInfo(settings.app.timezone)
    hosts_of = {s.id: {host_key(u) for u in entry_urls(s)} for s in settings.sources}
    for pause in pauses:
        sources = [sid for sid, hosts in hosts_of.items() if pause.host in hosts] or [pause.source_id]
        asked = timedelta(seconds=pause.asked_s)
        capped = f" (kept to the {span_text(RETRY_AFTER_CAP)} cap)" if pause.until - pause.at < asked else ""
        for sid in sources:
            out.print(f"[yellow]{escape(sid)}[/yellow]: {pause_text(pause.until, settings.app.timezone)}: "
                      f"{escape(pause.host)} answered HTTP {pause.status} at {pause.at.astimezone(tz):%H:%M %d/%m} "
                      f"asking to wait {span_text(asked)}{capped}", soft_wrap=True)


outbox_app = typer.Typer(help="The email outbox: list messages, put failed ones back.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def outbox_list(config: ConfigOpt = None,
                state: Annotated[str | None, typer.Option(
                    "--status", help="Only messages in this state: pending, sent or failed.")] = None) -> None:
    """Outbox messages, oldest first: key, state, rule → recipient, attempts, next try or send time, last error."""
    from alerts.render import shorten
    if state not in (None, "pending", "sent", "failed"):
        raise typer.BadParameter(f"{state!r}: use pending, sent or failed", param_hint="--status")
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        messages = store.outbox(state, bodies=False)  # type: ignore[arg-type]
    finally:
        store.close()
    tz = ZoneInfo(settings.app.timezone)
    fmt = lambda d: d.astimezone(tz).strftime("%d/%m/%Y %H:%M") if d else "-"
    for m in messages:
        when = f"sent {fmt(m.sent_at)}" if m.status == "sent" else (
            f"next {fmt(m.next_attempt_at)}" if m.status == "pending" else f"since {fmt(m.pending_since)}")
        lease = f" leased by {escape(m.lease_owner)} until {fmt(m.lease_until)}" if m.lease_owner else ""
        out.print(f"{m.key} {m.status} {escape(_rule_label(m))} → {escape(m.recipient)} created {fmt(m.created_at)} "
                  f"attempts {m.attempts} {when}{lease}"
                  + (f" handed over {m.handed_over}x without an answer (may have arrived)" if m.handed_over else "")
                  + (f": {escape(shorten(m.last_error, 200))}" if m.last_error and m.status != "sent" else ""))
    out.print(f"{len(messages)} message(s)" + (f" {state}" if state else ""))


@outbox_app.command("retry")
def outbox_retry(key: Annotated[str | None, typer.Argument(help="Key of a failed message (`haidang outbox list`).")] = None,
                 all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed message.")] = False,
                 send: Annotated[bool, typer.Option(
                     "--send", help="Then deliver every due message now, as the service's outbox job does.")] = False,
                 config: ConfigOpt = None) -> None:
    """Put failed messages back to pending with the same key and Message-ID (a mail client that got
    an earlier copy collapses them); `haidang serve` or the next run delivers them, or --send now."""
    if (key is None) == (not all_failed):
        raise typer.BadParameter("give one message KEY or --all-failed")
    settings = _settings(config)
    store = _store(settings, create=False)   # the message or claim must already be stored
    now = datetime.now(UTC)
    try:
        keys = [m.key for m in store.outbox("failed")] if all_failed else [key or ""]
        back = 0
        for k in keys:
            try:
                requeued = store.requeue_failed(k, now)
            except KeyError:
                err.print(f"[red]no outbox message with key {escape(k)}[/red] (see `haidang outbox list`)")
                raise typer.Exit(1) from None
            if not requeued and all_failed:
                continue                    # sent or put back by another process meanwhile
            if not requeued:
                err.print(f"outbox message {escape(k)} is not failed: left as it is")
                raise typer.Exit(1)
            back += 1
        out.print(f"{back} message(s) put back to pending")
        if send:
            from alerts.dispatch import make_notifier
            from alerts.outbox import DeliveryPolicy, deliver_due
            report = deliver_due(store, make_notifier(settings), now,
                                 policy=DeliveryPolicy.from_settings(settings.app.outbox))
            out.print(f"delivery: {len(report.sent)} sent, {len(report.retried)} to retry, "
                      f"{len(report.failed)} failed, {len(report.skipped)} held by another process")
    finally:
        store.close()
    if send and (report.failed or report.retried):
        err.print("[red]not everything was delivered[/red]: `haidang outbox list` shows why")
        raise typer.Exit(1)


claims_app = typer.Typer(help="The known-false-claims list: claims proposed from debunk reports, decisions, "
                                "additions.", no_args_is_help=True)
app.add_typer(claims_app, name="claims")
ByOpt = Annotated[str | None, typer.Option(
    "--by", help="Who decides, for the audit log (default: this machine's user name).")]


def _decider(by: str | None) -> str:
    import getpass

    return (by or "").strip() or f"{getpass.getuser()} (dòng lệnh)"


@claims_app.command("list")
def claims_list(state: Annotated[str, typer.Option(
                    "--status", help="proposed (waiting for a person), confirmed, dismissed or all.")] = "proposed",
                search: Annotated[str, typer.Option(
                    "--search", help="Only claims holding every one of these words (diacritics and case aside).")] = "",
                as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
                config: ConfigOpt = None) -> None:
    """Claims on the list, newest first: id, status, the claim, its rebuttal and the article it came from.
    Only confirmed claims flag later copies; proposed ones wait for `haidang claims confirm`."""
    from haidang.claimlist import claim_page

    if state not in ("proposed", "confirmed", "dismissed", "all"):
        raise typer.BadParameter(f"{state!r}: use proposed, confirmed, dismissed or all", param_hint="--status")
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        rows = claim_page(store, None if state == "all" else state, query=search).rows  # type: ignore[arg-type]
    finally:
        store.close()
    tz = ZoneInfo(settings.app.timezone)
    for r in rows:
        c = r.claim
        if as_json:
            sys.stdout.write(json.dumps({
                "id": c.id, "status": c.status, "text": c.text, "rebuttal_url": c.rebuttal_url,
                "source_article_id": c.source_article_id, "source_title": r.source_title,
                "source_url": r.source_url, "created_at": c.created_at.isoformat() if c.created_at else None,
                "decided_by": r.decided_by, "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            }, ensure_ascii=False) + "\n")
            continue
        created = c.created_at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if c.created_at else "-"
        decided = (f", decided by {escape(r.decided_by)}" if r.decided_by else "")
        out.print(f"[bold]{c.id}[/bold] {c.status} (since {created}{decided})", soft_wrap=True)
        out.print(f"  {escape(c.text)}", soft_wrap=True)
        out.print(f"  rebuttal: {escape(c.rebuttal_url or '-')}", soft_wrap=True)
        if r.source_title or r.source_url:
            out.print(f"  from: {escape(r.source_title or '')} {escape(r.source_url or '')}", soft_wrap=True)
    if not as_json:
        out.print(f"{len(rows)} claim(s)" + ("" if state == "all" else f" {state}"))


def _decide(claim_id: str, decision: str, by: str | None, note: str | None, config: Path | None) -> None:
    from haidang.claimlist import decide_claim

    settings = _settings(config)
    store = _store(settings, create=False)   # the message or claim must already be stored
    try:
        before = decide_claim(store, claim_id, decision, _decider(by), now=datetime.now(UTC),  # type: ignore[arg-type]
                              note=note, via="cli")
    except KeyError:
        err.print(f"[red]no claim with id {escape(claim_id)}[/red] (see `haidang claims list --status all`)")
        raise typer.Exit(1) from None
    finally:
        store.close()
    if before.status == decision:
        out.print(f"claim {claim_id} is already {decision}; nothing changed")
    else:
        out.print(f"claim {claim_id}: {before.status} → {decision}")


NoteOpt = Annotated[str | None, typer.Option("--note", help="Why, for the audit log.")]


@claims_app.command("confirm")
def claims_confirm(claim_id: Annotated[str, typer.Argument(help="Id from `haidang claims list`.")],
                   by: ByOpt = None, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """Confirm a claim false: later articles repeating it get `known_false_claim` with its rebuttal.
    Within a running service the change is seen within a minute."""
    _decide(claim_id, "confirmed", by, note, config)


@claims_app.command("dismiss")
def claims_dismiss(claim_id: Annotated[str, typer.Argument(help="Id from `haidang claims list`.")],
                   by: ByOpt = None, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """Dismiss a claim (not false, or not ours to rebut): its copies get `dismissed_claim`, which
    lowers their risk."""
    _decide(claim_id, "dismissed", by, note, config)


@claims_app.command("add")
def claims_add(text: Annotated[str, typer.Argument(help="The false claim, as it circulates.")],
               rebuttal_url: Annotated[str, typer.Option("--rebuttal-url", help="The official rebuttal (http or https).")],
               by: ByOpt = None, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """Add a claim known to be false (a denial the office learnt of elsewhere), confirmed at once."""
    from haidang.claimlist import ClaimTooShort, add_claim, valid_rebuttal_url

    if not valid_rebuttal_url(rebuttal_url):
        raise typer.BadParameter(f"{rebuttal_url!r} is not an http(s) address", param_hint="--rebuttal-url")
    settings = _settings(config)
    store = _store(settings)
    try:
        claim_id = add_claim(store, text, rebuttal_url, _decider(by), now=datetime.now(UTC), note=note, via="cli")
    except ClaimTooShort:
        err.print("[red]the claim is too short to be matched safely[/red]: give the sentence as it circulates")
        raise typer.Exit(1) from None
    finally:
        store.close()
    out.print(f"claim {claim_id} confirmed")


@config_app.command("check")
def config_check(config: ConfigOpt = None) -> None:
    """Validate every YAML file in the config folder and the HAIDANG_* variables; name file, line and
    field (or the variable) of each error. Warnings (a variable that has no effect) do not fail it."""
    folder = config or os.environ.get("HAIDANG_CONFIG") or DEFAULT_CONFIG_DIR      # the folder `run` would read
    env_errors, warnings = check_environment(config, dict(os.environ))
    config_missing = any(field == "HAIDANG_CONFIG" for _, _, field, _ in env_errors)
    problems = ([] if config_missing else check_config_dir(Path(folder))) + env_errors
    for file, line, field, msg in problems:
        where = file if file == ENVIRONMENT else f"{file}:{line if line else '?'}"
        err.print(f"{escape(where)}: {escape(field) + ': ' if field else ''}{escape(msg)}", soft_wrap=True)
    for _, _, name, msg in warnings:
        err.print(f"[yellow]warning:[/yellow] {ENVIRONMENT}: {escape(name)}: {escape(msg)}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    note = f" ({len(warnings)} warning{'s' if len(warnings) > 1 else ''} above)" if warnings else ""
    out.print(f"[green]config OK[/green]: {folder} and the environment{note}")


@app.command()
def analyze(file: Annotated[str, typer.Argument(help="JSON Lines file, or - for standard input.")] = "-",
            province: Annotated[str | None, typer.Option(help="Target province: code or name.")] = None,
            config: ConfigOpt = None) -> None:
    """Run the matcher on JSON Lines (`text` required) and write one JSON line per input line."""
    from haidang.analyze import analyze_lines, json_line
    from haidang.service import load_enricher
    settings = _settings(config)
    gaz, matcher = _matcher(settings)
    if province:
        try:    # a misspelt --province would otherwise make every line an error, and exit 0
            gaz.resolve_province(province)
        except (KeyError, ValueError) as exc:
            raise typer.BadParameter(str(exc).strip('"'), param_hint="--province") from None
    enricher = load_enricher(settings)
    try:
        # Bytes, so that one line in a wrong encoding becomes an error line, not a crash.
        stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        err.print(f"[red]cannot read {escape(file)}:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        for result in analyze_lines(stream, gaz, matcher, default_province=province or settings.app.province,
                                    enricher=enricher):
            sys.stdout.write(json_line(result))
        sys.stdout.flush()
    except BrokenPipeError:
        raise typer.Exit(0) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@app.command()
def export(config: ConfigOpt = None,
           fmt: Annotated[str, typer.Option("--format", help="Only jsonl for now.")] = "jsonl",
           output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout).")] = None) -> None:
    """Write every stored article (record and labels) as JSON Lines, for analysis elsewhere.

    Articles only: actions, the audit log, known claims, the outbox and evidence stay out; for a
    full copy use `haidang backup`, to move to Elasticsearch `haidang migrate`."""
    if fmt != "jsonl":
        raise typer.BadParameter("only 'jsonl' is supported", param_hint="--format")
    from haidang.store.export import export_jsonl
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        if output is None:
            n = export_jsonl(store, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as fh:
                n = export_jsonl(store, fh)
    finally:
        store.close()
    err.print(f"exported {n} articles")


@app.command()
def backup(target: Annotated[Path, typer.Argument(help="SQLite: the file to write the copy to. Elasticsearch: "
                                                     "a new index prefix to copy into (same cluster).")],
           config: ConfigOpt = None) -> None:
    """A consistent copy of the store's database, safe while the service is running."""
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        store.backup(str(target))
    finally:
        store.close()
    out.print(f"backup written: {target}")


@gazetteer_app.command("build")
def gazetteer_build(source: Annotated[Path, typer.Option(help="vn-admin-units folder.")] = Path("../shared/data/vn-admin-units"),
                    output: Annotated[Path | None, typer.Option(help="Output file (default: the shipped one).")] = None) -> None:
    """Build the shipped place-name tables from the real administrative-units data."""
    from nlp.gazetteer import DEFAULT_GAZETTEER_PATH, build_gazetteer
    if not source.is_dir():
        err.print(f"[red]{source} not found[/red]: pass --source pointing at shared/data/vn-admin-units")
        raise typer.Exit(2)
    path = output or DEFAULT_GAZETTEER_PATH
    summary = build_gazetteer(source, path)
    out.print(f"wrote {path}: " + ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in summary.items()))


@app.command()
def evaluate(data: Annotated[Path, typer.Option(help="Shared data folder.")] = Path("../shared/data"),
             split: Annotated[str, typer.Option(help="dev or train; the test splits are held out.")] = "dev",
             task: Annotated[list[str] | None, typer.Option("--task", "-t", help="provinces, section, topics, "
                                                               "tone, risk (default: all).")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="Full metrics as JSON.")] = False,
             with_feedback: Annotated[bool, typer.Option("--with-feedback", help="Also measure tone and topics on the "
                                                         "officers' corrections in the store, alone and added to the split, "
                                                         "and count their province corrections.")] = False,
             config: ConfigOpt = None) -> None:
    """Measure every model on dev against the floors pinned beside them; exit 1 below a floor."""
    from nlp.evaluate import TASKS, load_floors, run_evaluations
    if not data.is_dir():
        err.print(f"[red]{data} not found[/red]: pass --data pointing at shared/data")
        raise typer.Exit(2)
    unknown = set(task or []) - set(TASKS)
    if unknown:
        raise typer.BadParameter(f"unknown task(s) {sorted(unknown)}; choose from {list(TASKS)}", param_hint="--task")
    settings = _settings(config)
    feedback = _feedback(config) if with_feedback else None
    results, failures = run_evaluations(data, split=split, tasks=task or list(TASKS), settings=settings,
                                        feedback=feedback)
    floors = load_floors()
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    else:
        for name, metrics in results.items():
            table = Table(title=f"{name} ({split})", show_header=False)
            for key, value in metrics.items():
                if isinstance(value, (int, float, str)) or value is None:
                    floor = floors.get(key)         # metrics are named as floors.json names them
                    table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value),
                                  f"floor {floor:.4f}" if floor is not None else "")
            out.print(table)
    for f in failures:
        err.print(f"[red]below floor:[/red] {f}")
    checked = [k for k in floors if any(k.startswith(f"{name}_") for name in results)]
    if not failures:
        err.print(f"{len(checked)} figure(s) checked against their floors in nlp/floors.json: none below")
    raise typer.Exit(1 if failures else 0)


@app.command()
def train(data: Annotated[Path, typer.Option(help="Shared data folder.")] = Path("../shared/data"),
          task: Annotated[list[str] | None, typer.Option("--task", "-t", help="section, topics, tone, risk "
                                                            "(default: all shipped models).")] = None,
          local: Annotated[bool, typer.Option(help="Also train the local risk model on ReINTEL train and dev (research-only "
                                                   "data: written to $XDG_DATA_HOME/haidang/models, default "
                                                   "~/.local/share/haidang/models, not the data folder; "
                                                   "never shipped).")] = False,
          with_feedback: Annotated[bool, typer.Option("--with-feedback", help="Add the officers' label corrections "
                                                      "in the store (tone and topics) to the training data.")] = False,
          check: Annotated[bool, typer.Option("--check", help="Rebuild in a temporary folder and compare with the "
                                              "shipped models and their cards; change nothing; exit 1 when a "
                                              "rebuilt model's figures differ.")] = False,
          config: ConfigOpt = None) -> None:
    """Rebuild the shipped models from ../shared/data, reproducibly, each with a model card."""
    from nlp.train import SHIPPED, check_models, train_models
    if not data.is_dir():
        err.print(f"[red]{data} not found[/red]: pass --data pointing at shared/data")
        raise typer.Exit(2)
    if check:
        if local or with_feedback:
            err.print("[red]--check compares the shipped models[/red]: it takes neither --local nor --with-feedback")
            raise typer.Exit(2)
        checks = check_models(data, tasks=task or list(SHIPPED))
        for c in checks:
            if not c.ok:
                out.print(f"[red]{c.name}[/red]: rebuilt with other figures than its card; "
                          f"{len(c.differences)} differ, first: " + "; ".join(c.differences[:5]))
            elif c.same_bytes:
                out.print(f"[green]{c.name}[/green]: rebuilt identical, byte for byte")
            else:
                out.print(f"[green]{c.name}[/green]: rebuilt with the same figures (the file's bytes differ)")
        if not all(c.ok for c in checks):
            raise typer.Exit(1)
        return
    feedback = _feedback(config) if with_feedback else None
    for name, metrics in train_models(data, tasks=task or list(SHIPPED), local=local, feedback=feedback).items():
        shown = ((k, _figure(v)) for k, v in metrics.items())
        out.print(f"[green]{name}[/green]: " + ", ".join(f"{k} {f}" for k, f in shown if f is not None), highlight=False)


def _figure(value: object) -> str | None:
    """A training result as one short phrase: figures, counts, names and lists of names (the local
    model's splits and path too); nested tables (per-class figures) are left to the model card."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int | str):
        return escape(str(value))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return escape(" + ".join(value))
    return None


@app.command()
def explain(ref: Annotated[str, typer.Argument(help="Article id or URL.")], config: ConfigOpt = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every label of a stored article, with its reasons."""
    from haidang.explain import render_explanation
    settings = _settings(config)
    article = _stored_article(settings, ref)
    if as_json:
        print(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
        return
    source = next((s for s in settings.sources if s.id == article.fetched.source_id), None)
    render_explanation(out, article, settings.app.timezone, source_name=source.name if source else None,
                       topic_names={t: str(v.get("name") or t) for t, v in settings.topics.items()})


@app.command()
def evidence(article: Annotated[str, typer.Argument(help="Article id or URL.")], config: ConfigOpt = None,
             out_dir: Annotated[Path | None, typer.Option("--out", help="Write the pages, texts and SHA256SUMS here.")] = None) -> None:
    """The evidence kept for a flagged article: each capture and re-check, and the saved pages."""
    from haidang.evidence.files import write_evidence
    from haidang.explain import find_article
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        found = find_article(store, article)
        records = store.evidence(found.id if found is not None else article)
    finally:
        store.close()
    if not records:
        err.print(f"[red]no evidence kept[/red] for {escape(article)} (evidence is kept when a flag is queued)")
        raise typer.Exit(1)
    tz = ZoneInfo(settings.app.timezone)
    table = Table("#", "kind", "outcome", "time", "status", "bytes", "sha256", "note")
    for i, e in enumerate(records, start=1):
        table.add_row(str(i), e.kind, e.outcome or "-", e.fetched_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                      str(e.status_code or "-"), str(len(e.html)), e.sha256[:16], escape(e.note or ""))
    out.print(f"{escape(records[0].url)}")
    out.print(table)
    if out_dir is not None:
        files = write_evidence(records, out_dir)
        out.print(f"{len(files)} files written to {escape(str(out_dir))} (check with: sha256sum -c SHA256SUMS)")


@app.command()
def enrich(config: ConfigOpt = None,
           all_: Annotated[bool, typer.Option("--all", help="Every stored article (after a model update).")] = False) -> None:
    """Recompute labels of stored articles; without --all only those that have none."""
    from haidang.service import enrich_stored
    settings = _settings(config)
    seen, changed = enrich_stored(settings, only_missing=not all_)
    out.print(f"{seen} articles read, {changed} relabelled")


@sources_app.command("check")
def sources_check(config: ConfigOpt = None,
                  source: Annotated[list[str] | None, typer.Option("--source", "-s")] = None) -> None:
    """Reachability, robots.txt verdict and a sample item for each source (needs internet).

    Exits 1 when any source failed (unreachable, refused by robots.txt, no item, or paused by its
    outlet), so a script or a deploy check notices; the last line says how many of how many."""
    settings = _settings(config)
    from haidang.service import check_sources
    sources = [s for s in settings.sources if not source or s.id in source]
    if not sources:
        err.print("[yellow]no sources match; nothing to check[/yellow]")
        raise typer.Exit(1)
    table = Table(title="Kiểm tra nguồn (source check)")
    for col in ("source", "reachable", "robots", "sample item"):
        table.add_column(col)
    rows = check_sources(settings, sources)
    for row in rows:
        table.add_row(row.source_id, row.reachable, row.robots, escape(row.sample))
    out.print(table)
    failed = [row.source_id for row in rows if not row.ok]
    if failed:
        err.print(f"[red]{len(failed)} of {len(rows)} source(s) failed the check[/red]: {escape(', '.join(failed))}",
                  soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"0 of {len(rows)} source(s) failed the check")


@alerts_app.command("test")
def alerts_test(rule: Annotated[str, typer.Argument(help="Rule name from config/alerts.yaml.")],
                since: Annotated[str, typer.Option(help="Replay articles since (7d, 2026-03-01).")] = "7d",
                config: ConfigOpt = None) -> None:
    """Replay one rule over stored articles and show what it would have sent, without sending."""
    from alerts.dispatch import AlertDispatcher
    from alerts.routing import group_by_story
    from haidang.store.base import SearchFilters
    settings = _settings(config)
    chosen = [r for r in settings.alert_rules if r.name == rule]
    if not chosen:
        raise typer.BadParameter(f"no rule {rule!r}; rules: {', '.join(r.name for r in settings.alert_rules)}")
    if chosen[0].spike or chosen[0].silence:
        err.print("[yellow]spike and silence rules are evaluated by the scheduler, not per article[/yellow]")
        raise typer.Exit(2)
    store = _store(settings, create=False)
    try:
        dispatcher = AlertDispatcher(settings, store)
        titles: dict[str, str] = {}
        raised = []
        replayed = 0
        for a in store.iter_articles(SearchFilters(since=_parse_when(since, settings.app.timezone))):
            replayed += 1
            for f in dispatcher.flags_for(a, rules=chosen):
                titles[a.id] = a.content.title
                raised.append(f)
        flags = group_by_story(raised)
        stored = store.count()
    finally:
        store.close()
    table = Table(title=f"{rule}: {len(flags)} cảnh báo sẽ được gửi (flags it would raise; nothing sent)")
    for col in ("severity", "title", "article (haidang explain ID)", "outlets", "recipients", "when"):
        table.add_column(col, overflow="fold", no_wrap=col.startswith("article"))
    for f in flags:
        first = f.article_ids[0] if f.article_ids else ""
        table.add_row(f.severity, escape(titles.get(first, "")), first, str(len(f.article_ids)), ", ".join(f.recipients),
                      "ngay (immediate)" if f.immediate else "bản tin ngày (digest)")
    out.print(table)
    # Articles are picked by publication date: after a first crawl (or the demo, whose fixture pages
    # are dated years back) "7d" may hold none of what is stored, and an empty table alone reads as
    # "the rule raises nothing".
    out.print(f"{replayed} of {stored} stored article(s) replayed (published since {since})"
              + ("; older ones: --since 2000-01-01" if replayed < stored and not flags else ""))


@app.command()
def digest(date_: Annotated[str | None, typer.Option("--date", help="Day of the digest, YYYY-MM-DD (default: today).")] = None,
           to: Annotated[Path | None, typer.Option("--to", help="Write the HTML digest to this file (default: print the text).")] = None,
           config: ConfigOpt = None) -> None:
    """Render the daily digest for one day without sending it."""
    from datetime import date as _date

    from alerts.digest import build_digest, render_digest
    settings = _settings(config)
    try:
        day = _date.fromisoformat(date_) if date_ else datetime.now(ZoneInfo(settings.app.timezone)).date()
    except ValueError:
        raise typer.BadParameter(f"--date {date_!r} is not YYYY-MM-DD") from None
    store = _store(settings, create=False)
    try:
        subject, text, html = render_digest(build_digest(store, settings, day))
    finally:
        store.close()
    if to is None:
        print(f"{subject}\n\n{text}", end="")
        return
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_text(html, encoding="utf-8")
    out.print(f"{escape(subject)}\n→ {escape(str(to))}")


@app.command()
def correction(ref: Annotated[str, typer.Argument(help="Article id or URL.")],
               to: Annotated[Path, typer.Option("--to", "--out", help="The .docx file to write.")],
               passage: Annotated[list[str] | None, typer.Option("--passage", "-p", help="A passage at issue (repeat); default: the sentences the risk signals quoted.")] = None,
               config: ConfigOpt = None) -> None:
    """Write a correction request (đề nghị cải chính) for a stored article, from config/templates/."""
    from haidang.reports.correction import correction_request_docx
    from haidang.reports.formats import output_format
    try:
        output_format(to, None, ("docx",))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--to") from None
    settings = _settings(config)
    article = _stored_article(settings, ref)
    path = correction_request_docx(article, settings, passage, to)
    out.print(f"→ {escape(str(path))} (điền các chỗ [...] rồi ký / fill in the [...] and sign)")


@app.command()
def report(from_: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (local time).")],
           to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD, included.")],
           format_: Annotated[str | None, typer.Option("--format", help="docx or xlsx (default: from the --out extension, else docx).")] = None,
           out_path: Annotated[Path | None, typer.Option("--out", help="File to write, .docx or .xlsx (default: <data>/reports/).")] = None,
           config: ConfigOpt = None) -> None:
    """The report for a plan deadline: volumes, foreign press, flags, actions, response times, open items."""
    from datetime import date as _date

    from haidang.reports.document import write_docx
    from haidang.reports.formats import output_format
    from haidang.reports.report import build_report, report_file_name
    from haidang.reports.workbook import write_xlsx
    try:
        format_ = output_format(out_path, format_, ("docx", "xlsx")) or "docx"
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out/--format") from None
    try:
        start, end = _date.fromisoformat(from_), _date.fromisoformat(to)
    except ValueError:
        raise typer.BadParameter("--from and --to are YYYY-MM-DD") from None
    if end < start:
        raise typer.BadParameter("--to is before --from")
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        data = build_report(store, settings, start, end)
    finally:
        store.close()
    writer = write_docx if format_ == "docx" else write_xlsx
    path = writer(data, out_path or settings.data_dir / "reports" / report_file_name(data, format_))
    out.print(f"{data.total} bài, {len(data.flags)} cảnh báo, {len(data.open_items)} việc chưa xử lý → {escape(str(path))}")


def _es_store_settings(settings: Settings, url: str | None):
    """The store settings pointed at Elasticsearch, for the commands that set it up or fill it;
    exit 2 with what to give when no URL is known (the configured store may be SQLite)."""
    store = settings.app.store
    if not (url or store.elasticsearch_url or os.environ.get("ELASTICSEARCH_URL")):
        err.print("[red]no Elasticsearch URL[/red]: pass --url http://HOST:9200, set ELASTICSEARCH_URL, or set "
                  f"store.elasticsearch_url in config/haidang.yaml (the configured store is {store.backend})")
        raise typer.Exit(2)
    return store.model_copy(update={"backend": "elasticsearch", **({"elasticsearch_url": url} if url else {})})


@index_app.command("setup")
def index_setup(config: ConfigOpt = None,
                url: Annotated[str | None, typer.Option(help="Elasticsearch URL (default: store settings or ELASTICSEARCH_URL).")] = None) -> None:
    """Install the ILM policy, component and index templates, write alias and bookkeeping indices (idempotent)."""
    from haidang.store import elasticsearch_client
    from haidang.store.es_setup import install_templates
    settings = _settings(config)
    store = _es_store_settings(settings, url)
    from elastic_transport import ApiError as TransportApiError
    from elastic_transport import TransportError

    from haidang.errors import StoreError
    client = elasticsearch_client(store)
    try:
        done = install_templates(client, store.elasticsearch_prefix,
                                 delete_after_days=store.elasticsearch_delete_after_days)
    except (TransportApiError, TransportError) as exc:
        raise StoreError(f"installing the index templates at {store.elasticsearch_url or 'ELASTICSEARCH_URL'}: "
                         f"{exc}") from exc
    finally:
        client.close()
    for line in done:
        out.print(escape(line))


@kibana_app.command("setup")
def kibana_setup(config: ConfigOpt = None,
                 kibana_url: Annotated[str, typer.Option("--kibana-url", envvar="HAIDANG_KIBANA_URL",
                                                         help="Kibana base URL.")] = "http://localhost:5601") -> None:
    """Import the data views, saved searches and dashboard (index_templates/kibana/) into Kibana."""
    import os

    from haidang.kibana import import_saved_objects, render_saved_objects, saved_objects_path
    settings = _settings(config)
    store = settings.app.store
    foreign = [s.id for s in settings.sources if s.kind == "foreign_press"]
    ndjson = render_saved_objects(saved_objects_path().read_text(encoding="utf-8"),
                                  prefix=store.elasticsearch_prefix, foreign_sources=foreign)
    env = os.environ
    answer = import_saved_objects(kibana_url, ndjson, username=env.get(store.elasticsearch_username_env or ""),
                                  password=env.get(store.elasticsearch_password_env or ""),
                                  api_key=env.get(store.elasticsearch_api_key_env or ""))
    out.print(f"imported {answer.get('successCount', 0)} saved objects into {escape(kibana_url)}")


@app.command()
def migrate(to: Annotated[str, typer.Option("--to", help="Target backend: elasticsearch.")],
            config: ConfigOpt = None,
            url: Annotated[str | None, typer.Option(help="Elasticsearch URL (default: store settings or ELASTICSEARCH_URL).")] = None) -> None:
    """Copy the embedded store into Elasticsearch; resumable (checkpoint in the data folder) and idempotent."""
    from haidang.store import open_store
    from haidang.store.migrate import migrate_store
    if to != "elasticsearch":
        raise typer.BadParameter("only --to elasticsearch is supported", param_hint="--to")
    settings = _settings(config)
    target_settings = _es_store_settings(settings, url)
    source = _store(settings.model_copy(update={"app": settings.app.model_copy(update={
        "store": settings.app.store.model_copy(update={"backend": "sqlite"})})}), create=False)
    try:
        target = open_store(target_settings)
        try:
            report = migrate_store(source, target, settings.data_dir / "migrate-elasticsearch.json",  # type: ignore[arg-type]
                                   progress=lambda line: err.print(escape(line)))
        finally:
            target.close()
    finally:
        source.close()
    out.print(f"articles: {report.articles} (skipped by checkpoint: {report.skipped_by_checkpoint}); "
              f"claims {report.claims}, outbox {report.outbox}, validators {report.validators}, "
              f"host pauses {report.host_pauses}, "
              f"failures {report.failures}, actions {report.actions}, audit {report.audit}, evidence {report.evidence}")


# -- officers' web app, audit log, users (haidang/web) -------------------------------------------

users_app = typer.Typer(help="Logins of the web app (config/users.yaml).", no_args_is_help=True)
feedback_app = typer.Typer(help="Officers' label corrections, kept as training feedback.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(feedback_app, name="feedback")


def _feedback(config: Path | None) -> list[dict[str, Any]]:
    """Officers' label corrections from the configured store (for train/evaluate --with-feedback)."""
    from haidang.web.respond import feedback_records
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        records = feedback_records(store)
    finally:
        store.close()
    err.print(f"{len(records)} label corrections from the store "
              f"({sum(1 for r in records if r['field'] == 'tone')} on tone, "
              f"{sum(1 for r in records if r['field'] == 'topic')} on topics, "
              f"{sum(1 for r in records if r['field'] == 'province')} on provinces)")
    return records


def _link_secret(settings: Settings) -> str | None:
    import os
    return os.environ.get(settings.app.web.secret_env) or None


@app.command()
def web(config: ConfigOpt = None,
        host: Annotated[str | None, typer.Option(help="Bind address (default: web.host, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="TCP port (default: web.port).")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run only the officers' web app (flag links, search, login) until Ctrl-C. It serves an existing
    store and never creates one: with none there it says so and exits 2, as the reading commands do."""
    _setup_logging(verbose)
    settings = _settings(config)
    secret = _link_secret(settings)
    if not secret:
        err.print(f"[red]{settings.app.web.secret_env} is not set[/red]: the web app signs links, forms and "
                  f"logins with it; set it to 32+ random characters (the same value `haidang serve` uses)")
        raise typer.Exit(2)
    _store(settings, create=False).close()     # no store there: the message, exit 2
    from haidang.malloc import limit_arenas
    from haidang.web import build_server
    limit_arenas(settings.app.service.malloc_arenas)      # before uvicorn's worker threads start
    try:
        server = build_server(settings, secret, host, port, create=False)
    except ValueError as exc:
        err.print(f"[red]{escape(str(exc))}[/red] ({settings.app.web.secret_env})")
        raise typer.Exit(2) from None
    err.print(f"Hải Đăng web on http://{server.config.host}:{server.config.port} "
              f"(links point to {settings.app.web.base_url}); Ctrl-C stops")
    server.run()


@app.command()
def audit(since: Annotated[str, typer.Option(help="From when: 30d, 12h, YYYY-MM-DD.")] = "30d",
          kind: Annotated[str, typer.Option(help="Only entries of this kind (action, claim, login, ...).")] = "",
          config: ConfigOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON Lines instead of a table.")] = False) -> None:
    """The audit log: every officer action, label correction and login (append-only)."""
    settings = _settings(config)
    tz = ZoneInfo(settings.app.timezone)
    store = _store(settings, create=False)
    try:
        entries = store.audit(since=_parse_when(since, settings.app.timezone), kind=kind or None)
    finally:
        store.close()
    if as_json:
        for e in entries:
            sys.stdout.write(json.dumps({"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind,
                                         "target": e.target, "detail": e.detail, "client": e.client},
                                        ensure_ascii=False, default=str) + "\n")
        return
    from haidang import wording
    from haidang.web.display import LabelNames, audit_row

    start = _parse_when(since, settings.app.timezone)   # None (--since ""): the whole log
    names = LabelNames(topics={t: str(v.get("name") or t) for t, v in settings.topics.items()}, provinces={},
                       rules={r.name: r.description for r in settings.alert_rules if r.description})
    heading = f"Nhật ký từ {start.astimezone(tz):%d/%m/%Y %H:%M}" if start is not None else "Toàn bộ nhật ký"
    table = Table(title=f"{heading}: {len(entries)} mục (audit log)")
    for col in ("when", "who", "what", "target", "detail", "client"):
        table.add_column(col, overflow="fold", no_wrap=col in ("when", "what"))
    for e in entries:
        row = audit_row(e, names, lambda at: wording.when(at, settings.app.timezone))
        action = next((d["value"] for d in row["details"] if d["key"] == "action"), None)
        detail = "; ".join([*(f"{c['name']}: {c['from']} → {c['to']}" for c in row["changes"]),
                            *(f"{d['name']}: {d['value']}" for d in row["details"] if d["key"] != "action")])
        what = f"{row['kind_name']}: {action}" if action else f"{row['kind_name']} ({e.kind})"
        table.add_row(row["at"], escape(e.actor), escape(what),
                      escape(e.target), escape(detail), escape(e.client or ""))
    out.print(table)


@users_app.command("add")
def users_add(name: Annotated[str, typer.Argument(help="Login name.")],
              role: Annotated[str, typer.Option(help="viewer, officer or administrator.")] = "viewer",
              agency: Annotated[str | None, typer.Option(
                  help="The agency (an id in agencies.yaml) this officer acts for; reports count their actions under it.")] = None,
              config: ConfigOpt = None) -> None:
    """Add a user (or change a user's password and role); asks for the password, stores its argon2 hash."""
    import os

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from haidang.settings import User, UserRole, UsersFile, validate_yaml_file
    from haidang.web.sessions import hash_password
    if role not in ("viewer", "officer", "administrator"):
        raise typer.BadParameter("use viewer, officer or administrator", param_hint="--role")
    folder = Path(config or os.environ.get("HAIDANG_CONFIG") or DEFAULT_CONFIG_DIR)
    path = folder / "users.yaml"
    if path.exists() or path.is_symlink():
        try:
            validate_yaml_file(path, UsersFile)     # rewriting a file it cannot read would drop its users
        except ConfigError as exc:
            err.print(f"[red]configuration error[/red]\n{escape(str(exc))}\n{escape(str(path))} is left as it is: "
                      f"fix it, then add the user again")
            raise typer.Exit(2) from None
    if agency is not None:
        known = {a.id: a.name for a in _settings(folder).agencies}
        if agency not in known:
            raise typer.BadParameter(f"unknown agency id {agency!r}; agencies.yaml has: {', '.join(sorted(known)) or 'none'}",
                                     param_hint="--agency")
    password = typer.prompt("Mật khẩu (password)", hide_input=True,
                            confirmation_prompt="Nhập lại mật khẩu (repeat the password)")
    if len(password) < 10:
        err.print("[red]password too short[/red]: use at least 10 characters")
        raise typer.Exit(2)
    user = User(name=name, role=cast(UserRole, role), password_hash=hash_password(password), agency=agency)   # validates the name
    yaml = YAML(typ="rt")
    doc = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    users = doc.get("users")
    if not isinstance(users, CommentedSeq):
        users = CommentedSeq()
        doc["users"] = users
    entry = CommentedMap([("name", user.name), ("role", user.role), ("password_hash", user.password_hash)])
    if user.agency:
        entry["agency"] = user.agency
    for i, existing in enumerate(users):
        if str(existing.get("name", "")).lower() == name.lower():
            users[i] = entry
            break
    else:
        users.append(entry)
    tmp = path.with_suffix(".yaml.partial")
    with tmp.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)
    os.replace(tmp, path)
    out.print(f"user {escape(name)} ({role}{', ' + escape(agency) if agency else ''}) saved in {path}")


@feedback_app.command("export")
def feedback_export(config: ConfigOpt = None,
                    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout).")] = None,
                    since: Annotated[str | None, typer.Option(help="From when: 90d, YYYY-MM-DD.")] = None) -> None:
    """Officers' label corrections as JSON Lines (article_id, field, label, from, title, text, province, by, at)."""
    from haidang.web.respond import feedback_records
    settings = _settings(config)
    store = _store(settings, create=False)
    try:
        records = feedback_records(store, since=_parse_when(since, settings.app.timezone))
    finally:
        store.close()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if output is None:
        sys.stdout.write(lines)
    else:
        output.write_text(lines, encoding="utf-8")
    err.print(f"exported {len(records)} corrections")


def main() -> None:  # pragma: no cover - entry point for python -m haidang
    try:
        app()
    except HaidangError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(1)
