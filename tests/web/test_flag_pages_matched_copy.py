"""A story whose founding article raised nothing, then a later copy that matched a rule: the flag's
email, its pages (list, page, letter) and its reminder all describe the copy that matched, not the
founder the story id names. Real alert chain, real outbox, real app (TestClient), real SQLite file."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

from starlette.testclient import TestClient

from alerts.dispatch import AlertDispatcher, EmlNotifier
from alerts.escalate import escalate_due
from alerts.flag import flagged_article, is_flag_message
from alerts.outbox import deliver_due
from crawlers.dedup import assign_story
from haidang.store import open_store
from haidang.store.base import Store
from haidang.web import create_app

from .conftest import SECRET, T0, Clock, build_article, web_settings
from .test_app_flags import _login

FOUNDER_TITLE = "Quảng Ngãi kiểm tra an toàn các hồ đập trước mùa mưa"
COPY_TITLE = "Lan truyền tin vỡ đập thủy điện trong đêm"


def test_the_flag_pages_and_reminder_show_the_copy_that_matched(tmp_path: Path) -> None:
    settings = web_settings(tmp_path / "data")

    def open_() -> Store:
        return open_store(settings.app.store)

    store = open_()
    try:
        founder = build_article("kiem-tra-ho-dap", title=FOUNDER_TITLE)
        founder.labels["risk"] = {"score": 0.12, "level": "thấp", "reasons": []}
        assign_story(founder, store)
        store.upsert(founder)
        assert AlertDispatcher(settings, store).on_stored(founder, now=T0) == 0

        copy = build_article("tin-vo-dap", source="tuoitre", title=COPY_TITLE)
        copy.content.published = copy.content.first_seen = T0 + timedelta(hours=1)
        assign_story(copy, store)
        store.upsert(copy)
        assert copy.story_id == founder.id                  # the story is named by its founder
        assert AlertDispatcher(settings, store).on_stored(copy, now=T0 + timedelta(hours=1)) > 0
        deliver_due(store, EmlNotifier(tmp_path / "eml"), T0 + timedelta(hours=1, minutes=1))
        sent = [m for m in store.outbox("sent") if is_flag_message(m)]
        assert sent and {m.article_id for m in sent} == {copy.id}
        assert all(COPY_TITLE in m.subject for m in sent)
        # The helper the pages and reminders share: the recorded copy, else the founder.
        assert flagged_article(store, founder.id, [copy.id]).id == copy.id          # type: ignore[union-attr]
        assert flagged_article(store, founder.id, [None]).id == founder.id          # type: ignore[union-attr]
        assert flagged_article(store, founder.id, ["gone"]).id == founder.id        # type: ignore[union-attr]

        # Nobody acted for a day: the reminder names the copy too.
        report = escalate_due(store, settings, T0 + timedelta(hours=26))
        assert report.reminded
        reminders = [m for m in store.outbox() if m.key in set(report.reminded)]
        assert reminders and all(COPY_TITLE in m.text and FOUNDER_TITLE not in m.text for m in reminders)
    finally:
        store.close()

    with TestClient(create_app(settings, open_, SECRET, now=Clock(T0 + timedelta(hours=2))),
                    base_url="http://testserver") as client:
        _login(client, "canbo")
        listing = client.get("/canh-bao")
        assert listing.status_code == 200
        assert COPY_TITLE in listing.text and FOUNDER_TITLE not in listing.text
        key = re.search(r'href="/canh-bao/([0-9a-f]{32})"', listing.text).group(1)      # type: ignore[union-attr]
        page = client.get(f"/canh-bao/{key}")
        assert page.status_code == 200
        assert COPY_TITLE in page.text and "tuoitre.example.vn/tin-vo-dap.html" in page.text
        letter = client.get(f"/canh-bao/{key}/van-ban.docx")
        assert letter.status_code == 200
        body = zipfile.ZipFile(io.BytesIO(letter.content)).read("word/document.xml").decode()
        assert "tin-vo-dap" in body
