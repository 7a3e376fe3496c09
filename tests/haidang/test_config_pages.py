"""`crawl.pages` in sources.yaml: a page URL the crawler can never request is refused by config, as
feeds, start pages and sitemaps are; the same URL from a stored article (evidence re-checks) is not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from haidang.errors import ConfigError
from haidang.settings import DEFAULT_CONFIG_DIR, URL_LENGTH_LIMIT, SiteCrawl, check_config_dir, load_settings

PREFIX = "https://tin.example.vn/bai-viet?id="
AT_LIMIT = PREFIX + "x" * (URL_LENGTH_LIMIT - len(PREFIX))


def _with_pages(tmp_path: Path, *pages: str) -> Path:
    """A copy of the shipped config with one more source, whose `crawl.pages` are `pages`; it is
    the last source, so its index is that of the shipped sources' count."""
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    entries = "".join(f'        - "{page}"\n' for page in pages)
    with (folder / "sources.yaml").open("a", encoding="utf-8") as sources:
        sources.write("\n  - id: pages-check\n    name: Pages\n    country: VN\n    language: vi\n"
                      "    kind: national_press\n    crawl:\n      pages:\n" + entries)
    return folder


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


@pytest.mark.parametrize("past", [AT_LIMIT + "x", PREFIX + "đ" * 400], ids=["one-past", "escaped-past"])
def test_a_page_url_past_the_length_limit_is_refused_with_file_line_and_field(tmp_path: Path, past: str) -> None:
    """Scrapy drops such a request; it was never fetched, and the config said nothing."""
    folder = _with_pages(tmp_path, AT_LIMIT, past)
    index = len(load_settings(DEFAULT_CONFIG_DIR, environ={}).sources)
    problems = check_config_dir(folder)
    assert [(Path(file).name, field) for file, _, field, _ in problems] == [
        ("sources.yaml", f"sources.{index}.crawl.pages")]
    [(_, line, _, message)] = problems
    assert line == _line(folder / "sources.yaml", "pages:")
    assert message.startswith(f"page URL {past[:77] + '...'!r} is ")      # shortened to be read
    assert "characters long as requested" in message
    assert f"over the crawler's limit of {URL_LENGTH_LIMIT:,} (Scrapy's URLLENGTH_LIMIT)" in message
    assert "shorten it" in message
    with pytest.raises(ConfigError):
        load_settings(folder, environ={})


def test_a_page_url_that_is_no_url_is_refused(tmp_path: Path) -> None:
    [(_, _, field, message)] = check_config_dir(_with_pages(tmp_path, "https://tin.example.vn:99999/bai"))
    assert field.endswith(".crawl.pages") and "is not a valid URL" in message


def test_a_page_url_at_the_limit_loads(tmp_path: Path) -> None:
    folder = _with_pages(tmp_path, AT_LIMIT)
    assert check_config_dir(folder) == []
    [source] = [s for s in load_settings(folder, environ={}).sources if s.id == "pages-check"]
    assert source.crawl is not None and source.crawl.pages == [AT_LIMIT]


def test_stored_urls_handed_in_by_code_are_not_refused() -> None:
    """Evidence re-checks build SiteCrawl(pages=...) from stored URLs: one past the limit is skipped
    by the site spider as `not-web-link` and recorded, not allowed to stop every other re-check."""
    assert SiteCrawl(pages=[AT_LIMIT + "x"]).pages == [AT_LIMIT + "x"]
