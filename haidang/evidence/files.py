"""Writes an article's evidence to a folder an officer can hand over: each page exactly as fetched (or
the feed entry, for a feed-only item), its extracted text, and a SHA256SUMS file that `sha256sum -c`
verifies: pages against the hashes stored at capture, every other file against what was written."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path

from haidang.evidence.capture import is_feed_entry
from haidang.store.base import Evidence

__all__ = ["evidence_name", "write_evidence"]


def evidence_name(index: int, evidence: Evidence) -> str:
    """File stem of one record: order, kind, outcome and UTC time, so a folder listing reads in order."""
    when = evidence.fetched_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{index:03d}-{evidence.kind}-{evidence.outcome or 'captured'}-{when}"


def write_evidence(records: Sequence[Evidence], folder: Path) -> list[Path]:
    """Write each record's page (`.html`, the bytes as received, only when kept; `.json` for a feed
    entry) and text (`.txt`), plus `evidence.json` (every field but the bytes) and `SHA256SUMS`,
    which lists every other file; return the files written.

    Files are written beside their final name and renamed, so a folder never holds half a page.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sums: list[str] = []
    manifest = []
    for index, evidence in enumerate(records, start=1):
        stem = evidence_name(index, evidence)
        entry = {"file": None, "text_file": None, "id": evidence.id, "article_id": evidence.article_id,
                 "url": evidence.url, "fetched_at": evidence.fetched_at.isoformat(), "sha256": evidence.sha256,
                 "bytes": len(evidence.html), "status_code": evidence.status_code, "kind": evidence.kind,
                 "outcome": evidence.outcome, "content_type": evidence.content_type, "note": evidence.note}
        if evidence.html:
            page = folder / f"{stem}{'.json' if is_feed_entry(evidence) else '.html'}"
            _write(page, evidence.html)
            written.append(page)
            sums.append(f"{evidence.sha256}  {page.name}")
            entry["file"] = page.name
        if evidence.text:
            text = folder / f"{stem}.txt"
            data = evidence.text.encode("utf-8")
            _write(text, data)
            written.append(text)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {text.name}")
            entry["text_file"] = text.name
        manifest.append(entry)
    listing = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    _write(folder / "evidence.json", listing)
    sums.append(f"{hashlib.sha256(listing).hexdigest()}  evidence.json")
    _write(folder / "SHA256SUMS", "".join(line + "\n" for line in sums).encode("utf-8"))
    return [*written, folder / "evidence.json", folder / "SHA256SUMS"]


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
