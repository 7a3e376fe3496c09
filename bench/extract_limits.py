"""Time and peak memory of extracting one hostile page (target: each under 3 s and 250 MB).

Each page is built to be as costly as the 5 MB download cap allows (many elements, shapes that
make trafilatura quadratic, deep nesting), plus one fixture news page for scale. Each runs in a
fresh interpreter, so its peak resident memory is its own; imports and a warm-up page come first
and are not counted in the time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

__all__ = ["PAGES", "main"]

_TARGET_S = 3.0
_TARGET_MB = 250.0
_S = "Người dân Quảng Ngãi chuẩn bị mùa lúa mới trên những cánh đồng ven sông Trà Khúc. "
_FIXTURE = "vnexpress/thoi-su/quang-ngai-don-tau-du-lich-quoc-te-den-ly-son-4870001.html"


def _page(body: str) -> str:
    return (f"<html lang=vi><head><meta charset=utf-8><title>Mùa lúa mới</title></head>"
            f"<body><article>{body}</article></body></html>")


def _fixture() -> str:
    from haidang.sites import SITES_DIR
    return (SITES_DIR / _FIXTURE).read_text(encoding="utf-8")


PAGES = {
    "fixture news page": _fixture,
    # just within trafilatura's limits (extract._TRAFILATURA_*): the costliest shapes it still reads
    "9,900 <span> in one <p>": lambda: _page("<p>" + "".join(f"<span>từ {i}</span>" for i in range(9_900)) + "</p>"),
    "52 nests of 95 <div><span>": lambda: _page(("<div><span>" * 95 + _S + "</span></div>" * 95) * 52),
    # over them, under the tag cap: read by block elements
    "45k <span> in one <p>": lambda: _page("<p>" + "".join(f"<span>từ {i}</span>" for i in range(45_000)) + "</p>"),
    "45k links": lambda: _page("<div>" + "".join(f"<a href='/x{i}'>liên kết {i}</a>" for i in range(45_000)) + "</div>"),
    "45k list items": lambda: _page("<ul>" + "".join(f"<li>mục {i} {_S[:30]}</li>" for i in range(45_000)) + "</ul>"),
    "45k empty <div>": lambda: _page(_S + "<div></div>" * 45_000),
    "45k <br>": lambda: _page("<p>" + "từ <br>" * 45_000 + "</p>"),
    "45k table cells": lambda: _page("<table>" + ("<tr>" + "<td>ô</td>" * 100 + "</tr>") * 450 + "</table>"),
    "one 4 MB paragraph": lambda: _page("<p>" + _S * 48_000 + "</p>"),
    "35k <p> paragraphs": lambda: _page("".join(f"<p>Đoạn {i} {_S}</p>" for i in range(35_000))),
    "2,000 levels of <div><span>": lambda: _page("<div><span>" * 1000 + _S + "</span></div>" * 1000),
    "300 levels, then the article": lambda: _page("<div>" * 300 + "</div>" * 300 + f"<p>{_S}</p>"),
    # refused
    "100k <span> in one <p>": lambda: _page("<p>" + "".join(f"<span>từ {i}</span>" for i in range(100_000)) + "</p>"),
    "5 MB of bare <p>": lambda: _page("<p>x" * 1_250_000),
    "5,000 levels": lambda: _page("<div>" * 5000 + _S + "</div>" * 5000),
}

_CHILD = """
import json, resource, sys, time
from bench.extract_limits import PAGES
from crawlers.extract import extract_article
from haidang.record import Article, Fetched
from haidang.settings import Selectors

def run(html):
    article = Article(fetched=Fetched(source_id="bench", url="https://bao.example.vn/a.html", html=html))
    try:
        return "text %d chars" % len(extract_article(article, Selectors()).content.text)
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, str(exc).split(": ", 2)[-1][:90])

html = PAGES[sys.argv[1]]()
run(PAGES["fixture news page"]())
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, start_cpu = time.perf_counter(), cpu()
outcome = run(html)
seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"bytes": len(html.encode()), "s": seconds, "cpu_s": cpu_seconds, "peak_mb": peak / 1024,
                  "added_mb": (peak - before) / 1024, "outcome": outcome}))
"""


def measure(name: str, timeout: float = 600) -> dict[str, Any]:
    """One page in a fresh interpreter: its size, seconds, peak and added resident MB, outcome."""
    failed: dict[str, Any] = {"s": timeout, "cpu_s": timeout, "peak_mb": 0.0, "added_mb": 0.0, "bytes": 0}
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, name], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**failed, "outcome": f"stopped after {timeout:.0f} s"}
    if done.returncode != 0:
        return {**failed, "outcome": f"crashed: {done.stderr.strip().splitlines()[-1:]}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.extract_limits", description=__doc__)
    parser.add_argument("pages", nargs="*", help=f"page names (default: all): {', '.join(PAGES)}")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.pages or PAGES:
        got = measure(name)
        ok = got["s"] < _TARGET_S and got["peak_mb"] < _TARGET_MB
        failed += not ok
        print(f"{'ok ' if ok else 'BAD'} {name:30} {got['bytes'] / 1e6:5.1f} MB  {got['s']:6.2f} s "
              f"(cpu {got['cpu_s']:6.2f} s)  peak {got['peak_mb']:5.0f} MB (+{got['added_mb']:4.0f})  "
              f"{got['outcome']}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
