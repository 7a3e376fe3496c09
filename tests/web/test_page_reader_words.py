"""The flag page agencies open from their email: risk signals and the source by name (ids only on hover),
and a rebuttal kit that says when the article has no plan topic instead of listing other subjects
(REPORT F10, F12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from alerts.flag import Flag
from crawlers.dedup import assign_story
from haidang.store import open_store
from haidang.store.base import Store
from haidang.web import create_app
from haidang.wording import SIGNAL_NAMES

from .conftest import RECIPIENT, SECRET, T0, Clock, build_article, web_settings

_TRUST = "nguồn: Tuổi Trẻ (tuoitre), báo chí trung ương, độ tin cậy: thấp"


def _page(tmp_path: Path, topics: list[dict[str, object]]) -> tuple[str, str]:
    """The flag page of a rumour with `topics`, with the province's own article on tourism (same words,
    other subject) published yesterday; returns (page, own article's title)."""
    settings = web_settings(tmp_path / "data")

    def open_() -> Store:
        return open_store(settings.app.store)

    main = build_article("tin-don", source="tuoitre")
    main.labels["topics"] = topics
    main.labels["risk"]["reasons"].append({"signal": "source_trust", "evidence": [_TRUST], "weight": 1.0})
    own = build_article("du-lich", source="baoquangngai", title="Quảng Ngãi đón khách du lịch về hạ du thủy điện",
                        text="Nhiều đoàn khách du lịch về các xã hạ du thủy điện ở Quảng Ngãi dịp cuối tuần, "
                             "người dân làm dịch vụ homestay ven sông, đập thủy điện mở cửa cho khách tham quan.")
    own.labels["topics"] = [{"id": "du_lich_van_hoa", "score": 0.9, "evidence": ["du lịch"]}]
    yesterday = datetime.now(UTC) - timedelta(days=1)           # inside reports.kit_days of the page's now
    own.content.published = own.content.first_seen = yesterday
    with open_() as store:   # type: ignore[attr-defined]
        for article in (main, own):
            assign_story(article, store)
            store.upsert(article)
    assert own.story_id != main.story_id                       # another story, not a copy of the rumour
    app = create_app(settings, open_, SECRET, now=Clock())
    flag = Flag(rule="tin_sai_nguy_co_cao", severity="cao", story_id=main.story_id or main.id,
                article_ids=[main.id], agencies=["so-ttt"], recipients=[RECIPIENT], immediate=True)
    link = app.state.signer.links_for(flag, RECIPIENT, main.id, now=T0)["phan_bac"]
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get(link.removeprefix(app.state.signer.base_url))
    assert page.status_code == 200
    return page.text, own.content.title


def test_signals_and_source_are_named_with_ids_only_on_hover(tmp_path: Path) -> None:
    html, _ = _page(tmp_path, [{"id": "thien_tai_dich_benh", "score": 0.8, "evidence": ["vỡ đập"]}])
    assert f'<strong title="rumour_cue">{SIGNAL_NAMES["rumour_cue"]}</strong>' in html
    assert f'<strong title="source_trust">{SIGNAL_NAMES["source_trust"]}</strong>' in html
    assert "nguồn: Tuổi Trẻ, báo chí trung ương, độ tin cậy: thấp" in html and "(tuoitre)" not in html
    assert ">rumour_cue<" not in html and "(rumour_cue)" not in html
    assert "Mã tin:" in html and "Mã bản ghi" not in html


def test_an_article_without_a_topic_gets_a_note_not_other_subjects(tmp_path: Path) -> None:
    html, own_title = _page(tmp_path, [])
    assert 'id="kit-no-topic"' in html
    assert "chưa xác định được chủ đề của kế hoạch nên không liệt kê tin cùng chủ đề của tỉnh" in html
    assert own_title not in html and 'id="kit-coverage"' not in html


def test_an_article_with_the_topic_lists_that_coverage(tmp_path: Path) -> None:
    html, own_title = _page(tmp_path, [{"id": "du_lich_van_hoa", "score": 0.8, "evidence": ["du lịch"]}])
    assert 'id="kit-coverage"' in html and own_title in html
    assert 'id="kit-no-topic"' not in html
