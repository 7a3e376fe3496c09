"""Configuration: pydantic models for every YAML file in config/, the loader, and its error messages.

Only this module reads YAML or `HAIDANG_*` variables. Every error names file, line and field.
Precedence, documented once: command-line flag > `HAIDANG_*` environment variable > YAML > default.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from haidang.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_DIR",
    "ENVIRONMENT",
    "RECIPIENT_ADMINS",
    "RECIPIENT_BY_TOPIC",
    "RISK_LEVELS",
    "SEVERITIES",
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        return v


class SourcesFile(_Model):
    sources: list[Source]

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, v: list[Source]) -> list[Source]:
        seen: set[str] = set()
        for s in v:
            if s.id in seen:
                raise ValueError(f"source id {s.id!r} appears twice")
            seen.add(s.id)
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
        seen: set[str] = set()
        for u in v:
            if u.name.lower() in seen:
                raise ValueError(f"user {u.name!r} appears twice")
            seen.add(u.name.lower())
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
        ids = [a.id for a in v]
        for a in v:
            if ids.count(a.id) > 1:
                raise ValueError(f"agency id {a.id!r} appears twice")
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
                 "languages", "query")
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
        names = [r.name for r in v]
        for r in v:
            if names.count(r.name) > 1:
                raise ValueError(f"rule name {r.name!r} appears twice")
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


_FILES["landmarks.yaml"] = _Landmarks
_FILES["users.yaml"] = UsersFile


def _read_yaml(path: Path) -> Any:
    yaml = YAML(typ="rt")
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.load(f)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if "end of stream" in str(getattr(exc, "problem", "")):
            # An unclosed quote or bracket is reported at the end of the file; where it opened helps more.
            mark = getattr(exc, "context_mark", None) or mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"{path}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}",
                          [(str(path), line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc


def _line_of(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """Walk ruamel's position data down `loc` to the deepest node that has a line."""
    line = None
    node = doc
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    if line is None and hasattr(doc, "lc"):
        line = doc.lc.line + 1
    return line


def validate_yaml_file(path: Path, model: type[BaseModel]) -> BaseModel:
    """Load one YAML file and validate it; ConfigError names file, line and field of each problem."""
    doc = _read_yaml(path)
    if doc is None:
        doc = CommentedMap()
    try:
        return model.model_validate(_plain(doc))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field_path = ".".join(str(p) for p in loc) or "(top level)"
            problems.append((str(path), _line_of(doc, loc), field_path, err["msg"]))
        raise ConfigError(_format(problems), problems) from None


def _plain(node: Any) -> Any:
    """Plain dicts and lists, every string in NFC: an editor that writes decomposed Vietnamese
    ("khẩn" as k-h-a-combining marks) must not make a value differ from the one it looks like."""
    if isinstance(node, dict):
        return {unicodedata.normalize("NFC", str(k)): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return unicodedata.normalize("NFC", node)
    return node


def _format(problems: list[tuple[str, int | None, str, str]]) -> str:
    return "\n".join(f"{f}:{line}: {field}: {msg}" if line else f"{f}: {field}: {msg}"
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
    app_path = config_dir / "haidang.yaml"
    app = validate_yaml_file(app_path, AppSettings) if app_path.exists() else AppSettings()
    src_path = config_dir / "sources.yaml"
    sources = validate_yaml_file(src_path, SourcesFile).sources if src_path.exists() else []  # type: ignore[attr-defined]
    lm_path = config_dir / "landmarks.yaml"
    landmarks = validate_yaml_file(lm_path, _Landmarks).landmarks if lm_path.exists() else {}  # type: ignore[attr-defined]

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
    agencies = validate_yaml_file(ag_path, AgenciesFile).agencies if ag_path.exists() else []  # type: ignore[attr-defined]
    al_path = config_dir / "alerts.yaml"
    alerts_file = validate_yaml_file(al_path, AlertsFile) if al_path.exists() else AlertsFile(rules=[])
    rules, digest = alerts_file.rules, alerts_file.digest  # type: ignore[attr-defined]
    topics: dict[str, dict[str, Any]] = {}
    if (config_dir / "topics.yaml").exists():
        from nlp.topics import load_topic_config  # its schema sits beside the model that uses it

        topics = load_topic_config(config_dir / "topics.yaml")
    try:
        _check_references(config_dir, app, landmarks, agencies, rules, topics, digest,  # type: ignore[arg-type]
                          sources=sources if src_path.exists() else None,
                          province_from_env=bool(env.get("HAIDANG_PROVINCE")))
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(_format(problems), problems)
    us_path = config_dir / "users.yaml"
    users = validate_yaml_file(us_path, UsersFile).users if us_path.exists() else []  # type: ignore[attr-defined]
    _check_user_agencies(us_path, users, agencies)  # type: ignore[arg-type]
    escalation: EscalationSettings = alerts_file.escalation  # type: ignore[attr-defined]
    _check_escalation(al_path, agencies, escalation)  # type: ignore[arg-type]
    return Settings(config_dir=str(config_dir), app=app, sources=sources, landmarks=landmarks,  # type: ignore[arg-type]
                    topics=topics, agencies=agencies, alert_rules=rules, digest=digest, users=users,
                    escalation=escalation)


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
