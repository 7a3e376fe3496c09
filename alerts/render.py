"""Jinja2 environment for alert emails, and the flag email: subject, plain text and HTML.

Every word a reader sees lives in templates/ (Vietnamese, NFC); this module only prepares values.
HTML templates autoescape and undefined names fail loudly, so article text never becomes markup
and a template typo never sends an email with a hole in it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from alerts.flag import Flag
from haidang import wording
from haidang.record import Article, engagement_line
from haidang.store.base import ACTION_NAMES

if TYPE_CHECKING:   # settings pulls in pydantic and ruamel; rendering needs only two attributes
    from haidang.settings import Source

__all__ = ["EXCERPT_CHARS", "SIGNAL_NAMES", "SUBJECT_TITLE_CHARS", "TEMPLATES_DIR", "clean_text", "environment",
           "one_line", "render_flag", "shorten", "signal_name"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Characters of context on each side of the province mention: about two sentences of a
# Vietnamese news paragraph, enough to judge the mention without opening the link.
EXCERPT_CHARS = 160
# Characters of an article title kept in a subject: with the tag, headline and outlet the subject
# stays near 140, about what a phone or an Outlook list shows before cutting it off itself.
SUBJECT_TITLE_CHARS = 70

# Bidirectional embeddings/overrides/isolates and other invisible controls: article text with an
# RTL override could make the link or the reasons read backwards in a mail client. Line breaks
# and tabs are kept; every other C0/C1 control goes.
_INVISIBLE_RE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c\u0000-\u0008\u000b-\u001f\u007f-\u009f]")


def clean_text(value: Any) -> str:
    """NFC text without bidi controls: what the reader sees is what the article says, in order."""
    return _INVISIBLE_RE.sub("", unicodedata.normalize("NFC", str(value)))


def one_line(value: Any) -> str:
    """For subjects and headings: no line breaks (a header must stay one header)."""
    return " ".join(clean_text(value).split())


def shorten(value: Any, limit: int = SUBJECT_TITLE_CHARS) -> str:
    """One line of at most about `limit` characters, cut at a word boundary and ended with "…"
    (a word longer than the limit is cut inside it rather than dropped)."""
    text = one_line(value)
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut and text[limit - 1] != " ":
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:.–—-") + "…"


def _href(value: Any) -> str:
    """Only http(s) links become clickable: a stored URL is never trusted to be one."""
    url = clean_text(value).strip()
    return url if url.lower().startswith(("http://", "https://")) else "#"


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith((".html", ".html.j2"))


# Vietnamese names of the risk signals (their ids are fixed: README, "Labels and their reasons").
SIGNAL_NAMES = {
    "rumour_cue": "Dấu hiệu tin đồn, chưa kiểm chứng",
    "share_appeal": "Kêu gọi chia sẻ gấp",
    "clickbait": "Giật tít, gây sốc",
    "hostile_language": "Ngôn từ thù địch, xúc phạm",
    "official_attribution": "Dẫn nguồn chính thức",
    "source_kind": "Loại nguồn",
    "source_trust": "Độ tin cậy của nguồn",
    "unreliable_text_model": "Mô hình văn bản",
    "known_false_claim": "Trùng thông tin sai đã được xác định",
    "debunk_report": "Bài đưa tin bác bỏ thông tin sai",
    "dismissed_claim": "Giống tin đã được xác định không phải tin sai",
    "engagement": "Mức lan truyền (lượt thích, bình luận, chia sẻ)",
    "text_not_assessed": "Chưa đánh giá được văn bản",
}


def signal_name(signal: Any) -> str:
    """"Vietnamese name (id)" for a known risk signal; the id alone otherwise."""
    sid = one_line(signal)
    return f"{SIGNAL_NAMES[sid]} ({sid})" if sid in SIGNAL_NAMES else sid


@functools.cache
def environment(folder: Path = TEMPLATES_DIR) -> Environment:
    """The Jinja2 environment for the templates in `folder` (alerts' own by default; the web app and
    the report emails pass theirs), built once per folder: autoescape for HTML templates,
    StrictUndefined, and the shared filters that keep article text text."""
    env = Environment(loader=FileSystemLoader(str(folder)), autoescape=_autoescape, undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["clean"] = clean_text
    env.filters["one_line"] = one_line
    env.filters["href"] = _href
    env.filters["signal_name"] = signal_name
    env.filters["vn"] = wording.vn_decimal
    env.filters["vn_amount"] = wording.vn_amount
    env.filters["shorten"] = shorten
    env.filters["kind_name"] = wording.kind_name
    env.filters["tone_name"] = wording.tone_name
    env.globals.update(TONES=wording.TONES, NO_TOPIC=wording.NO_TOPIC, WEEKDAYS=wording.WEEKDAYS,
                       rule_name=wording.rule_name)
    return env


@dataclass(frozen=True, slots=True)
class _Excerpt:
    before: str
    mention: str
    after: str
    cut_start: bool
    cut_end: bool


def _excerpt(article: Article) -> _Excerpt:
    """Text around the first province mention (a span into title or text); the lead otherwise."""
    for match in article.matches:
        for span in match.spans:
            source = article.content.title if span.field == "title" else article.content.text
            if 0 <= span.start < span.end <= len(source):
                start = max(0, span.start - EXCERPT_CHARS)
                end = min(len(source), span.end + EXCERPT_CHARS)
                # Cut at a space so the excerpt does not begin or end inside a word.
                if start > 0 and " " in source[start:span.start]:
                    start = source.index(" ", start, span.start) + 1
                if end < len(source) and " " in source[span.end:end]:
                    end = source.rindex(" ", span.end, end)
                return _Excerpt(clean_text(source[start:span.start]), clean_text(source[span.start:span.end]),
                                clean_text(source[span.end:end]), start > 0, end < len(source))
    text = article.content.text or article.content.title
    cut = text[:2 * EXCERPT_CHARS]
    return _Excerpt(clean_text(cut), "", "", False, len(cut) < len(text))


def _evidence(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value] if value not in (None, "") else []
    return [clean_text(item) for item in items]


def _reasons(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"signal": clean_text(r.get("signal") or r.get("condition") or "?"),
             "weight": r.get("weight"), "evidence": _evidence(r.get("evidence"))} for r in raw]


# Vietnamese names of the rule conditions (alerts.rules, alerts.watch) a flag's reasons state.
CONDITION_NAMES = {
    "relevant": "Nhắc đến tỉnh",
    "topics": "Chủ đề",
    "min_risk_level": "Mức nguy cơ tin sai",
    "min_risk_score": "Điểm nguy cơ tin sai",
    "tone": "Sắc thái đối với tỉnh",
    "source_kinds": "Loại nguồn",
    "languages": "Ngôn ngữ",
    "query": "Khớp truy vấn",
    "spike": "Số bài tăng đột biến",
    "silence": "Nguồn im lặng",
}


def _condition_evidence(condition: str, evidence: Any, topic_names: dict[str, str],
                        source_names: dict[str, str] | None = None) -> list[str]:
    """A rule condition's evidence in words: topic names with their score and phrases, tone,
    language and source names; stored values (ids, dicts) never reach the reader raw."""
    if condition == "topics" and isinstance(evidence, list):
        out = []
        for t in evidence:
            if not isinstance(t, dict):
                out.append(clean_text(topic_names.get(str(t), t)))
                continue
            name = topic_names.get(str(t.get("id")), str(t.get("id")))
            score = f" ({wording.vn_decimal(t['score'])})" if t.get("score") is not None else ""
            phrases = ", ".join(str(e) for e in t.get("evidence") or [])
            out.append(clean_text(f"{name}{score}" + (f": {phrases}" if phrases else "")))
        return out
    if condition == "tone":
        return [wording.tone_name(evidence)]
    if condition == "languages":
        return [wording.language_name(evidence)]
    if condition == "source_kinds" and isinstance(evidence, str) and ": " in evidence:
        source_id, kind = evidence.rsplit(": ", 1)
        name = (source_names or {}).get(source_id, source_id)
        return [clean_text(f"{name} ({wording.kind_name(kind)})")]
    if condition == "relevant" and evidence in ("True", True):
        return []
    return _evidence(evidence)


def _rule_reasons(raw: list[dict[str, Any]], topic_names: dict[str, str],
                  source_names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rule's conditions, named; the risk signals behind a risk condition are left to the risk
    section, which lists them with their weights (shown once, not twice)."""
    out = []
    for r in raw:
        if r.get("signal"):
            continue
        condition = str(r.get("condition") or "?")
        out.append({"signal": CONDITION_NAMES.get(condition, clean_text(condition)), "weight": None,
                    "evidence": _condition_evidence(condition, r.get("evidence"), topic_names, source_names)})
    return out


def _outlet(article: Article, sources: dict[str, Source]) -> dict[str, Any]:
    source = sources.get(article.fetched.source_id)
    return {"id": article.fetched.source_id, "name": source.name if source else article.fetched.source_id,
            "kind": source.kind if source else None, "title": article.content.title,
            "url": article.fetched.canonical_url or article.fetched.url, "record_id": article.id}


def render_flag(flag: Flag, articles: list[Article], *, tz: str = "Asia/Ho_Chi_Minh",
                sources: dict[str, Source] | None = None, explain_hint: bool = True,
                links: dict[str, str] | None = None, kit: Any = None,
                topic_names: dict[str, str] | None = None, record_url: str | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of the immediate email for one flag.

    `links` maps each response option (ACTION_NAMES) to the recipient's signed URL
    (alerts.links); without them the email says that it carries no links, rather than
    sending links nobody could verify.

    `articles` are the story's stored copies, the first one being the one described in full;
    the others appear as further outlets. `explain_hint` adds the `haidang explain` command
    (a deployment with Kibana may turn it off and link there instead).
    """
    if not articles:
        raise ValueError(f"flag {flag.rule}/{flag.story_id} has no articles to describe")
    sources = sources or {}
    main = articles[0]
    risk = main.labels.get("risk") or {}
    topics = list(flag.topics) or [t["id"] for t in main.labels.get("topics", []) if "id" in t]
    published = main.content.published or main.content.first_seen
    context = {
        "flag": flag,
        "severity": one_line(flag.severity),
        "topic": one_line((topic_names or {}).get(topics[0], topics[0])) if topics else None,
        "topics": [clean_text((topic_names or {}).get(t, t)) for t in topics],
        "kit": kit if kit is not None and not kit.empty else None,
        "risk_level": risk.get("level"),
        "risk_score": risk.get("score"),
        "article": main,
        "title": clean_text(main.content.title),
        "outlet": _outlet(main, sources),
        "outlets": [_outlet(a, sources) for a in articles],
        "published": published.astimezone(ZoneInfo(tz)) if published else None,
        "engagement": engagement_line(main.content.engagement),
        "excerpt": _excerpt(main),
        "reasons": _rule_reasons(flag.reasons, topic_names or {}, {sid: s.name for sid, s in sources.items()}),
        "risk_reasons": _reasons(risk.get("reasons") or []),
        "url": main.fetched.canonical_url or main.fetched.url,
        "record_id": main.id,
        "explain_hint": explain_hint,
        "record_url": record_url,                     # the record in Kibana, with Elasticsearch
        "action_links": [{"id": a, "name": name, "url": links[a]} for a, name in ACTION_NAMES.items()
                         if links and a in links],
    }
    env = environment()
    subject = one_line(env.get_template("flag_subject.txt.j2").render(context))
    text = env.get_template("flag.txt.j2").render(context)
    html = env.get_template("flag.html.j2").render(context)
    return subject, text, html
