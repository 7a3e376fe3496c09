"""Flag latency: from an article entering the store to its flag accepted by the SMTP server.

A real aiosmtpd server on 127.0.0.1, a real SQLite store, the shipped rules and agencies; each
round stores one new high-risk article about the province, runs the alert chain and delivers.
Target (issue 5): under 5 seconds.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller

from alerts.dispatch import AlertDispatcher
from alerts.smtp import SmtpNotifier
from haidang.record import Article, Content, Fetched, article_id
from haidang.settings import load_settings
from haidang.store.sqlite import SqliteStore
from nlp.enrich import Enricher
from nlp.gazetteer import Gazetteer
from nlp.match import ProvinceMatcher, match_article

__all__ = ["main"]

_TARGET_S = 5.0
_TEXT = ("Nghe nói nhóm người lạ đang bắt cóc trẻ em ở đặc khu Lý Sơn, tỉnh Quảng Ngãi (lần {i}). "
         "Tin này chưa được kiểm chứng nhưng mọi người hãy chia sẻ gấp!!!")


class _Accept:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    settings = load_settings(environ={})
    source = next(s for s in settings.sources if s.kind == "platform")
    handler = _Accept()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    enricher = Enricher.load(settings.topic_seeds(), topic_seeds_en=settings.topic_seeds_en(), local_models_dir=None)
    matcher = ProvinceMatcher(Gazetteer.load(landmarks=settings.landmarks))
    latencies = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStore(Path(tmp) / "bench.sqlite3")
            dispatcher = AlertDispatcher(settings, store)
            notifier = SmtpNotifier("127.0.0.1", controller.port, "none", sender="haidang@localhost", timeout_s=5)
            for i in range(args.rounds):
                url = f"https://{source.id}.example/post/{i}"
                article = Article(id=article_id(url), fetched=Fetched(source_id=source.id, url=url, canonical_url=url),
                                  content=Content(title="NÓNG: Lý Sơn", text=_TEXT.format(i=i), language="vi",
                                                  first_seen=datetime.now(UTC)))
                article = enricher.enrich(match_article(article, matcher, "51"), source, store)
                article.story_id = article.id
                t0 = time.perf_counter()
                store.upsert(article)                       # the article enters the store
                dispatcher.on_stored(article)
                dispatcher.deliver(notifier)                # accepted by the SMTP server
                latencies.append(time.perf_counter() - t0)
            store.close()
    finally:
        controller.stop()
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    print(f"store → SMTP accepted: median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} flags ({handler.count} messages accepted); "
          f"target < {_TARGET_S:.0f} s")
    return 0 if max(latencies) < _TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
