"""Configuration: pydantic models for every YAML file in config/, the loader, and its error messages.

Only this module reads YAML or `HAIDANG_*` variables. Every error names file, line and field.
Precedence, documented once: command-line flag > `HAIDANG_*` environment variable > YAML > default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from haidang.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_DIR",
    "AppSettings",
    "CrawlSettings",
    "MatchSettings",
    "Selectors",
    "Settings",
    "SiteCrawl",
    "Source",
    "SourcesFile",
    "StoreSettings",
    "check_config_dir",
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


class AppSettings(_Model):
    """config/haidang.yaml."""

    province: str = "Quảng Ngãi"                        # the deployment's province: code or any name
    timezone: str = "Asia/Ho_Chi_Minh"
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)


class Settings(_Model):
    """Everything loaded from one config directory, after environment overrides."""

    config_dir: str
    app: AppSettings
    sources: list[Source]
    landmarks: dict[str, list[str]] = Field(default_factory=dict)   # province code -> names
    topics: dict[str, dict[str, Any]] = Field(default_factory=dict)  # plan topic id -> {name, seeds}

    def topic_seeds(self) -> dict[str, list[str]] | None:
        return {t: list(v["seeds"]) for t, v in self.topics.items()} if self.topics else None

    @property
    def data_dir(self) -> Path:
        return Path(os.path.expanduser(self.app.store.data_dir))


_FILES: dict[str, type[BaseModel]] = {"haidang.yaml": AppSettings, "sources.yaml": SourcesFile}


class _Landmarks(_Model):
    landmarks: dict[str, list[str]]


_FILES["landmarks.yaml"] = _Landmarks


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
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _format(problems: list[tuple[str, int | None, str, str]]) -> str:
    return "\n".join(f"{f}:{line if line else '?'}: {field}: {msg}" for f, line, field, msg in problems)


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


def load_settings(config_dir: Path | str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load and validate config/, then apply `HAIDANG_*` overrides. Raises ConfigError."""
    env = os.environ if environ is None else environ
    config_dir = Path(config_dir or env.get("HAIDANG_CONFIG") or DEFAULT_CONFIG_DIR)
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
    _check_references(config_dir, app, landmarks)  # type: ignore[arg-type]
    topics: dict[str, dict[str, Any]] = {}
    if (config_dir / "topics.yaml").exists():
        from nlp.topics import load_topic_config  # its schema sits beside the model that uses it

        topics = load_topic_config(config_dir / "topics.yaml")
    return Settings(config_dir=str(config_dir), app=app, sources=sources, landmarks=landmarks,  # type: ignore[arg-type]
                    topics=topics)


def _key_line(path: Path, *keys: str) -> int | None:
    try:
        return _line_of(_read_yaml(path), keys)
    except ConfigError:
        return None


def _check_references(config_dir: Path, app: AppSettings, landmarks: dict[str, list[str]]) -> None:
    """Names that must exist elsewhere: the deployment's province, landmark province codes."""
    from nlp.gazetteer import Gazetteer  # the place names are data the settings refer to

    gazetteer = Gazetteer.load()
    problems: list[tuple[str, int | None, str, str]] = []
    try:
        gazetteer.resolve_province(app.province)
    except (KeyError, ValueError) as exc:
        path = config_dir / "haidang.yaml"
        problems.append((str(path), _key_line(path, "province"), "province",
                         f"unknown province {app.province!r}: {str(exc).strip(chr(39))}"))
    known = set(gazetteer.codes())
    for code in landmarks:
        if code not in known:
            path = config_dir / "landmarks.yaml"
            problems.append((str(path), _key_line(path, "landmarks", code), f"landmarks.{code}",
                             f"unknown province code {code!r}: use a current two-digit code such as '51'"))
    if problems:
        raise ConfigError(_format(problems), problems)
