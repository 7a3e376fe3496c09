"""The exception tree; every error the project raises on purpose is one of these.

    HaidangError
    ├── ConfigError                  a YAML file or setting is wrong (file, line, field)
    ├── FetchError                   a feed or page could not be fetched
    │   ├── TransientFetchError      timeouts, 5xx, connection resets: retry later
    │   └── PermanentFetchError      4xx, robots disallow, refused address, oversize
    ├── ExtractError                 a fetched document could not be turned into content
    ├── StoreError                   the store failed
    │   ├── TransientStoreError      locked database, unreachable cluster
    │   └── PermanentStoreError      corrupt data, schema newer than the code
    ├── QueryError                   a search query or filter the user must fix
    └── SendError                    an alert could not be delivered
        ├── TransientSendError
        │   └── ServerUnavailable    unreachable, mute or refusing our login: stop the pass
        └── PermanentSendError
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ExtractError",
    "FetchError",
    "HaidangError",
    "PermanentFetchError",
    "PermanentSendError",
    "PermanentStoreError",
    "QueryError",
    "SendError",
    "ServerUnavailable",
    "StoreError",
    "TransientFetchError",
    "TransientSendError",
    "TransientStoreError",
]


class HaidangError(Exception):
    """Root of every error raised on purpose by Hải Đăng."""

    transient: bool = False


class ConfigError(HaidangError):
    """Configuration is invalid; `problems` lists (file, line, field, message)."""

    def __init__(self, message: str, problems: list[tuple[str, int | None, str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class FetchError(HaidangError):
    """A feed or page could not be fetched."""


class TransientFetchError(FetchError):
    transient = True


class PermanentFetchError(FetchError):
    pass


class ExtractError(HaidangError):
    """A fetched document could not be turned into article content."""


class StoreError(HaidangError):
    """The store failed."""


class TransientStoreError(StoreError):
    transient = True


class PermanentStoreError(StoreError):
    pass


class QueryError(HaidangError):
    """A search query or filter is malformed; the message says how to fix it (in English, for the
    CLI and logs). `kind` names the fault and `position` (1-based) says where, so another surface
    can say it in its own words (haidang/web/query_errors.py)."""

    def __init__(self, message: str, *, kind: str | None = None, position: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.position = kind, position


class SendError(HaidangError):
    """An alert could not be delivered."""


class TransientSendError(SendError):
    transient = True


class ServerUnavailable(TransientSendError):
    """The mail server could not be reached, did not answer, or refused our login: every other
    message would fail the same way now, so a delivery pass stops trying (alerts.outbox)."""


class DeliveryUncertain(ServerUnavailable):
    """The server took the whole message and then gave no answer (RFC 1047): it may have been
    delivered. The outbox sends it once more, and after a second such silence stops and says so,
    so a server that keeps dropping the line after the message cannot deliver it over and over."""


class PermanentSendError(SendError):
    pass
