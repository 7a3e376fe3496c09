"""Peak memory of `haidang run` over 10,000 pages (target: under 500 MB).

Generates a site of N article pages (sentences of real Vietnamese news recombined, from
../shared/data/vntc when present, else the public plans in ../shared/plans) with a sitemap,
serves it on 127.0.0.1, runs the installed `haidang run` against it as a child process and
samples the resident memory of its whole process tree (the run and its crawl child).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from haidang.sites import serve_sites

__all__ = ["main"]

_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_TARGET_MB = 500.0
_PAGE = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="2026-03-{day:02d}T08:{minute:02d}:00+07:00">
<link rel="canonical" href="{{BASE}}/bao/tin/{i}.html"></head><body>
<nav><a href="/">Trang chủ</a> <a href="/thoi-su">Thời sự</a></nav>
<article><h1>{title}</h1><p class="sapo">{lead}</p>{body}</article>
<footer>Bản quyền thuộc về báo thử nghiệm.</footer></body></html>"""


def _sentences() -> list[str]:
    vntc = _SHARED / "data" / "vntc" / "train.jsonl.gz"
    out: list[str] = []
    if vntc.exists():
        with gzip.open(vntc, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                out.extend(s for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]) if 40 < len(s) < 400)
                if n > 3000:
                    break
    else:
        for plan in sorted((_SHARED / "plans").glob("*")):
            out.extend(s for s in re.split(r"(?<=[.!?;])\s+", plan.read_text(encoding="utf-8")) if 40 < len(s) < 400)
    return out


def build_site(root: Path, pages: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    pool = _sentences()
    mentions = ["tỉnh Quảng Ngãi", "đặc khu Lý Sơn", "Khu kinh tế Dung Quất", "TP Hồ Chí Minh", "Hà Nội"]
    (root / "bao" / "tin").mkdir(parents=True)
    for i in range(pages):
        paras = ["<p>" + " ".join(rng.sample(pool, 4)) + "</p>" for _ in range(rng.randint(4, 9))]
        paras.insert(rng.randint(0, len(paras)), f"<p>Tại {rng.choice(mentions)}, {rng.choice(pool)}</p>")
        page = _PAGE.format(i=i, title=rng.choice(pool)[:90], lead=rng.choice(pool), body="".join(paras),
                            day=1 + i % 28, minute=i % 60)
        (root / "bao" / "tin" / f"{i}.html").write_text(page, encoding="utf-8")
    per_map = 5000
    maps = []
    for start in range(0, pages, per_map):
        name = f"sitemap-{start // per_map}.xml"
        urls = "".join(f"<url><loc>{{BASE}}/bao/tin/{i}.html</loc></url>" for i in range(start, min(pages, start + per_map)))
        (root / name).write_text('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                                 f'schemas/sitemap/0.9">{urls}</urlset>', encoding="utf-8")
        maps.append(name)
    index = "".join(f"<sitemap><loc>{{BASE}}/{m}</loc></sitemap>" for m in maps)
    (root / "sitemap.xml").write_text('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.'
                                      f'sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>', encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = int(re.search(r"PPid:\s+(\d+)", text)[1])  # type: ignore[index]
        children.setdefault(ppid, []).append(int(status.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
        if m:
            total += int(m[1]) / 1024
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--pages", type=int, default=10_000)
    args = parser.parse_args(argv)
    exe = Path(sys.executable).parent / "haidang"
    with tempfile.TemporaryDirectory(prefix="haidang-bench-mem-") as tmp:
        site, config, data = Path(tmp) / "site", Path(tmp) / "config", Path(tmp) / "data"
        t0 = time.perf_counter()
        build_site(site, args.pages)
        print(f"built {args.pages} pages in {time.perf_counter() - t0:.1f}s")
        with serve_sites(site) as server:
            config.mkdir()
            (config / "haidang.yaml").write_text(
                "province: Quảng Ngãi\ncrawl:\n  autothrottle_start_delay_s: 0\n  concurrent_per_domain: 4\n"
                f"  max_pages_per_source: {args.pages + 10}\n  retry_times: 0\n"
                f"store:\n  data_dir: {data}\n", encoding="utf-8")
            (config / "sources.yaml").write_text(
                "sources:\n  - id: bench\n    name: Bench\n    country: VN\n    language: vi\n"
                "    kind: national_press\n    local: true\n    crawl:\n"
                f"      sitemaps: ['{server.base_url}/sitemap.xml']\n      allow: ['/bao/tin/[0-9]+[.]html$']\n",
                encoding="utf-8")
            (config / "landmarks.yaml").write_text(
                (Path(__file__).resolve().parents[1] / "config" / "landmarks.yaml").read_text(encoding="utf-8"),
                encoding="utf-8")
            t0 = time.perf_counter()
            proc = subprocess.Popen([str(exe), "run", "--config", str(config)], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True, env={**os.environ, "COLUMNS": "160"})
            peak = 0.0
            while proc.poll() is None:
                peak = max(peak, _tree_rss_mb(proc.pid))
                time.sleep(0.2)
            elapsed = time.perf_counter() - t0
            summary = proc.stdout.read() if proc.stdout else ""
    print(summary[-1500:])
    print(f"haidang run over {args.pages} pages: {elapsed:.0f}s ({args.pages / elapsed:.0f} pages/s), "
          f"peak RSS of the process tree {peak:.0f} MB (target < {_TARGET_MB:.0f} MB); exit {proc.returncode}")
    return 0 if proc.returncode == 0 and peak < _TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
