"""Logins for the search page: argon2 password checks, the login throttle and signed session cookies.

Users and their argon2 hashes live in config/users.yaml (`haidang users add`); no password is
ever stored in clear. A session is a signed cookie (user, role, expiry, fingerprint) under the
link secret's "session" purpose. The fingerprint is an HMAC of the user's stored password hash
and a per-user logout nonce kept in the store (alert state `web_session:<name>`), checked on
every request: logging out draws a new nonce, and a new password gives a new hash, so either ends
every session of that user, in every browser and every app process sharing the store.
config/users.yaml is read again as soon as it changes (haidang.web.users), so a new password, a
new role or a removal takes effect on the next request, without a restart. Limits: a logout ends
all of that user's sessions, not only the browser's; a store that goes back to an older copy (a restored backup) brings back the
nonce it held, and with it sessions ended since.

The throttle (`LoginThrottle`) counts an attempt *before* its slow password check, atomically, so
simultaneous requests cannot all pass a "not blocked yet" test. It counts per client address (an
IPv6 address by its /64, which one attacker usually holds whole) and per login name:

- a client with `limit` attempts (failed, or still being checked) in `window` is refused, whatever
  name it tries;
- a name with `limit` failed attempts in `window`, from anywhere, is refused only to clients that
  have themselves failed on it in that window. Refusing the name outright would let anyone keep an
  officer locked out with a few requests; this way the officer, from an address that has not
  failed, still logs in with the right password, while each other address gets one guess per
  window at a name under attack instead of `limit`;
- at most `in_flight` password checks run at once (each argon2 check takes 64 MiB and a core's
  tenth of a second): beyond that the attempt is refused as busy, uncounted, so a flood of logins
  cannot starve the rest of the app.

A successful attempt is taken off the counts; failures stay until the window passes (a success
does not clear them, or a valid account would reset an attacker's budget). The counts live in
memory (one process serves the app); a process starting up counts the failures of the last window
from the audit log, where every failed login is kept (`seed`), so a restart does not hand an
attacker a fresh budget. Two app processes on one store do not see each other's failures while
they run. The reverse proxy must pass the real client address (uvicorn trusts X-Forwarded-For
from 127.0.0.1 only), or every officer shares the proxy's budget.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import secrets
import threading
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from alerts.links import LinkSigner
from haidang.settings import User
from haidang.store.base import Store
from haidang.web.users import UsersFileWatch

__all__ = ["ROLE_RANK", "Attempt", "LoginThrottle", "Refusal", "Session", "SessionKeeper", "client_key",
           "end_sessions", "hash_password", "logout_nonce"]

ROLE_RANK = {"viewer": 0, "officer": 1, "administrator": 2}
_HASHER = PasswordHasher()
# Checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("haidang-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's defaults) for config/users.yaml."""
    return _HASHER.hash(password)


def _state_key(name: str) -> str:
    return f"web_session:{name.strip().lower()}"


def logout_nonce(store: Store, name: str) -> str:
    """The user's current logout nonce ("" until the first logout)."""
    return str((store.get_alert_state(_state_key(name)) or {}).get("nonce", ""))


def end_sessions(store: Store, name: str, now: datetime) -> None:
    """Draw a new logout nonce: every session cookie the user holds stops working."""
    store.set_alert_state(_state_key(name), {"nonce": secrets.token_urlsafe(16), "at": now.isoformat()})


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    role: str
    expires: int                 # Unix seconds
    fingerprint: str = ""        # SessionKeeper.fingerprint when issued

    def allows(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


class SessionKeeper:
    """Checks passwords against the configured users and issues and reads session cookies."""

    def __init__(self, users: list[User], signer: LinkSigner, *, hours: int = 12,
                 users_file: Path | None = None, agencies: Collection[str] | None = None) -> None:
        """`users` as the settings loaded them from `users_file`, which is then watched for changes
        (haidang.web.users; a new file naming an agency not in `agencies` is refused); without a
        file, `users` stay as given."""
        self._users = UsersFileWatch(users_file, users, agencies)
        self._signer = signer
        self._hours = hours

    def user(self, name: str) -> User | None:
        """The user of that name as users.yaml says now (None: removed)."""
        return self._users.current().get(name.strip().lower())

    def check_password(self, name: str, password: str) -> User | None:
        user = self._users.current().get(name.strip().lower())
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def fingerprint(self, user: User, nonce: str) -> str:
        """Binds a session to the user's password hash and logout nonce; keyed, so it reveals neither."""
        return self._signer.mac("session-user", f"{user.name.lower()}\x1f{user.password_hash}\x1f{nonce}")

    def issue(self, user: User, now: datetime | None = None, nonce: str = "") -> str:
        """A session cookie; `nonce` is the user's current `logout_nonce`."""
        expires = int(((now or datetime.now(UTC)) + timedelta(hours=self._hours)).timestamp())
        body = base64.urlsafe_b64encode(json.dumps({"u": user.name, "r": user.role, "e": expires,
                                                    "f": self.fingerprint(user, nonce)}).encode())
        text = body.decode("ascii").rstrip("=")
        return f"{text}.{self._signer.mac('session', text)}"

    def read(self, cookie: str | None, now: datetime | None = None) -> Session | None:
        """The session in a cookie, or None when missing, forged, expired or the user was removed or
        demoted. Needs no store; `current` then checks it against the logout nonce."""
        if not cookie:
            return None
        body, _, mac = cookie.partition(".")
        if not body or not mac or not self._signer.check_mac("session", body, mac):
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(user=str(raw["u"]), role=str(raw["r"]), expires=int(raw["e"]),
                              fingerprint=str(raw.get("f", "")))
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
            return None
        if (now or datetime.now(UTC)).timestamp() >= session.expires:
            return None
        user = self._users.current().get(session.user.lower())
        if user is None or user.role != session.role:      # removed or demoted since the login
            return None
        return session

    def current(self, session: Session, nonce: str) -> bool:
        """False once the user logged out, or has another password, since the session was issued."""
        user = self._users.current().get(session.user.lower())
        return user is not None and hmac.compare_digest(session.fingerprint, self.fingerprint(user, nonce))


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt counted before its password check; hand it back to `LoginThrottle.finish`."""

    name: str
    client: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused attempt. `audit` is true for the first refusal of its client (and name) in a window,
    so the append-only log gets one entry per window, not one per request; `unlogged` counts the
    refusals after the previous such entry that got none."""

    reason: Literal["client", "name", "busy"]
    audit: bool = False
    unlogged: int = 0


def _keys(name: str, client: str) -> tuple[str, str, str]:
    """The counts one attempt adds to: its client's, its name's, and the name's from that client."""
    return f"c:{client}", f"n:{name}", f"nc:{name}\x1f{client}"


def client_key(address: str | None) -> str:
    """The throttled unit of a client address: the address, or its /64 for IPv6."""
    if not address:
        return "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    """Counts login attempts per client and per name, and caps password checks in flight (see the
    module docstring for why it works this way)."""

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=15), in_flight: int = 2) -> None:
        self._limit, self._window, self._max_in_flight = limit, window, in_flight
        self._attempts: dict[str, deque[datetime]] = {}
        self._noted: dict[str, tuple[datetime, int]] = {}     # refusal key -> (audited at, refused since)
        self._in_flight = 0
        self._swept: datetime | None = None
        self._lock = threading.Lock()

    @property
    def window(self) -> timedelta:
        return self._window

    def seed(self, failures: Iterable[tuple[str, str | None, datetime]], now: datetime) -> None:
        """Count failed attempts (name, client address, when) made before this process started: the
        audit log's `login_failed` entries, read before the first login is checked. Those older
        than the window are skipped."""
        with self._lock:
            for name, client, at in failures:
                if now - at < self._window:
                    for key in _keys(name.strip().lower(), client_key(client)):
                        self._attempts.setdefault(key, deque()).append(at)
            for key, times in self._attempts.items():
                self._attempts[key] = deque(sorted(times))      # `_recent` drops the oldest first

    def begin(self, name: str, client: str | None, now: datetime) -> Attempt | Refusal:
        """Count the attempt and take a check slot, in one step under the lock; or refuse it."""
        folded, who = name.strip().lower(), client_key(client)
        keys = _keys(folded, who)
        with self._lock:
            self._sweep(now)
            if self._recent(keys[0], now) >= self._limit:
                return self._refuse("client", keys[0], now)
            if self._recent(keys[1], now) >= self._limit and self._recent(keys[2], now) > 0:
                return self._refuse("name", keys[2], now)
            if self._in_flight >= self._max_in_flight:
                return Refusal("busy")
            self._in_flight += 1
            for key in keys:
                self._attempts.setdefault(key, deque()).append(now)
        return Attempt(name=folded, client=who, at=now)

    def finish(self, attempt: Attempt, ok: bool) -> None:
        """Free the check slot; a right password takes the attempt off the counts."""
        with self._lock:
            self._in_flight -= 1
            if not ok:
                return
            for key in _keys(attempt.name, attempt.client):
                recent = self._attempts.get(key)
                if recent and attempt.at in recent:
                    recent.remove(attempt.at)

    def _recent(self, key: str, now: datetime) -> int:
        recent = self._attempts.get(key)
        while recent and now - recent[0] >= self._window:
            recent.popleft()
        return len(recent) if recent else 0

    def _refuse(self, reason: Literal["client", "name"], key: str, now: datetime) -> Refusal:
        at, since = self._noted.get(key, (None, 0))
        if at is not None and now - at < self._window:
            self._noted[key] = (at, since + 1)
            return Refusal(reason)
        self._noted[key] = (now, 0)
        return Refusal(reason, audit=True, unlogged=since)

    def _sweep(self, now: datetime) -> None:
        """Forget keys whose window has passed, once per window, so random names do not pile up; a
        refusal note is kept a window longer, so its count of unlogged refusals reaches the next entry."""
        if self._swept is not None and now - self._swept < self._window:
            return
        self._swept = now
        for key in [k for k, d in self._attempts.items() if not d or now - d[-1] >= self._window]:
            del self._attempts[key]
        for key in [k for k, (at, _) in self._noted.items() if now - at >= 2 * self._window]:
            del self._noted[key]
