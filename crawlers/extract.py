"""Article content from a fetched page (or feed item): title, lead, text, author, dates, language.

trafilatura extracts the body; per-site selectors and page metadata fix what it gets wrong on
Vietnamese news layouts (issue 3): a sapo outside <article> is dropped, comments are kept unless
told otherwise, the byline is missed, and a header clock ("Thứ ba, 28/03/2023") is taken for the
publication date. So dates come from the page itself first (meta tags, JSON-LD, the site's date
selector), then the feed, and trafilatura's guess only last; each date keeps where it came from.

A page costs bounded time and memory whatever it holds: bytes that are not text are refused by
name, a page with more tags than `_MAX_TAGS` is refused before it is parsed, and trafilatura
(whose costs grow faster than the page on some shapes) only sees trees within `_fits_trafilatura`;
larger ones are read by their block elements, in one pass.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
import trafilatura
from lxml.cssselect import CSSSelector
from lxml.etree import ErrorTypes, ParserError, XPath, iterwalk
from lxml.html import HtmlElement

from crawlers.dates import DEFAULT_TIMEZONE, parse_date
from crawlers.decode import SNIFF_CHARS, binary_kind
from crawlers.urls import canonical_url
from haidang.errors import ExtractError
from haidang.record import Article, Content, Fetched, article_id, parse_count
from haidang.settings import Selectors
from haidang.textnorm import normalize

__all__ = ["content_hash", "extract_article"]

log = logging.getLogger(__name__)

# Meta tags holding the publication / modification time, most specific first.
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "datepublished", "pubdate",
                   "publishdate", "dc.date.issued", "dcterms.created", "sailthru.date")
_MODIFIED_META = ("article:modified_time", "og:article:modified_time", "og:updated_time",
                  "datemodified", "lastmod", "dcterms.modified")
_ARTICLE_TYPES = frozenset({"NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle",
                            "AnalysisNewsArticle", "OpinionNewsArticle", "LiveBlogPosting",
                            "BackgroundNewsArticle", "Report", "ScholarlyArticle",
                            "SocialMediaPosting", "DiscussionForumPosting"})
# schema.org InteractionCounter types -> Content.engagement keys.
_INTERACTIONS = {"LikeAction": "likes", "CommentAction": "comments", "ShareAction": "shares"}
_PAGE_TYPES = frozenset({"WebPage", "ItemPage"})
# "By", "Theo", "Bài và ảnh:", "Tác giả:" before a byline; mail addresses after it.
_BYLINE_PREFIX = re.compile(
    r"^\s*(?:by|theo|tác giả|nhóm (?:pv|phóng viên)|bài(?:\s*(?:và|,|&|-)\s*ảnh)?|ảnh|pv)\s*[:\-–]?\s+",
    re.IGNORECASE)
# No \S on both sides of "@": "a@a@a@…" made that pattern cubic (8 kB of author: 100 s).
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.\w+")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+[-|–—]\s+")
_MAX_AUTHOR_CHARS = 120
_MAX_TITLE_CHARS = 1000      # a headline is under 300; a 1 MB <title> is a broken or hostile page
_BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "div")
# A feed date this close to the page's displayed (zone-less, minute-rounded) date is the same
# statement, and the feed's is the exact one. Any misread zone is off by 15 minutes or more
# (offsets are whole quarter hours), so it can never pass as "the same".
_SAME_DATE = timedelta(minutes=10)
# Page size limits. Lighthouse calls a page of over 1,400 elements excessive; news pages have a few
# thousand at most. Tags are counted before parsing, because parsing is where the memory goes: a
# 5 MB page of bare "<p>" tags is 1.25 million elements and 400 MB of tree.
_MAX_TAGS = 50_000
_START_TAG = re.compile(r"<[A-Za-z]")
# trafilatura on trees beyond these: 20,000 inline elements in one paragraph took 2 s and 100,000
# took 146 s (quadratic); nesting multiplies its costs (2,000 levels: 2 s for 2,000 elements).
# 20,000 keeps every real news page (a few thousand elements) on trafilatura's boilerplate removal;
# a crafted page within it costs about 2 s (bench/extract_limits.py). Beyond, block elements are read.
_PARSER_DEPTH = 2048          # libxml2's limit with huge_tree (without: 255, see _parse_document)
_TRAFILATURA_ELEMENTS = 20_000
_TRAFILATURA_DEPTH = 200
_LDJSON = XPath("//script[@type='application/ld+json']/text()")
_CANONICAL = XPath("//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href")


def content_hash(title: str, text: str) -> str:
    """SHA-256 of the normalised, whitespace-collapsed title and text.

    The store compares it to tell "updated" from "unchanged": markup, spacing and tone-mark
    style changes must not count as an update.
    """
    joined = " ".join(normalize(title).split()) + "\n" + " ".join(normalize(text).split())
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def extract_article(article: Article, selectors: Selectors, *,
                    timezone: str = DEFAULT_TIMEZONE) -> Article:
    """Fill `article.content`, `article.fetched.canonical_url` and `article.id`; return the article.

    Reads `article.fetched.html` (decoded text); without it (feed-only items) builds the content
    from the feed fields. `content.first_seen` is left as it was (the store sets it). Raises
    ExtractError when neither a title nor any text can be found, and for a document that is no
    web page to read (`_parse_document`: a file served as HTML, too many tags, nested too deep).
    """
    fetched = article.fetched
    page_url = fetched.final_url or fetched.url
    if fetched.html and fetched.html.strip():
        content, hint = _from_html(fetched, page_url, selectors, timezone)
    else:
        content, hint = _from_feed(fetched, timezone), None
    if not content.title and not content.text:
        raise ExtractError(f"{fetched.source_id}: {page_url}: no title and no text found "
                           f"(check the source's selectors, or whether the page is an article)")
    content.first_seen = article.content.first_seen
    content.content_hash = content_hash(content.title, content.text)
    fetched.canonical_url = canonical_url(page_url, hint, base=page_url)
    article.content = content
    article.id = article_id(fetched.canonical_url)
    return article


# --- feed-only items -------------------------------------------------------------------------

def _from_feed(fetched: Fetched, timezone: str) -> Content:
    """Feed title and summary as the content; the summary may hold HTML."""
    title = _clean_line(fetched.feed_title or "")
    text = ""
    if fetched.feed_summary:
        text = "\n".join(_paragraphs(_parse_fragment(fetched.feed_summary))) if "<" in fetched.feed_summary \
            else _clean_block(fetched.feed_summary)
    published = _feed_date(fetched.feed_published, timezone)
    return Content(
        title=title, text=text, author=_clean_author(fetched.feed_author or ""),
        language=_detect_language(title + "\n" + text),
        published=published, published_from="feed" if published else None,
        engagement=_with_feed_comments({}, fetched),
    )


def _with_feed_comments(engagement: dict[str, int], fetched: Fetched) -> dict[str, int]:
    """The page's own counts first; the feed's slash:comments when the page states none."""
    if "comments" not in engagement and fetched.feed_comments is not None:
        engagement["comments"] = fetched.feed_comments
    return engagement


def _feed_date(value: datetime | None, timezone: str) -> datetime | None:
    """The feed date in `timezone`. `crawlers.feeds` gives aware datetimes; a naive one (set by
    hand) is taken to be local time, as `parse_date` takes every zone-less date."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(ZoneInfo(timezone))


# --- pages ------------------------------------------------------------------------------------

def _from_html(fetched: Fetched, page_url: str, selectors: Selectors,
               timezone: str) -> tuple[Content, str | None]:
    tree = _parse_document(fetched.html or "", f"{fetched.source_id}: {page_url}")
    if tree is None:
        return Content(), None
    meta = _read_meta(tree)
    ld = _JsonLd(tree)
    hint = next(iter(_CANONICAL(tree)), None) or meta.get("og:url")

    title_els = _select(tree, selectors.title)
    lead_els = _select(tree, selectors.lead)
    byline_els = _select(tree, selectors.byline)
    date_els = _select(tree, selectors.date)
    paywall_els = _select(tree, selectors.paywall)

    title = _first_text(title_els) or _clean_line(ld.headline()) or _clean_line(meta.get("og:title", ""))
    lead = _first_text(lead_els)
    author = _clean_author(", ".join(dict.fromkeys(t for t in map(_element_text, byline_els) if t)))
    author = author or ld.author() or _meta_author(meta) or _clean_author(fetched.feed_author or "")
    partial = bool(paywall_els) or ld.accessible_for_free() is False

    published, published_from = _published(meta, ld, fetched, date_els, selectors, timezone)
    modified, modified_from = _modified(meta, ld, timezone)

    # What was read above, and what the site marks as noise, must not reach the body.
    for el in [*title_els, *lead_els, *byline_els, *date_els, *paywall_els]:
        _drop(el)
    for css in selectors.remove:
        for el in _select(tree, css):
            _drop(el)

    body_root = _select(tree, selectors.body)[:1]
    if selectors.body and not body_root:
        log.debug("%s: body selector %r matched nothing on %s", fetched.source_id, selectors.body, page_url)
    # Measured once: a subtree of a tree within the limits is within them too.
    fits = _fits_trafilatura(tree)
    root = body_root[0] if body_root else tree
    body = _body_paragraphs(root, page_url, fits or (root is not tree and _fits_trafilatura(root)))

    fallback: Any = None
    if (not title or published is None or not author) and fits:
        fallback = _trafilatura_metadata(tree, page_url)
    if not title:
        title = _clean_line(getattr(fallback, "title", None) or "") or _first_text(tree.xpath("//h1")) \
            or _strip_site_name(_first_text(tree.xpath("//title")))
    # htmldate fills a year-only guess (a "1995" in the text, an invalid "32/13/2023") out to 1 January:
    # a date with no day is no date here, so its 1 January is not trusted.
    guessed = getattr(fallback, "date", None) if fallback is not None else None
    if published is None and guessed and not str(guessed).endswith("-01-01"):
        published = parse_date(guessed, timezone=timezone)
        published_from = "trafilatura" if published else None
    if not author and fallback is not None:
        author = _clean_author(getattr(fallback, "author", None) or "")

    title = _cap_title(title)
    text = "\n".join(_without_repeats(lead, title, body))
    language = _declared_language(tree, meta, ld)
    language = _detect_language(title + "\n" + text, declared=language)
    content = Content(
        title=title, lead=lead, text=text, author=author or None, language=language,
        published=published, published_from=published_from,
        modified=modified, modified_from=modified_from, partial=partial,
        engagement=_with_feed_comments(ld.engagement(), fetched),
    )
    return content, hint


def _parse_document(html: str, where: str) -> HtmlElement | None:
    """The page's tree; None when lxml finds none. ExtractError, naming `where`, for a document
    that is not a web page, has too many tags to parse at bounded cost, or nests deeper than the
    parser goes.

    lxml's default parser stops at 255 levels and silently drops the rest of the page (every
    paragraph after a deep widget); `huge_tree` takes it to 2,048, beyond which the page is
    refused rather than stored cut short.
    """
    kind = binary_kind(html[:SNIFF_CHARS])
    if kind is not None:
        raise ExtractError(f"{where}: looks like {kind}, not a web page; not extracted")
    tags = _count_tags(html, _MAX_TAGS)
    if tags > _MAX_TAGS:
        raise ExtractError(f"{where}: page too complex: more than {_MAX_TAGS:,} tags (news pages have a few "
                           f"thousand); not extracted, to keep one page's time and memory bounded")
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        tree = lxml.html.document_fromstring(_XML_DECL.sub("", html, count=1), parser=parser)
    except (ParserError, ValueError) as exc:
        log.debug("unparsable HTML: %s", exc)
        return None
    if _too_deep(parser):
        raise ExtractError(f"{where}: page nested too deep: more than {_PARSER_DEPTH:,} levels, where the HTML "
                           f"parser stops; the rest of the page would be lost, so it is not extracted")
    return tree


def _count_tags(html: str, limit: int) -> int:
    """Start tags in `html`, counted up to one past `limit`: enough to refuse, never a long count."""
    count = 0
    for count, _ in enumerate(_START_TAG.finditer(html), 1):
        if count > limit:
            break
    return count


def _fits_trafilatura(root: HtmlElement) -> bool:
    """Whether `root` is within `_TRAFILATURA_ELEMENTS` and `_TRAFILATURA_DEPTH`.

    Stops at the first limit passed, so measuring a huge tree costs no more than a normal one.
    """
    count = depth = 0
    for event, _ in iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        count += 1
        depth += 1
        if count > _TRAFILATURA_ELEMENTS or depth > _TRAFILATURA_DEPTH:
            return False
    return True


def _parse_fragment(html: str) -> HtmlElement:
    """A feed summary's tree; nested past the parser's 2,048 levels, what it could read, said in the log."""
    parser = lxml.html.HTMLParser(huge_tree=True)
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div", parser=parser)
    except (ParserError, ValueError):
        return lxml.html.fragment_fromstring(html_lib.escape(html), create_parent="div")
    if _too_deep(parser):
        log.warning("feed summary nested too deep; only its first %d levels are read", _PARSER_DEPTH)
    return fragment


def _too_deep(parser: lxml.html.HTMLParser) -> bool:
    """Whether the parser stopped at its depth limit, dropping the rest of the document."""
    return any(error.type == ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log)


@lru_cache(maxsize=256)
def _compiled(css: str) -> Callable[[HtmlElement], list[HtmlElement]]:
    return CSSSelector(css)  # type: ignore[return-value]


def _select(tree: HtmlElement, css: str | None) -> list[HtmlElement]:
    if not css:
        return []
    return list(_compiled(css)(tree))


def _drop(el: HtmlElement) -> None:
    """Remove an element but keep its tail text; an emptied parent paragraph goes too."""
    parent = el.getparent()
    if parent is None:
        return
    el.drop_tree()
    if parent.tag in ("p", "span", "em", "b", "strong") and not parent.text_content().strip() \
            and parent.getparent() is not None:
        parent.drop_tree()


def _element_text(el: HtmlElement) -> str:
    """Visible text of one element on one line.

    Inline pieces are joined as written, except that a space goes where a lower-case letter
    meets an upper-case one across tags ("<span>Quảng Ngãi</span>Nhà máy", VnExpress's
    location stamp): that never happens inside a Vietnamese word, while drop caps
    ("<span>T</span>heo") stay joined.
    """
    out: list[str] = []
    for piece in el.itertext():
        if out and out[-1] and piece and out[-1][-1].islower() and piece[0].isupper():
            out.append(" ")
        out.append(piece)
    return _clean_line("".join(out))


def _first_text(els: Iterable[HtmlElement]) -> str:
    for el in els:
        text = _element_text(el)
        if text:
            return text
    return ""


def _clean_line(text: str) -> str:
    return normalize(" ".join(html_lib.unescape(text).split())) if text else ""


def _clean_block(text: str) -> str:
    lines = (_clean_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _strip_site_name(title: str) -> str:
    """"Headline - VnExpress" to "Headline": the longest part around the separators."""
    parts = _TITLE_SEPARATORS.split(title)
    return max(parts, key=len) if len(parts) > 1 else title


def _cap_title(title: str) -> str:
    if len(title) <= _MAX_TITLE_CHARS:
        return title
    cut = title[:_MAX_TITLE_CHARS]
    return (cut[:cut.rfind(" ")] if " " in cut else cut) + "…"


def _clean_author(text: str) -> str:
    text = _EMAIL.sub("", _clean_line(text[:_MAX_AUTHOR_CHARS * 8]))
    text = _BYLINE_PREFIX.sub("", text).strip(" -–,;|")
    if not text or len(text) > _MAX_AUTHOR_CHARS or text.startswith(("http://", "https://")):
        return ""
    if text.isupper():
        text = text.title()   # Tuổi Trẻ prints bylines in capitals: "TRẦN MAI" -> "Trần Mai"
    return text


def _meta_author(meta: dict[str, str]) -> str:
    """<meta name=author>, unless it names the outlet rather than a person."""
    value = _clean_author(meta.get("author") or meta.get("article:author") or "")
    site = " ".join(meta.get("og:site_name", "").lower().split())
    if value and site and value.lower() == site:
        return ""
    return value


def _read_meta(tree: HtmlElement) -> dict[str, str]:
    """First content of each <meta> by lower-cased name, property or itemprop."""
    meta: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        value = el.get("content")
        if key and value and value.strip():
            meta.setdefault(key.strip().lower(), value.strip())
    return meta


def _declared_language(tree: HtmlElement, meta: dict[str, str], ld: _JsonLd) -> str | None:
    for value in (tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                  meta.get("og:locale"), meta.get("content-language"), ld.language()):
        if value and value.strip():
            return re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return None


def _published(meta: dict[str, str], ld: _JsonLd, fetched: Fetched, date_els: list[HtmlElement],
               selectors: Selectors, timezone: str) -> tuple[datetime | None, str | None]:
    """The page's own date (meta tags, JSON-LD, then the site's date selector) outranks the feed's.

    The page is the publisher's canonical statement; feed dates are often rewritten by the feed
    generator (the wrong zone, the feed's build time). The header-clock trap (module docstring)
    is trafilatura's guess, which still comes last; a configured selector names the article's own
    date. The feed's date is kept only where the page has none, or where it says the same as the
    selector's text to within `_SAME_DATE` (it is then the more exact of the two).
    """
    for key in _PUBLISHED_META:
        value = parse_date(meta.get(key), timezone=timezone)
        if value is not None:
            return value, "meta"
    value = parse_date(ld.date("datePublished"), timezone=timezone)
    if value is not None:
        return value, "json-ld"
    feed = _feed_date(fetched.feed_published, timezone)
    for el in date_els:
        raw = el.get("datetime") or el.get("content") or _element_text(el)
        value = parse_date(raw, timezone=timezone, formats=selectors.date_formats)
        if value is None:
            continue
        if feed is not None and abs(feed - value) <= _SAME_DATE:
            return feed, "feed"
        if feed is not None:
            log.debug("%s: feed date %s disagrees with the page's %s; the page's wins",
                      fetched.url, feed.isoformat(), value.isoformat())
        return value, "selector"
    return (feed, "feed") if feed is not None else (None, None)


def _modified(meta: dict[str, str], ld: _JsonLd, timezone: str) -> tuple[datetime | None, str | None]:
    for key in _MODIFIED_META:
        value = parse_date(meta.get(key), timezone=timezone)
        if value is not None:
            return value, "meta"
    value = parse_date(ld.date("dateModified"), timezone=timezone)
    return (value, "json-ld") if value is not None else (None, None)


def _body_paragraphs(root: HtmlElement, page_url: str, fits: bool) -> list[str]:
    """Body paragraphs by trafilatura (comments off), or by block elements when it finds none.

    trafilatura is given a small document holding only the body root, so its boilerplate
    heuristics see the article and nothing else; teasers too short for it fall back to blocks,
    and so do roots too large for it to read in bounded time (`fits`: `_fits_trafilatura(root)`).
    """
    if not fits:
        log.info("%s: over %d elements or %d levels deep; read by block elements, without trafilatura",
                 page_url, _TRAFILATURA_ELEMENTS, _TRAFILATURA_DEPTH)
        return _paragraphs(root)
    doc = lxml.html.document_fromstring("<html><body></body></html>")
    doc.find("body").append(_copy(root))
    result = trafilatura.bare_extraction(
        doc, url=page_url, include_comments=False, include_tables=False, include_images=False,
        with_metadata=False, favor_recall=True, deduplicate=False,
    )
    text = getattr(result, "text", None) if result is not None else None
    if text and text.strip():
        return [line for line in (_clean_line(x) for x in text.splitlines()) if line]
    return _paragraphs(root)


def _copy(el: HtmlElement) -> HtmlElement:
    if el.tag == "html":
        body = el.find("body")
        el = body if body is not None else el
    copied = lxml.html.fromstring(lxml.html.tostring(el, encoding="unicode"))
    if copied.tag == "body":
        copied.tag = "div"
    return copied


def _paragraphs(root: HtmlElement) -> list[str]:
    """Text of the innermost block elements, in document order, in one pass.

    A block whose text is taken is not entered again: a <div> holding a <span> holding a <p>
    gives one paragraph, not one per level (nested thousands deep, that was the page's text
    thousands of times over).
    """
    out: list[str] = []
    if any(anc.tag in _BLOCK_TAGS and anc.tag != "div" for anc in root.iterancestors()):
        stack: list[HtmlElement] = []       # inside a paragraph already: the root's text, below
    else:
        stack = [root]
    while stack:
        el = stack.pop()
        if el.tag in _BLOCK_TAGS and (el.tag != "div" or not any(child.tag in _BLOCK_TAGS for child in el)):
            text = _element_text(el)
            if text:
                out.append(text)
            continue
        stack.extend(reversed(el))
    if not out:
        text = _element_text(root)
        if text:
            out.append(text)
    return out


def _without_repeats(lead: str, title: str, body: list[str]) -> Iterator[str]:
    """Lead, then body paragraphs not already given (a sapo inside the body, the headline)."""
    seen = {p.casefold() for p in (lead, title) if p}
    if lead:
        yield lead
    for para in body:
        key = para.casefold()
        if key in seen:
            continue
        seen.add(key)
        yield para


def _trafilatura_metadata(tree: HtmlElement, page_url: str) -> Any:
    """trafilatura's own title/date/author guesses, the last resort (slow: runs htmldate)."""
    try:
        return trafilatura.extract_metadata(tree, default_url=page_url)
    except Exception as exc:  # noqa: BLE001 - a third-party guess must never fail extraction
        log.debug("trafilatura metadata failed on %s: %s", page_url, exc)
        return None


# Letters only Vietnamese uses among the languages we meet: ă â đ ê ô ơ ư and the five tone
# marks on vowels. Ratios measured on the fixtures: Vietnamese prose 0.20-0.30, English 0.
_VI_SHARE = 0.08
_VI_OVERRIDE_SHARE = 0.15
_MIN_LETTERS = 40
# The script shares settle within a few thousand letters; counting a 4 MB text took 1.6 s.
_LANGUAGE_SAMPLE = 20_000


def _detect_language(text: str, declared: str | None = None) -> str | None:
    """The declared language, unless the text plainly says otherwise; a cheap guess without one.

    Counts scripts rather than running a model: Hangul -> ko, Han -> zh, Latin with a
    Vietnamese share of marked letters -> vi, plain Latin -> en. Many CMS templates declare
    lang="en" on Vietnamese pages, so a strongly Vietnamese text overrides the declaration.
    Only the first `_LANGUAGE_SAMPLE` characters are counted.
    """
    latin = marked = hangul = han = 0
    for ch in text[:_LANGUAGE_SAMPLE]:
        if not ch.isalpha():
            continue
        code = ord(ch)
        if 0xAC00 <= code <= 0xD7A3:
            hangul += 1
        elif 0x4E00 <= code <= 0x9FFF:
            han += 1
        elif code < 0x250 or 0x1E00 <= code <= 0x1EFF:
            latin += 1
            if code > 0x7F:
                marked += 1
    letters = latin + hangul + han
    if letters < _MIN_LETTERS:
        return declared
    guess: str | None
    if hangul > letters / 3:
        guess = "ko"
    elif han > letters / 3:
        guess = "zh"
    elif latin and marked / latin >= _VI_SHARE:
        guess = "vi"
    elif latin > letters / 2:
        guess = "en" if marked / latin < 0.01 else None
    else:
        guess = None
    if declared is None:
        return guess
    if guess == "vi" and declared != "vi" and marked / max(latin, 1) >= _VI_OVERRIDE_SHARE:
        return "vi"
    return declared


class _JsonLd:
    """The JSON-LD objects of a page, flattened (lists, @graph), article types first."""

    def __init__(self, tree: HtmlElement) -> None:
        objects: list[dict[str, Any]] = []
        for raw in _LDJSON(tree):
            try:
                objects.extend(_flatten(json.loads(raw, strict=False)))
            except (ValueError, RecursionError):     # invalid, or nested thousands deep
                log.debug("skipping invalid JSON-LD block")
                continue
        self._by_id = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
        articles = [o for o in objects if _types(o) & _ARTICLE_TYPES]
        pages = [o for o in objects if _types(o) & _PAGE_TYPES]
        self._ranked = articles + pages

    def _get(self, key: str) -> Any:
        for obj in self._ranked:
            if obj.get(key) not in (None, "", []):
                return obj[key]
        return None

    def headline(self) -> str:
        value = self._get("headline")
        return value if isinstance(value, str) else ""

    def date(self, key: str) -> str | None:
        value = self._get(key)
        return value if isinstance(value, str) else None

    def language(self) -> str | None:
        value = self._get("inLanguage")
        return value if isinstance(value, str) else None

    def accessible_for_free(self) -> bool | None:
        for obj in self._ranked:
            value = obj.get("isAccessibleForFree")
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
        return None

    def engagement(self) -> dict[str, int]:
        """Likes, comments and shares the page states (interactionStatistic, commentCount)."""
        out: dict[str, int] = {}
        for obj in self._ranked:
            stats = obj.get("interactionStatistic")
            for stat in stats if isinstance(stats, list) else [stats]:
                if not isinstance(stat, dict):
                    continue
                kind = stat.get("interactionType")
                kind = kind.get("@type") if isinstance(kind, dict) else kind
                key = _INTERACTIONS.get(kind.rsplit("/", 1)[-1]) if isinstance(kind, str) else None
                count = parse_count(stat.get("userInteractionCount"))
                if key and count is not None:
                    out.setdefault(key, count)
            count = parse_count(obj.get("commentCount"))
            if count is not None:
                out.setdefault("comments", count)
        return out

    def author(self) -> str:
        value = self._get("author")
        people = value if isinstance(value, list) else [value]
        names: list[str] = []
        for person in people:
            if isinstance(person, dict) and not person.get("name") and isinstance(person.get("@id"), str):
                person = self._by_id.get(person["@id"], person)
            name = person.get("name") if isinstance(person, dict) else person
            if isinstance(name, str) and (cleaned := _clean_author(name)):
                names.append(cleaned)
        return ", ".join(dict.fromkeys(names))


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _flatten(data["@graph"])
        else:
            yield data


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()
