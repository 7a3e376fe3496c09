"""Applies an officer's answer to a flag: the action record, and what it teaches the claims list.

Marked false with a rebuttal ("phan_bac" with a URL): the item's claim is proposed and confirmed
as a known false claim carrying that rebuttal, so a later copy anywhere is flagged with the link.
Dismissed ("khong_phai_tin_sai"): the same claim is stored as "dismissed", and the risk stage
lowers the risk of its near-duplicates (signal `dismissed_claim`). A person decided both, so no
second confirmation is asked for; but an answer never overturns a claim someone else decided the
other way (the conflict is recorded for an administrator instead). Answers come from signed
links (`record_response`) or from a logged-in officer's flag page (`record_officer_action`). Label corrections are audit
entries of kind "label_correction", which `feedback_records` turns into training feedback.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.links import FlagLink
from crawlers.dedup import band_keys, signature
from haidang.claimlist import Decision, decide_claim, decided_by
from haidang.record import Article
from haidang.store.base import AlreadyRecorded, AuditEntry, ClaimStatus, KnownClaim, ResponseAction, Store
from haidang.textnorm import normalize

__all__ = ["CLAIM_CHARS", "ClaimConflict", "Recorded", "claim_text", "feedback_records", "link_id", "link_used",
           "record_correction", "record_officer_action",
           "record_response"]

_log = logging.getLogger(__name__)

# Characters of the item kept as its claim: the headline and the lead carry what a rumour says;
# the rest of a long article would make the claim match only exact copies.
CLAIM_CHARS = 400
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# A piece ending in one of these already ends its sentence: a period after it would double it
# ("trẻ em!!!.", "dân biết.."). Closing quotes and brackets count, as a quoted sentence ends inside.
_ENDS_SENTENCE = tuple('.!?…"”»’\')')


def _join(before: str, sentence: str) -> str:
    if not before:
        return sentence
    return f"{before} {sentence}" if before.endswith(_ENDS_SENTENCE) else f"{before}. {sentence}"


def claim_text(article: Article) -> str:
    """The item's claim: its title and first sentences, up to CLAIM_CHARS, one sentence mark
    between pieces (a period only after a piece that has none)."""
    title = normalize(article.content.title).strip()
    text = normalize(article.content.lead or article.content.text).strip()
    out = title
    for sentence in _SENTENCE_END.split(text):
        if not sentence:
            continue
        if len(out) + len(sentence) + 2 > CLAIM_CHARS:
            break
        out = _join(out, sentence)
    return out or text[:CLAIM_CHARS]


def link_id(link: FlagLink) -> str:
    """The idempotency key of a link's use: its flag key (flag and recipient) and action.

    Not the token itself: a reminder re-sends the same link with a later expiry, and that new
    token must not record the same action a second time.
    """
    return f"{link.flag_key}-{link.action}"


def link_used(store: Store, link: FlagLink) -> bool:
    """A link records once: any action already recorded with its flag key and action uses it up
    (actions stored before link ids existed have none, so they are matched this way)."""
    return any(a.flag_key == link.flag_key and a.action == link.action
               for a in store.actions(story_id=link.story_id))


@dataclass(frozen=True, slots=True)
class ClaimConflict:
    """A link's answer that contradicts a claim someone else already decided: the claim keeps
    `status`, and an administrator settles it (audit entry of kind "claim_conflict")."""

    claim_id: str
    status: ClaimStatus                  # the decision that was kept: "confirmed" or "dismissed"
    decided_by: str | None               # who decided it, from the audit log; None when not recorded there


@dataclass(frozen=True, slots=True)
class Recorded:
    """What `record_response` stored: the action, and the claim conflict it raised, if any."""

    action_id: str
    conflict: ClaimConflict | None = None


def _learn_claim(store: Store, article: Article, action: ResponseAction, action_id: str) -> ClaimConflict | None:
    """Confirm or dismiss the item's claim, unless someone else already decided it the other way.

    A link is a bearer token (an email can be forwarded), so one recipient's link must not
    silently overturn another agency's decision: a confirmed claim is never dismissed, nor a
    dismissed one confirmed, through a link or a login, except by the person who decided it. A
    claim decided outside the audit log (no "claim" entry) counts as decided by someone else.
    The conflict is recorded (audit entry "claim_conflict") for an administrator to settle.
    """
    text = claim_text(article)
    if not text:
        return None
    sig = signature(text)
    claim_id = store.propose_claim(KnownClaim(text=text, rebuttal_url=action.rebuttal_url,
                                              source_article_id=article.id, signature=sig), band_keys(sig))
    wanted: Decision = "dismissed" if action.action == "khong_phai_tin_sai" else "confirmed"
    context = {"action_id": action_id, "article_id": article.id, "rebuttal_url": action.rebuttal_url}
    claim = store.get_claim(claim_id)
    if claim is not None and claim.status not in ("proposed", wanted):
        decider = decided_by(store, claim_id, claim.status)
        if decider is None or decider.lower() != action.actor.lower():
            _log.warning("claim %s stays %s (decided by %s); %s asked for %s",
                         claim_id, claim.status, decider or "unknown", action.actor, wanted)
            store.append_audit(AuditEntry(at=action.at, actor=action.actor, kind="claim_conflict", target=claim_id,
                                          client=action.client, detail={**context, "status": claim.status,
                                                                        "requested": wanted, "decided_by": decider}))
            return ClaimConflict(claim_id=claim_id, status=claim.status, decided_by=decider)
    decide_claim(store, claim_id, wanted, action.actor, now=action.at, client=action.client,
                 via="link" if action.link_id else "flag", context=context)
    _log.info("claim %s from article %s is now %s", claim_id, article.id, wanted)
    return None


def record_response(store: Store, link: FlagLink, article: Article | None, *, note: str | None,
                    rebuttal_url: str | None, client: str | None, now: datetime,
                    agency_id: str | None = None) -> Recorded | None:
    """Record the link's action once; None when the link was already used (nothing changes).

    The store enforces "once" by the action's link_id, across threads and processes (two
    uvicorn workers, `haidang web` beside `haidang serve`); the check before it only covers
    actions recorded before link ids existed, and spares the write. The action is kept even when
    its claim decision conflicts with an earlier one: the officer did answer; only the claim waits.
    """
    if link_used(store, link):
        return None
    try:
        return record_officer_action(store, ResponseAction(
            flag_key=link.flag_key, story_id=link.story_id, article_id=link.article_id, rule=link.rule,
            action=link.action, actor=link.recipient, agency_id=agency_id, note=note or None,  # type: ignore[arg-type]
            rebuttal_url=rebuttal_url or None, client=client, at=now, link_id=link_id(link),
        ), article)
    except AlreadyRecorded as exc:
        _log.info("link %s was already used (action %s); nothing recorded", exc.link_id, exc.action_id)
        return None


def record_officer_action(store: Store, action: ResponseAction, article: Article | None) -> Recorded:
    """Store `action` (the store writes its "action" audit entry with it) and apply what it teaches
    the claims list: a signed link's action (`record_response`) and a logged-in officer's from the
    flag pages alike. AlreadyRecorded passes through for an action whose link_id is used."""
    action_id = store.record_action(action)
    if article is None or not (action.action == "khong_phai_tin_sai" or (action.action == "phan_bac"
                                                                         and action.rebuttal_url)):
        return Recorded(action_id)
    return Recorded(action_id, _learn_claim(store, article, action, action_id))


def record_correction(store: Store, *, actor: str, article: Article, changes: dict[str, tuple[Any, Any]],
                      note: str | None, client: str | None, now: datetime, flag_key: str | None = None) -> str:
    """One "label_correction" audit entry: {field: (model's value, officer's value)} for the article."""
    detail: dict[str, Any] = {"article_id": article.id, "flag_key": flag_key, "note": note or None,
                              "changes": {k: {"from": old, "to": new} for k, (old, new) in changes.items()}}
    return store.append_audit(AuditEntry(at=now, actor=actor, kind="label_correction", target=article.id,
                                         detail=detail, client=client))


def feedback_records(store: Store, since: datetime | None = None) -> list[dict[str, Any]]:
    """Label corrections as training feedback, one per article and field, the latest winning.

    Each record: {article_id, field ("topic" | "tone" | "province"), label, from (the model's value
    the officer replaced), title, text, province (the article's stored province code), by, at}.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    articles: dict[str, Article | None] = {}
    for entry in store.audit(since=since, kind="label_correction"):
        aid = str(entry.detail.get("article_id") or entry.target)
        if aid not in articles:
            articles[aid] = store.get(aid)
        article = articles[aid]
        for field_name, change in (entry.detail.get("changes") or {}).items():
            latest[(aid, field_name)] = {
                "article_id": aid, "field": field_name, "label": change.get("to"), "from": change.get("from"),
                "title": article.content.title if article else None,
                "text": article.content.text if article else None,
                "province": article.province_code if article else None,
                "by": entry.actor, "at": entry.at.isoformat(),
            }
    return [latest[k] for k in sorted(latest)]
