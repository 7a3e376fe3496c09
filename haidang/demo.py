"""`haidang demo`: the real pipeline, offline, against the fixture sites served on 127.0.0.1.

The fixture sites are the test suite's (tests/fixtures/sites/); the demo writes a temporary
config folder pointing at them and runs the same `run_once` as `haidang run`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from haidang.settings import DEFAULT_CONFIG_DIR, load_settings
from haidang.sites import SITES_DIR, serve_sites

__all__ = ["run_demo", "write_demo_config"]


_DEMO_APP = """\
# Written by `haidang demo` for the fixture sites on 127.0.0.1.
province: Quảng Ngãi
crawl:
  user_agent: "HaiDangBot/0.1 (demo; fixture sites on 127.0.0.1)"
  download_timeout_s: 5          # seconds; local fixture server
  autothrottle_start_delay_s: 0  # seconds; loopback needs no politeness delay
  retry_times: 0                 # faults are deterministic here
store:
  data_dir: "{data_dir}"
"""

SAMPLE_QUERIES = ['ly son', '"Dung Quất"', 'dau tu -Khanh', 'quang ngai OR "Măng Đen"']


def write_demo_config(base_url: str, config_dir: Path, data_dir: Path) -> Path:
    """A config folder whose sources are the fixture sites at `base_url`; returns the folder."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "haidang.yaml").write_text(_DEMO_APP.format(data_dir=data_dir), encoding="utf-8")
    sources = (SITES_DIR / "sources.yaml").read_text(encoding="utf-8").replace("{BASE}", base_url)
    (config_dir / "sources.yaml").write_text(sources, encoding="utf-8")
    for name in ("landmarks.yaml", "topics.yaml", "agencies.yaml", "alerts.yaml"):
        shutil.copy(DEFAULT_CONFIG_DIR / name, config_dir / name)
    return config_dir


def run_demo(out: Console, err: Console, *, data_dir: Path | None = None, keep_serving: bool = False) -> None:
    from haidang.cli import _print_summary
    from haidang.service import run_once
    from haidang.store import open_store

    work = Path(tempfile.mkdtemp(prefix="haidang-demo-"))
    data_dir = (data_dir or work / "data").resolve()
    with serve_sites(SITES_DIR) as server:
        base_url = server.base_url
        err.print(f"fixture sites on {base_url}")
        config_dir = write_demo_config(base_url, work / "config", data_dir)
        settings = load_settings(config_dir, environ={})
        tallies = run_once(settings, settings.sources, console=err)
        _print_summary(tallies)
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
            for article in store.iter_articles():
                labels = article.labels
                risk = labels.get("risk", {})
                labelled.add_row(article.fetched.source_id, escape(article.content.title[:60]),
                                 ", ".join(t["id"] for t in labels.get("topics", [])) or "-",
                                 labels.get("tone", {}).get("label", "-"),
                                 f"{risk.get('level', '-')} ({risk.get('score', 0):.2f})")
            out.print(labelled)
        finally:
            store.close()
        emails = sorted((data_dir / "outbox-eml").glob("*.eml"))
        out.print(f"{len(emails)} cờ báo (flag emails) written as .eml files in {data_dir / 'outbox-eml'} "
                  "(no SMTP server configured)")
        out.print(f"data: {data_dir}\nconfig: {config_dir}")
        out.print(f"try:  haidang search --config {config_dir} \"ly son\"")
        out.print(f"      haidang status --config {config_dir}")
        out.print(f"      haidang explain --config {config_dir} ID   (an id from the search results)")
        if keep_serving:
            import time
            err.print("serving the fixture sites; Ctrl-C to stop")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
