"""Keeps the web app's logins in step with config/users.yaml while the app runs.

`haidang users add` (or an edit of the file) must take effect at once: a password that leaked is
revoked by changing it, not by restarting the service. The file is stat'ed on each login and
session read (a cheap system call); when its modification time, size or inode changed, it is read
again with the project's own validation (haidang.settings.validate_yaml_file and UsersFile, and
each user's `agency` against agencies.yaml, as the loader checks it at start-up). A file
that does not validate leaves the previous users in place and logs why, so a typing mistake locks
nobody out; a deleted file means no users, as at start-up (the loader reads a missing file so).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection
from pathlib import Path

from haidang.errors import ConfigError
from haidang.settings import User, UsersFile, validate_yaml_file

__all__ = ["UsersFileWatch"]

_log = logging.getLogger(__name__)
_Stamp = tuple[int, int, int] | None        # (mtime in ns, size, inode); None: no file


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class UsersFileWatch:
    """The current users of `path`, starting from `users` (what the settings loaded), reloaded
    when the file changes."""

    def __init__(self, path: Path | None, users: list[User], agencies: Collection[str] | None = None) -> None:
        """`agencies`: the agency ids of agencies.yaml; a reloaded file naming another is refused
        (a typo would file that officer's actions under no agency). None checks nothing."""
        self._path = path
        self._agencies = None if agencies is None else frozenset(agencies)
        self._users = {u.name.lower(): u for u in users}
        # The state of the file when the settings were loaded; `users` came from it.
        self._stamp = _stamp(path) if path is not None else None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return self._path

    def current(self) -> dict[str, User]:
        """Lower-case name -> user, reloaded first if the file changed since the last look."""
        if self._path is None:
            return self._users
        stamp = _stamp(self._path)
        if stamp == self._stamp:
            return self._users
        with self._lock:
            if stamp != self._stamp:          # another thread may have reloaded meanwhile
                self._reload(stamp)
        return self._users

    def _reload(self, stamp: _Stamp) -> None:
        assert self._path is not None
        self._stamp = stamp
        if stamp is None:
            _log.warning("%s: removed; the web app now has no users (add one with `haidang users add`)",
                         self._path)
            self._users = {}
            return
        try:
            loaded = validate_yaml_file(self._path, UsersFile)
        except (ConfigError, OSError, ValueError) as exc:     # ValueError: not UTF-8
            # Keep the stamp: the same broken file is not parsed again on every request; the next
            # save (a new stamp) is.
            _log.error("%s: not reloaded, the web app keeps its previous users: %s", self._path, exc)
            return
        users: list[User] = loaded.users  # type: ignore[attr-defined]
        unknown = [f"users.{i}.agency: unknown agency id {u.agency!r} for user {u.name!r}"
                   for i, u in enumerate(users)
                   if self._agencies is not None and u.agency and u.agency not in self._agencies]
        if unknown:
            _log.error("%s: not reloaded, the web app keeps its previous users: %s; use an id from agencies.yaml",
                       self._path, "; ".join(unknown))
            return
        self._users = {u.name.lower(): u for u in users}
        _log.info("%s: reloaded, %d users", self._path, len(users))
