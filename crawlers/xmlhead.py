"""The complete entries at the head of an XML list (a feed, a sitemap) cut short at the size cap."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["complete_head"]


@lru_cache(maxsize=8)
def _tags(names: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The end and the start tag of any of `names`, with any namespace prefix ("</atom:entry>")."""
    either = "|".join(re.escape(name) for name in names)
    return (re.compile(rf"</(?:[\w.-]+:)?(?:{either})\s*>", re.IGNORECASE),
            re.compile(rf"<(?:[\w.-]+:)?(?:{either})[\s/>]", re.IGNORECASE))


def complete_head(text: str, names: tuple[str, ...]) -> str:
    """`text` cut after its last complete element named in `names` (an RSS item, a sitemap <url>).

    A lenient parser reads a document cut short up to where it ends, and keeps the element it ends
    in with whatever had arrived: a feed item without its description, a sitemap <loc> cut in the
    middle of its URL. An end tag inside a CDATA section is text, not the end of an element. With
    no complete element, only what precedes the first one (the channel, the root) is kept.
    """
    end, start = _tags(names)
    for match in reversed(list(end.finditer(text))):
        if text.rfind("<![CDATA[", 0, match.start()) <= text.rfind("]]>", 0, match.start()):
            return text[:match.end()]
    first = start.search(text)
    return text[:first.start()] if first is not None else text
