"""Configuration: pydantic models for every YAML file in config/, the loader, and its error messages.

Only this module reads YAML or `HAIDANG_*` variables. Every error names file, line and field.
Precedence, documented once: command-line flag > `HAIDANG_*` environment variable > YAML > default.
"""

from __future__ import annotations

import codecs
import difflib
import errno
import functools
import os
import re
import stat
import unicodedata
import warnings
from datetime import date as _date
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import ReusedAnchorWarning, YAMLError

from haidang.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_DIR",
    "ENVIRONMENT",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "RECIPIENT_ADMINS",
    "RECIPIENT_BY_TOPIC",
    "RISK_LEVELS",
    "SEVERITIES",
    "URL_LENGTH_LIMIT",
    "AgenciesFile",
    "Agency",
    "AlertRule",
    "AlertsFile",
    "AppSettings",
    "CrawlSettings",
    "EscalationSettings",
    "MatchSettings",
    "OutboxSettings",
    "QuietHours",
    "RecheckSettings",
    "ReportSettings",
    "Selectors",
    "ServiceSettings",
    "Settings",
    "SilenceCondition",
    "SiteCrawl",
    "Source",
    "SourcesFile",
    "SpikeCondition",
    "StoreSettings",
    "User",
    "UsersFile",
    "WebSettings",
    "check_config_dir",
    "check_environment",
    "data_folder_problem",
    "load_settings",
    "validate_yaml_file",
]

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

SourceKind = Literal["national_press", "provincial_press", "government_portal", "foreign_press", "platform"]


# Durations are named by their unit (download_timeout_s, poll_minutes, every_hours, days_before).
# Past a century one is a typo, a few zeros too many, and would overflow the date arithmetic of the
# scheduler or the outbox with a traceback when `serve` starts.
_SECONDS_PER_UNIT = {"s": 1, "minutes": 60, "hours": 3600, "days": 86400}
_LONGEST_DURATION_S = 100 * 365 * 86400


class _Twice(ValueError):
    """A name given to two items of one list; `items` are their positions, so the message can say
    on which lines they are (the error itself points at the list)."""

    def __init__(self, message: str, items: tuple[int, int]):
        super().__init__(message)
        self.items = items


def _first_repeat(keys: list[str]) -> tuple[int, int] | None:
    """Positions of the first key that repeats an earlier one, or None."""
    seen: dict[str, int] = {}
    for j, key in enumerate(keys):
        if key in seen:
            return seen[key], j
        seen[key] = j
    return None


class _Model(BaseModel):
    # No .inf or .nan (YAML reads both, and 1e999 as .inf): a timeout or interval of infinity passes
    # every "greater than" check and then stops a crawl, a lease or a schedule for good.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _durations_within_a_century(cls, v: Any, info: ValidationInfo) -> Any:
        words = (info.field_name or "").split("_")
        unit = words[-1] if words[-1] in _SECONDS_PER_UNIT else words[0] if words[0] in _SECONDS_PER_UNIT else None
        if unit and isinstance(v, int | float) and not isinstance(v, bool) \
                and v * _SECONDS_PER_UNIT[unit] > _LONGEST_DURATION_S:
            raise ValueError(f"{v:,} {unit} is more than a century: a digit too many?")
        return v


class CrawlSettings(_Model):
    """Politeness and safety limits shared by every crawl; always on."""

    user_agent: str = "HaiDangBot/0.1 (+https://github.com/haidang-monitor/haidang; media monitoring)"
    obey_robots: bool = True
    download_timeout_s: float = Field(20.0, gt=0)
    max_size_bytes: int = Field(5_000_000, gt=0)
    warn_size_bytes: int = Field(2_000_000, gt=0)
    concurrent_per_domain: int = Field(2, ge=1, le=4)
    concurrent_total: int = Field(16, ge=1)
    autothrottle_start_delay_s: float = Field(0.25, ge=0)
    autothrottle_max_delay_s: float = Field(10.0, gt=0)
    autothrottle_target_concurrency: float = Field(1.0, gt=0)
    download_delay_s: float = Field(0.0, ge=0)
    max_redirects: int = Field(5, ge=0)
    retry_times: int = Field(2, ge=0)
    max_pages_per_source: int = Field(500, ge=1)


class Selectors(_Model):
    """Per-site CSS selectors for what the generic extractor gets wrong."""

    title: str | None = None
    lead: str | None = None
    body: str | None = None
    byline: str | None = None
    date: str | None = None
    date_formats: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)     # comments, related links, widgets
    paywall: str | None = None                          # present => page is a teaser

    @field_validator("title", "lead", "body", "byline", "date", "remove", "paywall")
    @classmethod
    def _selectors_parse(cls, v: str | list[str] | None) -> str | list[str] | None:
        """The extractor compiles these for every page: a typo must fail here, not on each article."""
        from lxml.cssselect import CSSSelector, SelectorError  # as crawlers.extract compiles them

        for css in [v] if isinstance(v, str) else v or []:
            try:
                CSSSelector(css)
            except SelectorError as exc:
                raise ValueError(f"{css!r} is not a CSS selector: {exc}") from None
        return v


URL_LENGTH_LIMIT = 2083
"""The longest URL a crawl requests: Scrapy's URLLENGTH_LIMIT (crawlers.settings sets it from this)."""

# Validation context `validate_yaml_file` gives: the values were written by a person, in this file.
_FROM_FILE = "haidang_config_file"


def _check_requestable(url: str, what: str) -> None:
    """ValueError unless the crawler can request `url`. Scrapy drops a request whose URL, escaped
    as it is sent, is longer than URL_LENGTH_LIMIT, with no callback and no error: a configured
    URL past it was never fetched, and nothing said so."""
    from w3lib.url import safe_url_string  # as Scrapy escapes a request's URL

    shown = url if len(url) <= 80 else url[:77] + "..."
    try:
        escaped = safe_url_string(url)
    except ValueError as exc:
        raise ValueError(f"{what} {shown!r} is not a valid URL ({exc})") from None
    if len(escaped) > URL_LENGTH_LIMIT:
        written = f" ({len(url):,} as written, before percent-escaping)" if len(url) != len(escaped) else ""
        raise ValueError(
            f"{what} URL {shown!r} is {len(escaped):,} characters long as requested{written}, over the "
            f"crawler's limit of {URL_LENGTH_LIMIT:,} (Scrapy's URLLENGTH_LIMIT): it would never be "
            "fetched; shorten it (tracking parameters can usually go)")


class SiteCrawl(_Model):
    """How to crawl a site without a usable feed."""

    start_urls: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)      # regexes an article URL must match
    deny: list[str] = Field(default_factory=list)
    follow: list[str] = Field(default_factory=list)     # listing pages to follow (regexes)
    max_depth: int = Field(2, ge=0)
    # Article pages fetched as they are, links not followed: haidang.evidence re-checks flagged pages
    # this way, so robots.txt, throttling and the size cap apply to them too.
    pages: list[str] = Field(default_factory=list)

    @field_validator("start_urls", "sitemaps", "pages")
    @classmethod
    def _crawl_urls_are_requestable(cls, v: list[str], info: ValidationInfo) -> list[str]:
        """`pages` only as written in a config file: evidence re-checks fill it from stored URLs, and
        the site spider skips one it cannot request as `not-web-link`, which the re-check records;
        refused here, one such URL would stop the re-check of every page."""
        if info.field_name == "pages" and not (info.context or {}).get(_FROM_FILE):
            return v
        what = {"start_urls": "start page", "sitemaps": "sitemap"}.get(info.field_name or "", "page")
        for url in v:
            _check_requestable(url, what)
        return v

    @field_validator("allow", "deny", "follow")
    @classmethod
    def _patterns_compile(cls, v: list[str]) -> list[str]:
        """The spider compiles these for every crawl: a typo must fail here, not in each run."""
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression (Python re): {exc}") from None
        return v


class Source(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    country: str = Field(min_length=2, max_length=2)
    language: str
    kind: SourceKind
    url: str | None = None                              # home page, for people
    feeds: list[str] = Field(default_factory=list)
    follow_links: bool = True                           # fetch each feed item's page (False: feed text only)
    crawl: SiteCrawl | None = None
    selectors: Selectors = Field(default_factory=Selectors)
    poll_minutes: int = Field(60, ge=1)
    trust: Literal["high", "medium", "low", "unknown"] = "unknown"
    verified: bool = False
    enabled: bool = True
    local: bool = False                                 # may fetch private/loopback addresses
    notes: str | None = None

    @field_validator("feeds")
    @classmethod
    def _feeds_are_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"feed {url!r} is not an http(s) URL")
            _check_requestable(url, "feed")
        return v


class SourcesFile(_Model):
    sources: list[Source]

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, v: list[Source]) -> list[Source]:
        if pair := _first_repeat([s.id for s in v]):
            raise _Twice(f"source id {v[pair[1]].id!r} appears twice", pair)
        return v


class MatchSettings(_Model):
    keep_threshold: float = Field(0.5, ge=0, le=1)      # relevance score an article needs to be kept
    store_irrelevant: bool = False                      # keep non-matching articles too (for analysts)


class StoreSettings(_Model):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    data_dir: str = "~/.local/share/haidang"            # HAIDANG_HOME overrides
    elasticsearch_url: str | None = None                # ELASTICSEARCH_URL overrides
    sqlite_cache_mib: int = Field(32, ge=1)             # page cache per connection
    sqlite_mmap_mib: int = Field(64, ge=0)              # memory-mapped reads; counts towards resident memory
    # Elasticsearch (store.backend: elasticsearch). Credentials come only from the environment:
    # these name the variables, never the values.
    elasticsearch_prefix: str = Field("haidang", pattern=r"^[a-z0-9][a-z0-9_-]*$")  # index names <prefix>-articles...
    elasticsearch_username_env: str | None = "HAIDANG_ES_USER"
    elasticsearch_password_env: str | None = "HAIDANG_ES_PASSWORD"
    elasticsearch_api_key_env: str | None = "HAIDANG_ES_API_KEY"
    elasticsearch_ca_certs: str | None = None           # PEM file of the cluster's CA (security on)
    elasticsearch_timeout_s: float = Field(30.0, gt=0)  # per request
    elasticsearch_delete_after_days: int | None = Field(None, ge=1)  # ILM delete phase; None keeps indices
    kibana_url: str | None = None                       # Kibana as officers open it: flag emails link the record there
    # Retention (both backends): raw HTML and extracted text of articles first seen longer ago than
    # this are dropped; metadata, labels, flags, actions and the audit log stay. None keeps them.
    retention_text_days: int | None = Field(None, ge=1)


class SmtpSettings(_Model):
    """The mail server for immediate flags. Credentials come only from the environment."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    sender: str
    username_env: str | None = None                     # name of the variable holding the user name
    password_env: str | None = None                     # name of the variable holding the password
    timeout_s: float = Field(30.0, gt=0)
    # Wait for the answer to a message's end: servers may scan it first (RFC 5321 allows 10 min).
    # Giving up early makes a delivered message look lost; it must stay under outbox.lease_minutes.
    reply_timeout_s: float = Field(180.0, gt=0)

    @field_validator("sender")
    @classmethod
    def _sender_has_address(cls, v: str) -> str:
        if "@" not in parseaddr(v)[1]:
            raise ValueError("needs an email address: Name <user@domain> or user@domain")
        return v


class OutboxSettings(_Model):
    """Delivery of queued email (haidang.yaml `outbox:`), SMTP or .eml alike (alerts.outbox.DeliveryPolicy)."""

    lease_minutes: float = Field(5, gt=0)               # a claim on a message; outlasts one send with its timeouts
    max_age_hours: float = Field(72, gt=0)              # pending this long without delivery: marked failed (kept)


_MMDD = r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


class ReportSettings(_Model):
    """Reports for the plans' deadlines and the rebuttal kit (haidang.yaml `reports:`)."""

    # MM-DD; the plans' defaults: 15/6 and 15/11 (Đồng Tháp), 15/12 (Quảng Ngãi), 31/12 (Thái Nguyên)
    deadlines: list[str] = Field(default_factory=lambda: ["06-15", "11-15", "12-15", "12-31"])
    days_before: int = Field(3, ge=0, le=60)            # days before a deadline that `serve` sends the report
    recipients: list[str] = Field(default_factory=list)  # agency ids or addresses; empty: the leading agency
    own_sources: list[str] = Field(default_factory=list)  # the province's paper, broadcaster, portal (source ids);
    #                                                     empty: every provincial_press / government_portal source
    kit_days: int = Field(90, ge=1)                     # days of own coverage the rebuttal kit searches

    @field_validator("deadlines")
    @classmethod
    def _deadlines_are_days(cls, v: list[str]) -> list[str]:
        import re
        from datetime import date

        for d in v:
            if not re.match(_MMDD, d):
                raise ValueError(f"deadline {d!r} is not MM-DD (e.g. '06-15')")
            try:
                date(2025, int(d[:2]), int(d[3:]))  # a real day of a common year (no 02-29, 04-31)
            except ValueError:
                raise ValueError(f"deadline {d!r} is not a day of every year") from None
        return sorted(dict.fromkeys(v))


class ServiceSettings(_Model):
    """`haidang serve`: how often the scheduled jobs run besides each source's own poll_minutes."""

    watch_minutes: int = Field(5, ge=1)                 # spike and silence rules
    outbox_minutes: int = Field(1, ge=1)                # retries of messages the server did not take
    misfire_grace_s: int = Field(3600, ge=1)            # a run missed by less than this still runs once
    digest_grace_hours: float = Field(12, gt=0)         # a digest missed by downtime still goes out this late
    parallel_sources: int = Field(2, ge=1, le=8)        # source jobs at once; each crawls in its own process
    escalate_minutes: int = Field(15, ge=1)             # reminders and escalation of unanswered flags
    recheck_minutes: int = Field(60, ge=1)              # how often to look for pages due a re-check
    # glibc malloc arenas of serve and web (haidang/malloc.py): a few keep a long-running process's
    # memory from growing with its worker threads; 0 keeps glibc's default (8 per core).
    malloc_arenas: int = Field(2, ge=0, le=64)
    # After each job, free pages go back to the system (glibc's malloc_trim, 1-3 ms): with the arena
    # cap, this keeps a long-running serve flat (bench.serve_memory).
    malloc_trim: bool = True


class WebSettings(_Model):
    """The officers' web app (`haidang web`, `haidang serve`): signed flag links, search, login.

    The link secret is never here: it comes from the environment variable named by `secret_env`.
    """

    host: str = "127.0.0.1"                             # bind address; the office's reverse proxy faces outside
    port: int = Field(8470, ge=1, le=65535)
    base_url: str = "http://127.0.0.1:8470"             # how officers reach the app; links in emails start here
    link_days: int = Field(7, ge=1, le=90)              # days a signed flag link stays valid
    session_hours: int = Field(12, ge=1, le=168)        # hours a login lasts
    secret_env: str = "HAIDANG_LINK_SECRET"             # variable holding the HMAC secret (32+ characters)
    login_limit: int = Field(5, ge=1)                   # failed logins per client address (and per name) ...
    login_window_minutes: int = Field(15, ge=1)         # ... in this many minutes
    login_checks_in_flight: int = Field(2, ge=1)        # password checks at once (each argon2 check takes 64 MiB)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"base_url {v!r} must start with http:// or https://")
        return v.rstrip("/")


UserRole = Literal["viewer", "officer", "administrator"]


class User(_Model):
    """One login of the web app; the password is kept only as an argon2 hash."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: UserRole = "viewer"
    password_hash: str = Field(pattern=r"^\$argon2(id|i|d)\$")   # `haidang users add NAME` writes it
    # The agency (agencies.yaml id) this officer acts for: actions recorded on the web's flag pages
    # are counted under it in reports. None: the agency whose addresses include the name, if any.
    agency: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class UsersFile(_Model):
    """config/users.yaml."""

    users: list[User] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def _unique_names(cls, v: list[User]) -> list[User]:
        if pair := _first_repeat([u.name.lower() for u in v]):
            raise _Twice(f"user {v[pair[1]].name!r} appears twice", pair)
        return v


class RecheckSettings(_Model):
    """Re-checks of a flagged page after a takedown or correction request (haidang.yaml `recheck:`)."""

    enabled: bool = True
    every_hours: float = Field(6, gt=0)                 # between two fetches of one page
    for_days: float = Field(30, gt=0)                   # after the request; a page gone stops earlier


class AppSettings(_Model):
    """config/haidang.yaml."""

    province: str = "Quảng Ngãi"                        # the deployment's province: code or any name
    timezone: str = "Asia/Ho_Chi_Minh"
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    smtp: SmtpSettings | None = None                    # None: flags are written as .eml files in the data folder
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    recheck: RecheckSettings = Field(default_factory=RecheckSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @model_validator(mode="after")
    def _reply_wait_within_lease(self) -> AppSettings:
        """A send still waiting when its lease ends could be sent by another process too."""
        if self.smtp is not None:
            wait = max(self.smtp.timeout_s, self.smtp.reply_timeout_s)
            if wait >= self.outbox.lease_minutes * 60:
                raise ValueError(f"smtp.reply_timeout_s ({wait:g} s) must be shorter than outbox.lease_minutes "
                                 f"({self.outbox.lease_minutes:g} min): lower it or lengthen the lease")
        return self

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, v: str) -> str:
        """Every command that shows a time needs it; an unknown zone would stop them with a traceback."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as 'Asia/Ho_Chi_Minh'") from None
        return v

    @field_validator("province", mode="before")
    @classmethod
    def _code_may_be_unquoted(cls, v: Any) -> Any:
        """`province: 82` (YAML reads a number) is the code "82"; `08` reads as 8, so pad to two digits."""
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return f"{v:02d}"
        return v


# -- alerts: who acts (config/agencies.yaml) and when to tell them (config/alerts.yaml) -----------

Severity = Literal["khẩn", "cao", "trung bình", "thấp"]
SEVERITIES: tuple[str, ...] = ("khẩn", "cao", "trung bình", "thấp")      # most urgent first, as alerts.flag
RiskLevel = Literal["thấp", "cần xem xét", "cao"]
RISK_LEVELS: tuple[str, ...] = ("thấp", "cần xem xét", "cao")            # nlp.risk.LEVELS, least first
ToneLabel = Literal["negative", "neutral", "positive"]                   # nlp.tone.LABELS
RECIPIENT_BY_TOPIC = "route_by_topic"   # each assigned topic's owning agencies (config/agencies.yaml)
RECIPIENT_ADMINS = "admins"             # agencies with receives_admin: true (source health, not content)
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_SLUG = r"^[a-z0-9][a-z0-9_-]*$"


class QuietHours(_Model):
    """A daily window, local time, in which non-urgent flags wait; it may cross midnight."""

    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end are equal: give a window or leave quiet_hours out")
        return self


class Agency(_Model):
    """One provincial body that acts on flags (plans item 6), with the plan topics it owns."""

    id: str = Field(pattern=_SLUG)
    name: str                                           # Vietnamese, as shown in emails
    emails: list[str] = Field(min_length=1)
    topics: list[str] = Field(default_factory=list)     # plan topic ids (config/topics.yaml)
    leads: bool = False                                 # leads and compiles: receives every khẩn/cao flag
    receives_admin: bool = False                        # source-health flags (a silent source)
    quiet_hours: QuietHours | None = None               # per recipient, besides per rule
    notes: str | None = None

    @field_validator("emails")
    @classmethod
    def _emails_look_like_addresses(cls, v: list[str]) -> list[str]:
        for address in v:
            local, at, domain = address.partition("@")
            if not (local and at and "." in domain) or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an email address")
        return v


class AgenciesFile(_Model):
    agencies: list[Agency]

    @field_validator("agencies")
    @classmethod
    def _unique_ids(cls, v: list[Agency]) -> list[Agency]:
        if pair := _first_repeat([a.id for a in v]):
            raise _Twice(f"agency id {v[pair[1]].id!r} appears twice", pair)
        if sum(a.leads for a in v) > 1:
            raise ValueError("more than one agency has leads: true; one body leads and compiles")
        return v


class SpikeCondition(_Model):
    """Mentions in a window against the usual level for that window (counted by the store)."""

    window_minutes: int = Field(ge=1)
    factor: float = Field(ge=1)                         # count >= factor x baseline
    min_count: int = Field(ge=1)                        # and never fewer than this
    cooldown_minutes: int = Field(ge=0)                 # after a flag, quiet this long: one flag per surge
    baseline_days: int = Field(14, ge=1)                # past days of the same window that set the usual level


class SilenceCondition(_Model):
    hours: float = Field(gt=0)                          # no new item for this long => the source is silent


class AlertRule(_Model):
    """A named rule. Article conditions all have to hold; spike and silence rules stand alone."""

    name: str = Field(pattern=_SLUG)
    description: str | None = None                      # Vietnamese, shown with the flag
    enabled: bool = True
    relevant: bool | None = None
    topics: list[str] = Field(default_factory=list)     # any of these plan topic ids
    min_risk_level: RiskLevel | None = None
    min_risk_score: float | None = Field(None, ge=0, le=1)
    tone: list[ToneLabel] = Field(default_factory=list)  # any of these
    source_kinds: list[SourceKind] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    debunk: bool | None = None                          # true: only reports of an official denial; false: none of them
    query: str | None = None                            # the store's query language; the store evaluates it
    spike: SpikeCondition | None = None
    silence: SilenceCondition | None = None
    severity: Severity
    recipients: list[str] = Field(min_length=1)         # agency ids, "route_by_topic", "admins"
    immediate: bool = False                             # False: the digest only
    quiet_hours: QuietHours | None = None               # severity khẩn ignores them

    @field_validator("query")
    @classmethod
    def _query_parses(cls, v: str | None) -> str | None:
        if v is not None:
            from haidang.errors import QueryError
            from haidang.store.query import parse_query  # the one query language, so a typo fails here

            try:
                parse_query(v)
            except QueryError as exc:
                raise ValueError(f"query does not parse: {exc}") from None
        return v

    @field_validator("tone", mode="before")
    @classmethod
    def _one_tone_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _conditions_make_sense(self) -> AlertRule:
        article_conditions = self.article_conditions()
        if self.spike and self.silence:
            raise ValueError("a rule is either a spike or a silence rule, not both")
        if self.silence and article_conditions:
            raise ValueError(f"a silence rule watches sources, not articles: remove {', '.join(article_conditions)}")
        if self.silence and RECIPIENT_BY_TOPIC in self.recipients:
            raise ValueError("a silence rule has no article to route by topic: name agencies or 'admins'")
        if not (self.spike or self.silence or article_conditions):
            raise ValueError("the rule has no condition and would flag every article")
        if self.min_risk_level is not None and self.min_risk_score is not None:
            raise ValueError("give min_risk_level or min_risk_score, not both")
        return self

    def article_conditions(self) -> list[str]:
        """Names of the per-article conditions this rule sets, in evaluation order."""
        names = ("relevant", "topics", "min_risk_level", "min_risk_score", "tone", "source_kinds",
                 "languages", "debunk", "query")
        return [n for n in names if getattr(self, n) not in (None, [])]


class DigestSettings(_Model):
    """The daily digest for the monitoring team (alerts.yaml `digest:`)."""

    enabled: bool = True
    time: str = Field("07:00", pattern=_HHMM)           # local time; the digest covers the 24 h before it
    recipients: list[str] = Field(default_factory=list)  # agency ids or addresses; empty: the leading agency


class EscalationSettings(_Model):
    """Flags nobody acted on (alerts.yaml `escalation:`): a reminder to the flag's recipients, then a
    message to the leading agency. An officer action of any kind on the story stops both."""

    enabled: bool = True
    remind_after_hours: float = Field(24, gt=0)         # after the flag was sent
    escalate_after_hours: float = Field(48, gt=0)       # after the flag was sent
    escalate_to: list[str] = Field(default_factory=list)  # agency ids or addresses; empty: the leading agency
    look_back_days: float = Field(14, gt=0)             # older unanswered flags are left alone (no backlog storm)

    @model_validator(mode="after")
    def _remind_first(self) -> EscalationSettings:
        if self.escalate_after_hours <= self.remind_after_hours:
            raise ValueError("escalate_after_hours must be later than remind_after_hours")
        return self


class AlertsFile(_Model):
    rules: list[AlertRule]
    digest: DigestSettings = Field(default_factory=DigestSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, v: list[AlertRule]) -> list[AlertRule]:
        if pair := _first_repeat([r.name for r in v]):
            raise _Twice(f"rule name {v[pair[1]].name!r} appears twice", pair)
        return v


class Settings(_Model):
    """Everything loaded from one config directory, after environment overrides."""

    config_dir: str
    app: AppSettings
    sources: list[Source]
    landmarks: dict[str, list[str]] = Field(default_factory=dict)   # province code -> names
    topics: dict[str, dict[str, Any]] = Field(default_factory=dict)  # plan topic id -> {name, seeds, seeds_en}
    agencies: list[Agency] = Field(default_factory=list)
    alert_rules: list[AlertRule] = Field(default_factory=list)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    users: list[User] = Field(default_factory=list)                  # config/users.yaml

    def topic_seeds(self) -> dict[str, list[str]] | None:
        return {t: list(v["seeds"]) for t, v in self.topics.items()} if self.topics else None

    def topic_seeds_en(self) -> dict[str, list[str]] | None:
        """The English seed phrases (`seeds_en`) for `Enricher.load(topic_seeds_en=...)`."""
        return {t: list(v.get("seeds_en") or []) for t, v in self.topics.items()} if self.topics else None

    @property
    def data_dir(self) -> Path:
        return Path(os.path.expanduser(self.app.store.data_dir))


_FILES: dict[str, type[BaseModel]] = {"haidang.yaml": AppSettings, "sources.yaml": SourcesFile,
                                      "agencies.yaml": AgenciesFile, "alerts.yaml": AlertsFile}


class _Landmarks(_Model):
    landmarks: dict[str, list[str]]

    @field_validator("landmarks", mode="before")
    @classmethod
    def _codes_may_be_unquoted(cls, v: Any) -> Any:
        """`08:` (YAML reads the number 8) is the code "08", as `province: 08` is."""
        if not isinstance(v, dict):
            return v
        out: dict[Any, Any] = {}
        written: dict[Any, Any] = {}
        for code, names in v.items():
            padded = f"0{code}" if isinstance(code, str) and len(code) == 1 and code in "0123456789" else code
            if padded in out:
                raise ValueError(f"province code {padded!r} appears twice (written {written[padded]} and {code})")
            out[padded], written[padded] = names, code
        return out


_FILES["landmarks.yaml"] = _Landmarks
_FILES["users.yaml"] = UsersFile


# Limits on what the loader reads. They cannot come from the configuration they guard, so they
# live here. The shipped files are 1-40 kB (sources.yaml: 36 kB for 53 sources). ruamel's
# round-trip parser is pure Python: at this cap, a sources.yaml of 700 sources loads in 3 s, and
# the densest YAML there is (a flow list of one-digit numbers) takes 15 s and 400 MB. A 100 MB file
# would hold a command for hours; nothing that big is a configuration (a log pasted in, /dev/zero).
MAX_FILE_BYTES = 512 * 1024
# Values after aliases (*name) are expanded. The shipped files hold a few thousand; a file of
# anchors that each repeat the one before ("billion laughs") reaches billions from ten lines.
MAX_VALUES = 500_000
# Levels of nesting: the deepest shipped value is 5 levels down.
MAX_DEPTH = 50

_STR_TAG = "tag:yaml.org,2002:str"


class _Refused(Exception):
    """A value the loader will not pass on: where it is (keys from the top, as in the document) and why."""

    def __init__(self, loc: tuple[Any, ...], message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def _problem(path: Path, line: int | None, message: str, field: str = "") -> ConfigError:
    problem = (str(path), line, field, message)
    return ConfigError(_format([problem]), [problem])


def _read_text(path: Path) -> str:
    """The file's text, refused with a reason when it is not a readable UTF-8 file of a sane size.

    Checked before reading: a named pipe would block the command forever, /dev/zero or a huge file
    would fill memory, and a folder, a symbolic link to nothing or in a loop, or a file the user
    may not read would otherwise end in a traceback (or, for a link, in the file being skipped)."""
    try:
        info = path.stat()
    except OSError as exc:
        why = {errno.ELOOP: " (symbolic links that point at each other)",
               errno.ENOENT: " (a symbolic link to a file that is not there)"}.get(exc.errno or 0, "")
        raise _problem(path, None, f"cannot read it: {exc.strerror or exc}{why}") from None
    if stat.S_ISDIR(info.st_mode):
        raise _problem(path, None, "is a folder, not a file: move it away or put the YAML file in its place")
    if not stat.S_ISREG(info.st_mode):
        raise _problem(path, None, "is not a regular file (a pipe, a device, a socket): put a YAML file in its place")
    if info.st_size > MAX_FILE_BYTES:
        raise _problem(path, None, f"is {info.st_size:,} bytes; a configuration file is at most "
                                   f"{MAX_FILE_BYTES:,}: is this the right file?")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _problem(path, None, f"cannot read it: {exc.strerror or exc} (check its permissions)") from None
    if len(data) > MAX_FILE_BYTES:          # grew after stat(); /proc files report size 0
        raise _problem(path, None, f"is more than {MAX_FILE_BYTES:,} bytes; a configuration file is not: "
                                   f"is this the right file?")
    return _decode(path, data)


def _decode(path: Path, data: bytes) -> str:
    """UTF-8, with or without a byte order mark; anything else is refused, naming where it goes wrong.

    UTF-16 (Notepad's "Unicode") is refused rather than read: every tool that edits these files
    (`haidang users add`, an editor over SSH, grep) expects UTF-8."""
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if data.startswith(bom):
            raise _problem(path, 1, f"is saved as {name}: save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise _problem(path, line, "holds NUL bytes, so it is not UTF-8 text (UTF-16 without a byte order mark, "
                                   "or not a text file): save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _problem(path, line, f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at column {column} of line "
                                   f"{line} (saved in another encoding, such as Windows-1258 or TCVN3?): "
                                   f"save it as UTF-8") from None


class _MarkingConstructor(RoundTripConstructor):  # type: ignore[misc]
    """ruamel's round-trip constructor, remembering where it is: a value it cannot build (a date
    like 2025-13-45, `!!int abc`, a list as a mapping key) fails with a bare ValueError or TypeError
    that says nothing of its line."""

    last_mark: Any = None

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self.last_mark = node.start_mark
        return super().construct_object(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    """The document of `path` (ruamel's round-trip types, which keep lines). Shared: never change it."""
    return _parse_yaml(str(path), _read_text(path))


@functools.lru_cache(maxsize=8)
def _parse_yaml(name: str, text: str) -> Any:
    """Parse once per content: each problem's line is looked up again in its file (_key_line), and a
    file with hundreds of problems must not be parsed hundreds of times. Keyed by the text itself,
    so an edited file is always parsed afresh."""
    path = Path(name)
    yaml = YAML(typ="rt")
    yaml.Constructor = _MarkingConstructor
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ReusedAnchorWarning)
            return yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if "end of stream" in str(getattr(exc, "problem", "")):
            # An unclosed quote or bracket is reported at the end of the file; where it opened helps more.
            mark = getattr(exc, "context_mark", None) or mark
        line = mark.line + 1 if mark is not None else None
        raise _problem(path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except ReusedAnchorWarning as exc:
        lines = re.findall(r"line (\d+)", str(exc))     # first and second occurrence; the warning has no mark
        line = int(lines[-1]) if lines else None
        raise _problem(path, line, "not valid YAML: an anchor (&name) is defined twice, so an alias (*name) "
                                   "could mean either: give each anchor its own name") from None
    except RecursionError:
        raise _problem(path, None, "not valid YAML: nested hundreds of levels deep (an unclosed bracket?); "
                                   f"a configuration is a few levels deep, at most {MAX_DEPTH}") from None
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        mark = getattr(yaml.constructor, "last_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise _problem(path, line, f"not valid YAML: a value YAML cannot read ({exc}); to mean text, put it "
                                   f"in quotes") from None


def _find_key(node: CommentedMap, key: Any) -> Any:
    """The key of `node` that `key` names: itself, or the document's own spelling of it (an int for
    "82", a decomposed "khẩn"), since validation sees keys as NFC text."""
    if key in node:
        return key
    for k in node:
        if _scalar_key(k) == key:
            return k
    return _MISSING


_MISSING = object()


def _scalar_key(k: Any) -> str | None:
    if isinstance(k, str | int | float | _date) or k is None:   # bool is an int
        return unicodedata.normalize("NFC", str(k))
    return None


def _line_of(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """Walk ruamel's position data down `loc` to the deepest node that has a line."""
    line = None
    node = doc
    for key in loc:
        if isinstance(node, CommentedMap) and (found := _find_key(node, key)) is not _MISSING:
            line = node.lc.key(found)[0] + 1
            node = node[found]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    if line is None and hasattr(doc, "lc") and doc.lc.line is not None:
        line = doc.lc.line + 1
    return line


def validate_yaml_file(path: Path, model: type[BaseModel]) -> BaseModel:
    """Load one YAML file and validate it; ConfigError names file, line and field of each problem."""
    doc = _read_yaml(path)
    empty = doc is None
    if empty:
        doc = CommentedMap()
    try:
        data = _plain(doc, (), [0])
    except _Refused as exc:
        parts = [str(_scalar_key(p) or p) for p in exc.loc]
        field_path = ".".join(parts if len(parts) <= 6 else [*parts[:3], "…"]) or "(top level)"
        raise _problem(path, _line_of(doc, exc.loc), exc.message, field_path) from None
    try:
        return model.model_validate(data, context={_FROM_FILE: str(path)})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field_path = ".".join(str(p) for p in loc) or "(top level)"
            message = err["msg"].removeprefix("Value error, ") + (" (the file is empty)" if empty else "") \
                + _quote_hint(err) + _where_twice(doc, loc, err)
            problems.append((str(path), _line_of(doc, loc), field_path, message))
        raise ConfigError(_format(problems), problems) from None


def _where_twice(doc: Any, loc: tuple[Any, ...], err: Any) -> str:
    """For a name given twice: the two items and their lines, which the list's own line does not say."""
    error = (err.get("ctx") or {}).get("error")
    if not isinstance(error, _Twice):
        return ""
    (i, j), (line_i, line_j) = error.items, (_line_of(doc, (*loc, k)) for k in error.items)
    return f": items {i} and {j}, on lines {line_i} and {line_j}; keep one"


def _quote_hint(err: Any) -> str:
    """Why a value written as text is not text: YAML read it as a number, a truth value or a date."""
    value = err.get("input")
    if err["type"] != "string_type" or not isinstance(value, int | float | _date):
        return ""
    kind = "a truth value" if isinstance(value, bool) else "a date" if isinstance(value, _date) else "a number"
    return f": YAML reads the unquoted value as {kind} ({value}); put it in quotes to keep it as written"


def _plain(node: Any, loc: tuple[Any, ...], count: list[int]) -> Any:
    """Plain dicts and lists, every string in NFC: an editor that writes decomposed Vietnamese
    ("khẩn" as k-h-a-combining marks) must not make a value differ from the one it looks like.

    Refuses what plain values cannot say: a key that appears twice once spelt alike (82 and "82",
    composed and decomposed), a mapping or list as a key, a tag other than !!str, nesting past
    MAX_DEPTH, and more than MAX_VALUES values once aliases are expanded (`count` counts them)."""
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise _Refused(loc[:1], f"more than {MAX_VALUES:,} values once aliases (*name) are expanded: far more than "
                            f"a configuration holds (anchors repeating each other?); write the values out")
    if len(loc) > MAX_DEPTH:
        raise _Refused(loc, f"nested more than {MAX_DEPTH} levels deep; a configuration is a few levels deep")
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag is not None and not (tag == _STR_TAG and isinstance(node, TaggedScalar)):
        raise _Refused(loc, f"YAML tag {tag.replace('tag:yaml.org,2002:', '!!')} is not allowed: the configuration "
                            f"holds plain text, numbers, lists and mappings; remove the tag")
    if isinstance(node, TaggedScalar):
        return unicodedata.normalize("NFC", str(node.value))
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        first: dict[str, Any] = {}
        for k, v in node.items():
            key = _scalar_key(k)
            if key is None:
                raise _Refused(loc, "a mapping or list is used as a key (`? ...` or an alias): keys are names")
            if key in out:
                where = f" on line {node.lc.key(first[key])[0] + 1}" if isinstance(node, CommentedMap) else ""
                raise _Refused((*loc, k), f"key {key!r} appears twice: here and{where} ({first[key]!r} and {k!r} "
                                          f"are the same to Hải Đăng); keep one")
            first[key] = k
            out[key] = _plain(v, (*loc, k), count)
        return out
    if isinstance(node, list):
        return [_plain(v, (*loc, i), count) for i, v in enumerate(node)]
    if isinstance(node, str):
        return unicodedata.normalize("NFC", node)
    return node


def _format(problems: list[tuple[str, int | None, str, str]]) -> str:
    """One line per problem: file:line: field: message (no field for a problem of the whole file)."""
    return "\n".join(f"{f}{f':{line}' if line else ''}: {field + ': ' if field else ''}{msg}"
                      for f, line, field, msg in problems)


def check_config_dir(config_dir: Path) -> list[tuple[str, int | None, str, str]]:
    """Validate every known YAML file in `config_dir`; return all problems (empty when valid)."""
    problems: list[tuple[str, int | None, str, str]] = []
    for path in sorted(config_dir.glob("*.y*ml")):
        model = _FILES.get(path.name)
        if path.name == "topics.yaml":
            from nlp.topics import topics_file_model  # the schema lives beside the model that uses it

            model = topics_file_model()
        if model is None:
            continue
        try:
            validate_yaml_file(path, model)
        except ConfigError as exc:
            problems.extend(exc.problems)
    try:
        if not problems:
            load_settings(config_dir, environ={})
    except ConfigError as exc:
        problems.extend(exc.problems)
    return problems


# -- the environment: HAIDANG_* variables -------------------------------------------------------

ENVIRONMENT = "environment"     # the "file" of a problem found in a variable; its field is the variable

_Problem = tuple[str, int | None, str, str]

# HAIDANG_* variables read by their fixed names. Those the YAML names (web.secret_env, the store's
# elasticsearch_*_env, smtp.username_env/password_env) are added per configuration. Any other
# HAIDANG_* variable is a typo that would be silently ignored: `config check` warns about it.
_FIXED_VARIABLES = ("HAIDANG_CONFIG", "HAIDANG_HOME", "HAIDANG_STORE", "HAIDANG_PROVINCE",
                    "HAIDANG_KIBANA_URL",                                    # `haidang kibana setup`
                    "HAIDANG_RENDER_DOCS", "HAIDANG_RENDER_DOCS_DIR", "HAIDANG_SCREENSHOTS")  # the test suite's

_FIX_DATA_FOLDER = "point HAIDANG_HOME (store.data_dir in config/haidang.yaml) at a writable folder"


def data_folder_problem(path: Path) -> str | None:
    """Why the data folder `path` cannot be used, and what to do; None when it can (or can be made).

    Creates nothing, so `config check` can say it before a run; `haidang run` fails with these
    same words (haidang.service), so both say one thing."""
    if path.exists():
        if not path.is_dir():
            return f"the data folder {path} is a file, not a folder: {_FIX_DATA_FOLDER}"
        if not os.access(path, os.W_OK | os.X_OK):
            return (f"the data folder {path} is not writable (permissions, or a read-only file system): give "
                    f"the user running Hải Đăng write access to it, or {_FIX_DATA_FOLDER}")
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot create the data folder {path}: {parent} is a file, not a folder: {_FIX_DATA_FOLDER}"
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"cannot create the data folder {path}: {parent} is not writable (permissions, or a read-only "
                f"file system): give the user running Hải Đăng write access to it, or {_FIX_DATA_FOLDER}")
    return None


def _environment_errors(env: Any, app: AppSettings) -> list[_Problem]:
    """Values of variables that would make a command fail later, or worse, do the wrong thing:
    checked when settings load, so every command (and `config check`) says it the same way."""
    problems: list[_Problem] = []
    backend = env.get("HAIDANG_STORE")
    if backend:
        allowed: tuple[str, ...] = get_args(StoreSettings.model_fields["backend"].annotation)
        if backend not in allowed:
            close = difflib.get_close_matches(backend.lower(), allowed, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]}?)" if close else ""
            message = (f"unknown store backend {backend!r}{hint}: use {' or '.join(allowed)}, or unset "
                       f"HAIDANG_STORE to use store.backend from haidang.yaml")
            problems.append((ENVIRONMENT, None, "HAIDANG_STORE", message))
    secret_env = app.web.secret_env
    secret = env.get(secret_env)
    if secret:
        from alerts.links import MIN_SECRET_CHARS  # the signer's own minimum

        if len(secret) < MIN_SECRET_CHARS:
            message = (f"the link secret has {len(secret)} characters; use at least {MIN_SECRET_CHARS} random "
                       f"ones (e.g. the output of: python -c \"import secrets; print(secrets.token_urlsafe(32))\"), "
                       f"or unset {secret_env} to run without signed links and the web app")
            problems.append((ENVIRONMENT, None, secret_env, message))
        elif not secret.isascii() and not _is_utf8(secret):     # bytes from /dev/urandom: signing would crash
            message = (f"the link secret holds bytes that are not UTF-8 text; use printable random characters "
                       f"(e.g. the output of: python -c \"import secrets; print(secrets.token_urlsafe(32))\"), "
                       f"or unset {secret_env} to run without signed links and the web app")
            problems.append((ENVIRONMENT, None, secret_env, message))
    return problems


def _is_utf8(text: str) -> bool:
    """False for a value read from the environment with bytes that are not UTF-8 (surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _known_variables(app: AppSettings) -> set[str]:
    names = set(_FIXED_VARIABLES) | {app.web.secret_env}
    store = app.store
    names |= {n for n in (store.elasticsearch_username_env, store.elasticsearch_password_env,
                          store.elasticsearch_api_key_env) if n}
    if app.smtp is not None:
        names |= {n for n in (app.smtp.username_env, app.smtp.password_env) if n}
    return names


def _app_file_or_default(folder: Path) -> AppSettings:
    """haidang.yaml alone when it validates (for the names of the variables it sets), else the defaults."""
    try:
        return validate_yaml_file(folder / "haidang.yaml", AppSettings)  # type: ignore[return-value]
    except (ConfigError, OSError):
        return AppSettings()


def check_environment(config_dir: Path | str | None = None,
                      environ: dict[str, str] | None = None) -> tuple[list[_Problem], list[_Problem]]:
    """The `HAIDANG_*` variables as the commands would read them with this config folder (None: as
    they find it, HAIDANG_CONFIG or config/): (errors, warnings), each naming the variable.

    Errors: a value a command would refuse or fail on (the loader's own messages, and the data
    folder's). Warnings: a variable that is set but has no effect (a misspelt name, Elasticsearch
    credentials beside the SQLite store), which nothing else would ever mention."""
    env = dict(os.environ) if environ is None else environ
    errors: list[_Problem] = []
    warnings: list[_Problem] = []
    backends = get_args(StoreSettings.model_fields["backend"].annotation)
    from_env = config_dir is None and bool(env.get("HAIDANG_CONFIG"))
    folder = Path(config_dir or env.get("HAIDANG_CONFIG") or DEFAULT_CONFIG_DIR)
    if config_dir is not None and env.get("HAIDANG_CONFIG") and Path(env["HAIDANG_CONFIG"]) != Path(config_dir):
        message = f"set to {env['HAIDANG_CONFIG']}, but --config {config_dir} is given and wins: this check read it"
        warnings.append((ENVIRONMENT, None, "HAIDANG_CONFIG", message))
    try:
        app = load_settings(config_dir, environ=env).app
    except ConfigError as exc:
        errors.extend(p for p in exc.problems if p[0] == ENVIRONMENT)
        if from_env and not folder.is_dir():
            return errors, warnings
        app = _app_file_or_default(folder)
        if not errors:
            # The files stopped the loader before it looked at the variables: check what needs no file.
            errors.extend(_environment_errors(env, app))
        if env.get("HAIDANG_STORE") in backends:
            app = app.model_copy(update={"store": app.store.model_copy(update={"backend": env["HAIDANG_STORE"]})})
    home = env.get("HAIDANG_HOME")
    if home:
        data_dir = Path(os.path.expanduser(home))
        if not data_dir.is_absolute():
            data_dir = (folder / data_dir).resolve()      # as the loader resolves it
        problem = data_folder_problem(data_dir)
        if problem:
            errors.append((ENVIRONMENT, None, "HAIDANG_HOME", problem))
    known = _known_variables(app)
    for name in sorted(n for n in env if n.startswith("HAIDANG_") and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else f"the ones it reads: {', '.join(sorted(known))}"
        warnings.append((ENVIRONMENT, None, name, f"not a variable Hải Đăng reads, so it is ignored; {hint}"))
    if app.store.backend == "sqlite" and (env.get("HAIDANG_STORE") or "sqlite") in backends:  # not after a typo there
        store = app.store
        origin = "HAIDANG_STORE" if env.get("HAIDANG_STORE") else "store.backend in haidang.yaml"
        for es_name in ("ELASTICSEARCH_URL", store.elasticsearch_username_env, store.elasticsearch_password_env,
                        store.elasticsearch_api_key_env):
            if es_name and env.get(es_name):
                message = (f"set, but the store is sqlite ({origin}), so it is not used: set "
                           f"HAIDANG_STORE=elasticsearch (or store.backend) to use Elasticsearch, or unset it")
                warnings.append((ENVIRONMENT, None, es_name, message))
    return errors, warnings


def load_settings(config_dir: Path | str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load and validate config/, then apply `HAIDANG_*` overrides. Raises ConfigError."""
    env = os.environ if environ is None else environ
    from_env = not config_dir and bool(env.get("HAIDANG_CONFIG"))
    config_dir = Path(config_dir or env.get("HAIDANG_CONFIG") or DEFAULT_CONFIG_DIR)
    if from_env and not config_dir.is_dir():
        message = (f"{config_dir} is not a folder: point HAIDANG_CONFIG at the folder that holds haidang.yaml, "
                   f"or pass --config")
        problem = (ENVIRONMENT, None, "HAIDANG_CONFIG", message)
        raise ConfigError(_format([problem]), [problem])
    if not config_dir.is_dir():
        raise ConfigError(f"{config_dir}: config directory not found (set HAIDANG_CONFIG or --config)",
                          [(str(config_dir), None, "", "directory not found")])
    _check_folder(config_dir)
    app_path = config_dir / "haidang.yaml"
    app = validate_yaml_file(app_path, AppSettings) if _present(app_path) else AppSettings()
    src_path = config_dir / "sources.yaml"
    sources = validate_yaml_file(src_path, SourcesFile).sources if _present(src_path) else []  # type: ignore[attr-defined]
    lm_path = config_dir / "landmarks.yaml"
    landmarks = validate_yaml_file(lm_path, _Landmarks).landmarks if _present(lm_path) else {}  # type: ignore[attr-defined]

    store = app.store  # type: ignore[attr-defined]
    problems = _environment_errors(env, app)  # type: ignore[arg-type]   # raised with the references' below
    overrides: dict[str, Any] = {}
    if env.get("HAIDANG_HOME"):
        overrides["data_dir"] = env["HAIDANG_HOME"]
    if env.get("ELASTICSEARCH_URL"):
        overrides["elasticsearch_url"] = env["ELASTICSEARCH_URL"]
    if env.get("HAIDANG_STORE"):
        overrides["backend"] = env["HAIDANG_STORE"]
    if overrides:
        store = store.model_copy(update=overrides)
    if not Path(os.path.expanduser(store.data_dir)).is_absolute():
        store = store.model_copy(update={"data_dir": str((config_dir / store.data_dir).resolve())})
    app_update: dict[str, Any] = {"store": store}
    if env.get("HAIDANG_PROVINCE"):
        app_update["province"] = env["HAIDANG_PROVINCE"]
    app = app.model_copy(update=app_update)  # type: ignore[assignment]
    ag_path = config_dir / "agencies.yaml"
    agencies = validate_yaml_file(ag_path, AgenciesFile).agencies if _present(ag_path) else []  # type: ignore[attr-defined]
    al_path = config_dir / "alerts.yaml"
    alerts_file = validate_yaml_file(al_path, AlertsFile) if _present(al_path) else AlertsFile(rules=[])
    rules, digest = alerts_file.rules, alerts_file.digest  # type: ignore[attr-defined]
    topics: dict[str, dict[str, Any]] = {}
    if _present(config_dir / "topics.yaml"):
        from nlp.topics import load_topic_config  # its schema sits beside the model that uses it

        topics = load_topic_config(config_dir / "topics.yaml")
    try:
        _check_references(config_dir, app, landmarks, agencies, rules, topics, digest,  # type: ignore[arg-type]
                          sources=sources if _present(src_path) else None,
                          province_from_env=bool(env.get("HAIDANG_PROVINCE")))
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(_format(problems), problems)
    us_path = config_dir / "users.yaml"
    users = validate_yaml_file(us_path, UsersFile).users if _present(us_path) else []  # type: ignore[attr-defined]
    _check_user_agencies(us_path, users, agencies)  # type: ignore[arg-type]
    escalation: EscalationSettings = alerts_file.escalation  # type: ignore[attr-defined]
    _check_escalation(al_path, agencies, escalation)  # type: ignore[arg-type]
    return Settings(config_dir=str(config_dir), app=app, sources=sources, landmarks=landmarks,  # type: ignore[arg-type]
                    topics=topics, agencies=agencies, alert_rules=rules, digest=digest, users=users,
                    escalation=escalation)


def _check_folder(config_dir: Path) -> None:
    """A folder the loader may list, holding at least one of its files, each under its own name.
    Otherwise every file reads as absent: the command runs on defaults, with no sources and no
    rules, and `config check` calls that OK."""
    names = [*_FILES, "topics.yaml"]
    problems: list[_Problem] = []
    if not os.access(config_dir, os.R_OK | os.X_OK):
        message = "cannot read this folder (permissions): give the user running Hải Đăng read access to it"
        problems.append((str(config_dir), None, "", message))
    else:
        for name in names:
            other = config_dir / f"{name.removesuffix('.yaml')}.yml"
            if _present(other):
                problems.append((str(other), None, "", f"not read: Hải Đăng reads {name} (.yaml, not .yml): rename it"))
        if not problems and not any(_present(config_dir / name) for name in names):
            message = (f"holds none of the configuration files ({', '.join(names)}): point --config or "
                       f"HAIDANG_CONFIG at the folder that holds them")
            problems.append((str(config_dir), None, "", message))
    if problems:
        raise ConfigError(_format(problems), problems)


def _present(path: Path) -> bool:
    """A file to read, or a link to one that is gone or loops: reading it says what is wrong, where
    `exists()` would call it absent and the command would go on without its sources or rules."""
    return os.path.lexists(path)


def _check_user_agencies(path: Path, users: list[User], agencies: list[Agency]) -> None:
    """A user's agency must be one of agencies.yaml: a typo would file their actions under nothing."""
    ids = {a.id for a in agencies}
    problems = [(str(path), _key_line(path, "users", i, "agency"), f"users.{i}.agency",
                 f"unknown agency id {u.agency!r} for user {u.name!r}: use an id from agencies.yaml")
                for i, u in enumerate(users) if u.agency and u.agency not in ids]
    if problems:
        raise ConfigError(_format(problems), problems)


def _check_escalation(path: Path, agencies: list[Agency], escalation: EscalationSettings) -> None:
    """Escalation needs somewhere to go: named agencies must exist, and with none named, one must lead."""
    ids = {a.id for a in agencies}
    problems: list[tuple[str, int | None, str, str]] = []
    for j, name in enumerate(escalation.escalate_to):
        if "@" not in name and name not in ids:
            problems.append((str(path), _key_line(path, "escalation", "escalate_to", j),
                             f"escalation.escalate_to.{j}",
                             f"unknown agency id {name!r}: name an agency in agencies.yaml or an address"))
    if escalation.enabled and not escalation.escalate_to and agencies and not any(a.leads for a in agencies):
        problems.append((str(path), _key_line(path, "escalation"), "escalation.escalate_to",
                         "no agency has leads: true in agencies.yaml: name where unanswered flags go"))
    if problems:
        raise ConfigError(_format(problems), problems)


def _key_line(path: Path, *keys: str | int) -> int | None:
    try:
        return _line_of(_read_yaml(path), keys)
    except ConfigError:
        return None


def _check_references(config_dir: Path, app: AppSettings, landmarks: dict[str, list[str]],
                      agencies: list[Agency] | None = None, rules: list[AlertRule] | None = None,
                      topics: dict[str, dict[str, Any]] | None = None,
                      digest: DigestSettings | None = None, sources: list[Source] | None = None,
                      province_from_env: bool = False) -> None:
    """Names that must exist elsewhere: the deployment's province, landmark province codes, the
    agencies and plan topics that agencies, alert rules and the digest name, and the sources
    `reports.own_sources` names (when there is a sources.yaml to name them from)."""
    from nlp.gazetteer import Gazetteer  # the place names are data the settings refer to

    gazetteer = Gazetteer.load()
    problems: list[tuple[str, int | None, str, str]] = []
    try:
        gazetteer.resolve_province(app.province)
    except (KeyError, ValueError) as exc:
        message = str(exc.args[0]) if exc.args else str(exc)   # KeyError's str() would quote it again
        if province_from_env:
            problems.append(("environment", None, "HAIDANG_PROVINCE",
                             f"{message} (set in the environment; it overrides haidang.yaml)"))
        else:
            path = config_dir / "haidang.yaml"
            problems.append((str(path), _key_line(path, "province"), "province", message))
    known = set(gazetteer.codes())
    for code in landmarks:
        if code not in known:
            path = config_dir / "landmarks.yaml"
            problems.append((str(path), _key_line(path, "landmarks", code), f"landmarks.{code}",
                             f"unknown province code {code!r}: use a current two-digit code such as '51'"))
    problems.extend(_alert_reference_problems(config_dir, agencies or [], rules or [], topics or {}))
    agency_ids = {a.id for a in agencies or []}
    for j, name in enumerate(digest.recipients if digest else []):
        if "@" not in name and name not in agency_ids:
            path = config_dir / "alerts.yaml"
            problems.append((str(path), _key_line(path, "digest", "recipients", j), f"digest.recipients.{j}",
                             f"unknown agency id {name!r}: name an agency in agencies.yaml or an address"))
    app_path = config_dir / "haidang.yaml"
    if sources is not None:
        source_ids = {src.id for src in sources}
        for j, name in enumerate(app.reports.own_sources):
            if name not in source_ids:
                problems.append((str(app_path), _key_line(app_path, "reports", "own_sources", j),
                                 f"reports.own_sources.{j}",
                                 (f"unknown source id {name!r}: name the province's own newspaper, broadcaster "
                                  "or portal by its id in sources.yaml, or leave own_sources empty (then every "
                                  "provincial_press and government_portal source counts)")))
    for j, name in enumerate(app.reports.recipients):
        if "@" not in name and name not in agency_ids:
            problems.append((str(app_path), _key_line(app_path, "reports", "recipients", j), f"reports.recipients.{j}",
                             f"unknown agency id {name!r}: name an agency in agencies.yaml or an address"))
    if problems:
        raise ConfigError(_format(problems), problems)


def _alert_reference_problems(config_dir: Path, agencies: list[Agency], rules: list[AlertRule],
                              topics: dict[str, dict[str, Any]]) -> list[tuple[str, int | None, str, str]]:
    """Agency topics and rule topics must be plan topic ids; rule recipients must be known agencies.
    Caught here rather than at send time, when a misspelt name would silently route nowhere."""
    if topics:
        topic_ids = set(topics)
    else:
        from nlp.topics import TOPIC_IDS  # the fixed ids when no topics.yaml overrides names and seeds

        topic_ids = set(TOPIC_IDS)
    problems: list[tuple[str, int | None, str, str]] = []
    ag_path, al_path = config_dir / "agencies.yaml", config_dir / "alerts.yaml"
    for i, agency in enumerate(agencies):
        for j, topic in enumerate(agency.topics):
            if topic not in topic_ids:
                problems.append((str(ag_path), _key_line(ag_path, "agencies", i, "topics", j),
                                 f"agencies.{i}.topics.{j}", f"unknown topic id {topic!r}"))
    agency_ids = {a.id for a in agencies}
    for i, rule in enumerate(rules):
        for j, topic in enumerate(rule.topics):
            if topic not in topic_ids:
                problems.append((str(al_path), _key_line(al_path, "rules", i, "topics", j),
                                 f"rules.{i}.topics.{j}", f"rule {rule.name!r}: unknown topic id {topic!r}"))
        for j, name in enumerate(rule.recipients):
            if name == RECIPIENT_ADMINS and not any(a.receives_admin for a in agencies):
                problems.append((str(al_path), _key_line(al_path, "rules", i, "recipients", j),
                                 f"rules.{i}.recipients.{j}",
                                 f"rule {rule.name!r}: no agency has receives_admin: true in agencies.yaml"))
            elif name not in (RECIPIENT_BY_TOPIC, RECIPIENT_ADMINS) and name not in agency_ids:
                problems.append((str(al_path), _key_line(al_path, "rules", i, "recipients", j),
                                 f"rules.{i}.recipients.{j}",
                                 f"rule {rule.name!r}: unknown agency {name!r} (not in agencies.yaml)"))
    return problems
