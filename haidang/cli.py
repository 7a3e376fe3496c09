"""The `haidang` command: parse arguments, call the library, print. No logic of its own."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from haidang.errors import ConfigError, HaidangError, QueryError
from haidang.settings import DEFAULT_CONFIG_DIR, Settings, check_config_dir, load_settings

app = typer.Typer(help="Hải Đăng: media monitoring for provincial foreign-information offices.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)
gazetteer_app = typer.Typer(help="The place-name gazetteer.", no_args_is_help=True)
sources_app = typer.Typer(help="Configured sources.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alert rules and the email outbox.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(gazetteer_app, name="gazetteer")
app.add_typer(sources_app, name="sources")
app.add_typer(alerts_app, name="alerts")

out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config folder (default: config/ or HAIDANG_CONFIG).")]


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]configuration error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def _store(settings: Settings):
    from haidang.store import open_store
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return open_store(settings.app.store)


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
    """One pass over every configured source: fetch → extract → match → store."""
    _setup_logging(verbose)
    settings = _settings(config)
    from haidang.service import run_once
    sources = [s for s in settings.sources if s.enabled and (not source or s.id in source)]
    if not sources:
        err.print("[yellow]no enabled sources match; nothing to do[/yellow]")
        raise typer.Exit(1)
    tallies = run_once(settings, sources, console=err)
    _print_summary(tallies)
    out.print(f"data: {settings.data_dir}")


def _print_summary(tallies: dict[str, Any]) -> None:
    table = Table(title="Kết quả thu thập (collection summary)")
    for col in ("source", "fetched", "new", "updated", "duplicates", "syndicated", "flagged", "skipped", "errors"):
        table.add_column(col, justify="left" if col in ("source", "skipped") else "right")
    for sid, t in sorted(tallies.items()):
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(t.skipped.items())) or "0"
        table.add_row(sid, str(t.fetched), str(t.new), str(t.updated), str(t.duplicates),
                      str(t.syndicated), str(t.flagged), skipped, f"[red]{t.errors}[/red]" if t.errors else "0")
    out.print(table)
    for sid, t in sorted(tallies.items()):
        if t.last_error:
            out.print(f"[red]{escape(sid)}[/red]: {escape(t.last_error)}")


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
    store = _store(settings)
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
    for h in result.hits:
        when = h.published.astimezone(tz).strftime("%d/%m/%Y %H:%M") if h.published else "?"
        out.print(f"\n[bold]{escape(h.title)}[/bold]  [dim]{h.id}[/dim]")
        out.print(f"  {escape(h.source_id)} · {when} · score {h.score:.2f} · {escape(h.url)}")
        out.print("  " + _highlight(h.snippet))


def _highlight(snippet: str) -> str:
    """Matches in bold on a terminal; piped output keeps the « » marks so they survive."""
    if not out.is_terminal:
        return escape(snippet)
    return escape(snippet).replace("«", "[bold yellow]").replace("»", "[/bold yellow]")


@app.command()
def status(config: ConfigOpt = None) -> None:
    """Per source: last success, last error, articles stored, feed validators held."""
    settings = _settings(config)
    store = _store(settings)
    try:
        rows = {s.source_id: s for s in store.source_status()}
        failures = store.failures()
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
        table.add_row(sid, fmt(r.last_success), escape(last_err[:120]), str(r.articles), str(r.validators))
    out.print(table)
    if failures:
        out.print(f"\n{len(failures)} failed item(s); latest:")
        for f in failures[:20]:
            out.print(f"  {fmt(f.at)} {escape(f.source_id)} {f.stage} {escape(f.error_class)}: "
                      f"{escape(f.message[:150])} ({escape(f.url)})")


@config_app.command("check")
def config_check(config: ConfigOpt = None) -> None:
    """Validate every YAML file in the config folder; name file, line and field of each error."""
    folder = config or DEFAULT_CONFIG_DIR
    problems = check_config_dir(Path(folder))
    if not problems:
        out.print(f"[green]config OK[/green]: {folder}")
        return
    for file, line, field, msg in problems:
        err.print(f"{file}:{line if line else '?'}: {field}: {msg}")
    raise typer.Exit(1)


@app.command()
def analyze(file: Annotated[str, typer.Argument(help="JSON Lines file, or - for standard input.")] = "-",
            province: Annotated[str | None, typer.Option(help="Target province: code or name.")] = None,
            config: ConfigOpt = None) -> None:
    """Run the matcher on JSON Lines (`text` required) and write one JSON line per input line."""
    from haidang.analyze import analyze_lines
    from haidang.service import load_enricher
    settings = _settings(config)
    gaz, matcher = _matcher(settings)
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
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
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
    """Write the whole store out as JSON Lines (backups, moving data)."""
    if fmt != "jsonl":
        raise typer.BadParameter("only 'jsonl' is supported", param_hint="--format")
    from haidang.store.export import export_jsonl
    settings = _settings(config)
    store = _store(settings)
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
def backup(target: Annotated[Path, typer.Argument(help="File to write the copy to.")],
           config: ConfigOpt = None) -> None:
    """A consistent copy of the store's database, safe while the service is running."""
    settings = _settings(config)
    store = _store(settings)
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
    summary = build_gazetteer(source, output or DEFAULT_GAZETTEER_PATH)
    out.print(summary)


@app.command()
def evaluate(data: Annotated[Path, typer.Option(help="Shared data folder.")] = Path("../shared/data"),
             split: Annotated[str, typer.Option(help="dev or train; the test splits are held out.")] = "dev",
             task: Annotated[list[str] | None, typer.Option("--task", "-t", help="provinces, section, topics, "
                                                               "tone, risk (default: all).")] = None,
             as_json: Annotated[bool, typer.Option("--json", help="Full metrics as JSON.")] = False) -> None:
    """Measure every model on dev against the floors pinned beside them; exit 1 below a floor."""
    from nlp.evaluate import TASKS, run_evaluations
    if not data.is_dir():
        err.print(f"[red]{data} not found[/red]: pass --data pointing at shared/data")
        raise typer.Exit(2)
    unknown = set(task or []) - set(TASKS)
    if unknown:
        raise typer.BadParameter(f"unknown task(s) {sorted(unknown)}; choose from {list(TASKS)}", param_hint="--task")
    settings = _settings(None)
    results, failures = run_evaluations(data, split=split, tasks=task or list(TASKS), settings=settings)
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    else:
        for name, metrics in results.items():
            table = Table(title=f"{name} ({split})", show_header=False)
            for key, value in metrics.items():
                if isinstance(value, (int, float, str)) or value is None:
                    table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
            out.print(table)
    for f in failures:
        err.print(f"[red]below floor:[/red] {f}")
    raise typer.Exit(1 if failures else 0)


@app.command()
def train(data: Annotated[Path, typer.Option(help="Shared data folder.")] = Path("../shared/data"),
          task: Annotated[list[str] | None, typer.Option("--task", "-t", help="section, topics, tone, risk "
                                                            "(default: all shipped models).")] = None,
          local: Annotated[bool, typer.Option(help="Also train the local risk model on ReINTEL (research-only "
                                                   "data: written to the data folder, never shipped).")] = False) -> None:
    """Rebuild the shipped models from ../shared/data, reproducibly, each with a model card."""
    from nlp.train import SHIPPED, train_models
    if not data.is_dir():
        err.print(f"[red]{data} not found[/red]: pass --data pointing at shared/data")
        raise typer.Exit(2)
    for name, metrics in train_models(data, tasks=task or list(SHIPPED), local=local).items():
        out.print(f"[green]{name}[/green]: " + ", ".join(
            f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))


@app.command()
def explain(ref: Annotated[str, typer.Argument(help="Article id or URL.")], config: ConfigOpt = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every label of a stored article, with its reasons."""
    from haidang.explain import find_article, render_explanation
    settings = _settings(config)
    store = _store(settings)
    try:
        article = find_article(store, ref)
    finally:
        store.close()
    if article is None:
        err.print(f"[red]no stored article[/red] with id or URL {escape(ref)}")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
        return
    render_explanation(out, article, settings.app.timezone)


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
    """Reachability, robots.txt verdict and a sample item for each source (needs internet)."""
    settings = _settings(config)
    from haidang.service import check_sources
    sources = [s for s in settings.sources if not source or s.id in source]
    table = Table(title="Kiểm tra nguồn (source check)")
    for col in ("source", "reachable", "robots", "sample item"):
        table.add_column(col)
    for row in check_sources(settings, sources):
        table.add_row(row.source_id, row.reachable, row.robots, escape(row.sample))
    out.print(table)


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
    store = _store(settings)
    try:
        dispatcher = AlertDispatcher(settings, store)
        flags = group_by_story([f for a in store.iter_articles(SearchFilters(since=_parse_when(since, settings.app.timezone)))
                                for f in dispatcher.flags_for(a, rules=chosen)])
    finally:
        store.close()
    table = Table(title=f"{rule}: {len(flags)} cờ báo sẽ được gửi (flags it would raise; nothing sent)")
    for col in ("severity", "story", "outlets", "recipients", "when"):
        table.add_column(col, overflow="fold")
    for f in flags:
        table.add_row(f.severity, f.story_id[:12], str(len(f.article_ids)), ", ".join(f.recipients),
                      "ngay (immediate)" if f.immediate else "bản tin ngày (digest)")
    out.print(table)


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
    store = _store(settings)
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


def main() -> None:  # pragma: no cover - entry point for python -m haidang
    try:
        app()
    except HaidangError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(1)
