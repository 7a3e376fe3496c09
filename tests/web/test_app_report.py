"""The report page: officers download the deadline report; viewers and forged forms are refused;
the figures are the store's; hostile article text stays text in the document."""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import date, timedelta

from docx import Document
from openpyxl import load_workbook

from haidang.record import Article, Content, Fetched, Match
from haidang.reports.report import period_bounds
from haidang.reports.wording import HEADINGS, SHEETS, SUMMARY
from haidang.store.base import OutboxMessage, SearchFilters

from .conftest import HOSTILE, PASSWORDS, RECIPIENT, T0, WebKit

FROM, TO = date(2026, 3, 1), date(2026, 3, 31)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _csrf(html: str, form_id: str) -> str:
    found = re.search(rf'id="{form_id}">\s*<input type="hidden" name="csrf" value="([^"]+)"', html)
    assert found, f"no CSRF token in #{form_id}"
    return found.group(1)


def _login(kit: WebKit, name: str) -> None:
    page = kit.client.get("/dang-nhap")
    done = kit.client.post("/dang-nhap", data={"csrf": _csrf(page.text, "login-form"), "username": name,
                                               "password": PASSWORDS[name], "next": "/tim-kiem"},
                           follow_redirects=False)
    assert done.status_code == 303


def _ask(kit: WebKit, **fields: str):
    token = _csrf(kit.client.get("/bao-cao").text, "report-form")
    data = {"csrf": token, "from": FROM.isoformat(), "to": TO.isoformat(), "format": "docx"} | fields
    return kit.client.post("/bao-cao", data=data)


def _foreign_article(title: str) -> Article:
    url = "https://bbc-vietnamese.example.vn/bai-nuoc-ngoai.html"
    return Article(id="bbc-bai-nuoc-ngoai", fetched=Fetched(source_id="bbc-vietnamese", url=url, final_url=url,
                                                           canonical_url=url),
                   content=Content(title=title, text="Nội dung về Quảng Ngãi.", language="vi",
                                   published=T0 + timedelta(days=2), first_seen=T0 + timedelta(days=2)),
                   matches=[Match(province_code="51", province="Quảng Ngãi", named=True, score=0.9)],
                   relevant=True, province_code="51", story_id="story-bbc",
                   labels={"topics": [], "tone": {"label": "negative", "score": 0.6}})


def _fill(kit: WebKit) -> None:
    """A flag on the kit's story (queued an hour after publication), a foreign article with a hostile
    title, and an action recorded through the signed link."""
    store = kit.open()
    try:
        store.enqueue(OutboxMessage(key="k-flag", flag_rule=kit.flag.rule, story_id=kit.flag.story_id,
                                    recipient=RECIPIENT, message_id="<k-flag@haidang.local>", subject="Cờ báo",
                                    text="-", html="-", created_at=T0 + timedelta(hours=1)))
        store.upsert(_foreign_article(f"Bài nước ngoài {HOSTILE}"))
    finally:
        store.close()
    path = kit.path("de_nghi_go_bo")
    token = re.search(r'name="csrf" value="([^"]+)"', kit.client.get(path).text).group(1)  # type: ignore[union-attr]
    assert kit.client.post(path, data={"csrf": token}).status_code == 200


def _summary(doc) -> dict[str, str]:
    for table in doc.tables:
        rows = [[c.text for c in row.cells] for row in table.rows]
        if any(r[0] == SUMMARY["total"] for r in rows):
            return {r[0]: r[1] for r in rows[1:]}
    raise AssertionError("no summary table")


def test_report_page_needs_a_login(kit: WebKit) -> None:
    page = kit.client.get("/bao-cao", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/dang-nhap?next=/bao-cao"
    assert kit.client.post("/bao-cao", data={}, follow_redirects=False).status_code == 303


def test_viewer_is_refused_in_vietnamese(kit: WebKit) -> None:
    _login(kit, "xem")
    assert 'href="/bao-cao"' not in kit.client.get("/tim-kiem").text
    page = kit.client.get("/bao-cao")
    assert page.status_code == 403 and "Không có quyền truy cập" in page.text and 'lang="vi"' in page.text
    posted = kit.client.post("/bao-cao", data={"from": FROM.isoformat(), "to": TO.isoformat(), "format": "docx"})
    assert posted.status_code == 403 and posted.headers["content-type"].startswith("text/html")


def test_officer_downloads_a_docx_with_the_stores_figures(kit: WebKit) -> None:
    _fill(kit)
    _login(kit, "canbo")
    assert 'href="/bao-cao"' in kit.client.get("/tim-kiem").text            # the navigation links to it
    got = _ask(kit, format="docx")
    assert got.status_code == 200 and got.headers["content-type"] == DOCX_TYPE
    assert got.headers["content-disposition"] == 'attachment; filename="bao-cao-2026-03-01-2026-03-31.docx"'
    doc = Document(io.BytesIO(got.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert HEADINGS["title"] in text and "từ ngày 01/03/2026 đến ngày 31/03/2026" in text

    store = kit.open()
    try:
        since, until = period_bounds(FROM, TO, kit.settings.app.timezone)
        total = store.count(SearchFilters(since=since, until=until, relevant_only=True))
        actions = store.actions(since=since, until=until)
        report_audit = [e for e in store.audit() if e.kind == "report"]
    finally:
        store.close()
    summary = _summary(doc)
    assert total == 3 and len(actions) == 1
    assert summary[SUMMARY["total"]] == str(total)
    assert summary[SUMMARY["foreign"]] == "1"
    assert summary[SUMMARY["flags"]] == "1" and summary[SUMMARY["open"]] == "0"
    assert summary[SUMMARY["actions"]] == str(len(actions))
    assert [(e.actor, e.detail) for e in report_audit] == [("canbo", {"from": "2026-03-01", "to": "2026-03-31",
                                                                      "format": "docx"})]

    # Hostile titles are plain text runs in the document: the exact characters, no markup made of them.
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert any(HOSTILE in c for c in cells)


def test_officer_downloads_an_xlsx(kit: WebKit) -> None:
    _fill(kit)
    _login(kit, "quantri")                           # administrators may too
    got = _ask(kit, format="xlsx")
    assert got.status_code == 200 and got.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(got.content))
    assert SHEETS["summary"] in book.sheetnames
    values = {row[0]: row[1] for row in book[SHEETS["summary"]].iter_rows(values_only=True) if row and row[0]}
    assert str(values[SUMMARY["total"]]) == "3" and str(values[SUMMARY["actions"]]) == "1"


def test_bad_dates_and_format_give_a_clear_error(kit: WebKit) -> None:
    _login(kit, "canbo")
    cases = [
        ({"from": "31/03/2026"}, "Từ ngày không hợp lệ"),
        ({"to": "2026-02-30"}, "Đến ngày không hợp lệ"),
        ({"from": "2026-04-01"}, "Đến ngày phải bằng hoặc sau từ ngày"),
        ({"from": "2020-01-01"}, "Kỳ báo cáo dài tối đa"),
        ({"format": "pdf"}, "Định dạng phải là docx"),
        ({"from": "<script>alert(1)</script>"}, "Từ ngày không hợp lệ"),
    ]
    for fields, message in cases:
        page = _ask(kit, **fields)
        assert page.status_code == 422 and message in page.text, fields
        assert page.headers["content-type"].startswith("text/html")
        assert "<script>alert(1)</script>" not in page.text
    store = kit.open()
    try:
        assert [e.kind for e in store.audit()] == ["login"]          # nothing was built
    finally:
        store.close()


def test_forged_report_form_is_refused(kit: WebKit) -> None:
    _login(kit, "canbo")
    kit.client.get("/bao-cao")
    for token in (None, "AAAA", kit.signer.mac("csrf", "login\x1f" + kit.client.cookies["hd_csrf"])):
        data = {"from": FROM.isoformat(), "to": TO.isoformat(), "format": "docx"}
        page = kit.client.post("/bao-cao", data=data if token is None else data | {"csrf": token})
        assert page.status_code == 403 and "Biểu mẫu không hợp lệ" in page.text


def _report_audit(kit: WebKit) -> list[str]:
    store = kit.open()
    try:
        return [e.detail["format"] for e in store.audit() if e.kind == "report"]
    finally:
        store.close()


def test_a_third_report_at_once_gets_503_with_retry_after(kit: WebKit) -> None:
    """Two builds at once at most: the test holds the build slots as two running builds would."""
    _login(kit, "canbo")
    builds = kit.client.app.state.report_builds        # type: ignore[attr-defined]
    builds.wait_s = 0                                  # refuse at once instead of waiting for a slot
    portal = kit.client.portal
    assert portal is not None
    first, second = object(), object()
    portal.call(builds.limiter.acquire_on_behalf_of_nowait, first)
    assert _ask(kit, format="xlsx").status_code == 200      # one build running: the second slot is free

    portal.call(builds.limiter.acquire_on_behalf_of_nowait, second)
    busy = _ask(kit, format="xlsx", **{"from": "2026-02-01"})
    assert busy.status_code == 503 and busy.headers["retry-after"] == "60"
    assert busy.headers["content-type"].startswith("text/html") and 'lang="vi"' in busy.text
    assert "Hệ thống đang lập các báo cáo khác" in busy.text and "sau ít phút" in busy.text
    assert 'value="2026-02-01"' in busy.text and 'value="xlsx" selected' in busy.text   # the choices are kept
    assert _report_audit(kit) == ["xlsx"]                     # the refused one was not built

    portal.call(builds.limiter.release_on_behalf_of, first)
    assert _ask(kit, format="docx").status_code == 200
    portal.call(builds.limiter.release_on_behalf_of, second)
    assert _report_audit(kit) == ["xlsx", "docx"]
    assert portal.call(lambda: builds.limiter.borrowed_tokens) == 0     # every build gave its slot back


def test_a_report_waits_for_a_slot_to_free(kit: WebKit) -> None:
    """Within the bounded wait a request takes the first slot that frees, in order."""
    _login(kit, "canbo")
    builds = kit.client.app.state.report_builds        # type: ignore[attr-defined]
    builds.wait_s = 600                                # pytest-timeout, not this, ends a hang
    portal = kit.client.portal
    assert portal is not None
    holders = [object(), object()]
    for holder in holders:
        portal.call(builds.limiter.acquire_on_behalf_of_nowait, holder)
    token = _csrf(kit.client.get("/bao-cao").text, "report-form")
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(kit.client.post("/bao-cao", data={
        "csrf": token, "from": FROM.isoformat(), "to": TO.isoformat(), "format": "docx"}).status_code))
    waiter.start()
    deadline = time.monotonic() + 30
    while portal.call(lambda: builds.limiter.statistics().tasks_waiting) == 0:
        assert waiter.is_alive() and time.monotonic() < deadline, f"the request did not wait: {got}"
        time.sleep(0.01)
    assert not got and _report_audit(kit) == []             # waiting, nothing built yet
    portal.call(builds.limiter.release_on_behalf_of, holders[0])
    waiter.join(timeout=60)
    assert got == [200] and _report_audit(kit) == ["docx"]
    portal.call(builds.limiter.release_on_behalf_of, holders[1])
