"""The known-false-claims list as people keep it: the claims waiting for a decision, and the decisions.

Claims come onto the list three ways. The enricher proposes the claim a debunk report refutes (an
official denial the system read, nlp.claims); an officer's rebuttal on a flag confirms the flagged
item's claim, and "không phải tin sai" dismisses it (haidang.web.respond); or a person adds one by
hand here, a denial the office learnt of elsewhere. Only confirmed claims flag later copies, because
the system never decides by itself that something is false: a proposed claim waits for a person, on
the web page "Tin sai đã biết" (/tin-sai) or with `haidang claims confirm`. Every decision made here
is a "claim" audit entry, so the flag pages' rule that one officer's link never overturns another's
decision knows who decided.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from haidang.store.base import AuditEntry, ClaimStatus, KnownClaim, Store
from haidang.textnorm import fold
from nlp.claims import propose_text

__all__ = ["ClaimPage", "ClaimRow", "ClaimTooShort", "Decision", "add_claim", "claim_page", "decide_claim",
           "decided_by", "valid_rebuttal_url"]

Decision = Literal["confirmed", "dismissed"]


class ClaimTooShort(ValueError):
    """The text has too few content words to be matched safely against later articles."""


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A claim as the list shows it: with the article it came from and its last decision."""

    claim: KnownClaim
    source_title: str | None        # the debunk (or flagged) article the claim was taken from
    source_url: str | None
    decided_by: str | None          # from the last "claim" audit entry; None when not recorded there
    decided_at: datetime | None


# A rebuttal's address: an http(s) URL of one token with a host, no whitespace of any kind (a line
# break or a no-break space would let the "URL" carry sentences into the emails that cite it) and
# no control or invisible formatting characters.
_HTTP_URL_RE = re.compile(r"https?://[^\s/?#\\@]+(?:[/?#]\S*)?", re.IGNORECASE)
_URL_BAD_CHARS_RE = re.compile("[\u0000-\u001f\u007f-\u009f\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f"
                               "\u205f-\u206f\u3000\ufeff]")


def valid_rebuttal_url(value: str) -> bool:
    """True for an address a rebuttal may carry (see above): what officers type is checked with it."""
    return (len(value) <= 2000 and _HTTP_URL_RE.fullmatch(value) is not None
            and _URL_BAD_CHARS_RE.search(value) is None)


def decided_by(store: Store, claim_id: str, status: ClaimStatus) -> str | None:
    """Who last set the claim to `status`, from its "claim" audit entries; None when no entry says
    (a claim decided before the audit log, or by a script calling the store directly)."""
    deciders = [e.actor for e in store.audit(kind="claim", target=claim_id) if e.detail.get("status") == status]
    return deciders[-1] if deciders else None


@dataclass(frozen=True, slots=True)
class ClaimPage:
    """One page of the list: its rows, and the counts the page's tabs and paging need."""

    rows: list[ClaimRow]            # newest first
    total: int                      # claims of the status that match the query, on all pages
    counts: dict[ClaimStatus, int]  # claims on the list by status, whatever the query
    page: int = 1                   # the page shown: the last one when the one asked for is past the end


def claim_page(store: Store, status: ClaimStatus | None = "proposed", *, query: str = "", page: int = 1,
               size: int | None = None) -> ClaimPage:
    """The claims with `status` (None: all) whose text holds every word of `query` (diacritics and
    case aside), newest first; `size` a page (None: all), each row with its source article and decider.

    Only the page's rows look up their source article, so a long list costs one read of the claims.
    """
    claims = store.known_claims(None)
    counts = dict(Counter(c.status for c in claims))
    words = fold(query).split()
    chosen = [c for c in reversed(claims) if (status is None or c.status == status)
              and all(w in fold(c.text) for w in words)]
    if size is not None:
        page = max(1, min(page, (len(chosen) + size - 1) // size))
    shown = chosen if size is None else chosen[(page - 1) * size:page * size]
    decided = {entry.target: entry for entry in store.audit(kind="claim")} if shown else {}  # the last wins
    rows = []
    for claim in shown:
        article = store.get(claim.source_article_id) if claim.source_article_id else None
        last = decided.get(claim.id) if claim.status != "proposed" else None
        rows.append(ClaimRow(
            claim=claim, source_title=article.content.title if article else None,
            source_url=(article.fetched.canonical_url or article.fetched.url) if article else None,
            decided_by=last.actor if last else None, decided_at=last.at if last else None))
    return ClaimPage(rows=rows, total=len(chosen), counts=counts, page=page if size is not None else 1)


def decide_claim(store: Store, claim_id: str, decision: Decision, actor: str, *, now: datetime,
                 client: str | None = None, note: str | None = None, via: str = "list",
                 context: Mapping[str, Any] | None = None) -> KnownClaim:
    """Confirm or dismiss a claim and append its "claim" audit entry (`context` adds to the entry's
    detail, e.g. the flag action it came from); return the claim as it was before. A claim that
    already has that status is left as it is.

    The one place a claim's status changes, so every decision has its entry. KeyError when no claim
    has that id. Who may overturn an earlier decision is the caller's rule (the list page leaves it to
    administrators, a flag answer to the person who decided; the command line is the operator's)."""
    claim = store.get_claim(claim_id)
    if claim is None:
        raise KeyError(claim_id)
    if claim.status == decision:
        return claim                # nothing changes, so no entry: who decided stays who did
    if decision == "confirmed":
        store.confirm_claim(claim_id)
    else:
        store.dismiss_claim(claim_id)
    detail: dict[str, Any] = {**(context or {}), "status": decision, "previous": claim.status, "via": via}
    if note:
        detail["note"] = note
    store.append_audit(AuditEntry(at=now, actor=actor, kind="claim", target=claim_id, client=client, detail=detail))
    return claim


def add_claim(store: Store, text: str, rebuttal_url: str, actor: str, *, now: datetime,
              client: str | None = None, note: str | None = None, via: str = "list") -> str:
    """Put a claim known to be false on the list, confirmed, with the rebuttal readers can check; its id.

    ValueError when the rebuttal is not a valid address; ClaimTooShort when the text is too short
    to match safely. Adding a claim that is already listed
    confirms that one (its id is derived from the folded text); its rebuttal link stays as first stored.
    """
    if not valid_rebuttal_url(rebuttal_url):
        raise ValueError(f"not an http(s) address: {rebuttal_url!r}")
    claim_id = propose_text(store, text, rebuttal_url=rebuttal_url)
    if claim_id is None:
        raise ClaimTooShort(text)
    decide_claim(store, claim_id, "confirmed", actor, now=now, client=client, note=note, via=via)
    return claim_id
