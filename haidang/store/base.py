"""The Store protocol every backend implements, and the query, filter and result types.

Only `haidang.store.open_store` names a backend class; all other code takes a `Store`.
The contract suite in tests/contract/ states this behaviour once and runs it on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from haidang.record import Article

__all__ = [
    "ClaimStatus",
    "FailureRecord",
    "KnownClaim",
    "OutboxMessage",
    "OutboxStatus",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "SourceRun",
    "SourceStatus",
    "Store",
    "StoryCandidate",
    "UpsertOutcome",
    "Validators",
]

UpsertOutcome = Literal["new", "updated", "unchanged"]
ClaimStatus = Literal["proposed", "confirmed"]
OutboxStatus = Literal["pending", "sent", "failed"]


@dataclass(kw_only=True, slots=True)
class SearchFilters:
    """Filters beside the query. Dates filter on `published`, falling back to `first_seen`."""

    province: str | None = None          # current province code ("51")
    source: str | None = None            # source id
    since: datetime | None = None        # inclusive
    until: datetime | None = None        # exclusive
    lang: str | None = None
    relevant_only: bool = False


@dataclass(kw_only=True, slots=True)
class SearchHit:
    id: str
    title: str
    source_id: str
    url: str
    published: datetime | None
    score: float
    snippet: str                         # plain text with matches wrapped in « »
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans into `snippet`


@dataclass(kw_only=True, slots=True)
class SearchResult:
    total: int
    hits: list[SearchHit]


@dataclass(kw_only=True, slots=True)
class Validators:
    """Conditional-GET validators held for one feed or page URL."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(kw_only=True, slots=True)
class SourceRun:
    """The outcome of one pass over one source, as `haidang run` counts it."""

    source_id: str
    started_at: datetime
    finished_at: datetime
    fetched: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)   # reason -> count
    errors: int = 0
    last_error: str | None = None


@dataclass(kw_only=True, slots=True)
class SourceStatus:
    source_id: str
    last_success: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    articles: int
    validators: int                      # feed/page URLs with an ETag or Last-Modified held


@dataclass(kw_only=True, slots=True)
class FailureRecord:
    """One item that failed a stage; kept so `haidang status` can list it and a retry can re-run it."""

    source_id: str
    url: str
    stage: str                           # "fetch" | "extract" | "match" | "store"
    error_class: str
    message: str
    at: datetime
    attempts: int = 1


@dataclass(kw_only=True, slots=True)
class StoryCandidate:
    article_id: str
    story_id: str
    signature: list[int]


@dataclass(kw_only=True, slots=True)
class KnownClaim:
    """A claim known (or proposed) to be false, with the rebuttal a reader can check.

    Proposed claims come from debunk reports (nlp/claims.py); a person confirms them, and only
    confirmed claims flag later articles, because the system never decides by itself that
    something is false. `id` may be left empty: `Store.propose_claim` then derives a stable one
    from the text, so proposing the same claim twice keeps one row.
    """

    id: str = ""
    text: str
    rebuttal_url: str | None = None
    source_article_id: str | None = None  # the debunk article the claim was extracted from
    status: ClaimStatus = "proposed"
    created_at: datetime | None = None   # set by the store when missing
    signature: list[int] = field(default_factory=list)   # crawlers.dedup.signature of `text`


@dataclass(kw_only=True, slots=True)
class OutboxMessage:
    """One email waiting for, or done with, delivery: one flag to one recipient.

    `key` (alerts.flag.flag_key) makes queueing idempotent; `message_id` is fixed when queued so a
    resend after a crash is recognisable. A message leaves "pending" only when the server accepted
    it ("sent") or refused it for good ("failed", kept so `haidang status` and the digest show it).
    """

    key: str
    flag_rule: str
    story_id: str
    recipient: str
    message_id: str                      # with angle brackets: "<key@haidang.local>"
    subject: str
    text: str
    html: str
    status: OutboxStatus = "pending"
    attempts: int = 0                    # delivery attempts made so far
    next_attempt_at: datetime | None = None   # None on enqueue: due from created_at
    last_error: str | None = None
    created_at: datetime | None = None   # set by the store when missing
    sent_at: datetime | None = None


@runtime_checkable
class Store(Protocol):
    """Where articles, feed validators and run records live."""

    def upsert(self, article: Article) -> UpsertOutcome:
        """Insert or update by `article.id` (hash of the canonical URL), atomically.

        "unchanged" when the stored content hash equals the new one: re-ingesting adds nothing.
        `content.first_seen` of a stored article is never moved.
        """

    def get(self, article_id: str) -> Article | None: ...

    def set_labels(self, article_id: str, labels: dict[str, Any]) -> bool:
        """Replace a stored article's labels (after a model update); False when no such article."""

    def search(self, query: str, filters: SearchFilters | None = None, *, limit: int = 20,
               offset: int = 0) -> SearchResult:
        """Run the query language of README.md ("Search syntax"); raise QueryError on bad input."""

    def count(self, filters: SearchFilters | None = None) -> int: ...

    def iter_articles(self, filters: SearchFilters | None = None) -> Iterator[Article]:
        """Every stored article, oldest first; streams, for export and migration."""

    def story_candidates(self, band_keys: list[str]) -> list[StoryCandidate]:
        """Stored articles sharing any LSH band key, for syndicated-copy detection."""

    def add_story_keys(self, article_id: str, story_id: str, band_keys: list[str],
                       signature: list[int]) -> None: ...

    def propose_claim(self, claim: KnownClaim, band_keys: Sequence[str] = ()) -> str:
        """Store a claim as proposed (whatever `claim.status` says) and return its id.

        The id is `claim.id`, or one derived from the folded text when empty. Proposing an id
        that exists changes nothing (a confirmed claim stays confirmed). `band_keys` (from
        `crawlers.dedup.band_keys` of the signature) index it for `claim_candidates`; callers
        normally go through `nlp.claims.propose`, which computes them.
        """

    def confirm_claim(self, claim_id: str) -> None:
        """Mark a claim confirmed (a person checked the rebuttal); KeyError if the id is unknown."""

    def known_claims(self, status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        """Claims with that status (None: all), oldest first."""

    def claim_candidates(self, band_keys: Sequence[str],
                         status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        """Claims (confirmed by default) sharing any LSH band key, ordered by id."""

    def get_validators(self, urls: list[str] | None = None) -> dict[str, Validators]: ...

    def set_validators(self, validators: Validators, source_id: str | None = None) -> None:
        """Keep a URL's validators; `source_id`, once given, stays with the URL for `source_status`."""

    def record_run(self, run: SourceRun) -> None: ...

    def record_failure(self, failure: FailureRecord) -> None: ...

    def failures(self, source_id: str | None = None) -> list[FailureRecord]: ...

    def source_status(self) -> list[SourceStatus]: ...

    def enqueue(self, msg: OutboxMessage) -> bool:
        """Add a pending message; False (and nothing changed) when its key is already there,
        whatever that row's status, so one flag never reaches one recipient twice."""

    def due_messages(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        """Pending messages whose next attempt is at or before `now`, earliest first."""

    def mark_sent(self, key: str, at: datetime) -> None:
        """The server accepted the message: count the attempt, record when. KeyError if unknown."""

    def mark_retry(self, key: str, error: str, next_attempt_at: datetime) -> None:
        """A transient failure: count the attempt, keep it pending until `next_attempt_at`."""

    def mark_failed(self, key: str, error: str) -> None:
        """A permanent failure: count the attempt and stop trying; the row stays visible."""

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        """Messages with that status (None: all), oldest first."""

    def backup(self, target: str) -> None:
        """A consistent copy of the whole store, taken while others keep writing."""

    def close(self) -> None: ...
