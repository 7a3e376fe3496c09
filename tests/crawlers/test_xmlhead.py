"""The complete entries at the head of a feed or sitemap cut short: what is kept, what is left out."""

from __future__ import annotations

import pytest

from crawlers.xmlhead import complete_head

ITEMS = ("item", "entry")
ENTRIES = ("url", "sitemap")


@pytest.mark.parametrize(("text", "kept"), [
    ("<rss><channel><item><title>A</title></item><item><title>B", "<rss><channel><item><title>A</title></item>"),
    ("<feed><atom:entry><id>1</id></atom:entry ><atom:entry><id>2", "<feed><atom:entry><id>1</id></atom:entry >"),
    ("<rss><channel><title>T</title><item><title>A", "<rss><channel><title>T</title>"),
    ("<rss><channel><title>T", "<rss><channel><title>T"),
    # An end tag inside CDATA is text: the cut goes back to the item before it.
    ("<rss><item>1</item><item><description><![CDATA[a </item> b", "<rss><item>1</item>"),
    ("<rss><item><description><![CDATA[a </item> b]]></description></item><item>",
     "<rss><item><description><![CDATA[a </item> b]]></description></item>"),
], ids=["item", "prefixed-entry", "no-complete-item", "no-item-at-all", "cdata-open", "cdata-closed"])
def test_a_feed_is_cut_after_its_last_complete_item(text: str, kept: str) -> None:
    assert complete_head(text, ITEMS) == kept


def test_a_sitemap_is_cut_after_its_last_complete_entry_not_inside_a_loc() -> None:
    """A lenient XML parser read <loc>https://tin.vn/bai-12</loc> out of a cut at "bai-12345"."""
    text = ("<urlset><url><loc>https://tin.vn/bai-1</loc></url>"
            "<url><loc>https://tin.vn/bai-12")
    assert complete_head(text, ENTRIES) == "<urlset><url><loc>https://tin.vn/bai-1</loc></url>"


def test_the_root_of_a_sitemap_is_not_one_of_its_entries() -> None:
    """<urlset> and <sitemapindex> begin with an entry's name, and are kept as the root."""
    assert complete_head("<sitemapindex><sitemap><loc>a", ENTRIES) == "<sitemapindex>"
    assert complete_head("<urlset><url><loc>a", ENTRIES) == "<urlset>"
