"""The officers' web app: flag pages behind signed links, and behind a login the flag list, search,
reports and the audit log.

Routes (all Vietnamese pages, Jinja2 with autoescape on every template):
  GET  /xu-ly/{token}        the flag's item, reasons, outlets and the form for the link's action
  POST /xu-ly/{token}        records the action once (CSRF token required)
  POST /xu-ly/{token}/nhan   records a label correction (topic, tone, province) as feedback
  GET  /dang-nhap, POST /dang-nhap, POST /dang-xuat   login and logout (both forms carry a CSRF token)
  GET  /tim-kiem             search over the store (viewer and up)
  GET  /bao-cao, POST /bao-cao   the deadline report for chosen days as .docx or .xlsx (officer and up)
  GET  /canh-bao             the flags, open ones first, newest first; filters: handled or not, resurfaced, days
                             (officer and up); a flag whose story resurfaced after being handled says when and where
  GET  /canh-bao/{key}       one flag: its item, reasons, outlets, the actions so far, its resurfacings and the action form
  POST /canh-bao/{key}       records an action as the logged-in user (CSRF token required), however old the flag
  GET  /canh-bao/{key}/van-ban.docx   the correction-request letter for the flag's item
  GET  /nhat-ky              the audit log, by pages, optionally of one kind (administrator)
Any other path, a wrong method, a body over 256 KiB (haidang.web.bodies) or a crash gets a
Vietnamese error page like the app's own. Every response says X-Content-Type-Options: nosniff; a
path with a trailing slash is not redirected (the redirect would be built from the request's Host
header), it is simply not found.
Blocking store calls run in Starlette's thread pool; each opens its own store (a SqliteStore
belongs to the thread that opened it) and closes it. At most REPORT_BUILDS reports are built at once
(haidang.web.slots); a request that finds no slot within REPORT_WAIT_S gets the report form again
with 503 and Retry-After.
"""

from __future__ import annotations

import logging
import re
import secrets
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from alerts.dispatch import reappearances
from alerts.flag import flagged_article
from alerts.links import ExpiredLink, FlagLink, LinkError, LinkSigner
from alerts.render import environment as alerts_environment
from alerts.render import shorten
from crawlers.dedup import band_keys, signature
from haidang.claimlist import (
    ClaimTooShort,
    add_claim,
    claim_page,
    decide_claim,
    valid_rebuttal_url,
)
from haidang.errors import QueryError
from haidang.record import Article
from haidang.reports.correction import correction_request_docx
from haidang.reports.document import write_docx
from haidang.reports.kit import RebuttalKit, rebuttal_kit
from haidang.reports.report import NON_FLAG_RULES, build_report, report_file_name
from haidang.reports.workbook import write_xlsx
from haidang.settings import Settings
from haidang.store.base import (
    ACTION_NAMES,
    SEARCH_WINDOW,
    AuditEntry,
    AuditPage,
    ClaimStatus,
    KnownClaim,
    ResponseAction,
    SearchFilters,
    SearchHit,
    Store,
)
from haidang.store.highlight import CLOSE_MARK, OPEN_MARK
from haidang.textnorm import fold
from haidang.web.bodies import BodyLimit
from haidang.web.cookies import Cookies
from haidang.web.display import LabelNames, audit_row
from haidang.web.flags import FlagEntry, find_flag, list_flags, officer_flag_key
from haidang.web.headers import NoSniff
from haidang.web.query_errors import explain_query_error
from haidang.web.respond import Recorded, link_used, record_correction, record_officer_action, record_response
from haidang.web.sessions import Attempt, LoginThrottle, Session, SessionKeeper, end_sessions, logout_nonce
from haidang.web.slots import BuildSlots, Busy
from haidang.web.wording import (
    AUDIT_KINDS,
    CLAIM_DECIDED,
    CLAIM_STATUSES,
    HTTP_ERRORS,
    LANGUAGE_ALL,
    NOT_ASSESSED,
    ROLES,
    TONES,
    UNKNOWN,
)
from haidang.wording import LANGUAGES, vn_decimal, vn_number
from nlp.gazetteer import Gazetteer

__all__ = ["TEMPLATES_DIR", "create_app"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_FORMATS = {"docx": (DOCX_TYPE, write_docx), "xlsx": (XLSX_TYPE, write_xlsx)}
# The longest period the report page builds: the plans' periods are at most a year; a longer one
# would hold a worker for minutes (`haidang report` on the command line has no such cap).
REPORT_MAX_DAYS = 731
# Reports built at once by one web process: each costs about 4 s of a core and 200 MB (bench.reports,
# two years over 20,000 articles) in the process that also serves the flag pages and, under `haidang
# serve`, runs the scheduler. Two let two officers work at once without starving either on the few
# cores and little memory of an office's server.
REPORT_BUILDS = 2
# Seconds a report request waits for a build slot before the 503 page: a slot frees after one build
# (4-7 s), and the wait ends well before a reverse proxy's usual 60 s timeout, whose own error page
# would tell the officer nothing. Retry-After (seconds) matches the page's "sau ít phút".
REPORT_WAIT_S = 20.0
REPORT_RETRY_AFTER_S = 60

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Characters of the article shown on the flag page: enough to judge it without leaving the page.
PAGE_TEXT_CHARS = 3000
OUTLETS_SHOWN = 30
SEARCH_PAGE_SIZE = 20
# The last search page: a store serves only the first SEARCH_WINDOW results of a query.
SEARCH_MAX_PAGE = SEARCH_WINDOW // SEARCH_PAGE_SIZE
AUDIT_PAGE_SIZE = 100
FLAGS_PAGE_SIZE = 50
CLAIMS_PAGE_SIZE = 50
# The flag list's "tình trạng" filter: query value -> which flags it shows. "resurfaced": those whose
# story came back on a new outlet after being handled (alerts.dispatch), whether answered again or not.
FLAG_STATUSES: dict[str, Callable[[FlagEntry], bool]] = {
    "open": lambda e: not e.handled, "handled": lambda e: e.handled, "resurfaced": lambda e: bool(e.resurfacings)}
# An officer's second identical answer (same action, note and URL) on one flag this soon after the
# first is a double click or a reload of the form, not a new action: it is not recorded again.
REPEAT_WINDOW = timedelta(minutes=10)
# Outbox keys are 32 hex characters (alerts.flag.flag_key); anything much longer is not one.
FLAG_KEY_CHARS = 64
# Page numbers beyond this are read as this one: an offset past SQLite's 64-bit integers would crash.
MAX_PAGE = 10_000
# Dates the forms accept: the archive starts in the 1990s; years like 0001 or 9999 overflow the
# time-zone arithmetic (OverflowError) and are typing mistakes anyway.
FIRST_YEAR, LAST_YEAR = 1990, 2100
NOTE_CHARS = 2000
# A language filter is a code as the store keeps it: "vi", "en", "zh-cn".
_LANG_RE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?")


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _form_text(form: Any, name: str, limit: int = NOTE_CHARS) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _date_problems(form: dict[str, str], since: datetime | None, until: datetime | None,
                   since_label: str) -> list[str]:
    """A sentence for each date filter of `form` ("since", "until") that is not valid; the search
    and flag-list forms say it alike."""
    problems = []
    if form["since"] and since is None:
        problems.append(f"Bộ lọc «{since_label}» không hợp lệ: «{form['since']}» không phải một ngày từ năm "
                        f"{FIRST_YEAR} đến năm {LAST_YEAR}; hãy chọn ngày theo dạng năm-tháng-ngày, "
                        "ví dụ 2026-03-01.")
    if form["until"] and until is None:
        problems.append(f"Bộ lọc «Đến hết ngày» không hợp lệ: «{form['until']}» không phải một ngày từ năm "
                        f"{FIRST_YEAR} đến năm {LAST_YEAR}; hãy chọn ngày theo dạng năm-tháng-ngày, "
                        "ví dụ 2026-03-31.")
    if since is not None and until is not None and until <= since:
        problems.append(f"Bộ lọc ngày không hợp lệ: «Đến hết ngày» phải bằng hoặc sau «{since_label}».")
    return problems


def _day(value: str, tz: ZoneInfo, *, end: bool = False) -> datetime | None:
    """YYYY-MM-DD (a date input) as local midnight; `end` gives the next midnight (the day included)."""
    day = _date(value)
    if day is None:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return start + timedelta(days=1) if end else start


def _date(value: str) -> date | None:
    """A date input's YYYY-MM-DD from FIRST_YEAR to LAST_YEAR, or None when it is not one."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def _page_no(value: str | None) -> int:
    """A `trang` query parameter as a page number from 1 to MAX_PAGE (1 when it is not a number)."""
    try:
        return min(MAX_PAGE, max(1, int(value or "1")))
    except ValueError:
        return 1


def _marked(hit: SearchHit) -> list[tuple[str, bool]]:
    """The snippet cut into (text, highlighted) pieces, its « » marks dropped, so the template can
    wrap matches in <mark> while every piece stays text."""
    if not hit.highlights:
        return [(hit.snippet, False)]
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(hit.highlights):
        if start < pos:
            continue
        before = hit.snippet[pos:start]
        pieces.append((before.removesuffix(OPEN_MARK), False))
        pieces.append((hit.snippet[start:end], True))
        pos = end + len(CLOSE_MARK) if hit.snippet.startswith(CLOSE_MARK, end) else end
    pieces.append((hit.snippet[pos:], False))
    return [(text, mark) for text, mark in pieces if text]


def _action_problems(action: str, note: str, rebuttal: str) -> list[str]:
    """A sentence for each thing an action's form lacks: the rebuttal's URL for "đã phản bác", the
    reason for "không phải tin sai" (both teach the claims list, see haidang.web.respond)."""
    problems = []
    if action == "phan_bac" and not valid_rebuttal_url(rebuttal):
        problems.append("Cần nhập đường dẫn bài phản bác: một địa chỉ bắt đầu bằng http:// hoặc https://, "
                        "không có dấu cách hay xuống dòng.")
    if action != "phan_bac" and rebuttal and not valid_rebuttal_url(rebuttal):
        problems.append("Đường dẫn bài phản bác phải là một địa chỉ bắt đầu bằng http:// hoặc https://, "
                        "không có dấu cách hay xuống dòng.")
    if len(note) > NOTE_CHARS:
        problems.append(f"Ghi chú dài tối đa {vn_number(NOTE_CHARS, 0)} ký tự; hãy rút gọn (không có gì được ghi nhận).")
    if action == "khong_phai_tin_sai" and not note:
        problems.append("Cần ghi lý do xác định đây không phải tin sai.")
    return problems


def _pages(count: int) -> int:
    return _page_count(count, FLAGS_PAGE_SIZE)


def _page_count(count: int, size: int) -> int:
    """Pages of `size` that `count` items fill; 1 when there are none (the empty list is one page)."""
    return max(1, (count + size - 1) // size)


def _signed(weight: Any) -> str | None:
    """A risk signal's weight with its sign, Vietnamese style ("+1,60", "-0,50"); None when missing."""
    if weight is None:
        return None
    text = vn_decimal(weight)
    return f"+{text}" if isinstance(weight, int | float) and weight >= 0 else text


class _WebApp:
    """Holds the settings, signer and clock; one method per route."""

    def __init__(self, settings: Settings, store_factory: Callable[[], Store], signer: LinkSigner,
                 now: Callable[[], datetime], gazetteer: Gazetteer, users_file: Path | None) -> None:
        self.settings = settings
        self.store_factory = store_factory
        self.signer = signer
        self.now = now
        self.tz = ZoneInfo(settings.app.timezone)
        self.env = alerts_environment(TEMPLATES_DIR)
        # Watched, so `haidang users add` or an edit takes effect without a restart (haidang.web.users).
        self.sessions = SessionKeeper(settings.users, signer, hours=settings.app.web.session_hours,
                                      users_file=users_file, agencies=[a.id for a in settings.agencies])
        web = settings.app.web
        self.throttle = LoginThrottle(web.login_limit, timedelta(minutes=web.login_window_minutes),
                                      web.login_checks_in_flight)
        self.throttle_seeded = False
        self.report_builds = BuildSlots(REPORT_BUILDS, REPORT_WAIT_S)
        self.seeding = threading.Lock()
        self.sources = {s.id: s for s in settings.sources}
        self.topic_names = {tid: str(t.get("name", tid)) for tid, t in settings.topics.items()}
        self.agency_names = {a.id: a.name for a in settings.agencies}
        self.names = LabelNames(topics=self.topic_names,
                                provinces={code: gazetteer.province_name(code) for code in gazetteer.codes()},
                                rules={r.name: r.description for r in settings.alert_rules if r.description})
        # The alert emails' date wording ("Thứ tư, 11/03/2026 21:40"), so a page and its email agree.
        common = alerts_environment().get_template("_common.j2").module
        self.when = common.when  # type: ignore[attr-defined]
        # The digest's words for resurfacing emails' delivery ("đã gửi 2 thư, 1 thư đang chờ gửi").
        self.resurfacing_delivery = common.resurfaced  # type: ignore[attr-defined]
        # Served over https when the address the links use is: the reverse proxy terminates TLS there.
        self.cookies = Cookies(secure=settings.app.web.base_url.startswith("https://"))
        # Outbox rules that are not flags about content, as the deadline report skips them: the
        # digest, the reports and the silence rules (source health: no article to act on).
        self.not_flags = set(NON_FLAG_RULES) | {r.name for r in settings.alert_rules if r.silence is not None}

    # -- plumbing ---------------------------------------------------------------------------

    async def with_store(self, fn: Callable[[Store], T]) -> T:
        def run() -> T:
            store = self.store_factory()
            try:
                return fn(store)
            finally:
                store.close()
        return await run_in_threadpool(run)

    def nonce(self, request: Request) -> str:
        """This browser's CSRF nonce: from its cookie, or a new one the response will set."""
        if not hasattr(request.state, "csrf_nonce"):
            request.state.csrf_nonce = request.cookies.get(self.cookies.csrf) or secrets.token_urlsafe(16)
        return str(request.state.csrf_nonce)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        nonce = self.nonce(request)
        self.session_context(request, context)
        context["csrf_nonce"] = nonce
        html = self.env.get_template(name).render(**context)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"      # the token must not leak to linked sites
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"      # error pages skip the middleware
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        if request.cookies.get(self.cookies.csrf) != nonce:
            # Lax (haidang.web.cookies): with Strict each click on an email link would mint a new
            # nonce and void the forms open in other tabs. The token in the form (an HMAC bound to
            # this nonce) is what stops a forged POST.
            self.cookies.set(response, self.cookies.csrf, nonce)
        return response

    def error(self, request: Request, status: int, title: str, message: str, *, home: bool = False,
              flag_path: str | None = None) -> HTMLResponse:
        """An error page; `flag_path` adds a link to that flag's page (shown with the full address)."""
        return self.page(request, "error.html.j2", status, title=title, message=message, home=home,
                         flag_path=flag_path,
                         flag_url=f"{self.signer.base_url}{flag_path}" if flag_path else None)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Errors the framework raises (an unknown path, a wrong method, an unreadable form, a crash)
        as Vietnamese pages like the app's own, instead of Starlette's English plain text."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        title, message = HTTP_ERRORS.get(status) or HTTP_ERRORS[400 if status < 500 else 500]
        response = self.error(request, status, title, message, home=status == 404)
        response.headers.update(getattr(exc, "headers", None) or {})     # e.g. Allow on a 405
        return response

    async def client_gone(self, request: Request, exc: Exception) -> Response:
        """The client closed the connection while still sending its form: nobody reads an answer, and
        a traceback in the log for each such request would let anyone fill the log."""
        _log.debug("client %s left while sending its request", _client(request))
        return Response(status_code=400)

    def session_context(self, request: Request, context: dict[str, Any]) -> None:
        """The logged-in user for the header, with the logout form's CSRF token."""
        session = context.setdefault("session", self.session(request))
        context["logout_csrf"] = self.csrf_token(request, "logout") if session else ""
        context["role_name"] = ROLES.get(session.role, session.role) if session else ""

    def csrf_token(self, request: Request, scope: str) -> str:
        return self.signer.mac("csrf", f"{scope}\x1f{self.nonce(request)}")

    def csrf_ok(self, request: Request, form: Any, scope: str) -> bool:
        nonce = request.cookies.get(self.cookies.csrf)
        sent = form.get("csrf")
        return bool(nonce) and isinstance(sent, str) and self.signer.check_mac("csrf", f"{scope}\x1f{nonce}", sent)

    def session(self, request: Request) -> Session | None:
        """The request's session, as `resolve_session` found it before routing."""
        return getattr(request.state, "session", None)

    async def resolve_session(self, request: Request) -> None:
        """Reads the session cookie once per request: signature, expiry and user first (no store
        needed), then the fingerprint against the user's logout nonce in the store, so a logout
        ends the session in every app process."""
        session = self.sessions.read(request.cookies.get(self.cookies.session), self.now())
        if session is not None:
            name = session.user
            nonce = await self.with_store(lambda s: logout_nonce(s, name))
            if not self.sessions.current(session, nonce):
                session = None
        request.state.session = session

    def link_or_error(self, request: Request) -> FlagLink | HTMLResponse:
        token = request.path_params["token"]
        try:
            return self.signer.verify(token, self.now())
        except ExpiredLink:
            # The signature was checked before the expiry, so the claims are genuine: read them as of
            # the epoch to point the officer at the flag's own page, where a login still records.
            expired = self.signer.verify(token, datetime.fromtimestamp(0, UTC))
            return self.error(request, 410, "Đường dẫn đã hết hạn",
                              f"Đường dẫn xử lý chỉ có hiệu lực {self.signer.link_days} ngày kể từ khi gửi thư. "
                              "Không có thay đổi nào được ghi nhận. Vẫn ghi nhận được xử lý: cán bộ có tài khoản "
                              "Hải Đăng (vai trò cán bộ hoặc quản trị) đăng nhập rồi ghi nhận tại trang cảnh báo "
                              "dưới đây, hoặc chọn cảnh báo trong mục «Cảnh báo»; chưa có tài khoản thì đề nghị "
                              "bộ phận quản trị cấp.",
                              flag_path=f"/canh-bao/{expired.flag_key}")
        except LinkError:
            return self.error(request, 403, "Đường dẫn không hợp lệ",
                              "Đường dẫn này không đúng hoặc đã bị sửa đổi, nên không thể dùng để ghi nhận "
                              "xử lý. Không có thay đổi nào được ghi nhận. Hãy mở lại đường dẫn trong "
                              "thư cảnh báo gốc.")

    def used_error(self, request: Request) -> HTMLResponse:
        return self.error(request, 410, "Đường dẫn đã được sử dụng",
                          "Hành động này đã được ghi nhận trước đó bằng đường dẫn này; mỗi đường dẫn chỉ "
                          "dùng được một lần. Không ghi nhận thêm lần nữa.")

    def agency_of_user(self, stated: str | None, name: str) -> str | None:
        """The agency a logged-in officer acts for: users.yaml's `agency` when it names one of
        agencies.yaml (the file may have changed since start-up), else the agency of that address."""
        if stated and stated in self.agency_names:
            return stated
        if stated:
            _log.warning("user %s: agency %r is not in agencies.yaml; recording the action without it", name, stated)
        return self.agency_of(name)

    def agency_of(self, recipient: str) -> str | None:
        for agency in self.settings.agencies:
            if recipient.lower() in (e.lower() for e in agency.emails):
                return agency.id
        return None

    def local(self, dt: datetime | None) -> str:
        """Local time with its weekday, through the emails' own `when` macro (alerts/templates/_common.j2)."""
        return str(self.when(dt.astimezone(self.tz))) if dt else UNKNOWN

    # -- views of an article ----------------------------------------------------------------

    def describe(self, article: Article) -> dict[str, Any]:
        labels = article.labels or {}
        risk = labels.get("risk") or {}
        tone = labels.get("tone") or {}
        source = self.sources.get(article.fetched.source_id)

        def evidence(value: Any) -> list[str]:
            items = value if isinstance(value, list) else [value] if value not in (None, "") else []
            return [str(i) for i in items]

        return {
            "id": article.id,
            "title": article.content.title,
            "url": article.fetched.canonical_url or article.fetched.url,
            "source": source.name if source else article.fetched.source_id,
            "published": self.local(article.content.published or article.content.first_seen),
            "text": article.content.text[:PAGE_TEXT_CHARS],
            "cut": len(article.content.text) > PAGE_TEXT_CHARS,
            "province": self.names.province(article.province_code) if article.province_code else "",
            "province_code": article.province_code or "",
            "topics": [{"id": t.get("id", "?"), "name": self.topic_names.get(t.get("id", ""), t.get("id", "?")),
                        "evidence": evidence(t.get("evidence"))} for t in labels.get("topics") or []],
            "tone": {"label": self.names.tone(tone.get("label")) if tone.get("label") else NOT_ASSESSED,
                     "evidence": evidence(tone.get("evidence"))},
            "risk": {"level": risk.get("level") or NOT_ASSESSED, "score": risk.get("score"),
                     "reasons": [{"signal": r.get("signal", "?"), "weight": _signed(r.get("weight")),
                                  "evidence": evidence(r.get("evidence"))} for r in risk.get("reasons") or []]},
        }

    def outlets(self, store: Store, article: Article) -> list[dict[str, Any]]:
        """The article and its stored syndicated copies (same story), found by their LSH keys."""
        found = [article]
        text = article.content.text or article.content.title
        if text and article.story_id:
            ids = sorted({c.article_id for c in store.story_candidates(band_keys(signature(text)))
                          if c.story_id == article.story_id and c.article_id != article.id})
            found += [a for a in (store.get(i) for i in ids[:OUTLETS_SHOWN]) if a is not None]
        return [{"source": (self.sources[a.fetched.source_id].name if a.fetched.source_id in self.sources
                            else a.fetched.source_id),
                 "title": a.content.title, "url": a.fetched.canonical_url or a.fetched.url,
                 "published": self.local(a.content.published or a.content.first_seen)} for a in found]

    # -- flag pages -------------------------------------------------------------------------

    async def flag_page(self, request: Request) -> Response:
        link = self.link_or_error(request)
        if isinstance(link, HTMLResponse):
            return link

        def load(store: Store) -> tuple[bool, Article | None, list[dict[str, Any]], RebuttalKit | None]:
            article = store.get(link.article_id)
            return (link_used(store, link), article, self.outlets(store, article) if article else [],
                    self.kit(store, article))

        used, article, outlets, kit = await self.with_store(load)
        if used:
            return self.used_error(request)
        return self.flag_form(request, link, article, outlets, kit=kit)

    def kit(self, store: Store, article: Article | None) -> RebuttalKit | None:
        """The rebuttal kit (own coverage of the topic, earlier rebuttals); never breaks the page."""
        if article is None:
            return None
        try:
            return rebuttal_kit(store, self.settings, article, limit=5)
        except Exception:  # noqa: BLE001 - the officer can act without it; the log says why
            _log.exception("rebuttal kit for %s failed", article.id)
            return None

    async def correction_docx(self, request: Request) -> Response:
        """"Soạn văn bản đề nghị cải chính": the pre-filled .docx letter for the flag's article."""
        link = self.link_or_error(request)
        if isinstance(link, HTMLResponse):
            return link

        def build(store: Store) -> bytes | None:
            article = store.get(link.article_id)
            return self.letter(article) if article else None

        data = await self.with_store(build)
        if data is None:
            return self.error(request, 404, "Không tìm thấy bài viết",
                              "Bài viết của cảnh báo này không còn trong kho dữ liệu.")
        return Response(data, media_type=DOCX_TYPE,
                        headers={"Content-Disposition": 'attachment; filename="de-nghi-cai-chinh.docx"',
                                 "Cache-Control": "no-store"})

    def letter(self, article: Article) -> bytes:
        """The pre-filled correction-request letter (.docx) for `article`."""
        with tempfile.TemporaryDirectory() as tmp:
            return correction_request_docx(article, self.settings, None, Path(tmp) / "letter.docx").read_bytes()

    def flag_form(self, request: Request, link: FlagLink, article: Article | None, outlets: list[dict[str, Any]],
                  *, problems: list[str] | None = None, status: int = 200, message: str | None = None,
                  values: dict[str, str] | None = None, kit: RebuttalKit | None = None) -> HTMLResponse:
        token = request.path_params["token"]
        return self.page(
            request, "flag.html.j2", status, link=link, token=token, action_name=ACTION_NAMES[link.action],
            rule_description=self.names.rules.get(link.rule, ""),
            kit=kit, local=self.local,
            article=self.describe(article) if article else None, outlets=outlets, problems=problems or [],
            message=message, values=values or {}, csrf=self.csrf_token(request, token),
            topics=sorted(self.topic_names.items(), key=lambda item: (fold(item[1]), item[0])), tones=TONES,
            provinces=self.province_choices(),
            expires=self.local(datetime.fromtimestamp(link.expires, UTC)),
        )

    async def signed_form(self, request: Request) -> tuple[FlagLink, Any] | Response:
        """The link and the posted form of a flag page, or the error page when either is not valid."""
        link = self.link_or_error(request)
        if isinstance(link, HTMLResponse):
            return link
        form = await request.form()
        if not self.csrf_ok(request, form, request.path_params["token"]):
            return self.form_expired(request)
        return link, form

    async def flag_submit(self, request: Request) -> Response:
        checked = await self.signed_form(request)
        if isinstance(checked, Response):
            return checked
        link, form = checked
        note = _form_text(form, "note", NOTE_CHARS + 1)   # longer: refused, not cut
        rebuttal = _form_text(form, "rebuttal_url")
        problems = _action_problems(link.action, note, rebuttal)
        client = _client(request)
        now = self.now()

        def record(store: Store) -> tuple[Recorded | None, Article | None, list[dict[str, Any]]]:
            article = store.get(link.article_id)
            if problems:
                return None, article, self.outlets(store, article) if article else []
            recorded = record_response(store, link, article, note=note, rebuttal_url=rebuttal or None,
                                       client=client, now=now, agency_id=self.agency_of(link.recipient))
            return recorded, article, []

        recorded, article, outlets = await self.with_store(record)
        if problems:
            return self.flag_form(request, link, article, outlets, problems=problems, status=422,
                                  values={"note": note, "rebuttal_url": rebuttal})
        if recorded is None:
            return self.used_error(request)
        _log.info("recorded %s on flag %s by %s", link.action, link.flag_key, link.recipient)
        return self.page(request, "done.html.j2", action_name=ACTION_NAMES[link.action], action=link.action,
                         actor=link.recipient, note=note, rebuttal_url=rebuttal, at=self.local(now),
                         action_id=recorded.action_id, conflict=recorded.conflict, flag_url=None)

    async def label_submit(self, request: Request) -> Response:
        """A label correction through the link's page, while the link is unused: as the README says,
        an expired or already-used link changes nothing (410), and the page itself is refused then."""
        checked = await self.signed_form(request)
        if isinstance(checked, Response):
            return checked
        link, form = checked
        wanted = {"topic": _form_text(form, "topic", 64), "tone": _form_text(form, "tone", 16),
                  "province": _form_text(form, "province", 8)}
        note = _form_text(form, "note")
        problems = self.label_problems(wanted)
        client = _client(request)
        now = self.now()

        Corrected = tuple[str | None, Article | None, list[dict[str, Any]], dict[str, Any]]

        def correct(store: Store) -> Corrected | None:
            if link_used(store, link):
                return None
            article = store.get(link.article_id)
            if article is None or problems:
                return None, article, self.outlets(store, article) if article else [], {}
            labels = article.labels or {}
            current = {"topic": [t.get("id") for t in labels.get("topics") or []],
                       "tone": (labels.get("tone") or {}).get("label"), "province": article.province_code}
            changes: dict[str, tuple[Any, Any]] = {}
            for field_name, value in wanted.items():
                old = current[field_name]
                # A topic correction names the article's main topic: a change unless it already leads.
                changed = (not old or old[0] != value) if isinstance(old, list) else value != old
                if value and changed:
                    changes[field_name] = (old, value)
            if not changes:
                return None, article, self.outlets(store, article), {}
            entry = record_correction(store, actor=link.recipient, article=article, changes=changes, note=note,
                                      client=client, now=now, flag_key=link.flag_key)
            return entry, article, [], changes

        corrected = await self.with_store(correct)
        if corrected is None:
            return self.used_error(request)
        entry, article, outlets, changes = corrected
        if article is None:
            return self.error(request, 404, "Không tìm thấy bài viết",
                              "Bài viết của cảnh báo này không còn trong kho dữ liệu; không thể sửa nhãn.")
        if entry is None:
            return self.flag_form(request, link, article, outlets, status=422 if problems else 200,
                                  problems=problems, message=None if problems else "Nhãn không thay đổi.")
        return self.page(request, "corrected.html.j2", link=link, token=request.path_params["token"],
                         changes=[self.names.change(k, old, new) for k, (old, new) in changes.items()],
                         at=self.local(now))

    def label_problems(self, wanted: dict[str, str]) -> list[str]:
        """A sentence for each corrected value the product does not know. Corrections become training
        feedback (`haidang feedback export`, `haidang train --with-feedback`), so an unknown topic,
        tone or province code would teach the models a label that does not exist."""
        problems = []
        if wanted["topic"] and wanted["topic"] not in self.topic_names:
            problems.append(f"Chủ đề «{wanted['topic']}» không có trong danh mục chủ đề (config/topics.yaml): "
                            "hãy chọn một chủ đề trong danh sách.")
        if wanted["tone"] and wanted["tone"] not in TONES:
            *others, last = TONES.values()
            problems.append(f"Sắc thái không hợp lệ: «{wanted['tone']}»; hãy chọn {', '.join(others)} hoặc {last}.")
        if wanted["province"] and wanted["province"] not in self.names.provinces:
            problems.append(f"Mã tỉnh «{wanted['province']}» không phải mã của tỉnh, thành phố nào: hãy chọn "
                            "tỉnh trong danh sách.")
        return problems

    def province_choices(self) -> list[tuple[str, str]]:
        """(code, name) of every current province, by name as Vietnamese readers look them up."""
        return sorted(self.names.provinces.items(), key=lambda item: fold(item[1]))

    # -- login and search -------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self.page(request, "login.html.j2", csrf=self.csrf_token(request, "login"), problem=None,
                         next=request.query_params.get("next", "/tim-kiem"))

    async def login_submit(self, request: Request) -> Response:
        """Counts the attempt before the password check (see haidang.web.sessions.LoginThrottle)."""
        form = await request.form()
        nxt = _form_text(form, "next", 200)
        nxt = nxt if nxt.startswith("/") and not nxt.startswith("//") else "/tim-kiem"
        if not self.csrf_ok(request, form, "login"):
            return self.error(request, 403, "Biểu mẫu không hợp lệ",
                              "Biểu mẫu đăng nhập đã hết hiệu lực. Hãy tải lại trang và đăng nhập lại.")
        # The password as typed: `haidang users add` keeps spaces at its ends, so stripping them here
        # would lock such a user out.
        raw = form.get("password")
        name, password = _form_text(form, "username", 100), raw[:1000] if isinstance(raw, str) else ""
        client, now = _client(request), self.now()
        await self.seed_throttle(now)
        attempt = self.throttle.begin(name, client, now)
        if not isinstance(attempt, Attempt):
            if attempt.audit:
                detail = {"reason": attempt.reason, "window_minutes": self.throttle_minutes,
                          "unlogged": attempt.unlogged or None}
                await self.with_store(lambda s: s.append_audit(AuditEntry(
                    at=now, actor=name or "-", kind="login_blocked", target="web", detail=detail, client=client)))
            return self.login_refused(request, attempt.reason, nxt)
        user = None
        try:
            user = await run_in_threadpool(self.sessions.check_password, name, password)
        finally:
            self.throttle.finish(attempt, ok=user is not None)
        await self.with_store(lambda s: s.append_audit(AuditEntry(
            at=now, actor=name or "-", kind="login" if user else "login_failed", target="web", detail={},
            client=client)))
        if user is None:
            return self.page(request, "login.html.j2", 401, csrf=self.csrf_token(request, "login"),
                             problem="Tên đăng nhập hoặc mật khẩu không đúng.", next=nxt)
        login = user.name
        cookie = self.sessions.issue(user, now, await self.with_store(lambda s: logout_nonce(s, login)))
        response = RedirectResponse(nxt, status_code=303)
        self.cookies.set(response, self.cookies.session, cookie, max_age=self.settings.app.web.session_hours * 3600)
        return response

    async def seed_throttle(self, now: datetime) -> None:
        """Once per process, before its first login check: the failed logins of the last window from
        the audit log (LoginThrottle.seed), so a restart does not reset the counts."""
        if self.throttle_seeded:
            return

        def seed(store: Store) -> None:
            with self.seeding:                  # the first logins may arrive together
                if self.throttle_seeded:
                    return
                failures = store.audit(since=now - self.throttle.window, kind="login_failed")
                # login_submit audits a login without a name as "-"; the throttle counts it as "".
                self.throttle.seed([("" if e.actor == "-" else e.actor, e.client, e.at) for e in failures], now)
                self.throttle_seeded = True

        await self.with_store(seed)

    @property
    def throttle_minutes(self) -> int:
        return int(self.throttle.window.total_seconds() // 60)

    def login_refused(self, request: Request, reason: str, nxt: str) -> HTMLResponse:
        """429: too many failures (from this client, or on this name from this client), or too many
        password checks running at once."""
        if reason == "busy":
            problem = "Hệ thống đang kiểm tra nhiều lượt đăng nhập cùng lúc; hãy thử lại sau vài giây."
        else:
            problem = f"Đăng nhập sai quá nhiều lần; hãy thử lại sau {self.throttle_minutes} phút."
        response = self.page(request, "login.html.j2", 429, csrf=self.csrf_token(request, "login"),
                             problem=problem, next=nxt)
        response.headers["Retry-After"] = "5" if reason == "busy" else str(self.throttle_minutes * 60)
        return response

    async def logout(self, request: Request) -> Response:
        """Only a POST from our own page logs out: another site cannot end an officer's session. It
        draws a new logout nonce, so the cookie stops working even if it was copied or kept."""
        form = await request.form()
        if not self.csrf_ok(request, form, "logout"):
            return self.error(request, 403, "Biểu mẫu không hợp lệ",
                              "Yêu cầu đăng xuất không gửi từ trang của Hải Đăng hoặc đã hết hiệu lực. "
                              "Hãy tải lại trang rồi bấm Đăng xuất.")
        session = self.session(request)
        if session is not None:
            now, client = self.now(), _client(request)

            def end(store: Store) -> None:
                end_sessions(store, session.user, now)
                store.append_audit(AuditEntry(at=now, actor=session.user, kind="logout", target="web", detail={},
                                              client=client))
            await self.with_store(end)
        response = RedirectResponse("/dang-nhap", status_code=303)
        self.cookies.delete(response, self.cookies.session)
        return response

    def require(self, request: Request, role: str) -> Session | Response:
        session = self.session(request)
        if session is None:
            # Encoded: a flag key may hold "&", which would otherwise end `next` early.
            return RedirectResponse(f"/dang-nhap?next={quote(request.url.path, safe='/')}", status_code=303)
        if not session.allows(role):
            return self.error(request, 403, "Không có quyền truy cập",
                              "Tài khoản của bạn không có quyền xem trang này.")
        return session

    async def search_page(self, request: Request) -> Response:
        session = self.require(request, "viewer")
        if not isinstance(session, Session):
            return session
        params = request.query_params
        q = params.get("q", "").strip()[:500]
        form = {k: params.get(k, "").strip()[:64] for k in ("province", "source", "since", "until", "lang")}
        form["lang"] = form["lang"].lower()         # the store keeps codes in lower case ("zh-cn")
        page_no = min(_page_no(params.get("trang")), SEARCH_MAX_PAGE)
        filters, problems = self.search_filters(form)
        if problems:
            return self.search_form(request, 400, q=q, form=form, problems=problems)
        if not q:
            return self.search_form(request, q=q, form=form)

        def run(store: Store) -> tuple[int, list[dict[str, Any]]]:
            result = store.search(q, filters, limit=SEARCH_PAGE_SIZE, offset=(page_no - 1) * SEARCH_PAGE_SIZE)
            hits = []
            for hit in result.hits:
                article = store.get(hit.id)
                hits.append({"hit": hit, "pieces": _marked(hit), "published": self.local(hit.published),
                             "source": self.sources[hit.source_id].name if hit.source_id in self.sources
                             else hit.source_id,
                             "view": self.describe(article) if article else None})
            return result.total, hits

        try:
            total, hits = await self.with_store(run)
        except QueryError as exc:
            return self.search_form(request, 400, q=q, form=form, query_problem=explain_query_error(exc))
        pages = min((total + SEARCH_PAGE_SIZE - 1) // SEARCH_PAGE_SIZE, SEARCH_MAX_PAGE)
        return self.search_form(request, q=q, form=form, hits=hits, total=total, page_no=page_no, pages=pages)

    def search_form(self, request: Request, status: int = 200, *, q: str, form: dict[str, str],
                    hits: list[dict[str, Any]] | None = None, total: int | None = None, page_no: int = 1,
                    pages: int = 0, problems: list[str] | None = None, query_problem: str | None = None,
                    ) -> HTMLResponse:
        return self.page(request, "search.html.j2", status, q=q, form=form, hits=hits or [], total=total,
                         page_no=page_no, pages=pages, problems=problems or [], query_problem=query_problem,
                         sources=sorted((s.id, s.name) for s in self.settings.sources),
                         provinces=self.province_choices(), languages=self.language_choices(form["lang"]),
                         language_all=LANGUAGE_ALL)

    def language_choices(self, chosen: str) -> list[tuple[str, str]]:
        """(code, name) of the languages the product names (haidang.wording.LANGUAGES), by name; a
        name two codes share ("tiếng Trung": zh, zh-cn) says its code, and a well-formed code typed
        into the address that the list lacks is kept as a choice, so the form shows what it filters."""
        codes = dict(LANGUAGES)
        if chosen and chosen not in codes and _LANG_RE.fullmatch(chosen):
            codes[chosen] = chosen
        shared = Counter(codes.values())
        named = [(code, f"{name} ({code})" if shared[name] > 1 else name) for code, name in codes.items()]
        return sorted(named, key=lambda item: (fold(item[1]), item[0]))

    def search_filters(self, form: dict[str, str]) -> tuple[SearchFilters, list[str]]:
        """The filters of the search form, and a sentence for each one that is not valid: a wrong
        filter matches nothing, and "0 kết quả" would read as "nothing was written about it"."""
        since, until = _day(form["since"], self.tz), _day(form["until"], self.tz, end=True)
        problems = []
        if form["province"] and form["province"] not in self.names.provinces:
            problems.append(f"Bộ lọc tỉnh không hợp lệ: «{form['province']}» không phải mã của tỉnh, thành phố "
                            "nào; hãy chọn tỉnh trong danh sách, hoặc để trống để tìm ở mọi tỉnh.")
        problems += _date_problems(form, since, until, "Từ ngày")
        if form["lang"] and not _LANG_RE.fullmatch(form["lang"]):
            problems.append(f"Bộ lọc ngôn ngữ không hợp lệ: «{form['lang']}» không phải mã ngôn ngữ; hãy chọn "
                            f"ngôn ngữ trong danh sách, hoặc chọn «{LANGUAGE_ALL}».")
        return SearchFilters(province=form["province"] or None, source=form["source"] or None, since=since,
                             until=until, lang=form["lang"] or None), problems

    # -- flags for logged-in officers ------------------------------------------------------------
    # The signed links expire (web.link_days) and live in one mailbox; these pages let an officer
    # or administrator record an action on any flag, however old, without the email.

    async def flags_page(self, request: Request) -> Response:
        """The flags, open ones (and those whose story resurfaced since its last action) first, then newest
        first, FLAGS_PAGE_SIZE a page (`trang`); `status` ("open", "handled", "resurfaced") and
        `since`/`until` (local days the flag was raised, both included) filter."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        params = request.query_params
        form = {k: params.get(k, "").strip()[:64] for k in ("status", "since", "until")}
        since, until = _day(form["since"], self.tz), _day(form["until"], self.tz, end=True)
        problems = []
        if form["status"] and form["status"] not in FLAG_STATUSES:
            problems.append(f"Bộ lọc tình trạng không hợp lệ: «{form['status']}»; hãy chọn trong danh sách.")
        problems += _date_problems(form, since, until, "Phát từ ngày")
        if problems:
            return self.page(request, "flag_list.html.j2", 400, form=form, problems=problems, rows=[], total=0,
                             open_total=0, page_no=1, pages=1)
        page_no = _page_no(params.get("trang"))
        wanted = FLAG_STATUSES.get(form["status"])

        def load(store: Store) -> tuple[list[FlagEntry], list[dict[str, Any]], int]:
            chosen = [e for e in list_flags(store, self.not_flags)
                      if (wanted is None or wanted(e))
                      and (since is None or e.flagged_at >= since) and (until is None or e.flagged_at < until)]
            shown = chosen[(min(page_no, _pages(len(chosen))) - 1) * FLAGS_PAGE_SIZE:][:FLAGS_PAGE_SIZE]
            rows = [self.flag_row(e, flagged_article(store, e.story_id, [e.article_id]), self.resurfaced(store, e))
                    for e in shown]
            return chosen, rows, len(chosen)

        chosen, rows, total = await self.with_store(load)
        pages = _pages(total)
        return self.page(request, "flag_list.html.j2", form=form, problems=[], rows=rows, total=total,
                         open_total=sum(1 for e in chosen if not e.handled),
                         awaiting_total=sum(1 for e in chosen if e.awaiting), page_no=min(page_no, pages),
                         pages=pages)

    def flag_row(self, entry: FlagEntry, article: Article | None, again: list[dict[str, Any]]) -> dict[str, Any]:
        """One line of the flag list: when, what (the story's first article), which rule, what was done,
        and when and where the story came back after being handled (`again`, see `resurfaced`)."""
        source = self.sources.get(article.fetched.source_id) if article else None
        return {"key": entry.key, "flagged_at": self.local(entry.flagged_at), "handled": entry.handled,
                "title": article.content.title if article else "", "rule": entry.rule,
                "rule_name": self.names.rules.get(entry.rule) or entry.rule,
                "source": (source.name if source else article.fetched.source_id) if article else "",
                "recipients": len(entry.recipients),
                "actions": list(dict.fromkeys(ACTION_NAMES.get(a.action, a.action) for a in entry.actions)),
                "again": again, "awaiting": entry.awaiting}

    def resurfaced(self, store: Store, entry: FlagEntry) -> list[dict[str, Any]]:
        """The flag's resurfacings as the pages show them, earliest first: when the story reappeared,
        on which outlet (its article), after which action, and the delivery of those emails."""
        rows = []
        for r in reappearances(store, entry.resurfacings):
            source = self.sources.get(r.source_id) if r.source_id else None
            last = r.actions[-1] if r.actions else None
            after = ""
            if last is not None:
                agency = self.agency_names.get(last.agency_id, last.agency_id) if last.agency_id else ""
                after = (ACTION_NAMES.get(last.action, last.action) + (f" – {agency}" if agency else "")
                         + f", {self.local(last.at)}")
            rows.append({
                "at": self.local(r.at),
                "outlet": (source.name if source else r.source_id) if r.source_id else UNKNOWN,
                "title": r.article.content.title if r.article else "",
                "url": (r.article.fetched.canonical_url or r.article.fetched.url) if r.article else "",
                "after": after,
                "delivery": str(self.resurfacing_delivery(SimpleNamespace(resurfaced=r.statuses))),
            })
        return rows

    def flag_key_or_error(self, request: Request) -> str | HTMLResponse:
        key = request.path_params["key"]
        if len(key) > FLAG_KEY_CHARS:
            return self.flag_missing(request)
        return str(key)

    def flag_missing(self, request: Request) -> HTMLResponse:
        return self.error(request, 404, "Không tìm thấy cảnh báo",
                          "Không có cảnh báo nào với địa chỉ này. Hãy chọn cảnh báo trong mục «Cảnh báo».",
                          flag_path="/canh-bao")

    async def flag_view(self, request: Request) -> Response:
        """One flag for a logged-in officer: the item as its signed-link page shows it, the actions
        recorded so far, and the form for another."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        key = self.flag_key_or_error(request)
        if isinstance(key, HTMLResponse):
            return key
        loaded = await self.with_store(lambda s: self.load_flag(s, key))
        if loaded is None:
            return self.flag_missing(request)
        return self.flag_view_form(request, key, *loaded)

    def load_flag(self, store: Store, key: str) -> tuple[FlagEntry, Article | None, list[dict[str, Any]],
                                                           RebuttalKit | None, list[dict[str, Any]]] | None:
        """The flag whose message has `key`, the article its emails described (the copy that matched
        the rule, else the story's founder: alerts.flag.flagged_article, as the reminders find it), the
        outlets, the rebuttal kit and its resurfacings."""
        entry = find_flag(store, key, self.not_flags)
        if entry is None:
            return None
        article = flagged_article(store, entry.story_id, [entry.article_id])
        return (entry, article, self.outlets(store, article) if article else [], self.kit(store, article),
                self.resurfaced(store, entry))

    def flag_view_form(self, request: Request, key: str, entry: FlagEntry, article: Article | None,
                       outlets: list[dict[str, Any]], kit: RebuttalKit | None, again: list[dict[str, Any]], *,
                       status: int = 200, problems: list[str] | None = None, message: str | None = None,
                       values: dict[str, str] | None = None) -> HTMLResponse:
        return self.page(
            request, "flag_view.html.j2", status, key=key, entry=entry, again=again,
            rule_description=self.names.rules.get(entry.rule, ""), flagged_at=self.local(entry.flagged_at),
            actions=[{"at": self.local(a.at), "name": ACTION_NAMES.get(a.action, a.action), "actor": a.actor,
                      "agency": self.agency_names.get(a.agency_id, a.agency_id) if a.agency_id else "",
                      "note": a.note or "", "rebuttal_url": a.rebuttal_url or "",
                      "rule": self.names.rules.get(a.rule) or a.rule, "other_rule": a.rule != entry.rule}
                     for a in entry.actions],
            article=self.describe(article) if article else None, outlets=outlets, kit=kit, local=self.local,
            action_names=ACTION_NAMES, problems=problems or [], message=message, values=values or {},
            csrf=self.csrf_token(request, f"canh-bao:{key}"))

    async def flag_view_submit(self, request: Request) -> Response:
        """Records the chosen action as the logged-in user: flag key as the user's own
        (haidang.web.flags.officer_flag_key), agency from users.yaml, else the agency whose addresses
        include the user's name (agency_of_user), no link id. The store appends the "action" audit entry with it."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        key = self.flag_key_or_error(request)
        if isinstance(key, HTMLResponse):
            return key
        form = await request.form()
        if not self.csrf_ok(request, form, f"canh-bao:{key}"):
            return self.form_expired(request)
        action = _form_text(form, "action", 32)
        note = _form_text(form, "note", NOTE_CHARS + 1)   # longer: refused, not cut
        rebuttal = _form_text(form, "rebuttal_url")
        if action not in ACTION_NAMES:
            problems = ["Hãy chọn hành động đã thực hiện trong danh sách."]
        else:
            problems = _action_problems(action, note, rebuttal)
        user, client, now = session.user, _client(request), self.now()
        account = self.sessions.user(user)
        agency_id = self.agency_of_user(account.agency if account else None, user)

        Loaded = tuple[FlagEntry, Article | None, list[dict[str, Any]], RebuttalKit | None, list[dict[str, Any]]]

        def record(store: Store) -> tuple[Loaded, Recorded | None] | None:
            loaded = self.load_flag(store, key)
            if loaded is None or problems:
                return None if loaded is None else (loaded, None)
            entry, article = loaded[0], loaded[1]
            if any(a.actor.lower() == user.lower() and a.action == action and (a.note or "") == note
                   and (a.rebuttal_url or "") == rebuttal and timedelta(0) <= now - a.at < REPEAT_WINDOW
                   for a in entry.actions):
                return loaded, None
            recorded = record_officer_action(store, ResponseAction(
                flag_key=officer_flag_key(entry, user), story_id=entry.story_id,
                article_id=article.id if article else entry.story_id, rule=entry.rule,
                action=action, actor=user, agency_id=agency_id, note=note or None,  # type: ignore[arg-type]
                rebuttal_url=rebuttal or None, client=client, at=now, link_id=None), article)
            return loaded, recorded

        done = await self.with_store(record)
        if done is None:
            return self.flag_missing(request)
        (entry, article, outlets, kit, again), recorded = done
        values = {"action": action, "note": note, "rebuttal_url": rebuttal}
        if problems:
            return self.flag_view_form(request, key, entry, article, outlets, kit, again, status=422,
                                       problems=problems, values=values)
        if recorded is None:
            return self.flag_view_form(request, key, entry, article, outlets, kit, again, values=values, message=(
                f"Hành động «{ACTION_NAMES[action]}» với cùng nội dung vừa được bạn ghi nhận cho cảnh báo này "
                "(xem danh sách bên dưới); không ghi nhận thêm lần nữa."))
        _log.info("recorded %s on flag %s/%s by logged-in %s", action, entry.rule, entry.story_id, user)
        return self.page(request, "done.html.j2", action_name=ACTION_NAMES[action], action=action, actor=user,
                         note=note, rebuttal_url=rebuttal, at=self.local(now), action_id=recorded.action_id,
                         conflict=recorded.conflict, flag_url=f"/canh-bao/{key}")

    async def flag_view_docx(self, request: Request) -> Response:
        """The correction-request letter for the flag's item, as the signed-link page offers it."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        key = self.flag_key_or_error(request)
        if isinstance(key, HTMLResponse):
            return key

        def build(store: Store) -> bytes | None:
            entry = find_flag(store, key, self.not_flags)
            article = flagged_article(store, entry.story_id, [entry.article_id]) if entry else None
            return self.letter(article) if article else None

        data = await self.with_store(build)
        if data is None:
            return self.flag_missing(request)
        return Response(data, media_type=DOCX_TYPE,
                        headers={"Content-Disposition": 'attachment; filename="de-nghi-cai-chinh.docx"',
                                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    # -- deadline reports -----------------------------------------------------------------------

    def report_form(self, request: Request, status: int = 200, *, values: dict[str, str] | None = None,
                    problems: list[str] | None = None) -> HTMLResponse:
        if values is None:
            today = self.now().astimezone(self.tz).date()
            values = {"from": today.replace(day=1).isoformat(), "to": today.isoformat(), "format": "docx"}
        return self.page(request, "report.html.j2", status, csrf=self.csrf_token(request, "report"),
                         values=values, problems=problems or [], max_days=REPORT_MAX_DAYS)

    async def report_page(self, request: Request) -> Response:
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        return self.report_form(request)

    async def report_submit(self, request: Request) -> Response:
        """Builds the report for the chosen days in a temporary folder and sends it as a download."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        form = await request.form()
        if not self.csrf_ok(request, form, "report"):
            return self.error(request, 403, "Biểu mẫu không hợp lệ",
                              "Biểu mẫu báo cáo đã hết hiệu lực hoặc không gửi từ trang này. "
                              "Hãy tải lại trang và gửi lại.")
        values = {"from": _form_text(form, "from", 32), "to": _form_text(form, "to", 32),
                  "format": _form_text(form, "format", 8)}
        start, end = _date(values["from"]), _date(values["to"])
        problems = []
        if start is None:
            problems.append(f"Từ ngày không hợp lệ: hãy chọn một ngày từ năm {FIRST_YEAR} đến năm {LAST_YEAR} "
                            "theo dạng năm-tháng-ngày, ví dụ 2026-01-01.")
        if end is None:
            problems.append(f"Đến ngày không hợp lệ: hãy chọn một ngày từ năm {FIRST_YEAR} đến năm {LAST_YEAR} "
                            "theo dạng năm-tháng-ngày, ví dụ 2026-06-15.")
        if start is not None and end is not None:
            if end < start:
                problems.append("Đến ngày phải bằng hoặc sau từ ngày.")
            elif (end - start).days + 1 > REPORT_MAX_DAYS:
                problems.append(f"Kỳ báo cáo dài tối đa {REPORT_MAX_DAYS} ngày; với kỳ dài hơn hãy dùng lệnh "
                                "haidang report.")
        if values["format"] not in REPORT_FORMATS:
            problems.append("Định dạng phải là docx (Word) hoặc xlsx (Excel).")
        if problems or start is None or end is None:
            return self.report_form(request, 422, values=values, problems=problems)
        media_type, writer = REPORT_FORMATS[values["format"]]
        now, client = self.now(), _client(request)

        def build() -> tuple[str, bytes]:
            store = self.store_factory()
            try:
                report = build_report(store, self.settings, start, end, now=now)
                store.append_audit(AuditEntry(at=now, actor=session.user, kind="report", target="web",
                                              client=client, detail={"from": start.isoformat(), "to": end.isoformat(),
                                                                     "format": values["format"]}))
            finally:
                store.close()
            name = report_file_name(report, values["format"])
            with tempfile.TemporaryDirectory() as tmp:
                return name, writer(report, Path(tmp) / name).read_bytes()

        # Building and writing take one build slot together: the report is held in memory until written.
        built = await self.report_builds.run(build)
        if isinstance(built, Busy):
            _log.info("report %s..%s for %s refused: %d builds already running", start, end, session.user,
                      REPORT_BUILDS)
            busy = ("Hệ thống đang lập các báo cáo khác nên chưa lập được báo cáo này. Vui lòng bấm «Tạo báo cáo» "
                    "lại sau ít phút; các ngày đã chọn vẫn được giữ.")
            response = self.report_form(request, 503, values=values, problems=[busy])
            response.headers["Retry-After"] = str(REPORT_RETRY_AFTER_S)
            return response
        name, body = built
        return Response(body, media_type=media_type, headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    async def audit_page(self, request: Request) -> Response:
        """The last 30 days of the log, newest first, AUDIT_PAGE_SIZE entries a page (`trang`; past the
        end: the last page), of one kind when `loai` names one. The store reads only the page shown
        (Store.audit_page), with the total and the kinds present for the filter's list."""
        session = self.require(request, "administrator")
        if not isinstance(session, Session):
            return session
        kind = request.query_params.get("loai", "").strip()[:64]
        wanted = _page_no(request.query_params.get("trang"))
        since = self.now() - timedelta(days=30)

        def load(store: Store) -> tuple[int, AuditPage]:
            found = store.audit_page(since=since, kind=kind or None, limit=AUDIT_PAGE_SIZE,
                                     offset=(wanted - 1) * AUDIT_PAGE_SIZE)
            last = _page_count(found.total, AUDIT_PAGE_SIZE)
            if wanted <= last:
                return wanted, found
            return last, store.audit_page(since=since, kind=kind or None, limit=AUDIT_PAGE_SIZE,
                                          offset=(last - 1) * AUDIT_PAGE_SIZE)

        page_no, found = await self.with_store(load)
        kinds = sorted(set(AUDIT_KINDS) | set(found.kinds), key=lambda k: fold(AUDIT_KINDS.get(k) or k))
        return self.page(request, "audit.html.j2", rows=[audit_row(e, self.names, self.local) for e in found.entries],
                         total=found.total, page_no=page_no, pages=_page_count(found.total, AUDIT_PAGE_SIZE),
                         kind=kind, kinds=[(k, AUDIT_KINDS.get(k, k)) for k in kinds])

    # -- the known-false-claims list -------------------------------------------------------------

    async def claims_page(self, request: Request) -> Response:
        """"Tin sai đã biết": the claims of one status (`trang-thai`, proposed by default), newest first,
        CLAIMS_PAGE_SIZE a page (`trang`), narrowed to those holding the words of `q` when given."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        wanted = request.query_params.get("trang-thai", "")
        status: ClaimStatus = wanted if wanted in ("confirmed", "dismissed") else "proposed"  # type: ignore[assignment]
        return await self.claims_list(request, session, status, query=request.query_params.get("q", "")[:200],
                                      page_no=_page_no(request.query_params.get("trang")))

    async def claims_list(self, request: Request, session: Session, status: ClaimStatus, *, query: str = "",
                          page_no: int = 1, code: int = 200, message: str | None = None,
                          problems: list[str] | None = None, values: dict[str, str] | None = None) -> HTMLResponse:
        query = " ".join(query.split())
        found = await self.with_store(lambda s: claim_page(s, status, query=query, page=page_no, size=CLAIMS_PAGE_SIZE))
        return self.page(request, "claims.html.j2", code, current=status, statuses=CLAIM_STATUSES,
                         counts=found.counts, total=found.total, q=query, page_no=found.page,
                         pages=max(1, (found.total + CLAIMS_PAGE_SIZE - 1) // CLAIMS_PAGE_SIZE),
                         rows=[{"row": r, "created": self.local(r.claim.created_at) if r.claim.created_at else "",
                                "decided_at": self.local(r.decided_at) if r.decided_at else "",
                                "csrf": self.csrf_token(request, f"tin-sai:{r.claim.id}"),
                                "can_decide": r.claim.status == "proposed" or session.allows("administrator")}
                               for r in found.rows],
                         add_csrf=self.csrf_token(request, "tin-sai:them"), message=message,
                         problems=problems or [], values=values or {})

    async def claim_decide(self, request: Request) -> Response:
        """Confirm or dismiss one claim as the logged-in user. A proposed claim is any officer's to
        decide; turning a decided one around is an administrator's (the flag pages' rule, too)."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        claim_id = request.path_params["claim_id"][:64]
        form = await request.form()
        if not self.csrf_ok(request, form, f"tin-sai:{claim_id}"):
            return self.form_expired(request)
        decision = _form_text(form, "decision", 16)
        note = _form_text(form, "note", NOTE_CHARS + 1)
        if decision not in ("confirmed", "dismissed") or len(note) > NOTE_CHARS:
            return self.error(request, 422, "Quyết định không hợp lệ",
                              f"Hãy chọn xác nhận hoặc không phải tin sai; ghi chú tối đa {NOTE_CHARS} ký tự.")
        user, client, now = session.user, _client(request), self.now()
        admin = session.allows("administrator")

        def decide(store: Store) -> KnownClaim | str:
            claim = store.get_claim(claim_id)
            if claim is None:
                return "missing"
            if claim.status == decision:
                return claim
            if claim.status != "proposed" and not admin:
                return "forbidden"
            decide_claim(store, claim_id, decision, user, now=now, client=client,  # type: ignore[arg-type]
                         note=note or None, via="web")
            return claim

        done = await self.with_store(decide)
        if done == "missing":
            return self.error(request, 404, "Không tìm thấy tin", "Không có tin nào với mã này trong danh sách.")
        if done == "forbidden":
            return self.error(request, 403, "Không có quyền thay đổi",
                              "Tin này đã có người quyết định; chỉ quản trị viên được thay đổi quyết định đó.")
        assert isinstance(done, KnownClaim)
        _log.info("claim %s: %s -> %s by %s", claim_id, done.status, decision, user)
        return await self.claims_list(request, session, done.status,
                                      message=f"{CLAIM_DECIDED[decision]}: «{shorten(done.text, 120)}».")

    async def claim_add(self, request: Request) -> Response:
        """Put a claim known to be false on the list, confirmed, with its rebuttal link."""
        session = self.require(request, "officer")
        if not isinstance(session, Session):
            return session
        form = await request.form()
        if not self.csrf_ok(request, form, "tin-sai:them"):
            return self.form_expired(request)
        values = {"text": _form_text(form, "text", 2001), "rebuttal_url": _form_text(form, "rebuttal_url"),
                  "note": _form_text(form, "note", NOTE_CHARS + 1)}
        problems = []
        if not values["text"] or len(values["text"]) > 2000:
            problems.append("Hãy nhập nội dung tin sai (tối đa 2.000 ký tự), đúng như nó đang lan truyền.")
        if not valid_rebuttal_url(values["rebuttal_url"]):
            problems.append("Đường dẫn bài phản bác phải là một địa chỉ http:// hoặc https:// hợp lệ.")
        if len(values["note"]) > NOTE_CHARS:
            problems.append(f"Ghi chú tối đa {NOTE_CHARS} ký tự.")
        user, client, now = session.user, _client(request), self.now()

        def add(store: Store) -> str | None:
            try:
                return add_claim(store, values["text"], values["rebuttal_url"], user, now=now, client=client,
                                 note=values["note"] or None, via="web")
            except ClaimTooShort:
                return None

        claim_id = None if problems else await self.with_store(add)
        if claim_id is None and not problems:
            problems.append("Nội dung quá ngắn để so khớp an toàn; hãy nhập cả câu như tin đang lan truyền.")
        if problems:
            return await self.claims_list(request, session, "confirmed", code=422, problems=problems, values=values)
        return await self.claims_list(request, session, "confirmed",
                                      message=f"Đã thêm vào danh sách tin sai đã xác nhận: «{shorten(values['text'], 120)}».")

    def form_expired(self, request: Request) -> HTMLResponse:
        return self.error(request, 403, "Biểu mẫu không hợp lệ",
                          "Biểu mẫu đã hết hiệu lực hoặc không gửi từ trang này. Không có thay đổi nào "
                          "được ghi nhận. Hãy tải lại trang và gửi lại.")

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/tim-kiem", status_code=303)


class _ResolveSession:
    """ASGI middleware: resolves the session before routing, so every page (error pages too) shows
    the login only while it is still valid."""

    def __init__(self, app: ASGIApp, view: _WebApp) -> None:
        self.app, self.view = app, view

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.view.resolve_session(Request(scope))
        await self.app(scope, receive, send)


def create_app(settings: Settings, store_factory: Callable[[], Store], secret: str, *,
               now: Callable[[], datetime] | None = None, gazetteer: Gazetteer | None = None,
               users_file: Path | None = None) -> Starlette:
    """The web app. `secret` (from the environment, see web.secret_env) signs links, forms and
    sessions; `store_factory` opens a store per request; `now` is the clock (tests move it);
    `gazetteer` names the provinces (the shipped table unless given; landmarks are not needed);
    `users_file` is the users.yaml that settings.users came from, read again whenever it changes
    (default: users.yaml in the settings' config directory)."""
    web = settings.app.web
    signer = LinkSigner(secret, web.base_url, link_days=web.link_days)
    view = _WebApp(settings, store_factory, signer, now or (lambda: datetime.now(UTC)),
                   gazetteer or Gazetteer.load(), users_file or Path(settings.config_dir) / "users.yaml")
    routes = [
        Route("/", view.home),
        Route("/xu-ly/{token}", view.flag_page, methods=["GET"]),
        Route("/xu-ly/{token}", view.flag_submit, methods=["POST"]),
        Route("/xu-ly/{token}/nhan", view.label_submit, methods=["POST"]),
        Route("/xu-ly/{token}/van-ban.docx", view.correction_docx, methods=["GET"]),
        Route("/dang-nhap", view.login_page, methods=["GET"]),
        Route("/dang-nhap", view.login_submit, methods=["POST"]),
        Route("/dang-xuat", view.logout, methods=["POST"]),
        Route("/tim-kiem", view.search_page, methods=["GET"]),
        Route("/nhat-ky", view.audit_page, methods=["GET"]),
        Route("/bao-cao", view.report_page, methods=["GET"]),
        Route("/bao-cao", view.report_submit, methods=["POST"]),
        Route("/canh-bao", view.flags_page, methods=["GET"]),
        Route("/tin-sai", view.claims_page, methods=["GET"]),
        Route("/tin-sai", view.claim_add, methods=["POST"]),
        Route("/tin-sai/{claim_id}", view.claim_decide, methods=["POST"]),
        Route("/canh-bao/{key}", view.flag_view, methods=["GET"]),
        Route("/canh-bao/{key}", view.flag_view_submit, methods=["POST"]),
        Route("/canh-bao/{key}/van-ban.docx", view.flag_view_docx, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: view.http_error, 500: view.http_error,
                                                       ClientDisconnect: view.client_gone},
                    middleware=[Middleware(NoSniff), Middleware(BodyLimit), Middleware(_ResolveSession, view=view)])
    # Starlette would answer "/tim-kiem/" with a redirect built from the Host header, which a
    # client chooses; without the redirect such a path is simply not found.
    app.router.redirect_slashes = False
    app.state.signer = signer
    app.state.report_builds = view.report_builds     # tests hold its slots
    return app
