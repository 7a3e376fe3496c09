"""Hostile input found in the second security review, each against the real app and store: signatures
with non-ASCII characters (links, CSRF tokens, session cookies), bodies of megabytes, and a client that
hangs up halfway through its form. Then what the review found sound, pinned: markup in any stored or
typed value stays text, and no login's `next` leads off-site."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import anyio
from starlette.types import Message, Scope

from alerts.flag import Flag, flag_key
from crawlers.dedup import assign_story, band_keys, signature
from haidang.store.base import AuditEntry, KnownClaim, OutboxMessage, ResponseAction

from .conftest import HOSTILE, PASSWORDS, T0, WebKit, build_article
from .test_app_search import _login
from .test_app_security import _audit_kinds, _csrf

MEGABYTE = 1024 * 1024


# -- non-ASCII signatures: hmac.compare_digest raised TypeError on them (a 500) -----------------------


def test_a_link_whose_signature_is_not_ascii_is_refused_not_crashed_on(kit: WebKit) -> None:
    body = kit.path("phan_bac").removeprefix("/xu-ly/").split(".")[0]
    for path in (f"/xu-ly/{body}.%C3%A9", f"/xu-ly/{body}.%C3%A9/van-ban.docx"):
        page = kit.client.get(path)
        assert page.status_code == 403 and "Đường dẫn không hợp lệ" in page.text, path
    posted = kit.client.post(f"/xu-ly/{body}.%C3%A9", data={"csrf": "x", "note": "n"})
    assert posted.status_code == 403 and "Đường dẫn không hợp lệ" in posted.text
    assert "action" not in _audit_kinds(kit)


def test_a_csrf_token_that_is_not_ascii_is_refused_on_every_form(kit: WebKit) -> None:
    link = kit.path("phan_bac")
    kit.client.get(link)                                       # the CSRF cookie
    for path in ("/dang-nhap", link, f"{link}/nhan", "/dang-xuat"):
        page = kit.client.post(path, data={"csrf": "é", "username": "canbo", "password": PASSWORDS["canbo"]})
        assert page.status_code == 403 and "Biểu mẫu" in page.text, path
    assert _login(kit, "canbo", PASSWORDS["canbo"]).status_code == 303
    for path in ("/bao-cao", "/tin-sai", "/tin-sai/khong-co", "/canh-bao/khong-co"):
        # A percent-encoded byte that is not UTF-8 arrives as U+FFFD: not ASCII either.
        page = kit.client.post(path, content=b"csrf=%FF%FE&decision=confirmed",
                               headers={"content-type": "application/x-www-form-urlencoded"})
        assert page.status_code == 403 and "Biểu mẫu không hợp lệ" in page.text, path
    assert _audit_kinds(kit) == ["login"]


def test_a_session_cookie_whose_signature_is_not_ascii_is_no_session(kit: WebKit) -> None:
    # A quoted cookie's octal escapes are decoded by the cookie parser: "\303\251" arrives as "Ã©".
    for cookie in ('hd_session="abc.\\303\\251"', 'hd_session="\\303\\251.\\303\\251"'):
        page = kit.client.get("/tim-kiem", headers={"cookie": cookie}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/dang-nhap"), cookie
        assert kit.client.get("/dang-nhap", headers={"cookie": cookie}).status_code == 200


# -- bodies: Starlette read 1,000 fields of 1 MiB into memory and spooled files of any size to disk ------


def _padding(fields: int, size: int) -> dict[str, str]:
    return {f"dem{i}": "a" * size for i in range(fields)}


def test_a_ten_megabyte_form_is_refused_before_it_is_read(kit: WebKit) -> None:
    csrf = _csrf(kit.client.get("/dang-nhap").text)
    login = {"csrf": csrf, "username": "canbo", "password": PASSWORDS["canbo"], "next": "/tim-kiem"}
    page = kit.client.post("/dang-nhap", data=login | _padding(990, 10_000), follow_redirects=False)
    assert page.status_code == 413 and 'id="error-title">Dữ liệu gửi quá lớn</h1>' in page.text
    assert "hd_session" not in page.headers.get("set-cookie", "") and _audit_kinds(kit) == []
    # Sent in chunks, without a Content-Length, it is cut off as soon as it passes the cap.
    chunks = (b"csrf=x&dem=" + b"a" * MEGABYTE if i == 0 else b"a" * MEGABYTE for i in range(10))
    chunked = kit.client.post("/dang-nhap", content=chunks,
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 413 and "Dữ liệu gửi quá lớn" in chunked.text
    upload = kit.client.post("/dang-nhap", data=login, files={"tep": ("tep.bin", b"\0" * (2 * MEGABYTE))})
    assert upload.status_code == 413 and "Dữ liệu gửi quá lớn" in upload.text
    assert _audit_kinds(kit) == []
    # The same login with a normal body goes through.
    assert kit.client.post("/dang-nhap", data=login, follow_redirects=False).status_code == 303


def test_the_longest_real_form_is_well_under_the_cap(kit: WebKit) -> None:
    assert _login(kit, "canbo", PASSWORDS["canbo"]).status_code == 303
    page = kit.client.get("/tin-sai")
    token = re.search(r'id="add-claim">\s*<input type="hidden" name="csrf" value="([^"]+)"', page.text)
    assert token
    # Every character a three-byte letter: nine bytes each once percent-encoded.
    text = ("Tin đồn vỡ đập thủy điện ở Quảng Ngãi khiến người dân hạ du phải sơ tán gấp ữ " * 30)[:2000]
    added = kit.client.post("/tin-sai", data={"csrf": token.group(1), "text": text, "note": "ữ" * 2000,
                                              "rebuttal_url": "https://baoquangngai.example.vn/bac-bo.html"})
    assert added.status_code == 200 and 'id="message"' in added.text


# -- a client that hangs up while sending its form: Starlette's ClientDisconnect left a traceback ------------


def test_a_client_that_hangs_up_halfway_through_its_form_leaves_no_traceback(kit: WebKit) -> None:
    """Driven as uvicorn drives the app: half the declared body, then the disconnect. Before, the
    exception went up to the server, which logs a traceback for each such request."""
    messages: list[Message] = []
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    for path in ("/dang-nhap", kit.path("phan_bac")):
        messages[:] = [{"type": "http.request", "body": b"csrf=abc&note=", "more_body": True},
                       {"type": "http.disconnect"}]
        scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                        "headers": [(b"host", b"testserver"), (b"content-length", b"1000"),
                                    (b"content-type", b"application/x-www-form-urlencoded")],
                        "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
        anyio.run(kit.client.app, scope, receive, send)
        assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400, path
        sent.clear()
    assert _audit_kinds(kit) == []


# -- checked and sound, pinned so it stays so ----------------------------------------------------------------


class _Markup(HTMLParser):
    """What of a page could run: script-like elements, event attributes, javascript: or data: links."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "img", "iframe", "svg", "object", "embed"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(("javascript:", "data:")):
                self.found.append(f"{tag} {name}={value}")


def _markup(html: str) -> list[str]:
    parser = _Markup()
    parser.feed(html)
    return parser.found


def test_markup_in_any_stored_or_typed_value_stays_text_on_every_page(kit: WebKit) -> None:
    rule = f"quy_tac{HOSTILE}"
    evil = build_article("doc-hai", source=f"nguon{HOSTILE}", title=f"Tiêu đề {HOSTILE}",
                         text=f"Quảng Ngãi {HOSTILE} " * 3)
    evil.fetched.canonical_url = evil.fetched.url = "javascript:alert(1)//"
    evil.province_code = HOSTILE
    evil.labels = {"topics": [{"id": HOSTILE, "evidence": [HOSTILE]}], "tone": {"label": HOSTILE, "evidence": [HOSTILE]},
                   "risk": {"level": HOSTILE, "score": 0.9, "reasons": [{"signal": HOSTILE, "weight": 1.0,
                                                                         "evidence": [HOSTILE]}]}}
    store = kit.open()
    try:
        assign_story(evil, store)
        store.upsert(evil)
        story = evil.story_id or evil.id
        key = flag_key(rule, story, HOSTILE)
        store.enqueue(OutboxMessage(key=key, flag_rule=rule, story_id=story, recipient=HOSTILE, message_id=f"<{key}@x>",
                                    subject="-", text="-", html="-", created_at=T0))
        store.record_action(ResponseAction(flag_key="k", story_id=story, article_id=evil.id, rule=rule,
                                           action="phan_bac", actor=HOSTILE, agency_id=HOSTILE, note=HOSTILE,
                                           rebuttal_url="javascript:alert(1)", client=HOSTILE, at=T0, link_id=None))
        store.append_audit(AuditEntry(at=kit.clock.now, actor=HOSTILE, kind=HOSTILE, target=HOSTILE, client=HOSTILE,
                                      detail={HOSTILE: HOSTILE, "changes": {HOSTILE: {"from": HOSTILE, "to": HOSTILE}}}))
        text = f"Tin đồn {HOSTILE} vỡ đập ở Quảng Ngãi lan truyền trên mạng xã hội nhiều ngày nay"
        store.propose_claim(KnownClaim(text=text, signature=signature(text), rebuttal_url="javascript:alert(1)"),
                            band_keys(signature(text)))
    finally:
        store.close()
    link = kit.signer.links_for(Flag(rule=rule, severity="cao", story_id=story, article_ids=[evil.id], agencies=[],
                                     recipients=[HOSTILE], immediate=True), HOSTILE, evil.id, now=kit.clock.now)
    assert _login(kit, "quantri", PASSWORDS["quantri"]).status_code == 303
    pages = {"/tim-kiem": {"q": "Quảng Ngãi"}, "/nhat-ky": {}, "/canh-bao": {}, "/tin-sai": {}, f"/canh-bao/{key}": {},
             link["phan_bac"].removeprefix(kit.signer.base_url): {}, "/khong-co": {"x": HOSTILE},
             "/dang-nhap": {"next": f'">{HOSTILE}'}, "/nhat-ky?loai=": {"loai": HOSTILE},
             "/tin-sai?q=": {"q": HOSTILE, "trang-thai": HOSTILE},
             "/canh-bao?": {"status": HOSTILE, "since": HOSTILE, "until": HOSTILE},
             "/tim-kiem?": {"q": HOSTILE, "province": HOSTILE, "source": HOSTILE, "since": HOSTILE, "lang": HOSTILE}}
    for path, params in pages.items():
        page = kit.client.get(path.split("?")[0], params=params)
        assert page.status_code < 500 and _markup(page.text) == [], (path, _markup(page.text))
    assert "Tiêu đề &lt;script&gt;" in kit.client.get(f"/canh-bao/{key}").text


def test_no_next_address_leads_off_site_after_login(kit: WebKit) -> None:
    for nxt in ("//evil.example.com", "https://evil.example.com", "/\\evil.example.com", "/\t/evil.example.com",
                "\\\\evil.example.com", " //evil.example.com", "/\r\nSet-Cookie: x=1", "javascript:alert(1)"):
        kit.client.cookies.clear()
        done = _login(kit, "xem", PASSWORDS["xem"], next_=nxt)
        target = urlsplit(done.headers["location"])
        assert done.status_code == 303 and not target.scheme and not target.netloc, (nxt, target)
        assert "\r" not in done.headers["location"] and "\n" not in done.headers["location"]
        assert "x" not in done.cookies


def test_a_password_is_checked_as_typed_spaces_and_all(kit: WebKit) -> None:
    """`haidang users add` stores the password as typed; the login form used to strip it, so a
    password with a space at either end could never log in."""
    assert _login(kit, "cach", PASSWORDS["cach"]).status_code == 303
    kit.client.cookies.clear()
    assert _login(kit, "cach", PASSWORDS["cach"].strip()).status_code == 401


def test_the_address_asked_for_comes_back_whole_after_the_login(kit: WebKit) -> None:
    """A flag key may hold "&" or "#": the login page's `next` must carry the path encoded."""
    asked = kit.client.get("/canh-bao/a&b#c", follow_redirects=False)
    assert asked.status_code == 303
    login = kit.client.get(asked.headers["location"])
    nxt = re.search(r'name="next" value="([^"]+)"', login.text)
    assert nxt is not None and nxt.group(1) == "/canh-bao/a&amp;b"      # the "#c" never reaches a server


# -- a stored address that is not http(s): plain text, never a link (it used to be href="#") ----------------


class _Links(HTMLParser):
    """Every link of a page, (href, text), and the text of elements marked as an unsafe address."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.unsafe: list[str] = []
        self._open: list[str] | None = None
        self._kind = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            self._open, self._kind = [found.get("href") or "", ""], "a"
        elif tag == "span" and "unsafe-url" in (found.get("class") or "").split():
            self._open, self._kind = [""], "span"

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._kind:
            if tag == "a":
                self.links.append((self._open[0], self._open[1]))
            else:
                self.unsafe.append(self._open[0])
            self._open = None


def _links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_an_article_whose_url_is_javascript_is_shown_as_text_not_as_a_link(kit: WebKit) -> None:
    title = "Bài có địa chỉ lạ về Quảng Ngãi"
    evil = build_article("dia-chi-la", title=title, text="Quảng Ngãi: một trang lạ đăng lại tin cũ về mùa mưa bão "
                                                            "năm trước, kèm lời kêu gọi bấm vào đường dẫn.")
    evil.fetched.canonical_url = evil.fetched.final_url = evil.fetched.url = "javascript:alert(1)"
    rule = "tin_sai_nguy_co_cao"
    store = kit.open()
    try:
        assign_story(evil, store)
        store.upsert(evil)
        story = evil.story_id or evil.id
        key = flag_key(rule, story, "a@example.vn")
        store.enqueue(OutboxMessage(key=key, flag_rule=rule, story_id=story, recipient="a@example.vn",
                                    message_id=f"<{key}@x>", subject="-", text="-", html="-", created_at=T0))
        store.record_action(ResponseAction(flag_key="k", story_id=story, article_id=evil.id, rule=rule,
                                           action="phan_bac", actor="canbo", rebuttal_url="data:text/html,x", at=T0))
        text = "Tin đồn vỡ đập ở Quảng Ngãi lan truyền trên mạng xã hội nhiều ngày nay khiến dân lo lắng"
        store.propose_claim(KnownClaim(text=text, signature=signature(text), source_article_id=evil.id,
                                       rebuttal_url="javascript:alert(2)"), band_keys(signature(text)))
    finally:
        store.close()
    link = kit.signer.links_for(Flag(rule=rule, severity="cao", story_id=story, article_ids=[evil.id], agencies=[],
                                     recipients=["a@example.vn"], immediate=True), "a@example.vn", evil.id,
                                now=kit.clock.now)["phan_bac"].removeprefix(kit.signer.base_url)
    assert _login(kit, "quantri", PASSWORDS["quantri"]).status_code == 303
    pages = {"search": kit.client.get("/tim-kiem", params={"q": "địa chỉ lạ"}).text,
             "signed link": kit.client.get(link).text, "flag page": kit.client.get(f"/canh-bao/{key}").text,
             "claims": kit.client.get("/tin-sai").text}
    for name, html in pages.items():
        found = _links(html)
        assert 'href="#"' not in html, name
        assert not [href for href, _ in found.links if not href.startswith(("/", "https://", "http://"))], name
        assert not [shown for _, shown in found.links if title in shown or "alert(1)" in shown or "data:" in shown], name
    assert _links(pages["search"]).unsafe == [title, "javascript:alert(1)"]              # the hit, "Bài gốc"
    assert _links(pages["signed link"]).unsafe == ["javascript:alert(1)", title]         # "Bài gốc", the outlet
    assert _links(pages["flag page"]).unsafe == ["data:text/html,x", "javascript:alert(1)", title]  # + the action
    assert _links(pages["claims"]).unsafe == [title, "javascript:alert(2)"]              # "Từ bài", "Bài phản bác"
    # A good address on the same page is still a link.
    assert (kit.main.fetched.url, kit.main.content.title) in [
        (href, shown) for href, shown in _links(kit.client.get("/tim-kiem", params={"q": "vỡ đập"}).text).links]
