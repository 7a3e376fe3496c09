"""JSON Lines export of a store: one `Article.to_dict()` per line, for backups and moving data."""

from __future__ import annotations

import json
import logging
from typing import TextIO

from haidang.store.base import SearchFilters, Store

__all__ = ["export_jsonl"]

_log = logging.getLogger(__name__)


def export_jsonl(store: Store, out: TextIO, filters: SearchFilters | None = None) -> int:
    """Write every article (oldest first) to `out` as one JSON object per line; return how many.

    Works on any backend, since it only uses `Store.iter_articles`. UTF-8 text is kept as is
    (no \\u escapes) so the file stays readable; `Article.from_dict` reads each line back.
    """
    written = 0
    for article in store.iter_articles(filters):
        out.write(json.dumps(article.to_dict(), ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        written += 1
    _log.info("exported %d articles", written)
    return written
