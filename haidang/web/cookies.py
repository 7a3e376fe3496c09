"""The app's two cookies, the CSRF nonce and the session: their names and attributes."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

__all__ = ["CSRF_COOKIE", "HOST_PREFIX", "SESSION_COOKIE", "Cookies"]

CSRF_COOKIE = "hd_csrf"
SESSION_COOKIE = "hd_session"
HOST_PREFIX = "__Host-"


@dataclass(frozen=True, slots=True)
class Cookies:
    """Names and attributes of the cookies; `secure` when the app is served over https (web.base_url).

    Over https the names carry the __Host- prefix, so a browser keeps them only when Secure, with
    Path=/ and no Domain: a sibling subdomain or a plain-http page cannot plant or shadow them (a
    planted CSRF nonce would make its own form tokens pass). Over plain http (tests, a developer's
    machine) browsers drop __Host- cookies, so the plain names are used there. Both are HttpOnly and
    SameSite=Lax: a link clicked in webmail is a cross-site navigation, and with Strict each such
    click would start without them.
    """

    secure: bool

    @property
    def csrf(self) -> str:
        return self._name(CSRF_COOKIE)

    @property
    def session(self) -> str:
        return self._name(SESSION_COOKIE)

    def _name(self, name: str) -> str:
        return HOST_PREFIX + name if self.secure else name

    def set(self, response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", domain=None, secure=self.secure,
                            httponly=True, samesite="lax")

    def delete(self, response: Response, name: str) -> None:
        """Expire the cookie with the attributes it was set with: a browser ignores a __Host- cookie
        sent without Secure, the expiring one included."""
        response.delete_cookie(name, path="/", domain=None, secure=self.secure, httponly=True, samesite="lax")
