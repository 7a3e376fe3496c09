"""Keeps the page of a flagged article as it was fetched: the bytes, their hash, the extracted text.

The flag email links to a page its publisher may edit or delete; this copy is what an officer shows.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from haidang.record import Article, Content
from haidang.store.base import AuditEntry, Evidence, Store
from haidang.textnorm import normalize

__all__ = ["SYSTEM_ACTOR", "capture_flag_evidence", "evidence_text", "text_sha256"]

_log = logging.getLogger(__name__)

SYSTEM_ACTOR = "haidang"     # the actor of audit entries the service writes by itself


def evidence_text(content: Content) -> str:
    """What an evidence record keeps as text, and what a re-check compares: title and text, NFC."""
    return normalize(f"{content.title}\n\n{content.text}".strip())


def text_sha256(text: str) -> str:
    """Hash of the extracted text with whitespace collapsed: a re-flowed page is not a changed one."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def capture_flag_evidence(store: Store, article: Article, body: bytes | None, *, now: datetime,
                          note: str | None = None) -> str | None:
    """Save the page of `article` as evidence of kind "flag"; return the record id, or None if kept already.

    `body` is the response body as the crawler received it. Without it (the start-up catch-up
    re-runs rules over stored articles) the decoded page kept in the store is saved, re-encoded
    as UTF-8 and said so, and only when the article has no evidence yet. Equal bytes are never
    saved twice, but a page seen again with different bytes is: an edit after the flag is
    evidence too.
    """
    kept = store.evidence(article.id)
    if body is None:
        if kept:
            return None
        html = (article.fetched.html or "").encode("utf-8")
        content_type = "text/html; charset=utf-8" if html else None
        how = ("decoded page from the store, re-encoded as UTF-8" if html else
               "feed item only: its page was not fetched (source follow_links: false); text from the feed")
        note = "; ".join(filter(None, [note, how]))
    else:
        html, content_type = body, article.fetched.content_type
    digest = hashlib.sha256(html).hexdigest()
    if any(e.sha256 == digest for e in kept):
        return None
    evidence = Evidence(
        article_id=article.id, url=article.fetched.final_url or article.fetched.url,
        fetched_at=article.fetched.fetched_at or now, sha256=digest, html=html,
        text=evidence_text(article.content), status_code=article.fetched.status, kind="flag",
        outcome="captured", content_type=content_type, note=note,
    )
    evidence_id = store.save_evidence(evidence)
    store.append_audit(AuditEntry(
        at=now, actor=SYSTEM_ACTOR, kind="evidence", target=article.id,
        detail={"evidence_id": evidence_id, "kind": "flag", "outcome": "captured", "url": evidence.url,
                "sha256": digest, "story_id": article.story_id},
    ))
    _log.info("kept evidence %s of flagged article %s (%d bytes)", evidence_id, article.id, len(html))
    return evidence_id
