"""An outlet whose configured name holds markup, an ampersand and a line break, on the flag list and
a flag's page once the story it carried resurfaced there: shown as text, escaped once. Real alert
chain, real outbox (.eml files), real app (TestClient), real SQLite store file."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from starlette.testclient import TestClient

from alerts.dispatch import AlertDispatcher, EmlNotifier
from alerts.flag import flag_key
from alerts.outbox import deliver_due
from crawlers.dedup import assign_story
from haidang.store import open_store
from haidang.store.base import ResponseAction, Store
from haidang.web import create_app

from .conftest import SECRET, T0, Clock, build_article, seed_store, web_settings
from .test_app_flags import _login

RULE = "tin-sai-su-that-rui-ro-cao"
POLICE = "cong-an-tinh@example.gov.vn"
OUTLET = "<b>Sức khỏe</b> & Đời sống\n<script>window.__pwned = 1</script>"


def test_a_hostile_outlet_name_stays_text_on_the_flag_pages(tmp_path: Path) -> None:
    base = web_settings(tmp_path / "data")
    sources = [s.model_copy(update={"name": OUTLET}) if s.id == "dantri" else s for s in base.sources]
    settings = base.model_copy(update={"sources": sources})

    def open_() -> Store:
        return open_store(settings.app.store)

    store = open_()
    try:
        main, _ = seed_store(store)
        assert AlertDispatcher(settings, store).on_stored(main, now=T0) > 0
        deliver_due(store, EmlNotifier(tmp_path / "eml"), T0 + timedelta(minutes=1))
        story = main.story_id or main.id
        store.record_action(ResponseAction(
            flag_key=flag_key(RULE, story, POLICE), story_id=story, article_id=main.id, rule=RULE, action="phan_bac",
            actor=POLICE, agency_id="cong-an-tinh", at=T0 + timedelta(hours=2), link_id="phan_bac-1"))
        again = build_article("dan-tri", source="dantri", title="Lại lan truyền tin vỡ đập")
        again.content.published = again.content.first_seen = T0 + timedelta(hours=5)
        assign_story(again, store)
        store.upsert(again)
        assert AlertDispatcher(settings, store).on_stored(again, now=T0 + timedelta(hours=5)) > 0
    finally:
        store.close()

    with TestClient(create_app(settings, open_, SECRET, now=Clock(T0 + timedelta(hours=6))),
                    base_url="http://testserver") as client:
        _login(client, "canbo")
        listing = client.get("/canh-bao")
        assert listing.status_code == 200
        shown = "&lt;b&gt;Sức khỏe&lt;/b&gt; &amp; Đời sống"
        for page in (listing.text,
                     client.get("/canh-bao/" + re.search(r'href="/canh-bao/([0-9a-f]{32})"',  # type: ignore[union-attr]
                                                         listing.text).group(1)).text):
            assert "<script>window.__pwned" not in page and "<b>Sức khỏe" not in page
            assert shown in page and "&amp;amp;" not in page and "&amp;lt;" not in page
