"""`haidang migrate --to elasticsearch`: copies an embedded store into a cluster, resumably and idempotently.

Idempotent because every record keeps its id (articles by canonical URL, claims, outbox keys,
imported actions, audit entries and evidence by their source ids) and is written with
op_type=create or compared by content hash: running it twice adds nothing. Resumable because
the number of articles copied is kept in a checkpoint file after every batch; a killed run goes
on from there (and anything copied twice is simply "unchanged"). A finished run removes the
checkpoint, so the next run compares every article again.

Not copied: the history of source runs and the alert rules' state (the Store interface has no
reader for them); the scheduled rules start with empty memory on the cluster.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from crawlers.dedup import _MIN_SHINGLES, _shingles, band_keys, signature  # the rule assign_story applies
from haidang.record import Article
from haidang.store.base import (
    AuditEntry,
    Evidence,
    FailureRecord,
    HostPause,
    KnownClaim,
    OutboxMessage,
    ResponseAction,
    Store,
    Validators,
)

__all__ = ["MigrationReport", "MigrationTarget", "migrate_store"]

_log = logging.getLogger(__name__)

BATCH = 500


class MigrationTarget(Protocol):
    """What a store must offer to receive a migration (ElasticStore does)."""

    prefix: str

    def upsert_many(self, articles: list[Article]) -> list[str]: ...
    def add_story_keys(self, article_id: str, story_id: str, band_keys: list[str], signature: list[int]) -> None: ...
    def propose_claim(self, claim: KnownClaim, band_keys: list[str] = ...) -> str: ...  # type: ignore[assignment]
    def confirm_claim(self, claim_id: str) -> None: ...
    def dismiss_claim(self, claim_id: str) -> None: ...
    def set_validators(self, validators: Validators, source_id: str | None = None) -> None: ...
    def set_host_pause(self, pause: HostPause) -> None: ...
    def import_outbox(self, msg: OutboxMessage) -> bool: ...
    def import_failure(self, failure: FailureRecord) -> bool: ...
    def import_action(self, action: ResponseAction, source_id: str) -> bool: ...
    def import_audit(self, entry: AuditEntry, source_id: str) -> bool: ...
    def import_evidence(self, evidence: Evidence, source_id: str) -> bool: ...


@dataclass(slots=True)
class MigrationReport:
    articles: dict[str, int] = field(default_factory=dict)      # outcome -> count
    skipped_by_checkpoint: int = 0
    claims: int = 0
    outbox: int = 0
    validators: int = 0
    host_pauses: int = 0
    failures: int = 0
    actions: int = 0
    audit: int = 0
    evidence: int = 0


def _batches(articles: Iterator[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for article in articles:
        batch.append(article)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _read_checkpoint(path: Path, prefix: str) -> int:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return int(data.get("articles_done", 0)) if data.get("prefix") == prefix else 0


def _write_checkpoint(path: Path, prefix: str, done: int) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"prefix": prefix, "articles_done": done}), encoding="utf-8")
    os.replace(partial, path)


def migrate_store(source: Store, target: MigrationTarget, checkpoint: Path, *, batch: int = BATCH,
                  progress: Callable[[str], None] | None = None) -> MigrationReport:
    """Copy everything `source` holds into `target`; see the module docstring. Returns the counts."""
    say = progress or (lambda _msg: None)
    report = MigrationReport()
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    skip = _read_checkpoint(checkpoint, target.prefix)
    done = 0
    for chunk in _batches(source.iter_articles(), batch):
        if done + len(chunk) <= skip:          # copied by an earlier run (oldest-first order is stable)
            done += len(chunk)
            report.skipped_by_checkpoint += len(chunk)
            continue
        for outcome in target.upsert_many(chunk):
            report.articles[outcome] = report.articles.get(outcome, 0) + 1
        for article in chunk:
            _copy_story_keys(article, target)
            for n, ev in enumerate(source.evidence(article.id)):
                report.evidence += target.import_evidence(ev, ev.id or f"{article.id}-{n}")
        done += len(chunk)
        _write_checkpoint(checkpoint, target.prefix, done)
        say(f"articles: {done} copied")
    for claim in source.known_claims(None):
        claim_id = target.propose_claim(claim, band_keys(claim.signature) if claim.signature else [])
        if claim.status == "confirmed":
            target.confirm_claim(claim_id)
        elif claim.status == "dismissed":
            target.dismiss_claim(claim_id)
        report.claims += 1
    for msg in source.outbox(None):
        report.outbox += target.import_outbox(msg)
    for validators in source.get_validators().values():
        target.set_validators(validators)
        report.validators += 1
    for pause in source.host_pauses(datetime.now(UTC)):     # those still in force: a host asked us to wait
        target.set_host_pause(pause)
        report.host_pauses += 1
    for failure in source.failures():
        report.failures += target.import_failure(failure)
    for action in source.actions():
        report.actions += target.import_action(action, action.id or "")
    for entry in source.audit():
        report.audit += target.import_audit(entry, entry.id or "")
    checkpoint.unlink(missing_ok=True)     # finished: a later run checks everything again (idempotently)
    say("done: " + json.dumps(asdict(report), ensure_ascii=False))
    return report


def _copy_story_keys(article: Article, target: MigrationTarget) -> None:
    """Recompute the article's band keys as crawlers.dedup.assign_story did (the Store interface
    has no reader for them); texts too short to have keys are left without, as there."""
    if not article.story_id:
        return
    text = article.content.text or article.content.title
    if len(_shingles(text)) < _MIN_SHINGLES:
        return
    sig = signature(text)
    target.add_story_keys(article.id, article.story_id, band_keys(sig), sig)
