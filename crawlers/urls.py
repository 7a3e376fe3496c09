"""Canonical article URLs: rel=canonical when it can be trusted, tracking parameters stripped.

The canonical URL is the upsert key and, hashed by `haidang.record.article_id`, the document id in
every backend, so the same story reached through a feed link, a share link with `utm_*` or a
Zalo/Facebook click id must come out as one string.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["canonical_url", "clean_url", "is_tracking_param", "same_site"]

log = logging.getLogger(__name__)

# Query parameters that only say how a reader arrived. Prefixes cover families whose members
# vary by campaign (utm_*, VnExpress's vn_*, Zalo's zarsrc/zarsrc_*, Mailchimp's mc_*).
_TRACKING_PREFIXES = ("utm_", "vn_", "zarsrc", "mc_", "pk_", "hsa_", "_hs", "itm_")
_TRACKING_EXACT = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "igshid", "igsh", "gidzl", "_ga", "_gl", "ocid", "cmpid", "ncid", "spm", "share",
    "__twitter_impression", "fb_action_ids", "fb_action_types", "fb_ref", "fb_source",
    "mkt_tok", "trk", "trkcampaign", "sr_share",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Subdomains that serve the same articles as the bare domain (mobile and AMP editions).
_EDITION_PREFIXES = ("www.", "m.", "amp.", "mobile.")


def is_tracking_param(name: str) -> bool:
    """True for a query parameter that identifies a campaign or click, not a document."""
    low = name.lower()
    return low in _TRACKING_EXACT or low.startswith(_TRACKING_PREFIXES)


def clean_url(url: str) -> str:
    """Lower-case scheme and host, drop default port and fragment, strip tracking parameters and
    sort the rest (w3lib also normalises percent-encoding)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"   # kept as given: rare, never tracking
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    path = parts.path or "/"
    rebuilt = urlunsplit((scheme, netloc, path, urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    for prefix in _EDITION_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix):]
    return host


def same_site(a: str, b: str) -> bool:
    """Same host, ignoring www/m/amp editions, or one a subdomain of the other (ports must agree)."""
    try:
        pa, pb = urlsplit(a), urlsplit(b)
        if not pa.hostname or not pb.hostname:
            return False
        ports = (pa.port or _DEFAULT_PORTS.get(pa.scheme), pb.port or _DEFAULT_PORTS.get(pb.scheme))
    except ValueError:                  # a page's canonical link with port 99999 or "[::1": not a site
        return False
    if ports[0] != ports[1] and pa.scheme == pb.scheme:
        return False
    ha, hb = _site(pa.hostname), _site(pb.hostname)
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)


def canonical_url(url: str, html_canonical: str | None = None, base: str | None = None) -> str:
    """The URL that names this document: the page's rel=canonical when it is trustworthy, else `url`.

    `url` is the final URL after redirects; `base` resolves a relative canonical (default `url`).
    A canonical is refused when it is not http(s), points to another site (syndication partners
    and CMS mistakes would merge unrelated ids) or to a site's home page while `url` is an article
    (a common CMS template bug).
    """
    final = clean_url(url)
    if not html_canonical or not html_canonical.strip():
        return final
    try:
        candidate = urljoin(base or url, html_canonical.strip())
        parts = urlsplit(candidate)
    except ValueError:                  # "http://[::1": not a URL at all
        log.debug("canonical %r is not a URL; using %s", html_canonical, final)
        return final
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        log.debug("canonical %r is not an http(s) URL; using %s", html_canonical, final)
        return final
    if not same_site(candidate, url):
        log.debug("canonical %r is on another site; using %s", html_canonical, final)
        return final
    if parts.path in ("", "/") and urlsplit(final).path not in ("", "/"):
        log.debug("canonical %r is a home page; using %s", html_canonical, final)
        return final
    return clean_url(candidate)
