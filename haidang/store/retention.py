"""Retention: drops the raw HTML and extracted text of old articles, keeping everything else.

Metadata, labels, story ids, flags (the outbox), officer actions and the audit log stay: they are
what reports and accountability need, while full text is only needed while an article is news.
Hải Đăng keeps no personal data beyond what outlets publish (bylines), in line with Decree
13/2023/NĐ-CP. On Elasticsearch, ILM rolls indices over monthly and, when configured, deletes
whole old indices; dropping text from documents is this job on both backends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from haidang.settings import StoreSettings

__all__ = ["RetainingStore", "apply_retention"]

_log = logging.getLogger(__name__)


@runtime_checkable
class RetainingStore(Protocol):
    """A store that can drop article bodies (SqliteStore, ElasticStore)."""

    def drop_bodies(self, before: datetime) -> int: ...


def apply_retention(store: RetainingStore, settings: StoreSettings, now: datetime) -> int:
    """Drop bodies of articles first seen more than store.retention_text_days before `now`.

    Returns how many articles lost their bodies; 0 (and nothing touched) when retention is off.
    Meant to run daily from `haidang serve`; safe to run as often as wanted.
    """
    if settings.retention_text_days is None:
        return 0
    if now.tzinfo is None:
        raise ValueError("apply_retention needs an aware `now`")
    cutoff = now - timedelta(days=settings.retention_text_days)
    dropped = store.drop_bodies(cutoff)
    _log.info("retention: dropped the text of %d articles first seen before %s", dropped, cutoff.isoformat())
    return dropped
