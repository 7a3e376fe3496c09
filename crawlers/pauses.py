"""Retry-After kept across runs: which host asked not to be asked again before when.

A 429 or 503 whose Retry-After is longer than one run may wait (crawlers.middlewares) pauses the
*host* that answered, not the source: Retry-After is the server's statement about itself (RFC 9110
§10.2.3, RFC 6585 §4; rate limiters and maintenance pages answer for the whole host), and the
crawler's politeness is already per host (AutoThrottle's download slot, robots.txt per host and
port). A source may span hosts (a feed on feeds.example.com, pages on www.example.com) and a host
may serve several sources: keyed per source, the pause would either keep another source hitting the
host or silence a feed host that never asked. The store keeps one pause per host
(`Store.set_host_pause`); a run skips a source whose every configured URL is on a paused host, and
the crawl child refuses any other request to a paused host (`PausedHostMiddleware`).

No Scrapy here, so the parent process and `haidang status` use it too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from crawlers.events import HostPaused
    from haidang.settings import Source
    from haidang.store.base import Store

__all__ = ["RETRY_AFTER_CAP", "capped_wait", "entry_urls", "host_key", "keep_pause", "pause_text", "paused_until",
           "span_text"]

log = logging.getLogger(__name__)

# The longest a Retry-After is obeyed. Real ones are seconds to a few hours (a rate limit, a
# maintenance window); a day or more is a misconfigured server or a hostile value, and monitoring
# cannot go blind on an outlet for longer than a day without a person noticing. After the cap the
# next run asks once: if the server still says "later", the host is paused again (and logged again).
RETRY_AFTER_CAP = timedelta(hours=24)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(url: str) -> str:
    """The host a pause applies to: its name in lower case, with the port unless it is the scheme's
    default (robots.txt too is per host and port). "" for a URL without a host.

    The name as Scrapy requests it (w3lib's safe_url_string: an IDN such as báo.vn in punycode), so
    a configured URL and the request made from it have one key; an IPv6 literal keeps its brackets,
    so its port is not read as part of the address."""
    try:
        url = safe_url_string(url)
    except ValueError:          # not a URL Scrapy could request either: keyed as written
        pass
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        return f"{host}:{port}"
    return host


def capped_wait(asked_s: float) -> tuple[timedelta, bool]:
    """The wait kept for a Retry-After of `asked_s` seconds, and whether the cap shortened it."""
    asked = timedelta(seconds=max(0.0, asked_s))
    return (RETRY_AFTER_CAP, True) if asked > RETRY_AFTER_CAP else (asked, False)


def entry_urls(source: Source) -> list[str]:
    """The URLs named in the source's config, where every crawl of it starts."""
    crawl = source.crawl
    return [*source.feeds, *((crawl.start_urls + crawl.sitemaps + crawl.pages) if crawl else [])]


def paused_until(source: Source, pauses: Mapping[str, datetime], now: datetime) -> datetime | None:
    """When every host the source's configured URLs name is paused at `now`, the earliest end of
    those pauses (the source is not crawled before it); None when any of them may be asked."""
    ends = [pauses.get(host_key(url)) for url in entry_urls(source)]
    if not ends or any(end is None or end <= now for end in ends):
        return None
    return min(end for end in ends if end is not None)


def span_text(span: timedelta) -> str:
    """A wait as people say it: "45 s", "12 min", "1 h", "2 h 30 min" (minutes rounded up)."""
    seconds = round(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    minutes = (seconds + 59) // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def pause_text(until: datetime, timezone: str) -> str:
    """How the run summary and `haidang status` say that a source or host is paused."""
    return f"paused until {until.astimezone(ZoneInfo(timezone)):%H:%M %d/%m} (Retry-After from the outlet)"


def keep_pause(store: Store, event: HostPaused) -> None:
    """Keep a pause the crawl reported (HostPaused) in the store, and log it: a warning when the cap
    shortened what the server asked. A store that cannot take it is logged, never raised: the run
    goes on, and the host is at worst asked once more at the next run."""
    from haidang.store.base import HostPause

    wait = event.until - event.at
    asked = timedelta(seconds=event.asked_s)
    if asked > wait:
        log.warning("%s asked to wait %s (Retry-After, HTTP %d for %s); capped at %s: not asked again before %s",
                    event.host, span_text(asked), event.status, event.url, span_text(RETRY_AFTER_CAP),
                    event.until.isoformat(timespec="seconds"))
    else:
        log.info("%s asked to wait %s (Retry-After, HTTP %d for %s): not asked again before %s",
                 event.host, span_text(asked), event.status, event.url, event.until.isoformat(timespec="seconds"))
    try:
        store.set_host_pause(HostPause(host=event.host, until=event.until, source_id=event.source_id, url=event.url,
                                       status=event.status, asked_s=event.asked_s, at=event.at))
    except Exception as exc:  # noqa: BLE001 - a pause not kept costs one early request, never the run
        log.warning("could not keep the Retry-After pause of %s: %s: %s", event.host, type(exc).__name__, exc)
