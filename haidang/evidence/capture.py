"""Keeps the page of a flagged article as it was fetched: the bytes, their hash, the extracted text.

The flag email links to a page its publisher may edit or delete; this copy is what an officer shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from haidang.record import Article, Content, Fetched
from haidang.store.base import AuditEntry, Evidence, Store
from haidang.textnorm import normalize

__all__ = ["FEED_ENTRY_TYPE", "SYSTEM_ACTOR", "capture_flag_evidence", "evidence_text", "feed_entry_bytes",
           "is_feed_entry", "text_sha256"]

_log = logging.getLogger(__name__)

SYSTEM_ACTOR = "haidang"     # the actor of audit entries the service writes by itself
# The content type of a kept feed entry: our own JSON serialisation, not something a server sent.
FEED_ENTRY_TYPE = "application/vnd.haidang.feed-entry+json; charset=utf-8"
_BYTES_DROPPED = ("no bytes kept: the page's bytes were dropped from the store (retention); sha256 is the hash "
                  "recorded when the page was fetched")


def evidence_text(content: Content) -> str:
    """What an evidence record keeps as text, and what a re-check compares: title and text, NFC."""
    return normalize(f"{content.title}\n\n{content.text}".strip())


def text_sha256(text: str) -> str:
    """Hash of the extracted text with whitespace collapsed: a re-flowed page is not a changed one."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


def feed_entry_bytes(fetched: Fetched) -> bytes:
    """A feed-only item's entry as the store keeps it (link, title, summary, date, author, comments and
    the feed it came from), as UTF-8 JSON: what was received when no page was fetched.

    The feed's raw XML is not kept by the crawler, so this is a serialisation of the stored fields,
    and says so in its content type. Key order and UTC times are fixed: the same entry always gives
    the same bytes, so a re-run does not keep it twice and an edited entry is kept again.
    """
    published = fetched.feed_published.astimezone(UTC).isoformat() if fetched.feed_published else None
    entry = {"feed_url": fetched.feed_url, "link": fetched.url, "title": fetched.feed_title,
             "summary": fetched.feed_summary, "published": published, "author": fetched.feed_author,
             "comments": fetched.feed_comments}
    return (json.dumps(entry, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def is_feed_entry(evidence: Evidence) -> bool:
    """Whether a record holds a feed entry (`feed_entry_bytes`) rather than a page."""
    return evidence.content_type == FEED_ENTRY_TYPE


def capture_flag_evidence(store: Store, article: Article, body: bytes | None, *, now: datetime,
                          note: str | None = None) -> str | None:
    """Save the page of `article` as evidence of kind "flag"; return the record id, or None if kept already.

    `body` is the response body as the crawler received it. Without it (the start-up catch-up
    re-runs rules over stored articles) the decoded page kept in the store is saved, re-encoded
    as UTF-8 and said so, and only when the article has no evidence yet. A feed-only item (source
    `follow_links: false`: no page was ever fetched) keeps its feed entry instead, never an empty
    body hashed as a page. Equal bytes are never saved twice, but a page or entry seen again with
    different bytes is: an edit after the flag is evidence too.
    """
    kept = store.evidence(article.id)
    what = _what_to_keep(article.fetched, body, first=not kept)
    if what is None:
        return None
    html, digest, content_type, how = what
    if any(e.sha256 == digest for e in kept):
        return None
    note = "; ".join(filter(None, [note, how]))
    fetched = article.fetched
    evidence = Evidence(
        article_id=article.id, url=fetched.final_url or fetched.url,
        fetched_at=fetched.fetched_at or now, sha256=digest, html=html,
        text=evidence_text(article.content), status_code=fetched.status, kind="flag",
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


def _what_to_keep(fetched: Fetched, body: bytes | None, *, first: bool
                  ) -> tuple[bytes, str, str | None, str | None] | None:
    """Bytes, their sha256, content type and how they were obtained; None when the stored page is
    already kept (a stored page is only kept for an article with no evidence yet)."""
    if body is not None:
        return body, hashlib.sha256(body).hexdigest(), fetched.content_type, None
    if not fetched.html and not fetched.body_sha256:      # never fetched: a feed-only item
        entry = feed_entry_bytes(fetched)
        return entry, hashlib.sha256(entry).hexdigest(), FEED_ENTRY_TYPE, _feed_only_note(fetched)
    if not first:
        return None
    if fetched.html:
        page = fetched.html.encode("utf-8")
        return (page, hashlib.sha256(page).hexdigest(), "text/html; charset=utf-8",
                "decoded page from the store, re-encoded as UTF-8")
    # Fetched, but its bytes are gone from the store (retention): the hash recorded at fetch
    # time is still true; no bytes go with it, and the note says so.
    return b"", str(fetched.body_sha256), fetched.content_type, _BYTES_DROPPED


def _feed_only_note(fetched: Fetched) -> str:
    """Why a flag's evidence is a feed entry, and where and how it was received."""
    status = f"HTTP {fetched.status}" if fetched.status else "HTTP status unknown"
    return (f"feed item only: its page was not fetched (source follow_links: false); kept: the feed "
            f"entry's fields as stored, as JSON (the feed's raw XML is not kept), from feed "
            f"{fetched.feed_url or 'unknown'} ({status}; response headers not kept)")
