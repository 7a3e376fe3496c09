"""The flag list (/canh-bao) and a flag's page show that a story officers had acted on came back on a
new outlet: when, on which outlet, after which action, and how its emails fared, in Vietnamese; such
a flag awaits a new response until one is recorded from its page, and a new outlet after that
response shows it again. The story is flagged and re-flagged by the real alert chain and delivered
through the real outbox (.eml files); real app (TestClient), real SQLite store file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from alerts.dispatch import AlertDispatcher, EmlNotifier
from alerts.flag import flag_key, follow_up_of
from alerts.outbox import deliver_due
from crawlers.dedup import assign_story
from haidang.store.base import OutboxMessage, ResponseAction

from .conftest import HOSTILE, T0, WebKit, build_article
from .test_app_flags import _csrf, _login

RULE = "tin-sai-su-that-rui-ro-cao"
POLICE = "cong-an-tinh@example.gov.vn"
TOLD = 3                      # the rule's recipients in config/: so-ttt, cong-an-tinh, vp-ubnd


def _reappear(kit: WebKit, slug: str, source: str, hours: float, *, deliver: bool) -> None:
    """A new outlet carries the story `hours` after T0: stored and run through the alert chain."""
    store = kit.open()
    try:
        article = build_article(slug, source=source, title=f"Lại lan truyền tin vỡ đập {HOSTILE}")
        article.content.published = article.content.first_seen = T0 + timedelta(hours=hours)
        assign_story(article, store)
        store.upsert(article)
        assert article.story_id == kit.main.story_id
        assert AlertDispatcher(kit.settings, store).on_stored(article, now=T0 + timedelta(hours=hours)) == TOLD
        if deliver:
            deliver_due(store, EmlNotifier(Path(kit.settings.data_dir) / "eml"), T0 + timedelta(hours=hours, minutes=1))
    finally:
        store.close()


def _flag_and_rebut(kit: WebKit) -> None:
    store = kit.open()
    try:
        assert AlertDispatcher(kit.settings, store).on_stored(kit.main, now=T0) == TOLD
        deliver_due(store, EmlNotifier(Path(kit.settings.data_dir) / "eml"), T0 + timedelta(minutes=1))
        story = kit.main.story_id or kit.main.id
        store.record_action(ResponseAction(
            flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id=kit.main.id, rule=RULE,
            action="phan_bac", actor=POLICE, agency_id="cong-an-tinh", at=T0 + timedelta(hours=2),
            rebuttal_url="https://baoquangngai.example.vn/bac-bo.html", link_id="phan_bac-1"))
        # Another story, flagged later and handled, with no resurfacing: listed after the one awaiting.
        other = flag_key(RULE, "story-khac", POLICE)
        store.enqueue(OutboxMessage(key=other, flag_rule=RULE, story_id="story-khac", recipient=POLICE,
                                    message_id=f"<{other}@haidang.local>", subject="Cảnh báo", text="-", html="-",
                                    created_at=T0 + timedelta(hours=3)))
        store.record_action(ResponseAction(
            flag_key=other, story_id="story-khac", article_id="story-khac", rule=RULE, action="tang_cuong_thong_tin",
            actor=POLICE, at=T0 + timedelta(hours=4), link_id="khac-1"))
    finally:
        store.close()


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="flag [^"]+">(.*?)</tr>', html, flags=re.DOTALL)


def _resurfaced_table(html: str) -> str:
    found = re.search(r'<table id="resurfaced">(.*?)</table>', html, flags=re.DOTALL)
    assert found, "no table of resurfacings on the page"
    return found.group(1)


def test_the_list_and_the_page_show_a_resurfaced_flag_and_take_a_new_action(kit: WebKit) -> None:
    _flag_and_rebut(kit)
    _reappear(kit, "dan-tri", "dantri", 5, deliver=False)          # Thursday 12/03 15:00, still waiting
    _login(kit.client, "canbo")

    listing = kit.client.get("/canh-bao")
    assert listing.status_code == 200
    rows = _rows(listing.text)
    assert len(rows) == 2
    first, second = rows
    assert "Tái xuất hiện sau khi đã xử lý</strong> — chưa ghi nhận xử lý mới" in first    # awaiting: listed first
    assert "Thứ năm, 12/03/2026 15:00 trên <span dir=\"auto\">Dân Trí</span>" in first
    assert f"(thư báo: {TOLD} thư đang chờ gửi)" in first
    assert "Tái xuất hiện" not in second
    assert "2 cảnh báo, trong đó 0 chưa xử lý, 1 tái xuất hiện sau khi đã xử lý, chưa xử lý lại" in listing.text
    key = re.search(r'href="/canh-bao/([0-9a-f]{32})"', first).group(1)              # type: ignore[union-attr]
    only = kit.client.get("/canh-bao?status=resurfaced")
    assert len(_rows(only.text)) == 1 and f"/canh-bao/{key}" in only.text
    assert 'value="resurfaced" selected' in only.text

    # The flag's page: when, where (the outlet's article), after what, and the emails' state.
    store = kit.open()
    try:
        deliver_due(store, EmlNotifier(Path(kit.settings.data_dir) / "eml"), T0 + timedelta(hours=5, minutes=30))
        assert {m.status for m in store.outbox() if follow_up_of(m) == "resurfacing"} == {"sent"}
    finally:
        store.close()
    page = kit.client.get(f"/canh-bao/{key}")
    assert page.status_code == 200
    table = _resurfaced_table(page.text)
    assert "<td>Thứ năm, 12/03/2026 15:00</td>" in table
    assert '<span dir="auto">Dân Trí</span>' in table and 'href="https://dantri.example.vn/dan-tri.html"' in table
    assert "Đã phản bác – Công an tỉnh, Thứ năm, 12/03/2026 12:00" in table
    assert f"Đã gửi {TOLD} thư" in table
    assert "<script>" not in page.text and "&lt;script&gt;" in table                    # article text stays text
    assert 'id="awaiting"' in page.text and "Ghi nhận xử lý mới (tin đã tái xuất hiện)" in page.text

    # An officer records a new response from there.
    kit.clock.now = T0 + timedelta(hours=6)
    done = kit.client.post(f"/canh-bao/{key}", data={"csrf": _csrf(page.text, "action-form"),
                                                      "action": "de_nghi_go_bo", "note": "Đề nghị Dân Trí gỡ bài"})
    assert done.status_code == 200, done.text
    store = kit.open()
    try:
        assert [(a.action, a.rule, a.actor) for a in store.actions(story_id=kit.main.story_id)] == [
            ("phan_bac", RULE, POLICE), ("de_nghi_go_bo", RULE, "canbo")]
    finally:
        store.close()
    page = kit.client.get(f"/canh-bao/{key}")
    assert 'id="resurfaced"' in page.text and 'id="awaiting"' not in page.text
    assert "Ghi nhận thêm xử lý" in page.text
    listing = kit.client.get("/canh-bao")
    assert "chưa ghi nhận xử lý mới" not in listing.text and "chưa xử lý lại" not in listing.text
    assert "Tái xuất hiện sau khi đã xử lý" in _rows(listing.text)[1]                 # handled: after the newer one

    # That response re-arms it: a further new outlet is flagged again and awaits a response.
    _reappear(kit, "vne", "vnexpress", 8, deliver=True)
    listing = kit.client.get("/canh-bao")
    first = _rows(listing.text)[0]
    assert "chưa ghi nhận xử lý mới" in first and first.count(" trên <span") == 2
    assert "Thứ năm, 12/03/2026 18:00 trên <span dir=\"auto\">VnExpress</span>" in first
    page = kit.client.get(f"/canh-bao/{key}")
    table = _resurfaced_table(page.text)
    assert "Đã đề nghị gỡ bỏ, Thứ năm, 12/03/2026 16:00" in table      # the officer's account names no agency
