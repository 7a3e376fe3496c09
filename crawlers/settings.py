"""Scrapy settings built from `CrawlSettings`: identity, politeness, limits and our middlewares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crawlers.middlewares import PAUSED_HOSTS_SETTING
from haidang.settings import URL_LENGTH_LIMIT, CrawlSettings

__all__ = ["crawlers_in_parallel", "scrapy_settings"]

_PAUSED = "crawlers.middlewares.PausedHostMiddleware"
_GUARD = "crawlers.middlewares.PrivateAddressGuardMiddleware"
_CONDITIONAL = "crawlers.middlewares.ConditionalGetMiddleware"
_ROBOTS = "crawlers.middlewares.StrictRobotsTxtMiddleware"
_RETRY = "crawlers.middlewares.RetryAfterMiddleware"
_FEED_HEAD = "crawlers.feedhead.FeedHeadMiddleware"


def scrapy_settings(settings: CrawlSettings, paused: Mapping[str, datetime] | None = None) -> dict[str, Any]:
    """The Scrapy settings for one crawl. Every limit comes from config and is always on.
    `paused`: hosts a Retry-After paused, and until when (crawlers.pauses); none is asked before."""
    return {
        "BOT_NAME": "haidang",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots,
        # AutoThrottle only ever raises its delay on non-200 answers (304 included), so the
        # start delay is the pace of a recrawl where everything is unchanged: keep it small.
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": settings.autothrottle_start_delay_s,
        "AUTOTHROTTLE_MAX_DELAY": settings.autothrottle_max_delay_s,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": settings.autothrottle_target_concurrency,
        "DOWNLOAD_DELAY": settings.download_delay_s,
        "CONCURRENT_REQUESTS": settings.concurrent_total,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_per_domain,
        "DOWNLOAD_TIMEOUT": settings.download_timeout_s,
        "DOWNLOAD_MAXSIZE": settings.max_size_bytes,
        "DOWNLOAD_WARNSIZE": min(settings.warn_size_bytes, settings.max_size_bytes),
        "REDIRECT_MAX_TIMES": settings.max_redirects,
        # Scrapy's default, stated: config validation refuses longer configured URLs by it.
        "URLLENGTH_LIMIT": URL_LENGTH_LIMIT,
        "RETRY_TIMES": settings.retry_times,
        "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",   # each give-up is also a CrawlFailure event
        # A 429/503 asking for a longer wait than one download may take is not retried this run.
        "HAIDANG_RETRY_AFTER_MAX_S": settings.download_timeout_s,
        PAUSED_HOSTS_SETTING: {host: until.timestamp() for host, until in (paused or {}).items()},
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        # Requests are de-duplicated by the spiders, which must see every request end in a
        # callback or errback; Scrapy's filter would also drop redirect loops silently.
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "DOWNLOADER_MIDDLEWARES": {
            _PAUSED: 40,          # first: a host that asked us to wait gets no request, not even robots.txt
            _GUARD: 50,           # before the robots.txt middleware (100): no robots.txt from refused hosts
            # Scrapy's own, subclassed in their places: robots.txt that answers 5xx disallows all
            # (RFC 9309), and 429/503 honour Retry-After.
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            _ROBOTS: 100,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            _RETRY: 550,
            # After HttpCompressionMiddleware (590): an oversized feed's or sitemap's head is kept
            # before Scrapy's decompression or size cap would refuse the whole of it.
            _FEED_HEAD: 595,
            _CONDITIONAL: 650,    # sees responses before redirect (600) and retry (550) handling
        },
    }


def crawlers_in_parallel(settings: CrawlSettings) -> int:
    """How many source crawlers run at once: each may use `concurrent_per_domain` requests on
    its site, and together they stay near `concurrent_total`."""
    return max(1, settings.concurrent_total // settings.concurrent_per_domain)
