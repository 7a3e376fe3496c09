"""Reading the shared datasets (gzip JSON Lines in ../shared/data) for training, evaluation and builds.

Only commands that train, evaluate or build read them; the test suite never does.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_jsonl"]


def read_jsonl(path: Path | str) -> Iterator[dict[str, Any]]:
    """The records of one .jsonl.gz file; a missing file says where the data is expected."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: training, evaluation and builds read ../shared/data "
                                "(pass --data pointing at it)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
