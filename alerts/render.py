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
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from alerts.flag import Flag, Resurfacing
from haidang import wording
from haidang.record import Article, engagement_line
from haidang.store.base import ACTION_NAMES
from haidang.textnorm import BIDI_CONTROLS, INVISIBLE_CHARS, char_class

if TYPE_CHECKING:   # settings pulls in pydantic and ruamel; rendering needs only two attributes
    from haidang.settings import Source

__all__ = ["EXCERPT_CHARS", "LINE_CHARS", "SIGNAL_NAMES", "SUBJECT_CHARS", "SUBJECT_TITLE_CHARS", "TEMPLATES_DIR",
           "capped_subject", "clean_text", "environment", "link_target", "local_time", "one_line", "reader_evidence", "render_flag", "shorten",
           "signal_label", "signal_name", "url_text", "web_url"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Characters of context on each side of the province mention: about two sentences of a
# Vietnamese news paragraph, enough to judge the mention without opening the link.
EXCERPT_CHARS = 160
# Characters of an article title kept in a subject (flag emails, reminders) when there is room.
SUBJECT_TITLE_CHARS = 70
# Characters of a flag email's whole Subject. Mail lists show the first 60-100, so the parts that
# say what the flag is come first and are never cut; the rest is read when the email is opened.
# 130 keeps a median headline (52 characters in tests/fixtures/sites) whole beside a real topic
# and outlet name (a story on several outlets adds "(+N nguồn khác)"); without a cap, a 49-character
# outlet name made a 171-character Subject.
SUBJECT_CHARS = 130
# How the shortened parts of a flag's Subject share the room the fixed parts leave: the title,
# which tells one flag from another, gets twice the share of the topic and of the outlet name; in a
# resurfacing email the new outlet is the news, and it shares equally with the title.
_SUBJECT_WEIGHTS = {"title": 2, "topic": 1, "outlet": 1}
_RESURFACING_SUBJECT_WEIGHTS = {"title": 1, "outlet": 1}
# Characters of one piece of web text (a title, a claim) shown in an email's body: well above a
# real headline (the longest <title> in tests/fixtures/sites has 101), while a 10,000-character
# "title" from a hostile page leaves the email a page long, not a wall hiding the reasons and links.
LINE_CHARS = 300

# What an email never shows: characters that show nothing (in a word they split what the reader
# sees whole, as they would hide it from matching: the same list haidang.textnorm drops), the
# bidirectional controls (an RTL override makes a link or the reasons read backwards), and every
# C0/C1 control but tab and line feed. A zero-width joiner goes too, inside an emoji sequence as
# well: stored text has none (textnorm), and a family shown as three faces loses no word.
_HIDDEN_RE = re.compile(char_class([*INVISIBLE_CHARS, *BIDI_CONTROLS, *map(chr, range(0x09)),
                                    *map(chr, range(0x0B, 0x20)), *map(chr, range(0x7F, 0xA0))]))
# Runs of Latin/Cyrillic/symbol combining marks past the second ("Zalgo" text): stacked hundreds
# high they paint over the lines above and below (the rule, the link). Vietnamese needs two at most,
# and none after NFC; other scripts' marks (Arabic, Thai, Devanagari) are outside these blocks.
_MARK = "[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
_STACKED_MARKS_RE = re.compile(f"({_MARK}{{2}}){_MARK}+")
_SPACES_RE = re.compile(r"\s+")


def clean_text(value: Any) -> str:
    """NFC text without hidden characters or stacked marks: what the reader sees is all the text
    says, in its order, and nothing paints over the rest of the email. Every value an email shows
    passes here (`one_line`, `shorten` and the templates' filters call it).

    Hidden characters go before NFC: one put between a letter and its tone mark would otherwise
    leave them uncomposed ("a" and U+0309 rather than "ả") once it is taken out."""
    text = unicodedata.normalize("NFC", _HIDDEN_RE.sub("", str(value)))
    return _STACKED_MARKS_RE.sub(r"\1", text)


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


def link_target(value: Any) -> str:
    """A stored URL as a link target: itself when it is http(s), else "#" (a stored URL is never
    trusted to be one). For the deadline report's workbook cells; emails and web pages link through
    `web_url`, which also shows what a look-alike host really is."""
    url = clean_text(value).strip()
    return url if url.lower().startswith(("http://", "https://")) else "#"


def web_url(value: Any) -> str | None:
    """The http(s) URL an email may link to, written as it will be followed; None for anything else
    (javascript:, data:, a relative or broken URL), which the email shows as text, never as a link.

    Written as followed: a host in another script is shown in its ASCII (IDNA) form, so
    "bаoquangngai.vn" with a Cyrillic "а" reads "xn--bquangngai-…" rather than as the provincial
    paper; a user part ("https://baoquangngai.vn@evil.example/") is dropped, so the host the link
    opens is the one the reader sees. A URL with neither is returned as stored (cleaned)."""
    url = one_line(value) if value is not None else ""
    if not url.lower().startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:                 # "http://[::1", port 99999: no address to open
        return None
    if not host:
        return None
    if "@" not in parts.netloc and host.isascii():
        return url
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:               # not a host name any resolver would look up
        return None
    if ":" in ascii_host:
        ascii_host = f"[{ascii_host}]"
    netloc = ascii_host if port is None else f"{ascii_host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_text(value: Any) -> str:
    """A URL as an email shows it: the link's own address (`web_url`), else the stored value on one line."""
    return web_url(value) or (one_line(value) if value is not None else "")


def local_time(value: datetime | None, tz: str | tzinfo) -> datetime | None:
    """`value` in the zone `tz`; as stored when that falls off the calendar (9999-12-31 23:00 UTC is
    year 10000 in Vietnam): a page's impossible date is shown, not allowed to stop its flag."""
    if value is None:
        return None
    try:
        return value.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)
    except (OverflowError, ValueError):
        return value


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith((".html", ".html.j2"))


# The risk signals' Vietnamese names live with the other names of stored values (haidang.wording).
SIGNAL_NAMES = wording.SIGNAL_NAMES


def signal_name(signal: Any) -> str:
    """"Vietnamese name (id)" for a known risk signal, the id alone otherwise: for analysts
    (`haidang explain`). Emails, the digest and the web pages use `signal_label`, the name alone."""
    sid = one_line(signal)
    return f"{SIGNAL_NAMES[sid]} ({sid})" if sid in SIGNAL_NAMES else sid


def signal_label(signal: Any) -> str:
    """A risk signal as agencies read it: its Vietnamese name, one line; an unknown id as stored."""
    return one_line(wording.signal_label(one_line(signal)))


# nlp.risk writes the source facts as "nguồn: NAME (SOURCE_ID), KIND" and "nguồn: NAME (SOURCE_ID), độ
# tin cậy: TRUST" (before 2026-11-24 one fact held both; stored records keep it) and the
# language fact as "ngôn ngữ: CODE; ..." (nlp.tone: "ngôn ngữ: CODE"); readers get names, not ids.
_SOURCE_FACT_RE = re.compile(r"^(nguồn: .+) \([^()\s]+\)(?=, )")
_LANGUAGE_FACT_RE = re.compile(r"^ngôn ngữ: ([A-Za-z]{2,3}(?:-[A-Za-z]{2,4})?)(?=;|$)")


def reader_evidence(value: Any, source_name: Any = None) -> str:
    """A reason's evidence as agencies read it: the source fact without the source's id (only when
    `source_name`, the article's outlet name, is the name the fact gives) and a language code as its
    Vietnamese name. Everything else is shown as stored (cleaned), so no evidence is hidden."""
    text = clean_text(value)
    if source_name:
        match = _SOURCE_FACT_RE.match(text)
        if match and match.group(1) == f"nguồn: {clean_text(source_name)}":
            text = match.group(1) + text[match.end():]
    return _LANGUAGE_FACT_RE.sub(lambda m: f"ngôn ngữ: {wording.language_name(m.group(1))}", text)


@functools.cache
def environment(folder: Path = TEMPLATES_DIR) -> Environment:
    """The Jinja2 environment for the templates in `folder` (alerts' own by default; the web app and
    the report emails pass theirs), built once per folder: autoescape for HTML templates,
    StrictUndefined, and the shared filters that keep article text text."""
    env = Environment(loader=FileSystemLoader(str(folder)), autoescape=_autoescape, undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["clean"] = clean_text
    env.filters["one_line"] = one_line
    env.filters["web_url"] = web_url
    env.filters["url_text"] = url_text
    env.filters["clip"] = functools.partial(shorten, limit=LINE_CHARS)
    env.filters["signal_name"] = signal_name
    env.filters["signal_label"] = signal_label
    env.filters["reader_evidence"] = reader_evidence
    env.filters["capital"] = wording.capital
    env.filters["vn"] = wording.vn_decimal
    env.filters["vn_amount"] = wording.vn_amount
    env.filters["shorten"] = shorten
    env.filters["kind_name"] = wording.kind_name
    env.filters["tone_name"] = wording.tone_name
    env.globals.update(TONES=wording.TONES, NO_TOPIC=wording.NO_TOPIC, WEEKDAYS=wording.WEEKDAYS,
                       rule_name=wording.rule_name, rule_name_with_id=wording.rule_name_with_id)
    return env


@dataclass(frozen=True, slots=True)
class _Excerpt:
    before: str
    mention: str
    after: str
    cut_start: bool
    cut_end: bool


def _excerpt(article: Article) -> _Excerpt:
    """Text around the first province mention (a span into title or text); the lead otherwise.
    On one line: the article's own line breaks could otherwise lay out lines of the plain-text part
    that look like the email's ("Lý do cảnh báo:", "Bài gốc: …")."""
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
                return _Excerpt(_flat(source[start:span.start]), _flat(source[span.start:span.end]),
                                _flat(source[span.end:end]), start > 0, end < len(source))
    text = article.content.text or article.content.title
    cut = text[:2 * EXCERPT_CHARS]
    return _Excerpt(_flat(cut).strip(), "", "", False, len(cut) < len(text))


def _flat(value: str) -> str:
    """Cleaned text with every run of white space (line breaks included) made one space; unlike
    `one_line` the ends are kept, so the pieces around a mention still join with their spaces."""
    return _SPACES_RE.sub(" ", clean_text(value))


def _evidence(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value] if value not in (None, "") else []
    return [one_line(item) for item in items]


def _reasons(raw: list[dict[str, Any]], source_name: str | None = None) -> list[dict[str, Any]]:
    """Risk reasons as the email lists them: the signal id (templates name it with `signal_label`)
    and the evidence in readers' words (`reader_evidence`)."""
    return [{"signal": clean_text(r.get("signal") or r.get("condition") or "?"), "weight": r.get("weight"),
             "evidence": [reader_evidence(e, source_name) for e in _evidence(r.get("evidence"))]} for r in raw]


# Vietnamese names of the rule conditions (alerts.rules, alerts.watch) a flag's reasons state.
CONDITION_NAMES = {
    "relevant": "Nhắc đến tỉnh",
    "topics": "Chủ đề",
    "min_risk_level": "Mức nguy cơ tin sai",
    "min_risk_score": "Điểm nguy cơ tin sai",
    "tone": "Sắc thái đối với tỉnh",
    "source_kinds": "Loại nguồn",
    "languages": "Ngôn ngữ",
    "debunk": "Tin bác bỏ, đính chính thông tin sai",
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
                out.append(one_line(topic_names.get(str(t), t)))
                continue
            name = topic_names.get(str(t.get("id")), str(t.get("id")))
            score = f" ({wording.vn_decimal(t['score'])})" if t.get("score") is not None else ""
            phrases = ", ".join(str(e) for e in t.get("evidence") or [])
            out.append(one_line(f"{name}{score}" + (f": {phrases}" if phrases else "")))
        return out
    if condition == "tone":
        return [one_line(wording.tone_name(evidence))]
    if condition == "languages":                   # an unknown code is shown as the page declared it
        return [one_line(wording.language_name(evidence))]
    if condition == "source_kinds" and isinstance(evidence, str) and ": " in evidence:
        source_id, kind = evidence.rsplit(": ", 1)
        name = (source_names or {}).get(source_id, source_id)
        return [one_line(f"{name} ({wording.kind_name(kind)})")]
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
            "kind": source.kind if source else None, "title": shorten(article.content.title, LINE_CHARS),
            "url": article.fetched.canonical_url or article.fetched.url, "record_id": article.id}


def _share(lengths: dict[str, int], room: int, weights: dict[str, int]) -> dict[str, int]:
    """The most characters each Subject part may keep so that together they fit `room`: a part
    within its weighted share keeps its length and leaves what it does not use to the others; the
    longer parts are cut to their shares of what is left (max-min fairness)."""
    limits: dict[str, int] = {}
    while len(limits) < len(lengths):
        left = {name: n for name, n in lengths.items() if name not in limits}
        rest = room - sum(limits.values())
        weight = sum(weights[name] for name in left)
        fits = {name: n for name, n in left.items() if n * weight <= rest * weights[name]}
        if not fits:
            return limits | {name: max(1, rest * weights[name] // weight) for name in left}
        limits |= fits
    return limits


def capped_subject(env: Environment, template_name: str, context: dict[str, Any],
                   weights: dict[str, int] = _SUBJECT_WEIGHTS) -> str:
    """An email's Subject within SUBJECT_CHARS: the template's own words whole, the parts in
    `context["subject"]` (title, topic, outlet name: from pages and config, of any length) shortened
    with "…" to share what is left, by `weights`. For flags and for the other emails about a flag
    (reminders and escalations, alerts.escalate).

    The template is first rendered with a one-character stand-in for each part, so the room left is
    measured on the very words it writes, whichever parts it shows."""
    template = env.get_template(template_name)
    parts: dict[str, str] = context["subject"]
    marks = {name: chr(0xE000 + i) if value else "" for i, (name, value) in enumerate(parts.items())}
    probe = one_line(template.render({**context, "subject": marks}))
    shown = {name: len(parts[name]) for name, mark in marks.items() if mark and mark in probe}
    room = SUBJECT_CHARS - (len(probe) - len(shown))
    limits = _share(shown, room, weights)
    short = {name: shorten(parts[name], limits[name]) for name in shown if name != "title"}
    if "title" in shown:         # shortened last, it also gets what the others' cuts at a word left
        short["title"] = shorten(parts["title"], max(1, room - sum(map(len, short.values()))))
    return one_line(template.render({**context, "subject": {**parts, **short}}))


# Risk levels (nlp.risk) whose flag email keeps the rebuttal-kit section even when it is empty.
_RISK_LEVELS_WITH_KIT = ("cao", "cần xem xét")


def render_flag(flag: Flag, articles: list[Article], *, tz: str = "Asia/Ho_Chi_Minh",
                sources: dict[str, Source] | None = None, explain_hint: bool = True,
                links: dict[str, str] | None = None, kit: Any = None,
                topic_names: dict[str, str] | None = None, record_url: str | None = None,
                resurfacing: Resurfacing | None = None) -> tuple[str, str, str]:
    """(subject, text, html) of the immediate email for one flag.

    `links` maps each response option (ACTION_NAMES) to the recipient's signed URL
    (alerts.links); without them the email says that it carries no links, rather than
    sending links nobody could verify.

    `articles` are the story's stored copies, the first one being the one described in full;
    the others appear as further outlets.

    Agencies read these emails, so they carry no ids and no shell commands. With `links` (the web
    app is configured) the email says that each link opens the flag's page there (the article,
    every reason, the outlets) and records nothing until confirmed; without them, `explain_hint`
    adds a short reference ("Mã tin") the monitoring team can quote and look up with
    `haidang explain`. `record_url` (Kibana, with Elasticsearch) is linked when given.

    With `resurfacing` the email re-flags a story officers already acted on: it says so first
    ("Tái xuất hiện sau khi đã xử lý"), names the new outlet (`articles[0]`'s) and the other outlets
    that carried it again since the last action, and cites each recorded action (what, which agency,
    when, the rebuttal's link).
    """
    if not articles:
        raise ValueError(f"flag {flag.rule}/{flag.story_id} has no articles to describe")
    sources = sources or {}
    main = articles[0]
    risk = main.labels.get("risk") or {}
    topics = list(flag.topics) or [t["id"] for t in main.labels.get("topics", []) if "id" in t]
    published = main.content.published or main.content.first_seen
    title = shorten(main.content.title, LINE_CHARS)
    topic = one_line((topic_names or {}).get(topics[0], topics[0])) if topics else None
    outlet = _outlet(main, sources)
    context = {
        "flag": flag,
        "severity": one_line(flag.severity),
        "topic": topic,
        "topics": [clean_text((topic_names or {}).get(t, t)) for t in topics],
        # The kit when it has something to show; for a risk flag on an article with no plan topic
        # the email says why no own coverage is listed rather than leaving the reader to guess.
        "kit": kit if kit is not None and (not kit.empty or (getattr(kit, "no_topic", False)
                                                             and risk.get("level") in _RISK_LEVELS_WITH_KIT)) else None,
        "risk_level": risk.get("level"),
        "risk_score": risk.get("score"),
        "article": main,
        "title": title,
        "outlet": outlet,
        "outlets": [_outlet(a, sources) for a in articles],
        "published": local_time(published, tz),
        "engagement": engagement_line(main.content.engagement),
        "excerpt": _excerpt(main),
        "reasons": _rule_reasons(flag.reasons, topic_names or {}, {sid: s.name for sid, s in sources.items()}),
        "risk_reasons": _reasons(risk.get("reasons") or [], _outlet(main, sources)["name"]),
        "url": main.fetched.canonical_url or main.fetched.url,
        "record_id": main.id,
        "record_url": record_url,                     # the record in Kibana, with Elasticsearch
        "action_links": [{"id": a, "name": name, "url": links[a]} for a, name in ACTION_NAMES.items()
                         if links and a in links],
    }
    context["resurfacing"] = None if resurfacing is None else {
        "source_name": one_line(resurfacing.source_name),
        "earlier_outlets": [one_line(name) for name in resurfacing.earlier_outlets],
        "actions": [{"name": wording.action_name(a.action), "agency": one_line(a.agency) if a.agency else None,
                     "at": local_time(a.at, tz),
                     "rebuttal_url": (clean_text(a.rebuttal_url).strip() or None) if a.rebuttal_url else None}
                    for a in resurfacing.actions],
    }
    # Without links the reader has no page to open: a reference to quote to the monitoring team.
    context["reference"] = main.id if explain_hint and not context["action_links"] else None
    # What the Subject shortens to fit SUBJECT_CHARS (`capped_subject`).
    context["subject"] = {"title": shorten(title), "topic": topic or "", "outlet": one_line(outlet["name"])}
    env = environment()
    subject = capped_subject(env, "flag_subject.txt.j2", context,
                             _RESURFACING_SUBJECT_WEIGHTS if context["resurfacing"] else _SUBJECT_WEIGHTS)
    text = env.get_template("flag.txt.j2").render(context)
    html = env.get_template("flag.html.j2").render(context)
    return subject, text, html
