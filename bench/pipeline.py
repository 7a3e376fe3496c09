"""Throughput of the pipeline stages, single process: match alone, and extract + match + store.

Match alone runs on ~1,800-character real news articles (../shared/data/plan-topics, else the
fixture pages). Extract + match + store runs `Pipeline.process` on the fixture article pages,
each copied under many URLs so every document is a new article, into a fresh SQLite store.
Targets (issue 3): match >= 2,000 articles/s; extract + match + store >= 50 articles/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from crawlers.events import FetchedDoc
from haidang.pipeline import Pipeline, SourceTally
from haidang.settings import MatchSettings, Source, load_settings
from haidang.sites import SITES_DIR
from haidang.store.sqlite import SqliteStore
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher

__all__ = ["main"]

_log = logging.getLogger("bench.pipeline")
_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_MATCH_TARGET = 2000.0
_PIPELINE_TARGET = 50.0


def _match_texts() -> tuple[list[tuple[str, str]], str]:
    path = _SHARED / "data" / "plan-topics" / "train.jsonl.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            docs = [json.loads(line)["text"] for line in fh]
        arts = [(docs[i] + "\n" + docs[(i + 1) % len(docs)])[:1800] for i in range(len(docs))]
        pairs = []
        for a in arts:
            title, _, body = a.partition("\n")
            pairs.append((title, body))
        return pairs, f"{path} (1,000 real articles, padded to 1,800 chars)"
    from lxml import html as lxml_html
    pairs = []
    for _, body in _fixture_pages():
        tree = lxml_html.fromstring(body)
        pairs.append((tree.findtext(".//title") or "", tree.text_content()[:1800]))
    return pairs * 100, "the fixture pages (no ../shared)"


def bench_match(repeat: int = 3) -> float:
    pairs, origin = _match_texts()
    matcher = ProvinceMatcher(Gazetteer.load(landmarks=load_settings(environ={}).landmarks))
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        for title, text in pairs:
            matcher.match(title, text)
        best = max(best, len(pairs) / (time.perf_counter() - t0))
    print(f"match alone: {best:,.0f} articles/s (best of {repeat}; {len(pairs)} articles from {origin})")
    return best


def _fixture_pages() -> list[tuple[str, bytes]]:
    expected = json.loads((SITES_DIR / "expected.json").read_text(encoding="utf-8"))
    return [(path, (SITES_DIR / path).read_bytes()) for path in expected if not path.startswith("_")]


def bench_pipeline(copies: int = 150, enrich: bool = False) -> float:
    pages = _fixture_pages()
    settings = load_settings(environ={})
    gazetteer = Gazetteer.load(landmarks=settings.landmarks)
    matcher = ProvinceMatcher(gazetteer, keep_threshold=settings.app.match.keep_threshold)
    sources = [Source(id=site, name=site, country="VN", language="vi", kind="national_press", local=True)
               for site in {p.split("/")[0] for p, _ in pages}]
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        enricher = None
        if enrich:
            from nlp.enrich import Enricher
            enricher = Enricher.load(local_models_dir=None)
        pipeline = Pipeline(store, matcher, "51", sources, MatchSettings(store_irrelevant=True), enricher=enricher)
        tally = SourceTally("bench", datetime.now(UTC))
        docs = []
        for i in range(copies):
            for path, body in pages:
                html = body.replace(b"{BASE}", f"http://bench{i}.example".encode())
                url = f"http://bench{i}.example/{path}"
                docs.append(FetchedDoc(source_id=path.split("/")[0], url=url, final_url=url, status=200,
                                       headers={"content-type": "text/html; charset=utf-8"}, body=html,
                                       fetched_at=datetime.now(UTC)))
        t0 = time.perf_counter()
        for doc in docs:
            pipeline.process(doc, tally)
        rate = len(docs) / (time.perf_counter() - t0)
        store.close()
    stages = "extract + match + enrich + dedup + store" if enrich else "extract + match + dedup + store"
    print(f"{stages}: {rate:,.1f} articles/s ({len(docs)} pages: "
          f"{tally.new} new, {tally.errors} errors, {sum(tally.skipped.values())} skipped)")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--copies", type=int, default=150, help="copies of each fixture page")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    match_rate = bench_match()
    pipe_rate = bench_pipeline(args.copies)
    bench_pipeline(args.copies, enrich=True)
    ok = match_rate >= _MATCH_TARGET and pipe_rate >= _PIPELINE_TARGET
    print("targets met" if ok else "BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
