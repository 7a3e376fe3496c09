"""A flag email and the daily digest as a person sees them: rendered by headless Chromium to PNG.

The screenshots go to pytest's tmp_path (or $HAIDANG_SCREENSHOTS, outside the repository, to look at
them); the checks are what a reader would notice: the text is there, hostile article text shows as
text and runs nothing, the bar chart (table cells, no image) shows its bars, nothing is wider than the window.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest
from alerts_testkit import VN, build_article, build_flag

from alerts.digest import build_digest, render_digest
from alerts.render import render_flag
from haidang.settings import AppSettings, Settings, Source, StoreSettings
from haidang.store.sqlite import SqliteStore

pytestmark = pytest.mark.browser

EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> Lý Sơn & "đập"'


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HAIDANG_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _look(chrome, html: str, page: Path, shot: Path) -> str:
    """Open the HTML as a file, take a full-height screenshot, return the visible text."""
    page.write_text(html, encoding="utf-8")
    chrome.get(page.as_uri())
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(1000, min(max(int(height) + 100, 600), 6000))
    assert chrome.get_screenshot_as_file(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5_000
    assert chrome.execute_script("return window.__pwned === undefined"), "article text ran as script"
    overflow = chrome.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window (a long line broke the layout)"
    return chrome.find_element("tag name", "body").text


def test_flag_email_in_a_browser(chrome, tmp_path: Path):
    main = build_article("evil", title=EVIL + " " + "x" * 300, text="Tin đồn vỡ đập ở Quảng Ngãi lan truyền. " * 5)
    copy = build_article("copy", source="vnexpress", title="Tin đồn vỡ đập")
    flag = build_flag([main, copy], ["ubnd@example.vn"])
    _, _, html = render_flag(flag, [main, copy])
    text = _look(chrome, html, tmp_path / "flag.html", _shots(tmp_path) / "flag.png")
    assert "<script>window.__pwned = 1</script>" in text             # shown, as text
    assert "Quảng Ngãi" in text and "vnexpress" in text
    for option in ("Phản bác", "Chuyển Công an tỉnh"):
        assert option.lower() in text.lower()


def test_digest_in_a_browser(chrome, tmp_path: Path):
    sources = [Source(id="baoquangngai", name="Báo Quảng Ngãi", country="VN", language="vi", kind="provincial_press"),
               Source(id="bbc", name="BBC Tiếng Việt", country="GB", language="vi", kind="foreign_press")]
    settings = Settings(config_dir=str(tmp_path), app=AppSettings(store=StoreSettings(data_dir=str(tmp_path))),
                        sources=sources, topics={"an_ninh_trat_tu": {"name": "An ninh, trật tự", "seeds": []},
                                                 "du_lich_van_hoa": {"name": "Du lịch, văn hóa", "seeds": []}})
    with SqliteStore(tmp_path / "h.sqlite3") as store:
        for i in range(7):
            a = build_article(f"a{i}", source="bbc" if i % 3 == 0 else "baoquangngai",
                              title=EVIL if i == 0 else f"Lý Sơn đón khách du lịch {i}",
                              published=datetime(2026, 3, 12, 8 + i, 0, tzinfo=VN),
                              labels={"topics": [{"id": "du_lich_van_hoa" if i % 2 else "an_ninh_trat_tu",
                                                  "score": 0.8}],
                                      "tone": {"label": "positive", "score": 0.7},
                                      "risk": {"score": 0.1, "level": "thấp", "reasons": []}})
            a.story_id = f"story-{i}"
            store.upsert(a)
        _, _, html = render_digest(build_digest(store, settings, date(2026, 3, 13)))
    text = _look(chrome, html, tmp_path / "digest.html", _shots(tmp_path) / "digest.png")
    assert "Lý Sơn đón khách du lịch 1" in text and "BBC Tiếng Việt" in text
    assert "<script>window.__pwned = 1</script>" in text
    # No image at all (Gmail and Outlook show neither SVG nor data: images): the bars are table cells,
    # 4 articles against 3, so one bar is three quarters of the other.
    assert chrome.execute_script("return document.images.length") == 0
    widths = chrome.execute_script(
        "return Array.from(document.querySelectorAll('td[bgcolor]')).map(td => td.getBoundingClientRect().width)")
    assert len(widths) == 2 and min(widths) > 0, "the bars did not render"
    assert abs(min(widths) / max(widths) - 0.75) < 0.05
