"""Stores: the Store protocol and its backends; `open_store` is the one place that picks a backend."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from haidang.errors import StoreError
from haidang.store.base import Store

if TYPE_CHECKING:   # importing settings pulls in pydantic and ruamel; crawler children need neither
    from haidang.settings import StoreSettings

__all__ = ["SQLITE_FILE_NAME", "open_store"]

_log = logging.getLogger(__name__)

# The database file inside the data folder (store.data_dir or HAIDANG_HOME).
SQLITE_FILE_NAME = "haidang.sqlite3"


def open_store(settings: StoreSettings) -> Store:
    """Open the configured backend; the SQLite file lives in `settings.data_dir`."""
    if settings.backend == "sqlite":
        from haidang.store.sqlite import SqliteStore

        path = Path(settings.data_dir).expanduser() / SQLITE_FILE_NAME
        _log.debug("opening SQLite store %s", path)
        return SqliteStore(path, cache_mib=settings.sqlite_cache_mib, mmap_mib=settings.sqlite_mmap_mib)
    if settings.backend == "elasticsearch":
        raise StoreError(
            "store.backend 'elasticsearch' is not implemented until the Elasticsearch issue: "
            "set store.backend to sqlite in config/haidang.yaml"
        )
    raise StoreError(f"unknown store.backend {settings.backend!r}: use sqlite")
