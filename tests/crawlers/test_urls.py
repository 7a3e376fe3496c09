"""Canonical URLs: trusted rel=canonical, tracking parameters stripped, one id per document."""

from __future__ import annotations

import pytest

from crawlers.urls import canonical_url, clean_url, is_tracking_param
from haidang.record import article_id

A = "https://vnexpress.net/quang-ngai-4870001.html"


@pytest.mark.parametrize("url", [
    A,
    "HTTPS://VnExpress.NET:443/quang-ngai-4870001.html",
    A + "#box_comment_vne",
    A + "?utm_source=facebook&utm_medium=share&utm_campaign=x",
    A + "?vn_source=rss&vn_campaign=a&vn_medium=b",
    A + "?fbclid=IwAR0abc&gclid=xyz",
    A + "?zarsrc=31&zarsrc_x=1&gidzl=abc",
])
def test_tracking_variants_collapse(url: str) -> None:
    assert canonical_url(url) == A


def test_meaningful_parameters_are_kept_and_sorted() -> None:
    assert clean_url("http://portal.gov.vn/News.aspx?ID=12&cat=3&utm_source=x") == \
        "http://portal.gov.vn/News.aspx?ID=12&cat=3"
    assert clean_url("http://x.vn/a?b=2&a=1") == "http://x.vn/a?a=1&b=2"
    assert clean_url("http://x.vn:8080/a") == "http://x.vn:8080/a"


def test_tracking_names() -> None:
    assert is_tracking_param("utm_content") and is_tracking_param("FBCLID")
    assert not is_tracking_param("id") and not is_tracking_param("page")


def test_same_site_canonical_wins() -> None:
    assert canonical_url(A + "?utm_source=rss", "https://vnexpress.net/ban-goc-4870001.html?utm_medium=x") == \
        "https://vnexpress.net/ban-goc-4870001.html"
    # mobile edition and a relative canonical resolved against the page
    assert canonical_url("https://m.vnexpress.net/a-1.html", "/a-1.html") == "https://m.vnexpress.net/a-1.html"
    assert canonical_url("https://m.vnexpress.net/a-1.html", "https://vnexpress.net/a-1.html") == \
        "https://vnexpress.net/a-1.html"


@pytest.mark.parametrize("bad", [
    "https://other-site.com/quang-ngai-4870001.html",   # another outlet: syndication partner or CMS bug
    "https://vnexpress.net/",                          # home page: template bug
    "javascript:void(0)",
    "mailto:toasoan@vnexpress.net",
    "   ",
])
def test_untrusted_canonical_is_ignored(bad: str) -> None:
    assert canonical_url(A + "?utm_source=rss", bad) == A


def test_fixture_server_port_matters() -> None:
    page = "http://127.0.0.1:8765/vnexpress/a.html"
    assert canonical_url(page, "http://127.0.0.1:9999/vnexpress/b.html") == page


def test_id_is_stable_hash_of_canonical() -> None:
    assert article_id(canonical_url(A + "?utm_source=a")) == article_id(canonical_url(A + "#x"))
