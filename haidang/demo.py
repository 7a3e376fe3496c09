"""`haidang demo`: the real pipeline, offline, against the fixture sites served on 127.0.0.1.

The fixture sites are the test suite's (tests/fixtures/sites/); the demo writes a temporary
config folder pointing at them and runs the same `run_once` as `haidang run`. It reads its
settings without the environment (its own folders, whatever HAIDANG_HOME says); the one variable
it uses is the link secret, to sign the action links in its flag emails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alerts.digest import DIGEST_RULE, WEEKEND, digest_window, reported_at
from alerts.flag import is_flag_message
from alerts.render import shorten
from haidang.settings import DEFAULT_CONFIG_DIR, Settings, check_environment, load_settings
from haidang.sites import SITES_DIR, FixtureServer, serve_sites
from haidang.store.base import OutboxMessage, Store

__all__ = ["busiest_digest_day", "run_demo", "write_demo_config", "write_digest"]

_PORT_FILE = "demo-port"      # in the data folder: the fixture sites' port, so a re-run finds the same URLs


_DEMO_APP = """\
# Written by `haidang demo` for the fixture sites on 127.0.0.1.
province: Quảng Ngãi
crawl:
  user_agent: "HaiDangBot/0.1 (demo; fixture sites on 127.0.0.1)"
  download_timeout_s: 15         # seconds; local fixture server (generous: a loaded CI machine is slow)
  autothrottle_start_delay_s: 0  # seconds; loopback needs no politeness delay
  retry_times: 0                 # faults are deterministic here
store:
  data_dir: "{data_dir}"
"""

_DEMO_SMTP = """\
smtp:                            # --smtp: a local mail server (e.g. a mail catcher), no TLS, no login
  host: "{host}"
  port: {port}
  security: none
  sender: "Hải Đăng demo <haidang-demo@localhost>"
"""

SAMPLE_QUERIES = ['ly son', '"Dung Quất"', 'dau tu -Khanh', 'quang ngai OR "Măng Đen"']


def parse_smtp(value: str) -> tuple[str, int]:
    """"HOST:PORT" -> (host, port); ValueError says what is expected."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:1025")
    return host, int(port)


def write_demo_config(base_url: str, config_dir: Path, data_dir: Path, smtp: str | None = None) -> Path:
    """A config folder whose sources are the fixture sites at `base_url`; returns the folder.

    `smtp` ("host:port") sends the demo's messages to that server instead of writing .eml files.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    app = _DEMO_APP.format(data_dir=data_dir)
    if smtp:
        host, port = parse_smtp(smtp)
        app += _DEMO_SMTP.format(host=host, port=port)
    (config_dir / "haidang.yaml").write_text(app, encoding="utf-8")
    sources = (SITES_DIR / "sources.yaml").read_text(encoding="utf-8").replace("{BASE}", base_url)
    (config_dir / "sources.yaml").write_text(sources, encoding="utf-8")
    for name in ("landmarks.yaml", "topics.yaml", "agencies.yaml", "alerts.yaml"):
        shutil.copy(DEFAULT_CONFIG_DIR / name, config_dir / name)
    return config_dir


def link_secret_problem(config_dir: Path, secret_env: str, environ: dict[str, str] | None = None) -> str | None:
    """What is wrong with the link secret in the environment, in the words every other command
    refuses it with (settings' environment check); None when it is unset or usable."""
    value = (os.environ if environ is None else environ).get(secret_env)
    if not value:
        return None
    errors, _ = check_environment(config_dir, environ={secret_env: value})
    return next((message for _, _, name, message in errors if name == secret_env), None)


def busiest_digest_day(store: Store, settings: Settings) -> date:
    """The working day whose digest counts the most stored articles.

    An article counts in the digest whose window holds its publication or, when found later, the
    moment it was found (`alerts.digest.reported_at`): the demo's fixtures are from March 2026 and
    found now, so this is the next digest due. Saturday and Sunday send none (Monday's covers them).
    """
    tz = ZoneInfo(settings.app.timezone)
    days: Counter[date] = Counter()
    for article in store.iter_articles(html=False):
        when = reported_at(article)
        if when is None:
            continue
        local = when.astimezone(tz).date()
        for day in (local + timedelta(days=n) for n in range(4)):
            start, end = digest_window(day, settings.app.timezone, settings.digest.time)
            if day.weekday() not in WEEKEND and start <= when < end:
                days[day] += 1
                break
    return min(days, key=lambda d: (-days[d], d)) if days else datetime.now(tz).date()


def write_digest(store: Store, settings: Settings, day: date) -> tuple[Path, int]:
    """Queue and deliver the digest for `day` (SMTP or .eml), and keep its HTML in the data folder."""
    from alerts.digest import build_digest, queue_digest, render_digest
    from alerts.dispatch import AlertDispatcher, make_notifier
    dispatcher = AlertDispatcher(settings, store)
    _, _, html = render_digest(build_digest(store, settings, day, dispatcher=dispatcher))
    path = settings.data_dir / f"digest-{day.isoformat()}.html"
    path.write_text(html, encoding="utf-8")
    queued = queue_digest(store, settings, day, dispatcher=dispatcher)
    dispatcher.deliver(make_notifier(settings))
    return path, queued


def run_demo(out: Console, err: Console, *, data_dir: Path | None = None, keep_serving: bool = False,
             smtp: str | None = None) -> None:
    from haidang.cli import _print_summary
    from haidang.service import run_once
    from haidang.store import open_store

    # With --data, the config sits in that folder too: users added to it (`haidang users add`) are
    # still there for the next demo on it. Without, both go to a new temporary folder.
    work = data_dir.resolve() if data_dir else Path(tempfile.mkdtemp(prefix="haidang-demo-"))
    data_dir = (data_dir or work / "data").resolve()
    with _fixture_sites(data_dir, err) as server:
        base_url = server.base_url
        err.print(f"fixture sites on {base_url}")
        config_dir = write_demo_config(base_url, work / "config", data_dir, smtp)
        settings = load_settings(config_dir, environ={})
        secret_env = settings.app.web.secret_env
        # A demo is for trying things out: a secret too short to sign with does not stop it (other
        # commands refuse it); it runs without the links, and says why in the same words.
        secret_problem = link_secret_problem(config_dir, secret_env)
        if secret_problem:
            err.print(f"[yellow]{secret_env}[/yellow]: {escape(secret_problem)}; the demo goes on without "
                      "signed links", soft_wrap=True)
        tallies = run_once(settings, settings.sources, console=err, sign_links=not secret_problem)
        _print_summary(tallies, settings.app.timezone)
        store = open_store(settings.app.store)
        try:
            table = Table(title="Tìm thử (sample searches)")
            table.add_column("query")
            table.add_column("hits", justify="right")
            table.add_column("top result")
            for q in SAMPLE_QUERIES:
                result = store.search(q, limit=1)
                top = result.hits[0].title if result.hits else "-"
                table.add_row(escape(q), str(result.total), escape(top))
            out.print(table)
            labelled = Table(title="Nhãn của các bài đã lưu (labels of the stored articles)")
            for col in ("source", "title", "topics", "tone", "risk"):
                labelled.add_column(col, overflow="fold")
            for article in store.iter_articles(html=False):
                labels = article.labels
                risk = labels.get("risk", {})
                labelled.add_row(article.fetched.source_id, escape(shorten(article.content.title, 60)),
                                 ", ".join(t["id"] for t in labels.get("topics", [])) or "-",
                                 labels.get("tone", {}).get("label", "-"),
                                 f"{risk.get('level', '-')} ({risk.get('score', 0):.2f})")
            out.print(labelled)
            day = busiest_digest_day(store, settings)
            digest_path, _ = write_digest(store, settings, day)
            messages = store.outbox()
        finally:
            store.close()
        flags = [m for m in messages if m.flag_rule != DIGEST_RULE and is_flag_message(m)]
        out.print(f"{len(flags)} cảnh báo (flag emails) and {len(messages) - len(flags)} bản tin ngày "
                  f"(digest for {day:%d/%m/%Y}) in the outbox")
        _print_delivery(out, messages, smtp=smtp, eml_dir=data_dir / "outbox-eml", tz=ZoneInfo(settings.app.timezone))
        out.print(f"digest as a web page: {digest_path}")
        out.print(f"data: {data_dir}\nconfig: {config_dir}")
        out.print(f"try:  haidang search --config {config_dir} \"ly son\"")
        out.print(f"      haidang status --config {config_dir}")
        out.print(f"      haidang explain --config {config_dir} ID   (an id from the search results)")
        out.print(f"      haidang claims list --config {config_dir}   (claims proposed from debunk reports, to confirm)")
        if os.environ.get(secret_env) and not secret_problem:
            out.print(f"      haidang web --config {config_dir}   (the officers' pages the flag emails link to)")
        elif secret_problem:
            out.print(f"set {secret_env} to 32+ random characters (it has {len(os.environ[secret_env])}) to put "
                      "signed action links in the flag emails and open them with `haidang web`")
        else:
            out.print(f"set {secret_env} (32+ random characters) before the demo to put signed action links in "
                      "the flag emails and open them with `haidang web`", soft_wrap=True)
        if keep_serving:
            import time
            err.print("serving the fixture sites; Ctrl-C to stop")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass


@contextmanager
def _fixture_sites(data_dir: Path, err: Console) -> Iterator[FixtureServer]:
    """The fixture sites, on the port this data folder's last demo used when it is free.

    An article's id comes from its URL, and the URL holds the port: a second demo on the same
    `--data` folder must find the same addresses, or it stores every article again as new."""
    port_file = data_dir / _PORT_FILE
    try:
        port = int(port_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        port = 0
    with ExitStack() as stack:
        try:
            server = stack.enter_context(serve_sites(SITES_DIR, port))
        except OSError:
            err.print(f"[yellow]port {port} of the last demo on this folder is taken[/yellow]: the fixture "
                      "articles get new addresses, so they are stored again beside the earlier ones")
            server = stack.enter_context(serve_sites(SITES_DIR))
        data_dir.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(server.server_address[1]), encoding="ascii")
        yield server


def _print_delivery(out: Console, messages: list[OutboxMessage], *, smtp: str | None, eml_dir: Path,
                    tz: ZoneInfo) -> None:
    """What happened to the queued mail, by outcome: a demo that says "sent" must have sent."""
    sent = [m for m in messages if m.status == "sent"]
    now = datetime.now(UTC)
    retrying = [m for m in messages if m.status == "pending" and m.attempts]
    untried = [m for m in messages if m.status == "pending" and not m.attempts]
    # Deferred to a later time: quiet hours. Due but untried: the run stopped sending after the
    # server failed several times in a row, and these wait for the next run like the retries.
    held = [m for m in untried if m.next_attempt_at and m.next_attempt_at > now]
    waiting = [m for m in untried if m not in held]
    failed = [m for m in messages if m.status == "failed"]
    where = f"sent to the SMTP server {smtp}" if smtp else f"written as .eml files in {eml_dir} (no SMTP server configured)"
    out.print(f"{len(sent)} message(s) {where}")
    if held:
        due = [t for t in (m.next_attempt_at or m.created_at for m in held) if t]
        until = f" until {min(due).astimezone(tz):%H:%M %d/%m}" if due else ""
        out.print(f"{len(held)} message(s) held by quiet hours{until} "
                  "(they stay in the outbox; `haidang serve` or the next run sends them)")
    if retrying:
        out.print(f"[yellow]{len(retrying)} message(s) not delivered yet, to be retried[/yellow]: "
                  f"{escape(retrying[0].last_error or '')}")
    if waiting:
        out.print(f"[yellow]{len(waiting)} message(s) not tried yet[/yellow]: sending stopped when the server "
                  "kept failing; they stay in the outbox for `haidang serve` or the next run")
    if failed:
        out.print(f"[red]{len(failed)} message(s) could not be sent[/red]: {escape(failed[0].last_error or '')}")

