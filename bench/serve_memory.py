"""Memory of the `haidang serve` main process over many polls (target: no growth after warm-up).

Serves a generated news site on 127.0.0.1 whose feeds gain new articles at every poll (one feed
per source, pages of real Vietnamese sentences recombined as in bench.memory, some naming places
of the province so they are stored, labelled and flagged; pages already fetched answer 304), writes
a config folder whose sources poll every minute (the shortest poll_minutes), runs the installed
`haidang serve` (with its web app) as a child process and samples, every few seconds, the resident
memory of its main process apart from that of its crawl children. Polls and new articles are
counted from the service's job log.

Warm-up is the first third of the run (the models loaded, the first crawls done, the allocator at
its working size); growth is the main process's floor at the end minus its floor after warm-up, each
the lowest RSS sampled over five minutes. A leak raises the floor; a sample that falls inside a job
(pages being parsed: tens of MB freed again a second later) does not lower it, so the figure does
not depend on what was running at the last sample. The
target is a growth under 15 MB over the measured polls: a leak of a few kilobytes per article or
per poll shows up above it over a few hundred polls, allocator noise does not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["main"]

_CONFIG = Path(__file__).resolve().parents[1] / "config"
_GROWTH_TARGET_MB = 15.0
_FLOOR_S = 300.0             # the span whose lowest sample is the floor
_WINDOW = 20                 # items each feed lists (the newest)
_PAGE = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{published}">
<link rel="canonical" href="{base}/s{k}/a/{i}.html"></head><body>
<nav><a href="/">Trang chủ</a> <a href="/thoi-su">Thời sự</a></nav>
<article><h1>{title}</h1><p class="sapo">{lead}</p>{body}</article>
<footer>Bản quyền thuộc về báo thử nghiệm.</footer></body></html>"""
_MENTIONS = ["tỉnh Quảng Ngãi", "đặc khu Lý Sơn", "Khu kinh tế Dung Quất", "TP Hồ Chí Minh", "Hà Nội",
             "vùng biển đảo Lý Sơn", "huyện Bình Sơn, tỉnh Quảng Ngãi"]


class _Site(ThreadingHTTPServer):
    """`sources` feeds, /s{k}/feed.rss; each GET of a feed publishes `per_poll` new articles first."""

    daemon_threads = True

    def __init__(self, sources: int, per_poll: int, sentences: list[str]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.published = [0] * sources
        self.per_poll = per_poll
        self.sentences = sentences
        self.lock = threading.Lock()
        self.started = time.time()

    def feed(self, k: int) -> bytes:
        with self.lock:
            self.published[k] += self.per_poll
            newest = self.published[k]
        items = "".join(
            f"<item><title>{self._title(k, i)}</title><link>{self.base_url}/s{k}/a/{i}.html</link>"
            f"<guid>{self.base_url}/s{k}/a/{i}.html</guid><pubDate>{formatdate(self._when(i), usegmt=True)}</pubDate>"
            f"<description>{self._rng(k, i).choice(self.sentences)}</description></item>"
            for i in range(newest - 1, max(-1, newest - 1 - _WINDOW), -1))
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Nguồn {k}</title>'
                f"<link>{self.base_url}/s{k}/</link><description>Tin mới</description>{items}</channel></rss>"
                ).encode()

    def page(self, k: int, i: int) -> bytes | None:
        with self.lock:
            if i >= self.published[k]:
                return None
        rng = self._rng(k, i)
        paras = ["<p>" + " ".join(rng.sample(self.sentences, 4)) + "</p>" for _ in range(rng.randint(4, 9))]
        paras.insert(rng.randint(0, len(paras)), f"<p>Tại {rng.choice(_MENTIONS)}, {rng.choice(self.sentences)}</p>")
        published = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(self._when(i)))
        return _PAGE.format(base=self.base_url, k=k, i=i, title=self._title(k, i), lead=rng.choice(self.sentences),
                            body="".join(paras), published=published).encode("utf-8")

    def _rng(self, k: int, i: int) -> random.Random:
        return random.Random(k * 1_000_003 + i)

    def _title(self, k: int, i: int) -> str:
        return f"{self._rng(k, i).choice(self.sentences)[:80]} ({k}-{i})"

    def _when(self, i: int) -> float:
        return self.started + i          # distinct, recent publication times


class _Handler(BaseHTTPRequestHandler):
    server: _Site
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if m := re.fullmatch(r"/s(\d+)/feed\.rss", path):
            k = int(m[1])
            if k < len(self.server.published):
                return self._send(200, self.server.feed(k), "application/rss+xml; charset=utf-8")
        if m := re.fullmatch(r"/s(\d+)/a/(\d+)\.html", path):
            k, i = int(m[1]), int(m[2])
            etag = f'"{k}-{i}"'
            if k < len(self.server.published):
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                body = self.server.page(k, i)
                if body is not None:
                    return self._send(200, body, "text/html; charset=utf-8", etag)
        return self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str, etag: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def _serve(site: _Site) -> Iterator[_Site]:
    thread = threading.Thread(target=site.serve_forever, name="serve-memory-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(config: Path, data: Path, base_url: str, sources: int) -> None:
    """A config folder: the shipped rules, topics, agencies and landmarks; `sources` feeds polled
    every minute, one in four of them foreign press (whose stories about the province raise a flag);
    the service's other interval jobs (spike and silence rules, escalation, re-checks, outbox) every
    minute too, so each runs as often as the polls."""
    config.mkdir(parents=True)
    (config / "haidang.yaml").write_text(
        "province: Quảng Ngãi\n"
        "crawl:\n  autothrottle_start_delay_s: 0\n  retry_times: 0\n  download_timeout_s: 15\n"
        f"store:\n  data_dir: {data}\n"
        f"web:\n  port: {_free_port()}\n"
        "service:\n  parallel_sources: 2\n  watch_minutes: 1\n  escalate_minutes: 1\n  recheck_minutes: 1\n",
        encoding="utf-8")
    lines = ["sources:"]
    for k in range(sources):
        kind = "foreign_press" if k % 4 == 3 else "national_press"
        lines += [f"  - id: s{k}", f"    name: Nguồn {k}", "    country: VN", "    language: vi", f"    kind: {kind}",
                  f"    feeds: ['{base_url}/s{k}/feed.rss']", "    poll_minutes: 1", "    local: true"]
    (config / "sources.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in ("landmarks.yaml", "topics.yaml", "agencies.yaml", "alerts.yaml"):
        (config / name).write_text((_CONFIG / name).read_text(encoding="utf-8"), encoding="utf-8")


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        m = re.search(r"PPid:\s+(\d+)", text)
        if m:
            out.setdefault(int(m[1]), []).append(int(status.parent.name))
    return out


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    try:
        m = re.search(field + r":\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(m[1]) / 1024 if m else 0.0


def sample(pid: int) -> tuple[float, float, float, int]:
    """(main process RSS MB, its anonymous part (heap: RssFile is mapped files, the SQLite store's
    memory-mapped reads among them), RSS MB of all its descendants, how many descendants)."""
    tree = _children()
    todo, descendants = list(tree.get(pid, [])), []
    while todo:
        p = todo.pop()
        descendants.append(p)
        todo.extend(tree.get(p, []))
    return _rss_mb(pid), _rss_mb(pid, "RssAnon"), sum(_rss_mb(p) for p in descendants), len(descendants)


@dataclass(frozen=True, slots=True)
class Sample:
    t: float                 # seconds since `haidang serve` started
    main_mb: float           # RSS of the main process
    anon_mb: float           # its anonymous part (the Python heap and native allocations)
    children_mb: float       # RSS of its descendants (crawl children, multiprocessing's resource tracker)
    children: int
    polls: int
    new: int


def job_counts(log: Path) -> tuple[int, int, int]:
    """(source polls, new articles, polls that failed) from the service's job log."""
    polls = new = failed = 0
    try:
        text = log.read_text(encoding="utf-8")
    except OSError:
        return 0, 0, 0
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("job", "")).startswith("source:") and not isinstance(entry.get("skipped"), str):
            polls += 1
            new += int(entry.get("new", 0) or 0)
            failed += 0 if entry.get("ok") else 1
    return polls, new, failed


def seed_validators(config: Path, base_url: str, sources: int, pages: int) -> None:
    """Validators of `pages` pages fetched before (spread over the sources, none in today's feeds):
    the table a long run leaves behind, which only grows (a row per page ever fetched)."""
    from haidang.settings import load_settings
    from haidang.store import open_store
    from haidang.store.base import Validators

    store = open_store(load_settings(config, environ={}).app.store)
    try:
        for i in range(pages):
            k = i % sources
            store.set_validators(Validators(url=f"{base_url}/s{k}/luu-tru/{i}.html", etag=f'"{k}-old-{i}"',
                                            last_modified=formatdate(1.7e9 + i, usegmt=True)), source_id=f"s{k}")
    finally:
        store.close()


def run_serve(minutes: float, sources: int, per_poll: int, every: float, keep: Path | None = None,
              python_args: list[str] | None = None, seeded: int = 0) -> tuple[list[Sample], int, str]:
    """Run `haidang serve` against the generated site for `minutes`; (samples, exit code, stderr tail)."""
    from bench.memory import _sentences  # the same text as the peak-memory benchmark

    with tempfile.TemporaryDirectory(prefix="haidang-bench-serve-") as tmp, \
            _serve(_Site(sources, per_poll, _sentences())) as site:
        work = keep or Path(tmp)
        config, data = work / "config", work / "data"
        write_config(config, data, site.base_url, sources)
        if seeded:
            seed_validators(config, site.base_url, sources, seeded)
        env = {**os.environ, "COLUMNS": "160", "HAIDANG_LINK_SECRET": "b" * 40}
        for name in ("HAIDANG_CONFIG", "HAIDANG_HOME", "HAIDANG_STORE", "HAIDANG_PROVINCE"):
            env.pop(name, None)
        command = [sys.executable, *(python_args or []), "-m", "haidang", "serve", "--config", str(config)]
        samples: list[Sample] = []
        with open(work / "serve.stderr", "w+", encoding="utf-8") as stderr:
            t0 = time.monotonic()
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True, env=env)
            try:
                while time.monotonic() - t0 < minutes * 60 and proc.poll() is None:
                    polls, new, _ = job_counts(data / "service.log")
                    samples.append(Sample(time.monotonic() - t0, *sample(proc.pid), polls, new))
                    time.sleep(every)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            stderr.seek(0)
            errors = stderr.read()[-3000:]
    return samples, proc.returncode, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_memory", description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0, help="how long `haidang serve` runs")
    parser.add_argument("--sources", type=int, default=12, help="sources, each polled every minute")
    parser.add_argument("--per-poll", type=int, default=4, help="new articles in each feed at each poll")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between two samples")
    parser.add_argument("--csv", type=Path, help="also write every sample to this file")
    parser.add_argument("--keep", type=Path, help="keep the config, data folder and stderr here (a new folder)")
    parser.add_argument("--python-args", default="", help="arguments for the serve process's interpreter")
    parser.add_argument("--seed-validators", type=int, default=0, metavar="PAGES",
                        help="start from a store that already holds the validators of this many pages (as "
                             "after months of service; 100,000 is about a month of the shipped sources)")
    args = parser.parse_args(argv)
    samples, code, errors = run_serve(args.minutes, args.sources, args.per_poll, args.every, args.keep,
                                      args.python_args.split(), args.seed_validators)
    if args.csv:
        args.csv.write_text("t_s,main_mb,anon_mb,children_mb,children,polls,new\n" + "".join(
            f"{s.t:.1f},{s.main_mb:.1f},{s.anon_mb:.1f},{s.children_mb:.1f},{s.children},{s.polls},{s.new}\n"
            for s in samples), encoding="utf-8")
    loaded = [s for s in samples if s.polls > 0]
    if len(loaded) < 6:
        print(f"`haidang serve` ended early or polled nothing (exit {code}):\n{errors}")
        return 1
    start, warm, end = loaded[0], loaded[len(loaded) // 3], samples[-1]
    step = max(1, len(samples) // 12)
    for s in samples[::step] + ([end] if (len(samples) - 1) % step else []):
        print(f"  {s.t:6.0f}s  main {s.main_mb:6.1f} MB (heap {s.anon_mb:6.1f})  crawl children "
              f"{s.children_mb:6.1f} MB ({s.children})  polls {s.polls:4d}  new articles {s.new:5d}")
    floor_warm = _floor(loaded, warm.t, warm.t + _FLOOR_S)
    floor_end = _floor(loaded, end.t - _FLOOR_S, end.t)
    growth = floor_end - floor_warm
    per_poll_kb = growth * 1024 / max(1, end.polls - warm.polls)
    seeded = f", store seeded with {args.seed_validators:,} pages' validators" if args.seed_validators else ""
    print(f"haidang serve, {args.sources} sources polled every minute, {args.per_poll} new articles per poll{seeded}, "
          f"{end.t:.0f}s: {end.polls} polls, {end.new} new articles; main process RSS (heap) "
          f"{start.main_mb:.0f} ({start.anon_mb:.0f}) MB after the first poll, {warm.main_mb:.0f} ({warm.anon_mb:.0f}) MB "
          f"after warm-up ({warm.t:.0f}s, {warm.polls} polls), {end.main_mb:.0f} ({end.anon_mb:.0f}) MB at the end, "
          f"peak {max(s.main_mb for s in samples):.0f} MB; floor {floor_warm:.1f} MB after warm-up, "
          f"{floor_end:.1f} MB at the end (lowest over {_FLOOR_S:.0f} s): growth {growth:+.1f} MB "
          f"({per_poll_kb:+.1f} KB per poll; target < {_GROWTH_TARGET_MB:.0f} MB); exit {code}")
    ok = code == 0 and growth < _GROWTH_TARGET_MB
    if not ok:
        print(errors)
    return 0 if ok else 1


def _floor(samples: list[Sample], t0: float, t1: float) -> float:
    """The lowest main-process RSS sampled between t0 and t1 (the nearest sample's if none)."""
    inside = [s.main_mb for s in samples if t0 <= s.t <= t1]
    return float(min(inside) if inside else min(samples, key=lambda s: abs(s.t - t0)).main_mb)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
