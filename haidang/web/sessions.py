"""Logins for the search page: argon2 password checks and signed session cookies.

Users and their argon2 hashes live in config/users.yaml (`haidang users add`); no password is
ever stored in clear. A session is a signed cookie (user, role, expiry) under the link secret's
"session" purpose, so the server keeps no session table and a restart logs nobody out.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from alerts.links import LinkSigner
from haidang.settings import User

__all__ = ["ROLE_RANK", "LoginThrottle", "Session", "SessionKeeper", "hash_password"]

ROLE_RANK = {"viewer": 0, "officer": 1, "administrator": 2}
_HASHER = PasswordHasher()
# Checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("haidang-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's defaults) for config/users.yaml."""
    return _HASHER.hash(password)


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    role: str
    expires: int                 # Unix seconds

    def allows(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


class SessionKeeper:
    """Checks passwords against the configured users and issues and reads session cookies."""

    def __init__(self, users: list[User], signer: LinkSigner, *, hours: int = 12) -> None:
        self._users = {u.name.lower(): u for u in users}
        self._signer = signer
        self._hours = hours

    def check_password(self, name: str, password: str) -> User | None:
        user = self._users.get(name.strip().lower())
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def issue(self, user: User, now: datetime | None = None) -> str:
        expires = int(((now or datetime.now(UTC)) + timedelta(hours=self._hours)).timestamp())
        body = base64.urlsafe_b64encode(json.dumps({"u": user.name, "r": user.role, "e": expires}).encode())
        text = body.decode("ascii").rstrip("=")
        return f"{text}.{self._signer.mac('session', text)}"

    def read(self, cookie: str | None, now: datetime | None = None) -> Session | None:
        """The session in a cookie, or None when missing, forged, expired or the user was removed."""
        if not cookie:
            return None
        body, _, mac = cookie.partition(".")
        if not body or not mac or not self._signer.check_mac("session", body, mac):
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(user=str(raw["u"]), role=str(raw["r"]), expires=int(raw["e"]))
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        if (now or datetime.now(UTC)).timestamp() >= session.expires:
            return None
        user = self._users.get(session.user.lower())
        if user is None or user.role != session.role:      # removed or demoted since the login
            return None
        return session


class LoginThrottle:
    """Refuses a login name after `limit` failures within `window`, until the window passes.

    Kept in memory (one process serves the app): enough to stop guessing through the form; a
    restart forgets it, so the reverse proxy should rate-limit too.
    """

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=15)) -> None:
        self._limit, self._window = limit, window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def blocked(self, name: str, now: datetime) -> bool:
        with self._lock:
            recent = self._failures.get(name.strip().lower())
            while recent and now - recent[0] >= self._window:
                recent.popleft()
            return bool(recent) and len(recent) >= self._limit

    def failed(self, name: str, now: datetime) -> None:
        with self._lock:
            self._failures.setdefault(name.strip().lower(), deque()).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.strip().lower(), None)
