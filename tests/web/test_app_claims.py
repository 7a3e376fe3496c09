"""The "Tin sai đã biết" page (/tin-sai): officers decide the claims proposed from debunk reports and add
claims denied elsewhere; only administrators turn a decision around; every decision is audited. Real
app, real SQLite store, real argon2 logins."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from haidang.store.base import Store
from nlp.claims import propose_text

from .conftest import HOSTILE, WebKit
from .test_app_flags import _login

CLAIM = "Đập thủy điện ở Quảng Ngãi đã bị vỡ trong đêm, nước tràn qua nhiều xã ven sông"
REBUTTAL = "https://congan.quangngai.example.vn/bac-bo-tin-vo-dap.html"


def _propose(kit: WebKit, text: str = CLAIM, rebuttal: str | None = REBUTTAL) -> str:
    with kit.open() as store:   # type: ignore[attr-defined]
        claim_id = propose_text(store, text, rebuttal_url=rebuttal, source_article_id=kit.main.id)
    assert claim_id
    return claim_id


def _csrf(html: str, action: str) -> str:
    found = re.search(rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"', html)
    assert found, f"no form posting to {action}"
    return found.group(1)


def _status(kit: WebKit, claim_id: str) -> str:
    with kit.open() as store:   # type: ignore[attr-defined]
        return next(c.status for c in store.known_claims(None) if c.id == claim_id)


def _claim_audit(store: Store) -> list[tuple[str, str, str]]:
    return [(e.actor, e.target, e.detail["status"]) for e in store.audit() if e.kind == "claim"]


def _decide(client: TestClient, claim_id: str, decision: str, note: str = "") -> tuple[int, str]:
    page = client.get("/tin-sai?trang-thai=" + ("proposed" if decision == "confirmed" else "confirmed"))
    action = f"/tin-sai/{claim_id}"
    if action not in page.text:
        page = client.get("/tin-sai?trang-thai=proposed")
    done = client.post(action, data={"csrf": _csrf(page.text, action), "decision": decision, "note": note})
    return done.status_code, done.text


def test_an_officer_confirms_a_proposed_claim_and_only_an_administrator_turns_it_around(kit: WebKit) -> None:
    claim_id = _propose(kit)
    _login(kit.client, "canbo")
    page = kit.client.get("/tin-sai")
    assert page.status_code == 200
    assert "Chờ xác nhận (1)" in page.text and CLAIM in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text, "the source article's title stays text"
    assert f'href="{REBUTTAL}"' in page.text and 'id="nav-claims"' in page.text

    code, text = _decide(kit.client, claim_id, "confirmed", note="đã đối chiếu thông cáo")
    assert code == 200 and "Đã xác nhận là tin sai" in text and "Tin sai đã xác nhận (1)" in text
    assert _status(kit, claim_id) == "confirmed"

    # The officer's page no longer offers to turn it around, and a forged POST is refused.
    confirmed = kit.client.get("/tin-sai?trang-thai=confirmed")
    assert "Chỉ quản trị viên được thay đổi quyết định đã có." in confirmed.text
    forged = kit.client.post(f"/tin-sai/{claim_id}", data={"csrf": _csrf(page.text, f"/tin-sai/{claim_id}"),
                                                            "decision": "dismissed"})
    assert forged.status_code == 403 and _status(kit, claim_id) == "confirmed"

    kit.client.cookies.clear()
    _login(kit.client, "quantri")
    code, text = _decide(kit.client, claim_id, "dismissed", note="nguồn tin đã được xác minh là đúng")
    assert code == 200 and "Đã ghi nhận là không phải tin sai" in text
    assert _status(kit, claim_id) == "dismissed"
    with kit.open() as store:   # type: ignore[attr-defined]
        assert _claim_audit(store) == [("canbo", claim_id, "confirmed"), ("quantri", claim_id, "dismissed")]
        last = [e for e in store.audit() if e.kind == "claim"][-1]
        assert last.detail["previous"] == "confirmed" and last.detail["via"] == "web"
    audit = kit.client.get("/nhat-ky?loai=claim")
    assert "trang Tin sai đã biết" in audit.text and "Trạng thái trước" in audit.text


def test_adding_a_claim_checks_the_text_and_the_rebuttal_link(kit: WebKit) -> None:
    _login(kit.client, "canbo")
    page = kit.client.get("/tin-sai")
    token = _csrf(page.text, "/tin-sai")
    bad = kit.client.post("/tin-sai", data={"csrf": token, "text": "vỡ đập", "rebuttal_url": "javascript:alert(1)"})
    assert bad.status_code == 422 and "http:// hoặc https://" in bad.text
    short = kit.client.post("/tin-sai", data={"csrf": token, "text": "vỡ đập", "rebuttal_url": REBUTTAL})
    assert short.status_code == 422 and "quá ngắn" in short.text
    with kit.open() as store:   # type: ignore[attr-defined]
        assert store.known_claims(None) == []
    good = kit.client.post("/tin-sai", data={"csrf": token, "text": CLAIM, "rebuttal_url": REBUTTAL})
    assert good.status_code == 200 and "Đã thêm vào danh sách" in good.text
    with kit.open() as store:   # type: ignore[attr-defined]
        (claim,) = store.known_claims("confirmed")
        assert claim.rebuttal_url == REBUTTAL and _claim_audit(store) == [("canbo", claim.id, "confirmed")]


def test_the_page_is_for_officers_and_its_forms_need_their_token(kit: WebKit) -> None:
    claim_id = _propose(kit)
    anonymous = kit.client.get("/tin-sai", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/dang-nhap?next=/tin-sai"
    _login(kit.client, "xem")
    assert kit.client.get("/tin-sai").status_code == 403
    assert kit.client.post(f"/tin-sai/{claim_id}", data={"decision": "confirmed"}).status_code == 403
    kit.client.cookies.clear()
    _login(kit.client, "canbo")
    no_token = kit.client.post(f"/tin-sai/{claim_id}", data={"decision": "confirmed"})
    assert no_token.status_code == 403 and _status(kit, claim_id) == "proposed"
    page = kit.client.get("/tin-sai")
    unknown = kit.client.post("/tin-sai/claim-khong-co", data={"csrf": _csrf(page.text, f"/tin-sai/{claim_id}"),
                                                                "decision": "confirmed"})
    assert unknown.status_code == 403, "a token is bound to its claim"
    odd = kit.client.post(f"/tin-sai/{claim_id}", data={"csrf": _csrf(page.text, f"/tin-sai/{claim_id}"),
                                                         "decision": "xoa"})
    assert odd.status_code == 422 and _status(kit, claim_id) == "proposed"


def test_a_long_list_is_paged_and_searched_without_diacritics(kit: WebKit) -> None:
    from haidang.web.app import CLAIMS_PAGE_SIZE

    ids = [_propose(kit, f"Tin đồn số {i}: cầu Trà Khúc mới bị nứt dầm ở nhịp {i}, xe tải phải cấm lưu thông",
                    rebuttal=None) for i in range(CLAIMS_PAGE_SIZE + 3)]
    dam = _propose(kit)
    _login(kit.client, "canbo")
    first = kit.client.get("/tin-sai").text
    assert f"Chờ xác nhận ({CLAIMS_PAGE_SIZE + 4})" in first and "trang 1/2" in first
    assert first.count('class="claim proposed"') == CLAIMS_PAGE_SIZE and f'id="claim-{dam}"' in first  # newest first
    assert 'id="claims-next"' in first and 'id="claims-prev"' not in first
    second = kit.client.get("/tin-sai", params={"trang-thai": "proposed", "trang": "2"}).text
    assert second.count('class="claim proposed"') == 4 and f'id="claim-{ids[0]}"' in second
    past = kit.client.get("/tin-sai", params={"trang": "9"}).text          # past the end: the last page
    assert "trang 2/2" in past and f'id="claim-{ids[0]}"' in past
    found = kit.client.get("/tin-sai", params={"q": "thuy dien  QUANG NGAI"}).text
    assert found.count('class="claim proposed"') == 1 and f'id="claim-{dam}"' in found
    assert "1 tin có «thuy dien QUANG NGAI»" in found and 'id="claim-clear"' in found
    hostile = kit.client.get("/tin-sai", params={"q": "<b>x</b>"}).text
    assert "<b>x</b>" not in hostile and "(không có tin nào có «&lt;b&gt;x&lt;/b&gt;»)" in hostile
