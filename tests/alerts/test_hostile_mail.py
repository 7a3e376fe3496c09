"""What officers receive when the web is hostile. Titles, texts, URLs, outlet names and claim texts
never become markup, links other than http(s), header lines or lines of the email's own, nor a
wall of text; impossible dates do not stop a flag or a digest; and a hostile flag sent through a
real SMTP server arrives with one Subject, saying what the rendered one said."""

from __future__ import annotations

import base64
import email
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alerts_testkit import T0, VN, SmtpServer, build_article, build_flag

from alerts.digest import build_digest, render_digest
from alerts.flag import EarlierAction, Resurfacing
from alerts.outbox import deliver_due, queue_flag
from alerts.render import TEMPLATES_DIR, environment, render_flag
from alerts.smtp import SmtpNotifier
from haidang.record import Article
from haidang.reports.kit import EarlierRebuttal, OwnCoverage, RebuttalKit
from haidang.settings import Agency, AppSettings, Settings, Source, StoreSettings
from haidang.store.base import ResponseAction
from haidang.store.sqlite import SqliteStore

NO_TITLE = "(không có tiêu đề)"
MARKUP = '<script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">bấm</a>'
# Names from config/ (a rule's description, an agency, an outlet) reach emails through _common.j2's macros.
CONFIG_MARKUP = "<u>Sở</u> TT&TT <img src=x onerror=alert(4)>"
NOT_WEB = ["javascript:alert(1)", " JaVaScRiPt:alert(document.cookie)", "java\nscript:alert(1)",
           "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)", "//evil.example/x"]
_SOURCES: Any = {"baoquangngai": SimpleNamespace(name='Báo <b>Quảng Ngãi</b>\r\nBcc: "x" <x@evil.example>',
                                                 kind="provincial_press")}
# The elements the HTML templates write; anything else in a rendered email came from article text.
_TEMPLATE_TAGS = {"html", "head", "meta", "title", "body", "div", "p", "strong", "small", "code", "mark", "br",
                  "h1", "h2", "ul", "ol", "li", "blockquote", "span", "a", "table", "tr", "td", "th"}
_STACKED = re.compile("[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{3,}")


class _Html(HTMLParser):
    """The elements, event-handler attributes and links (href, text) of an HTML part."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.links: list[list[str]] = []
        self._link: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "a":
            self._link = [dict(attrs).get("href") or "", ""]
            self.links.append(self._link)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link[1] += data


def _assert_inert(html: str) -> _Html:
    """No element or handler the templates do not write; every link an http(s) one with words to click."""
    parsed = _Html(html)
    assert parsed.tags <= _TEMPLATE_TAGS, parsed.tags - _TEMPLATE_TAGS
    assert parsed.handlers == []
    for href, text in parsed.links:
        assert href.startswith(("http://", "https://")), f"link to {href!r} ({text!r})"
        assert text.strip(), f"a link to {href} with nothing to click"
    return parsed


def _kit(article: Article, url: str) -> RebuttalKit:
    return RebuttalKit(
        article_id=article.id, since=T0 - timedelta(days=30), until=T0, own_sources=["baoquangngai"],
        coverage=[OwnCoverage(article_id="c1", title=f"{MARKUP} " + "Tin " * 3000, url=url,
                              source_id="baoquangngai", source_name=f"<i>Đài</i> {MARKUP}", published=T0,
                              topics=("an_ninh_trat_tu",), similarity=0.5)],
        rebuttals=[EarlierRebuttal(claim_id="k1", claim=f"{MARKUP}\nĐập vỡ " + "rất " * 5000, rebuttal_url=url,
                                   similarity=0.9)])


def _resurfacing(url: str) -> Resurfacing:
    return Resurfacing(action_ref="a1", source_name="<b>Diễn đàn</b>", source_id="baoquangngai",
                       actions=(EarlierAction(action="phan_bac", agency=CONFIG_MARKUP, at=T0, rebuttal_url=url),))


@pytest.mark.parametrize("url", NOT_WEB)
def test_markup_stays_text_and_only_web_addresses_become_links(url: str) -> None:
    """A javascript: or data: URL used to be written as a link to "#": still a link, to nowhere."""
    article = build_article("evil", title=f"{MARKUP} Tin đồn vỡ đập", text=f"{MARKUP} ở Quảng Ngãi {MARKUP}")
    article.fetched.canonical_url = url
    other = build_article("other", title=MARKUP)
    other.fetched.canonical_url = other.fetched.url = url
    for options in ({"kit": _kit(article, url)}, {"resurfacing": _resurfacing(url)}, {"record_url": url}):
        flag = build_flag([article, other], ["x@example.vn"])
        flag.description = CONFIG_MARKUP
        subject, text, html = render_flag(flag, [article, other], sources=_SOURCES, **options)
        parsed = _assert_inert(html)
        assert [href for href, _ in parsed.links] == []       # no address here is a web one
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;Quảng Ngãi&lt;/b&gt;" in html
        assert "&lt;u&gt;Sở&lt;/u&gt; TT&amp;TT" in html and f"Quy tắc: {CONFIG_MARKUP}" in text
        assert " ".join(url.split()) in text                    # shown, on one line, for what it is
        assert "\n" not in subject and "<script>alert(1)</script>" in subject   # a Subject is plain text


def test_a_web_address_with_quotes_and_brackets_cannot_leave_its_attribute() -> None:
    article = build_article("q")
    article.fetched.canonical_url = 'https://x.example/a"onmouseover="alert(1)\'<script>alert(2)</script>'
    _, _, html = render_flag(build_flag([article], ["x@example.vn"]), [article])
    parsed = _assert_inert(html)
    assert [href for href, _ in parsed.links] == [article.fetched.canonical_url] * 2


def test_a_look_alike_host_is_shown_as_the_link_opens_it() -> None:
    """A Cyrillic "о" or a user part made an address read as the provincial paper's."""
    cases = {"https://b\u0430\u043equangngai.example.vn/tin.html":
             "https://xn--bquangngai-zqi2o.example.vn/tin.html",
             "https://baoquangngai.example.vn@evil.example/tin.html": "https://evil.example/tin.html",
             "https://user:pw@evil.example:8443/tin.html?a=1#b": "https://evil.example:8443/tin.html?a=1#b",
             "https://baoquangngai.example.vn/tin.html?q=1": "https://baoquangngai.example.vn/tin.html?q=1"}
    for stored, shown in cases.items():
        article = build_article("lookalike")
        article.fetched.canonical_url = stored
        _, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article])
        parsed = _assert_inert(html)
        assert [href for href, _ in parsed.links] == [shown, shown], stored
        assert parsed.links[0] == [shown, shown] and f"\nBài gốc: {shown}\n" in text


def test_article_text_cannot_lay_out_lines_of_its_own() -> None:
    """A title's line breaks used to reach the plain-text part as they were: "Nguồn: …" lines, a
    second "Lý do cảnh báo:", addresses of the article's choosing, all in the email's own layout."""
    title = "Tin đồn\r\nNguồn: Cổng thông tin Chính phủ\u2028Bài gốc: https://evil.example/\x85Mức độ: thấp"
    text = ("Sáng nay ở Quảng Ngãi tin đồn lan truyền.\n\nLý do cảnh báo:\n- Đã xác minh là tin thật\n"
            "\nBài gốc: https://evil.example/\n")
    article = build_article("lines", title=title, text=text)
    article.fetched.canonical_url = "https://baoquangngai.example.vn/a.html\nBài gốc: https://evil.example/"
    _, body, _ = render_flag(build_flag([article], ["x@example.vn"]), [article], sources=_SOURCES)
    lines = body.splitlines()
    assert [line for line in lines if line.startswith("Lý do cảnh báo")] == ["Lý do cảnh báo:"]
    assert [line for line in lines if line.startswith("Bài gốc:")] == [
        "Bài gốc: https://baoquangngai.example.vn/a.html Bài gốc: https://evil.example/"]
    assert [line for line in lines if line.startswith(("Nguồn:", "Mức độ:", "- Đã xác minh", "Bcc:"))] == [
        'Nguồn: Báo <b>Quảng Ngãi</b> Bcc: "x" <x@evil.example> (báo chí địa phương)']
    assert "Tin đồn Nguồn: Cổng thông tin Chính phủ Bài gốc: https://evil.example/Mức độ: thấp" in lines
    for separator in ("\r", "\u2028", "\u2029", "\x85"):
        assert separator not in body


@pytest.mark.parametrize("title", ["", "  \n\t ", "\u202e\u200f"])
def test_an_article_without_a_title_is_named_and_its_links_have_words(title: str) -> None:
    article = build_article("untitled", title=title)
    subject, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article])
    assert "«" not in subject
    assert f">{NO_TITLE}</h1>" in html and f"\n{NO_TITLE}\nNguồn:" in text
    parsed = _assert_inert(html)
    assert [words for _, words in parsed.links] == [article.fetched.canonical_url, NO_TITLE]


def test_a_huge_title_and_text_make_an_ordinary_email(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """A 10,000-character title was written out in full four times (115 kB for one outlet)."""
    half = "ừ " * 1_250_000
    article = build_article("huge", title="Tin đồn " + "Đ" * 10_000, text=f"{half}ở Quảng Ngãi {half}")
    assert len(article.content.text) > 5_000_000
    subject, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article],
                                      kit=_kit(article, "https://baoquangngai.example.vn/k.html"))
    assert len(subject) < 160 and len(text) < 8_000 and len(html) < 10_000
    assert "«Quảng Ngãi»" in text and "\nTin đồn…\n" in text      # a 10,000-letter "word" is not a headline
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag([article], ["so-ttt@example.vn"]), [article], now=T0)
        notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="haidang@example.vn", timeout_s=5)
        assert len(deliver_due(store, notifier, T0).sent) == 1
    [envelope] = smtp_server.handler.envelopes
    assert isinstance(envelope.content, bytes) and len(envelope.content) < 20_000


_EDGES = [datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=VN)]


@pytest.mark.parametrize("published", [*_EDGES, datetime(1900, 1, 1), None])
def test_a_date_at_the_edge_of_the_calendar_does_not_stop_a_flag(published: datetime | None) -> None:
    """9999-12-31 23:00 UTC is in year 10000 in Vietnam: astimezone raised OverflowError."""
    article = build_article("when", published=published)
    article.content.first_seen = published
    _, text, _ = render_flag(build_flag([article], ["x@example.vn"]), [article])
    assert [line for line in text.splitlines() if line.startswith("Thời gian đăng: ")]


@pytest.mark.parametrize("published", _EDGES)
def test_a_date_at_the_edge_of_the_calendar_does_not_stop_the_digest(published: datetime, tmp_path: Path) -> None:
    """The same OverflowError stopped the whole day's digest; the article is listed among its flags."""
    article = build_article("when", published=published)
    article.content.first_seen = datetime(2026, 3, 12, 15, tzinfo=VN)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        store.upsert(article)
        subject, _, _ = render_digest(build_digest(store, _settings(tmp_path), datetime(2026, 3, 13).date(),
                                                   dispatcher=_FlagEverything()))
    assert "1 tin có cảnh báo" in subject


def test_stacked_combining_marks_are_cut_and_vietnamese_is_kept() -> None:
    """Hundreds of marks on one letter paint over the lines above and below it in a mail client."""
    zalgo = "Z" + "\u0336\u0489\u0353" * 100 + "algo"
    vietnamese = "Tin đồn vỡ đập thủy điện ở Quảng Ngãi, người dân sơ tán"
    for decomposed in (False, True):
        title = f"{zalgo} {unicodedata.normalize('NFD', vietnamese) if decomposed else vietnamese}"
        article = build_article("marks", title=title)
        subject, text, html = render_flag(build_flag([article], ["x@example.vn"]), [article])
        for body in (subject, text, html):
            assert not _STACKED.search(body)
            assert "Z\u0336\u0489algo Tin đồn vỡ đập thủy điện ở Quảng Ngãi" in body
        assert vietnamese in text and vietnamese in html      # the Subject ends "…" within SUBJECT_CHARS


class _FlagEverything:
    """Stands in for AlertDispatcher: every article is flagged (the digest's own tests use rules)."""

    def flags_for(self, article: Article, now: datetime | None = None) -> list[Any]:
        flag = build_flag([article], ["a@example.vn"])
        flag.story_id = article.story_id or article.id
        flag.description = CONFIG_MARKUP
        return [flag]


def _settings(tmp_path: Path) -> Settings:
    return Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                    sources=[Source(id="baoquangngai", name=f"Báo Quảng Ngãi {MARKUP}", country="VN", language="vi",
                                    kind="provincial_press"),
                             Source(id="bbc", name="<b>BBC</b>\r\nTiếng Việt", country="GB", language="vi",
                                    kind="foreign_press")],
                    agencies=[Agency(id="so-tttt", name=CONFIG_MARKUP, emails=["a@example.vn"])],
                    topics={"an_ninh_trat_tu": {"name": "An ninh <i>trật tự</i>", "seeds": []}})


def test_the_digest_keeps_hostile_articles_inert_one_line_and_short(tmp_path: Path) -> None:
    from nlp.claims import propose_text

    when = datetime(2026, 3, 12, 15, tzinfo=VN)
    articles = []
    for n, (title, url, source) in enumerate([
            ("Đ" * 10_000, "https://baoquangngai.example.vn/dai.html", "baoquangngai"),
            (f"{MARKUP}\r\n- [khẩn] Tin giả mạo dòng riêng", "https://bbc.example/a\nBÁO CÁO: dòng giả", "bbc"),
            ("", "javascript:alert(1)", "bbc"),
            ("Tin từ địa chỉ dữ liệu", "data:text/html,<script>alert(1)</script>", "bbc"),
            (f"{MARKUP} bản đăng lại", "https://bbc.example/dang-lai.html", "bbc")]):
        a = build_article(f"d{n}", source=source, title=title, published=when)
        a.fetched.canonical_url = url
        a.story_id = "story-0" if n == 4 else f"story-{n}"      # the last, a copy of the first on another outlet
        articles.append(a)
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        for a in articles:
            store.upsert(a)
        store.record_action(ResponseAction(
            flag_key="k", story_id="story-0", article_id=articles[0].id, rule="tin_sai_cao", action="phan_bac",
            actor="a@example.vn", agency_id="so-tttt", at=datetime(2026, 3, 12, 18, tzinfo=VN), link_id="l1"))
        propose_text(store, f"{MARKUP} Đập thủy điện ở huyện miền núi bị vỡ " + "rất " * 20_000, rebuttal_url=None)
        digest = build_digest(store, _settings(tmp_path), datetime(2026, 3, 13).date(),
                              dispatcher=_FlagEverything())
    subject, text, html = render_digest(digest)
    assert "\n" not in subject and len(subject) < 160
    parsed = _assert_inert(html)
    assert {href for href, _ in parsed.links} == {"https://baoquangngai.example.vn/dai.html",
                                                  "https://bbc.example/a BÁO CÁO: dòng giả",
                                                  "https://bbc.example/dang-lai.html"}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;BBC&lt;/b&gt;" in html
    # Rule, agency and outlet names written by _common.j2's macros (rules, actions, a flag's outlets).
    assert html.count("&lt;u&gt;Sở&lt;/u&gt; TT&amp;TT") >= 3 and "Đã xử lý: đã phản bác – &lt;u&gt;" in html
    assert "Báo Quảng Ngãi &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert NO_TITLE in text and f">{NO_TITLE}</span>" in html
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(("- [khẩn] Tin giả", "BÁO CÁO", "Tiếng Việt"))]
    assert len(text) < 12_000 and len(html) < 20_000        # a 10,000-character title, an 80 kB claim


def _encoded_word(value: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(value.encode()).decode() + "?="


def test_a_hostile_flag_arrives_through_smtp_with_one_clean_subject(tmp_path: Path,
                                                                    smtp_server: SmtpServer) -> None:
    """The email library decoded RFC 2047 words found in the Subject it was given: a title holding
    one brought back the right-to-left override and line breaks alerts.render had taken out."""
    smuggled = _encoded_word("\u202e\r\nBcc: e@x.vn")
    title = (f"{smuggled} {MARKUP}\r\nBcc: evil@example.com\r\nX-Injected: 2\r\n\r\n<html>thân thư giả "
             + "Đ" * 10_000)
    article = build_article("smtp", title=title, text=f"{MARKUP}\r\n\r\nTin ở Quảng Ngãi \u202egnp.exe")
    article.fetched.canonical_url = "javascript:alert(1)"
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        queue_flag(store, build_flag([article], ["so-ttt@example.vn"]), [article], now=T0, sources=_SOURCES)
        [queued] = store.outbox()
        notifier = SmtpNotifier("127.0.0.1", smtp_server.port, "none", sender="Hải Đăng <haidang@example.vn>",
                                timeout_s=5)
        assert deliver_due(store, notifier, T0).sent == [queued.key]
    [envelope] = smtp_server.handler.envelopes
    assert envelope.rcpt_tos == ["so-ttt@example.vn"]
    raw = envelope.content
    assert isinstance(raw, bytes)
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    assert sorted(message.keys()) == sorted(["Subject", "From", "To", "Date", "Message-ID", "MIME-Version",
                                             "Content-Type"])
    subject = str(message["Subject"])
    assert subject == queued.subject                      # what was rendered, decoded once, nothing more
    assert subject.startswith("[Hải Đăng][cao] Nguy cơ tin sai — «=?utf-8?b?")
    assert smuggled in subject and "\u202e" not in subject and len(subject) < 200
    assert not any(c in subject for c in "\r\n\x00\x85\u2028")
    header_block = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert all(len(line) <= 78 for line in header_block.splitlines())
    assert str(message["From"]) == "Hải Đăng <haidang@example.vn>"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    text_part, html_part = plain.get_content(), html.get_content()
    assert "<script>alert(1)</script>" in text_part and "\u202e" not in text_part
    assert "Bài gốc: javascript:alert(1)" in text_part
    assert not [line for line in text_part.splitlines() if line.startswith(("Bcc:", "X-Injected", "<html>"))]
    _assert_inert(html_part)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_part
    assert len(raw) < 20_000


def test_reminders_and_silence_emails_keep_hostile_values_inert() -> None:
    env = environment()
    flag = {"rule": "tin_sai_cao", "description": CONFIG_MARKUP}
    reminder = {"stage": "reminder", "severity": "cao", "flag": flag, "title": f"{MARKUP}\r\n" + "Đập " * 5_000,
                "article_gone": False, "url": "javascript:alert(1)", "record_id": "r1",
                "original_subject": f"{MARKUP}\r\nBcc: x@evil.example",
                "sent_at": T0, "hours": 24, "escalate_after_hours": 48, "escalation_pending": True,
                "lead_name": CONFIG_MARKUP, "notified": [{"name": CONFIG_MARKUP, "address": "a@example.vn"}],
                "addressee": CONFIG_MARKUP, "action_links": [], "links_missing": "no_signer"}
    for stage in ("reminder", "escalation"):
        html = env.get_template("reminder.html.j2").render({**reminder, "stage": stage})
        text = env.get_template("reminder.txt.j2").render({**reminder, "stage": stage})
        parsed = _assert_inert(html)
        assert parsed.links == [] and "<span>javascript:alert(1)</span>" in html
        assert len(html) < 8_000 and len(text) < 6_000
        assert not [line for line in text.splitlines() if line.startswith(("Bcc:", "Đập"))]
    source = Source(id="evil", name=CONFIG_MARKUP, country="VN", language="vi", kind="platform",
                    url="javascript:alert(1)")
    silence = {"flag": SimpleNamespace(rule="nguon-im-lang", description=CONFIG_MARKUP, severity="thấp"),
               "source": source, "source_id": "evil", "at": T0, "hours": 24,
               "reasons": [{"name": "Nguồn im lặng", "evidence": [MARKUP]}]}
    html = env.get_template("silence.html.j2").render(silence)
    parsed = _assert_inert(html)
    assert parsed.links == [] and "&lt;u&gt;Sở&lt;/u&gt; TT&amp;TT" in html


def test_html_templates_escape_what_the_shared_macros_return() -> None:
    """_common.j2 serves the text templates too, so it is compiled without autoescape, and Jinja
    marks a macro's output safe when an autoescaping template calls it: an agency named
    "<u>Sở</u> TT&TT" reached the HTML as markup. Each call in an HTML template is escaped by hand."""
    calls = [(path.name, expr) for path in sorted(TEMPLATES_DIR.glob("*.html.j2"))
             for expr in re.findall(r"\{\{(.*?)\}\}", path.read_text(encoding="utf-8"))
             if re.search(r"\bc\.[a-z_]+\(", expr)]
    assert calls
    assert [(name, expr) for name, expr in calls if not expr.strip().endswith("|forceescape")] == []
