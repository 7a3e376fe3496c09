"""Shipped model files: saving with a model card beside them, loading, and data fingerprints.

Every model in nlp/models/ is `<name>.pickle.z` plus `<name>.md`, its card: the data it was
trained on (path, sha256, licence), the date, the parameters, the dev metrics and the limits.
Only data whose licence allows redistribution may train a shipped file (see README).

The file is a zlib-compressed pickle (protocol 5), read by the C unpickler: joblib's loader is
pure Python and took 0.6 s longer for the four models, most of the 2 s load budget. Files from
before (`<name>.joblib`, e.g. a local model a user trained) still load.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import platform
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn

__all__ = ["MODELS_DIR", "card_metrics", "file_sha256", "load_model", "model_path", "save_model"]

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_SUFFIX = ".pickle.z"
_LEGACY_SUFFIX = ".joblib"
# The metrics block `save_model` writes into a card.
_METRICS_BLOCK_RE = re.compile(r"^## Metrics[^\n]*\n+```json\n(.*?)\n```", re.MULTILINE | re.DOTALL)


def model_path(name: str, models_dir: Path | None = None) -> Path:
    """Where model `name` is: the current file, or an older `.joblib` one when only that exists."""
    folder = models_dir or MODELS_DIR
    path = folder / f"{name}{MODEL_SUFFIX}"
    legacy = folder / f"{name}{_LEGACY_SUFFIX}"
    return legacy if not path.exists() and legacy.exists() else path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: Any, name: str, *, title: str, data: list[dict[str, str]], metrics: dict[str, Any],
               params: dict[str, Any], limits: list[str], models_dir: Path | None = None) -> Path:
    """Write `<name>.pickle.z` and `<name>.md`. `data`: [{path, sha256, licence, use}]."""
    folder = models_dir or MODELS_DIR
    path = folder / f"{name}{MODEL_SUFFIX}"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zlib.compress(pickle.dumps(model, protocol=5), 6))
    (folder / f"{name}{_LEGACY_SUFFIX}").unlink(missing_ok=True)     # the older file would only mislead
    card = [
        f"# Model card: {title}",
        "",
        f"- file: `{path.name}` ({path.stat().st_size:,} bytes)",
        (f"- trained: {datetime.now(UTC).strftime('%Y-%m-%d')} with scikit-learn {sklearn.__version__}, "
        f"Python {platform.python_version()}; rebuild with `haidang train`"),
        "",
        "## Data",
        "",
        "| file | sha256 | licence | use |",
        "|---|---|---|---|",
        *[f"| {d['path']} | `{d['sha256'][:16]}…` | {d['licence']} | {d.get('use', 'train')} |" for d in data],
        "",
        "## Parameters",
        "",
        "```json",
        json.dumps(params, ensure_ascii=False, indent=2, sort_keys=True, default=str),
        "```",
        "",
        "## Metrics (dev)",
        "",
        "```json",
        json.dumps(metrics, ensure_ascii=False, indent=2, sort_keys=True, default=str),
        "```",
        "",
        "## Limits",
        "",
        *[f"- {line}" for line in limits],
        "",
    ]
    (folder / f"{name}.md").write_text("\n".join(card), encoding="utf-8")
    return path


def card_metrics(name: str, models_dir: Path | None = None) -> dict[str, Any]:
    """The dev metrics on model `name`'s card, as `save_model` wrote them; {} without a card."""
    card = (models_dir or MODELS_DIR) / f"{name}.md"
    found = _METRICS_BLOCK_RE.search(card.read_text(encoding="utf-8")) if card.is_file() else None
    return json.loads(found.group(1)) if found else {}


def load_model(name: str, models_dir: Path | None = None) -> Any:
    """Load a shipped model; a missing file says how to rebuild it."""
    path = model_path(name, models_dir)
    if not path.exists():
        raise FileNotFoundError(f"model {path} is missing: run `haidang train` with ../shared/data beside the repo")
    if path.suffix == _LEGACY_SUFFIX:
        return joblib.load(path)
    with path.open("rb") as raw, io.BufferedReader(_Inflater(raw), buffer_size=1 << 20) as stream:
        return pickle.load(stream)


class _Inflater(io.RawIOBase):
    """Reads a zlib stream as it decompresses it, so loading never holds the whole pickle in memory
    (the section model's is ~18 MB: that transient set the peak of `haidang run`)."""

    def __init__(self, raw: io.BufferedIOBase):
        self._raw = raw
        self._zlib = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._zlib.eof:
                return 0
            chunk = self._zlib.unconsumed_tail or self._raw.read(1 << 18)
            if not chunk:
                raise EOFError("model file ends before its compressed data does")
            self._pending = self._zlib.decompress(chunk, len(buffer))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
