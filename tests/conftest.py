"""Shared test fixtures.

Fixture HTTP server: `fixture_site` serves tests/fixtures/sites/ on 127.0.0.1 (ephemeral port)
from a ThreadingHTTPServer, with ETag/Last-Modified and 304s on static files, `{BASE}` in
feeds, sitemaps and pages replaced by the server's own URL, and one path per fault under
/faults/ (see `FAULT_ROUTES` and tests/fixtures/sites/LAYOUT.md).

`enricher`: the shipped models, without a local model (a test module loads them once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from haidang.demo import write_demo_config
from haidang.settings import Source
from haidang.sites import (
    OVERSIZE_BYTES,
    SITES_DIR,
    SLOW_SECONDS,
    TRUNCATED_PROMISED,
    FixtureServer,
    serve_sites,
)

__all__ = ["OVERSIZE_BYTES", "SITES_DIR", "SLOW_SECONDS", "TRUNCATED_PROMISED"]


@pytest.fixture(scope="session")
def matcher() -> Any:
    from nlp.gazetteer import Gazetteer
    from nlp.match import ProvinceMatcher

    return ProvinceMatcher(Gazetteer.load())


@pytest.fixture(scope="session")
def matched_article(matcher: Any) -> Any:
    """Builds an article of a source at a made-up URL, matched for Quảng Ngãi (51), as the pipeline
    hands it to the enricher: `matched_article(source, slug, title, text, first_seen=None)`."""
    from datetime import UTC, datetime

    from haidang.record import Article, Content, Fetched, article_id
    from nlp.match import match_article

    def build(source: Any, slug: str, title: str, text: str, first_seen: datetime | None = None) -> Article:
        url = f"https://{source.id}.example.vn/{slug}"
        article = Article(id=article_id(url), fetched=Fetched(source_id=source.id, url=url, canonical_url=url),
                          content=Content(title=title, text=text, language="vi",
                                          first_seen=first_seen or datetime.now(UTC)))
        return match_article(article, matcher, "51")

    return build


@pytest.fixture(scope="module")
def enricher() -> Any:
    """The shipped models, loaded once per test module; no local model, whatever this machine holds.
    Module scope, not session: the enricher keeps the confirmed claims of the store it last read."""
    from nlp.enrich import Enricher

    return Enricher.load(local_models_dir=None)


@pytest.fixture(scope="session")
def fixture_server() -> Iterator[FixtureServer]:
    """The running fixture server (for tests that inspect the requests it saw)."""
    with serve_sites(SITES_DIR) as server:
        yield server


@pytest.fixture(scope="session")
def fixture_site(fixture_server: FixtureServer) -> str:
    """Base URL of the fixture sites, e.g. "http://127.0.0.1:54321" (no trailing slash)."""
    return fixture_server.base_url


@pytest.fixture(scope="session")
def make_source() -> Callable[..., Source]:
    """Build a `Source` for tests: local (may fetch 127.0.0.1), verified, overridable."""

    def make(**overrides: Any) -> Source:
        fields: dict[str, Any] = {
            "id": "fixture", "name": "Fixture site", "country": "VN", "language": "vi",
            "kind": "national_press", "local": True, "verified": True,
        }
        fields.update(overrides)
        return Source(**fields)

    return make



@pytest.fixture()
def demo_config(fixture_site: str, tmp_path: Path) -> Path:
    """A config folder whose sources are the fixture sites, with a fresh data folder (as `haidang demo`)."""
    return write_demo_config(fixture_site, tmp_path / "config", tmp_path / "data")


@pytest.fixture()
def chrome() -> Iterator[Any]:
    """Headless Chromium driven by Selenium with the system browser (Debian chromium, chromium-driver).

    Skips with the reason when either is missing or selenium is not installed, so a plain `pytest`
    passes without a browser; `.ci/run` installs both and runs these tests.
    """
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1400", "--lang=vi-VN"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
