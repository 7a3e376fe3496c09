"""The Store protocol every backend implements, and the query, filter and result types.

Only `haidang.store.open_store` names a backend class; all other code takes a `Store`.
The contract suite in tests/contract/ states this behaviour once and runs it on every backend.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from haidang.errors import PermanentStoreError, QueryError
from haidang.record import Article

__all__ = [
    "ACTION_NAMES",
    "AUDIT_LIMIT_MAX",
    "FACET_FIELDS",
    "NO_VALUE",
    "SEARCH_LIMIT_MAX",
    "SEARCH_WINDOW",
    "ActionKind",
    "AlreadyRecorded",
    "AuditEntry",
    "AuditPage",
    "ClaimStatus",
    "Evidence",
    "EvidenceKind",
    "EvidenceOutcome",
    "FacetField",
    "Facets",
    "FailureRecord",
    "HostPause",
    "KnownClaim",
    "OutboxMessage",
    "OutboxStatus",
    "ResponseAction",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "SourceRun",
    "SourceStatus",
    "Store",
    "StoreMissing",
    "StoryCandidate",
    "UpsertOutcome",
    "Validators",
    "check_audit_page",
    "check_search_page",
    "refreshed_engagement",
]

UpsertOutcome = Literal["new", "updated", "unchanged"]
# "dismissed": a person judged the claim not false (from a flag marked "không phải tin sai");
# its near-duplicates get lower risk instead of higher.
ClaimStatus = Literal["proposed", "confirmed", "dismissed"]
OutboxStatus = Literal["pending", "sent", "failed"]
# Evidence of a flagged page: captured when the flag was queued, or by a re-check after a
# takedown or correction request (haidang/evidence/).
EvidenceKind = Literal["flag", "recheck"]
EvidenceOutcome = Literal["captured", "unchanged", "changed", "gone", "unreachable"]
ActionKind = Literal["phan_bac", "de_nghi_cai_chinh", "de_nghi_go_bo", "chuyen_cong_an",
                     "tang_cuong_thong_tin", "khong_phai_tin_sai"]
# The response options an officer can record from a flag, with the words the officer reads.
ACTION_NAMES: dict[str, str] = {
    "phan_bac": "Đã phản bác",
    "de_nghi_cai_chinh": "Đã đề nghị cải chính / đính chính",
    "de_nghi_go_bo": "Đã đề nghị gỡ bỏ",
    "chuyen_cong_an": "Đã chuyển Công an tỉnh",
    "tang_cuong_thong_tin": "Đã tăng cường thông tin tích cực",
    "khong_phai_tin_sai": "Không phải tin sai",
}
# What Store.facets counts by: assigned topic ids (an article counts once per topic), the tone
# label, the source id, the content language and the risk level.
FacetField = Literal["topic", "tone", "source", "lang", "risk_level"]
FACET_FIELDS: tuple[FacetField, ...] = ("topic", "tone", "source", "lang", "risk_level")
# The facet key of articles without a value (no topic assigned, no tone, no language...); an empty
# label counts as none, so no real value can be this key.
NO_VALUE = ""
# The most hits one `Store.search` returns: a larger `limit` is cut to it, since no page a person
# reads or a caller holds needs more, and an unbounded one reached SQLite as an integer overflow.
SEARCH_LIMIT_MAX = 1000
# The most entries one `Store.audit_page` returns: a page a person reads holds 100; the whole log is
# `Store.audit`'s.
AUDIT_LIMIT_MAX = 1000
_LARGEST_OFFSET = 2**63 - 1
# Only the first SEARCH_WINDOW results of a query can be paged to: Elasticsearch refuses
# from + size beyond its default index.max_result_window (10,000), and SQLite keeps the same rule
# so that both backends answer a deep page alike.
SEARCH_WINDOW = 10_000


def check_search_page(limit: object, offset: object) -> int:
    """The `limit` Store.search uses: QueryError unless `limit` is an int of at least 1 and `offset`
    an int from 0 to before SEARCH_WINDOW (bools and strings are refused, not converted: the caller
    parses its input); a larger limit is cut to SEARCH_LIMIT_MAX and to the end of the window."""
    size, start = _whole("limit", limit, 1), _whole("offset", offset, 0)
    if start >= SEARCH_WINDOW:
        raise QueryError(f"offset {_shown(start)} is past the first {SEARCH_WINDOW} results, the most a search "
                         "can page through: narrow the query or its filters (dates, source, province)", kind="offset")
    return min(size, SEARCH_LIMIT_MAX, SEARCH_WINDOW - start)


def check_audit_page(limit: object, offset: object) -> tuple[int, int]:
    """The (limit, offset) Store.audit_page uses: ValueError unless `limit` is an int of at least 1
    and `offset` an int of at least 0 (bools and strings are refused: the caller parses its input).
    A larger limit is cut to AUDIT_LIMIT_MAX; an offset to SQLite's largest integer, which is past
    the end of any log either way (a larger one would overflow SQLite's binding)."""
    size, start = _at_least("limit", limit, 1), _at_least("offset", offset, 0)
    return min(size, AUDIT_LIMIT_MAX), min(start, _LARGEST_OFFSET)


def _at_least(name: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"audit page {name} must be a whole number of at least {least} (got {_shown(value)})")
    return value


def refreshed_engagement(stored: Any, fetched: dict[str, int] | None) -> dict[str, int] | None:
    """The counts to store for an article fetched again with the same text, or None when they stay.

    A post's text rarely changes while its likes and shares keep growing, and how far it spread is
    why an officer looks at it sooner: the counts the page states now replace the stored ones. A
    count it no longer states is kept (a widget that failed to load is not a post nobody shares).
    """
    old = {k: v for k, v in stored.items() if isinstance(v, int)} if isinstance(stored, dict) else {}
    merged = {**old, **(fetched or {})}
    return merged if merged != old else None


def _whole(name: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise QueryError(f"{name} must be a whole number of at least {least} (got {_shown(value)})", kind=name)
    return value


def _shown(value: object) -> str:
    """A bad argument, short, for a message: an int of thousands of digits cannot even be printed."""
    if isinstance(value, int) and abs(value) >= 10**18:
        return "a number of 19 digits or more"
    return reprlib.repr(value)


@dataclass(kw_only=True, slots=True)
class SearchFilters:
    """Filters beside the query. Dates filter on `published`, falling back to `first_seen`."""

    province: str | None = None          # current province code ("51")
    source: str | None = None            # source id
    since: datetime | None = None        # inclusive
    until: datetime | None = None        # exclusive
    lang: str | None = None
    relevant_only: bool = False
    # Inclusive, on when the store first saw the article (never its publication date): "stored
    # lately", for the alert catch-up, which must also cover old stories found late.
    first_seen_since: datetime | None = None


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
class Facets:
    """Article counts from `Store.facets`: how many matched, and how many per value of each field.

    `values[field][value]` counts articles (NO_VALUE for those without one); values with no
    article are absent. `buckets` (only when an interval was asked for) holds the same counts per
    time bucket, keyed by the ISO date the bucket starts on, in date order; buckets with no
    article are absent, and their own `buckets` are empty.
    """

    total: int = 0
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    buckets: dict[str, Facets] = field(default_factory=dict)


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
class HostPause:
    """A host that answered 429 or 503 with a Retry-After longer than a run may wait: no run asks it
    again before `until`. Kept in the store because the next `haidang run` (cron) or a restarted
    `haidang serve` would otherwise ask minutes later; one per host (crawlers.pauses says why)."""

    host: str                            # crawlers.pauses.host_key: "vnexpress.net", "127.0.0.1:8080"
    until: datetime                      # aware; the server's wait, capped (crawlers.pauses.RETRY_AFTER_CAP)
    source_id: str                       # the source whose request got the answer
    url: str                             # the URL that answered
    status: int                          # 429 or 503
    asked_s: float                       # what the server asked for, in seconds, before the cap
    at: datetime                         # aware: when the answer came


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
    # Delivery lease (Store.claim): the process sending it now and until when; None when nobody is.
    lease_owner: str | None = None
    lease_until: datetime | None = None
    # When it last became pending (first due time on enqueue, the time of `requeue_failed`): the
    # outbox gives up on a message still not delivered `max_age` after this. None: created_at.
    pending_since: datetime | None = None
    failed_at: datetime | None = None    # when it was marked failed (the digest shows recent ones)
    # Files sent with it (absolute paths, read when it is sent: the outbox holds no file bodies).
    attachments: list[str] = field(default_factory=list)
    # Attempts that ended after the server had taken the whole message, without its answer
    # (errors.DeliveryUncertain): each may have left a copy in the recipient's mailbox. Counted by
    # `mark_retry`/`mark_failed` and never reset, so the outbox sends such a message once more at
    # most, and the digest can say it may have arrived twice (alerts.outbox, alerts.digest).
    handed_over: int = 0
    # The stored article the email describes (a rule flag names the copy that matched, which may
    # be a later outlet's, not the story's founder). None for messages about no one article (the
    # digest, reports) and for those queued before the field existed: readers fall back to story_id.
    article_id: str | None = None


@dataclass(kw_only=True, slots=True)
class ResponseAction:
    """One officer action on a flag, recorded from a signed link; append-only."""

    flag_key: str                        # OutboxMessage.key of the flag message the signed link belongs to
    story_id: str
    article_id: str
    rule: str
    action: ActionKind
    actor: str                           # the signed recipient's email address
    agency_id: str | None = None
    note: str | None = None
    rebuttal_url: str | None = None
    client: str | None = None            # client address as the web app saw it
    at: datetime                         # aware
    id: str | None = None                # set by the store
    # Idempotency key of one use of a signed link (haidang.web.respond.link_id): the store keeps
    # at most one action per key, across processes, and raises AlreadyRecorded for a second.
    link_id: str | None = None


class AlreadyRecorded(PermanentStoreError):
    """An action with this link_id is already stored; `action_id` is the one that was kept."""

    def __init__(self, link_id: str, action_id: str) -> None:
        super().__init__(f"an action for link {link_id} is already recorded (action {action_id})")
        self.link_id = link_id
        self.action_id = action_id


class StoreMissing(PermanentStoreError):
    """A read-only open (`open_store(..., create=False)`) found no store at `path`: nothing was
    collected there yet, or the config or data folder is the wrong one. Nothing was created, since
    an empty new store would hide that mistake behind empty answers."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no store at {path} yet: run `haidang run` (or `haidang serve`) first to collect "
                         "articles, or point --config / HAIDANG_HOME (store.data_dir in config/haidang.yaml) "
                         "at the data folder in use")
        self.path = path


@dataclass(kw_only=True, slots=True)
class AuditEntry:
    """One line of the audit log; the store only ever appends them (never updates or deletes)."""

    at: datetime                         # aware
    actor: str                           # signed recipient or logged-in user
    kind: str                            # "action", "label_correction", "login", "evidence", "escalation", ...
    target: str                          # article or flag id
    detail: dict[str, Any]
    client: str | None = None
    id: str | None = None                # set by the store


@dataclass(kw_only=True, slots=True)
class AuditPage:
    """One page of the audit log as a paged list shows it (`Store.audit_page`)."""

    entries: list[AuditEntry]            # newest first
    total: int                           # entries matching every filter, on all pages
    # Entries per kind matching the other filters (since, target), whatever kind was asked for: the
    # kinds a filter can offer, each with its count.
    kinds: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class Evidence:
    """The page of a flagged article as fetched at one moment; append-only, so an officer can show
    what was published after the page is edited or deleted.

    `html` is the response body exactly as received (empty when nothing was kept: a page gone, or a
    re-check whose text had not changed); `sha256` is the hash of the bytes fetched, `text` the text
    extracted from them. `outcome` says what a re-check found against the last kept copy.
    """

    article_id: str
    url: str
    fetched_at: datetime                 # aware
    sha256: str                          # hex digest of the response body as received
    html: bytes = b""
    text: str = ""
    status_code: int | None = None       # HTTP status; None when no answer came
    kind: EvidenceKind = "flag"
    outcome: EvidenceOutcome | None = None
    content_type: str | None = None      # as the server sent it: the charset needed to read `html`
    note: str | None = None
    id: str | None = None                # set by the store


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
        """Run the query language of README.md ("Search syntax"); raise QueryError on bad input.

        `limit` and `offset` are checked by `check_search_page`: QueryError unless ints with
        limit >= 1 and 0 <= offset < SEARCH_WINDOW; a limit above SEARCH_LIMIT_MAX (or past the
        window) is cut. `total` counts every match, also those beyond the window."""

    def count(self, filters: SearchFilters | None = None) -> int: ...

    def iter_articles(self, filters: SearchFilters | None = None, *, html: bool = True) -> Iterator[Article]:
        """Every stored article, oldest first by when the store first saw it (`first_seen`; the
        digest stops reading at its window's end on that order); streams, for export and migration.
        Not a snapshot: articles stored meanwhile may or may not appear. `html=False` leaves out
        `fetched.html`, the stored page: most of a record's bytes, and read only by exports,
        migration and evidence, not by counts, digests or reports."""

    def facets(self, filters: SearchFilters | None, fields: Sequence[FacetField], *,
               interval: Literal["day", "week", "month"] | None = None,
               tz: str = "Asia/Ho_Chi_Minh") -> Facets:
        """Count the articles matching `filters` per value of each field, aggregated in the store.

        The digest and reports count this way instead of reading every article. Topics are the
        assigned ids (`Article.topic_ids`), each counted once per article; tone is
        `Article.tone_label`; risk_level is `labels["risk"]["level"]`; lang the content language.
        With `interval`, the counts are also split by the local calendar day, Monday-based week or
        month in `tz` of the article's publication time (else first seen), as the date filters.
        Labels are read as the enricher writes them (string ids and labels; others count as none).
        Raises ValueError on an unknown field or interval.
        """

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

    def dismiss_claim(self, claim_id: str) -> None:
        """Mark a claim dismissed (a person judged it not false); KeyError if the id is unknown.

        The latest human decision wins: a confirmed claim can be dismissed and confirmed again.
        """

    def known_claims(self, status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        """Claims with that status (None: all), oldest first."""

    def get_claim(self, claim_id: str) -> KnownClaim | None:
        """The claim with that id, whatever its status; None when there is none."""

    def claim_candidates(self, band_keys: Sequence[str],
                         status: ClaimStatus | None = "confirmed") -> list[KnownClaim]:
        """Claims (confirmed by default) sharing any LSH band key, ordered by id."""

    def get_validators(self, urls: list[str] | None = None, *,
                       source_id: str | None = None) -> dict[str, Validators]:
        """Validators by URL: of `urls` (None: all), and with `source_id` only those attached to that
        source or to none (a poll of one source needs its own, not the whole table: that grows with
        every page ever fetched, and `haidang serve` would copy all of it into every crawl)."""

    def set_validators(self, validators: Validators, source_id: str | None = None) -> None:
        """Keep a URL's validators; `source_id`, once given, stays with the URL for `source_status`."""

    def record_run(self, run: SourceRun) -> None: ...

    def set_host_pause(self, pause: HostPause) -> None:
        """Keep the pause of `pause.host`. Of two pauses for one host the one ending later stays,
        whatever order they come in (two answers in one run): a pause is never shortened."""

    def host_pauses(self, at: datetime | None = None) -> list[HostPause]:
        """The pauses still in force at `at` (`until` after it), by host; None: every pause kept,
        ended ones too (for migration)."""

    def record_failure(self, failure: FailureRecord) -> None: ...

    def failures(self, source_id: str | None = None) -> list[FailureRecord]: ...

    def source_status(self) -> list[SourceStatus]: ...

    def enqueue(self, msg: OutboxMessage) -> bool:
        """Add a pending message; False (and nothing changed) when its key is already there,
        whatever that row's status, so one flag never reaches one recipient twice."""

    def due_messages(self, now: datetime, limit: int = 100) -> list[OutboxMessage]:
        """Pending messages whose next attempt is at or before `now` and whose delivery lease is
        absent or expired, earliest first."""

    def claim(self, key: str, owner: str, until: datetime, *, now: datetime | None = None) -> bool:
        """Take the delivery lease of a due message, atomically: True for exactly one of several
        processes trying at once. Only a pending message due at `now` (default: the clock) whose
        lease is absent or expired can be claimed; a crashed owner's lease lapses at `until`."""

    def mark_sent(self, key: str, at: datetime) -> None:
        """The server accepted the message: count the attempt, record when, drop the lease.
        KeyError if unknown."""

    def mark_retry(self, key: str, error: str, next_attempt_at: datetime, *, handed_over: bool = False) -> None:
        """A transient failure: count the attempt, keep it pending until `next_attempt_at`, drop the lease.
        `handed_over`: the attempt ended after the server took the whole message, without its answer;
        counted in `OutboxMessage.handed_over`, in the same write."""

    def mark_failed(self, key: str, error: str, at: datetime | None = None, *, handed_over: bool = False) -> None:
        """A permanent failure (or given up): count the attempt and stop trying, drop the lease,
        record `at` (default: the clock) as failed_at; the row stays visible. `handed_over` as in
        `mark_retry`."""

    def requeue_failed(self, key: str, now: datetime) -> bool:
        """Put a failed message back to pending, due at `now` and pending since `now` (same key and
        Message-ID, attempts and `handed_over` kept, failed_at cleared). False when it is not failed;
        KeyError if unknown."""

    def outbox(self, status: OutboxStatus | None = None, *, keys: Sequence[str] | None = None,
               sent_since: datetime | None = None, bodies: bool = True) -> list[OutboxMessage]:
        """Messages with that status (None: all), oldest first; narrowed to `keys` when given, and
        to messages sent at or after `sent_since` when given (so scheduled jobs need not read it all).

        `bodies=False` leaves `text` and `html` empty (every other field is read): the bodies are
        nearly all of the outbox's bytes (a digest's HTML alone is tens of kB) and only sending reads
        them, so listings, digests, reports and escalation ask without."""

    def get_alert_state(self, key: str) -> dict[str, Any] | None:
        """The JSON object last stored under `key` by `set_alert_state`, or None. Scheduled rules
        (alerts/watch.py) keep their memory here, so a restart neither repeats nor forgets a flag."""

    def set_alert_state(self, key: str, value: dict[str, Any]) -> None:
        """Replace the object under `key` (JSON-able: str, numbers, bools, None, lists, dicts)."""

    def record_action(self, action: ResponseAction) -> str:
        """Append an officer action and its audit entry (kind "action") in one step; return its id.

        An action with a `link_id` is stored at most once, even when several processes record it at
        the same time: the second raises AlreadyRecorded (carrying the kept action's id) and
        appends nothing."""

    def actions(self, *, since: datetime | None = None, until: datetime | None = None,
                story_id: str | None = None) -> list[ResponseAction]:
        """Recorded actions, oldest first; `since` inclusive, `until` exclusive, on `at`."""

    def append_audit(self, entry: AuditEntry) -> str:
        """Append one audit entry and return its id; entries are never updated or deleted."""

    def audit(self, *, since: datetime | None = None, kind: str | None = None,
              target: str | None = None) -> list[AuditEntry]:
        """Audit entries at or after `since` (None: all), oldest first; only those of `kind` and
        about `target` when given (who decided a claim is one claim's "claim" entries, not the log)."""

    def audit_page(self, *, since: datetime | None = None, kind: str | None = None, target: str | None = None,
                   limit: int = 100, offset: int = 0) -> AuditPage:
        """The entries `audit` lists with the same filters, newest first (latest `at`, then the last
        appended), `limit` of them (at most AUDIT_LIMIT_MAX) after the first `offset`, with their total
        and the count per kind.

        Paged by the store, so a page of a long log reads one page, not the log; any offset works
        (past the end: no entries, the counts still given). ValueError from `check_audit_page`."""

    def save_evidence(self, evidence: Evidence) -> str:
        """Append one evidence record and return its id; records are never updated or deleted."""

    def evidence(self, article_id: str) -> list[Evidence]:
        """The evidence kept for one article, oldest first (by `fetched_at`, then insertion)."""

    def backup(self, target: str) -> None:
        """A consistent copy of the whole store, taken while others keep writing."""

    def close(self) -> None: ...
