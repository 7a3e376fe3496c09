"""Signed one-click links in flag emails: one per (flag message, recipient, response option).

A token is `base64url(JSON claims) . base64url(HMAC-SHA256)`. The claims name the flag message
(its outbox key), the rule, story and article, the recipient and the action, and an expiry; the
secret comes from the environment (read by the CLI or service wiring, never from YAML), so a
link cannot be forged or widened to another flag, person or action. The same secret, under
other purpose labels, signs CSRF tokens and login sessions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from alerts.flag import Flag, flag_key
from haidang.store.base import ACTION_NAMES

__all__ = ["MIN_SECRET_CHARS", "ExpiredLink", "FlagLink", "LinkError", "LinkSigner", "TamperedLink"]

# A shorter secret could be guessed offline from one leaked link; 32 characters of random
# text (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`) is plenty.
MIN_SECRET_CHARS = 32


class LinkError(Exception):
    """A link that must not act: the web app shows a Vietnamese page for each subclass."""


class TamperedLink(LinkError):
    """The token is malformed or its signature does not match."""


class ExpiredLink(LinkError):
    """The token was genuine but its validity period is over."""


@dataclass(frozen=True, slots=True)
class FlagLink:
    """What a signed link allows: one recipient to record one action on one flag message."""

    flag_key: str
    rule: str
    story_id: str
    article_id: str
    recipient: str
    action: str
    expires: int                     # Unix seconds, UTC


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs and checks flag links, CSRF tokens and session cookies with one secret."""

    def __init__(self, secret: str, base_url: str, *, link_days: int = 7) -> None:
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"the link secret has {len(secret)} characters; use at least {MIN_SECRET_CHARS} "
                             f"random ones")
        self._key = secret.encode("utf-8")
        self.base_url = base_url.rstrip("/")
        self.link_days = link_days

    # -- generic signing -------------------------------------------------------------------

    def mac(self, purpose: str, message: str) -> str:
        """HMAC-SHA256 of `message` under a purpose label, so a token for one use never fits another."""
        return _b64(hmac.new(self._key, f"{purpose}\x1f{message}".encode(), hashlib.sha256).digest())

    def check_mac(self, purpose: str, message: str, mac: str) -> bool:
        """Compared as bytes: `hmac.compare_digest` raises TypeError on a str that is not ASCII,
        and a forged token, cookie or form field may hold anything."""
        return hmac.compare_digest(self.mac(purpose, message).encode("ascii"),
                                   mac.encode("utf-8", "surrogatepass"))

    # -- flag links ------------------------------------------------------------------------

    def sign(self, link: FlagLink) -> str:
        body = _b64(json.dumps(asdict(link), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
                    .encode("utf-8"))
        return f"{body}.{self.mac('flag-link', body)}"

    def verify(self, token: str, now: datetime | None = None) -> FlagLink:
        """The link's claims; TamperedLink or ExpiredLink when it must not act."""
        body, _, mac = token.partition(".")
        if not body or not mac or not self.check_mac("flag-link", body, mac):
            raise TamperedLink("signature does not match")
        try:
            raw = json.loads(_unb64(body))
            link = FlagLink(**raw)
        except (binascii.Error, ValueError, TypeError) as exc:    # signed by us, so only a bug gets here
            raise TamperedLink(f"unreadable claims: {exc}") from exc
        if link.action not in ACTION_NAMES:
            raise TamperedLink(f"unknown action {link.action!r}")
        if (now or datetime.now(UTC)).timestamp() >= link.expires:
            raise ExpiredLink(f"expired at {datetime.fromtimestamp(link.expires, UTC).isoformat()}")
        return link

    def url(self, token: str) -> str:
        return f"{self.base_url}/xu-ly/{token}"

    def links_for(self, flag: Flag, recipient: str, article_id: str,
                  now: datetime | None = None) -> dict[str, str]:
        """action id -> signed URL for one recipient of `flag`, valid for `link_days`."""
        return self.story_links(flag.rule, flag.story_id, recipient, article_id, now=now)

    def story_links(self, rule: str, story_id: str, recipient: str, article_id: str,
                    now: datetime | None = None) -> dict[str, str]:
        """`links_for` by rule and story: a reminder re-signs the flag's links with a later expiry.
        The claims keep the flag's own key, so a link used from either email counts as used in both."""
        expires = int(((now or datetime.now(UTC)) + timedelta(days=self.link_days)).timestamp())
        key = flag_key(rule, story_id, recipient)
        return {
            action: self.url(self.sign(FlagLink(flag_key=key, rule=rule, story_id=story_id, article_id=article_id,
                                                recipient=recipient, action=action, expires=expires)))
            for action in ACTION_NAMES
        }
