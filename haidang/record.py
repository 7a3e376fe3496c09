"""The Article record and its parts: the only type passed between pipeline stages.

Each stage fills its own part and leaves the others alone: fetch fills `fetched`, extract
fills `content`, match fills `matches`/`relevant`, enrich fills `labels`, dedup fills
`story_id`. `to_dict`/`from_dict` give the JSON form every store and export uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from haidang.wording import vn_number

__all__ = ["ENGAGEMENT_KEYS", "Article", "Content", "Fetched", "Match", "Span", "article_id", "engagement_line",
           "parse_count"]

# The keys Content.engagement may hold, with what readers see for each.
_ENGAGEMENT_NAMES = {"likes": "lượt thích", "comments": "bình luận", "shares": "lượt chia sẻ"}
ENGAGEMENT_KEYS = tuple(_ENGAGEMENT_NAMES)


def engagement_line(engagement: dict[str, int] | None) -> str | None:
    """"1.520 lượt thích · 3.400 lượt chia sẻ" (Vietnamese thousands dots), or None when none stated."""
    parts = [f"{vn_number(n)} {name}" for key, name in _ENGAGEMENT_NAMES.items()
             if isinstance(n := (engagement or {}).get(key), int)]
    return " · ".join(parts) or None


def parse_count(value: Any) -> int | None:
    """A stated count (likes, comments, shares): a non-negative number or digit string, "1,234" and
    "1.234" included; None for anything else ("nhiều", -5, true, infinity)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str) and len(value) <= 40 and re.fullmatch(r"\d{1,3}(?:[.,\s]\d{3})*|\d+", value.strip()):
        return int(re.sub(r"\D", "", value))
    return None


def article_id(canonical_url: str) -> str:
    """Stable document id: the same canonical URL gives the same id in every backend."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


@dataclass(kw_only=True, slots=True)
class Fetched:
    """What the fetch stage saw: where the document came from and how it was decoded."""

    source_id: str
    url: str                                  # as requested (feed link or crawled URL)
    final_url: str = ""                       # after redirects
    canonical_url: str = ""                   # rel=canonical or cleaned final URL
    status: int = 200
    fetched_at: datetime | None = None
    content_type: str | None = None
    encoding: str | None = None
    encoding_from: str | None = None          # "http-header" | "declaration" | "detected"
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    html: str | None = None                   # decoded page; dropped by retention later
    feed_url: str | None = None               # the feed that listed it, if any
    feed_title: str | None = None
    feed_summary: str | None = None
    feed_published: datetime | None = None
    feed_author: str | None = None
    feed_comments: int | None = None          # the item's slash:comments count, when the feed gives one


@dataclass(kw_only=True, slots=True)
class Content:
    """What the extract stage found in the document; all text NFC-normalised."""

    title: str = ""
    lead: str = ""                            # the sapo / standfirst when the site has one
    text: str = ""                            # lead + body, as matched and indexed
    author: str | None = None
    language: str | None = None
    published: datetime | None = None
    published_from: str | None = None         # "meta" | "json-ld" | "feed" | "selector" | ...
    modified: datetime | None = None
    modified_from: str | None = None
    first_seen: datetime | None = None
    partial: bool = False                     # paywalled or teaser-only page
    content_hash: str | None = None           # hash of the normalised title + text
    # Public interaction counts the page states (schema.org interactionStatistic / commentCount)
    # as of the fetch: any of "likes", "comments", "shares". How far a post spread is a reason to
    # look at it sooner; a local risk model may read it (nlp.risk). Keys: ENGAGEMENT_KEYS.
    engagement: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class Span:
    field: str                                # "title" | "text"
    start: int
    end: int


@dataclass(kw_only=True, slots=True)
class Match:
    """One province mentioned by the article, with the evidence for it."""

    province_code: str
    province: str
    named: bool
    aliases: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    score: float = 0.0
    where: list[str] = field(default_factory=list)   # "title" | "lead" | "body"
    count: int = 0


@dataclass(kw_only=True, slots=True)
class Article:
    id: str = ""
    fetched: Fetched
    content: Content = field(default_factory=Content)
    matches: list[Match] = field(default_factory=list)
    relevant: bool = False
    province_code: str | None = None          # the deployment's province this was kept for
    labels: dict[str, Any] = field(default_factory=dict)
    story_id: str | None = None

    @property
    def when(self) -> datetime | None:
        """Publication time, else when first seen: the time every count and window uses."""
        return self.content.published or self.content.first_seen

    @property
    def topic_ids(self) -> list[str]:
        """Assigned plan topic ids, in label order, each once."""
        ids = [str(t["id"]) for t in self.labels.get("topics") or [] if isinstance(t, dict) and t.get("id")]
        return list(dict.fromkeys(ids))

    @property
    def tone_label(self) -> str | None:
        """The tone label toward the province (positive / neutral / negative), if labelled."""
        tone = self.labels.get("tone")
        label = tone.get("label") if isinstance(tone, dict) else tone
        return str(label) if label else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; datetimes as ISO 8601 with offset."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        fetched = _load(Fetched, data["fetched"])
        content = _load(Content, data.get("content") or {})
        matches = []
        for m in data.get("matches") or []:
            m = dict(m)
            m["spans"] = [Span(**s) for s in m.get("spans") or []]
            matches.append(Match(**m))
        return cls(
            id=data.get("id", ""), fetched=fetched, content=content, matches=matches,
            relevant=bool(data.get("relevant")), province_code=data.get("province_code"),
            labels=dict(data.get("labels") or {}), story_id=data.get("story_id"),
        )


_DATETIME_FIELDS = {
    f.name for cls in (Fetched, Content) for f in dataclasses.fields(cls)
    if "datetime" in str(f.type)
}


def _load(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in known:
            continue
        if key in _DATETIME_FIELDS and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[key] = value
    return cls(**values)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
