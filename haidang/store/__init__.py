"""Stores: the Store protocol and its backends; `open_store` is the one place that picks a backend."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haidang.errors import StoreError
from haidang.store.base import Store

if TYPE_CHECKING:   # importing settings pulls in pydantic and ruamel; crawler children need neither
    from elasticsearch import Elasticsearch

    from haidang.settings import StoreSettings

__all__ = ["SQLITE_FILE_NAME", "elasticsearch_client", "open_store"]

_log = logging.getLogger(__name__)

# The database file inside the data folder (store.data_dir or HAIDANG_HOME).
SQLITE_FILE_NAME = "haidang.sqlite3"


def open_store(settings: StoreSettings, *, create: bool = True) -> Store:
    """Open the configured backend; the SQLite file lives in `settings.data_dir`.

    `create=False` is for commands that only read: a missing SQLite file raises StoreMissing
    instead of becoming a new empty store, which would hide a wrong config or data folder behind
    empty answers. An Elasticsearch store is opened as always (its indices are the cluster's).
    """
    if settings.backend == "sqlite":
        from haidang.store.sqlite import SqliteStore

        path = Path(settings.data_dir).expanduser() / SQLITE_FILE_NAME
        _log.debug("opening SQLite store %s", path)
        return SqliteStore(path, cache_mib=settings.sqlite_cache_mib, mmap_mib=settings.sqlite_mmap_mib,
                           create=create)
    if settings.backend == "elasticsearch":
        from haidang.store.elastic import ElasticStore

        _log.debug("opening Elasticsearch store %s (prefix %s)", settings.elasticsearch_url, settings.elasticsearch_prefix)
        return ElasticStore(elasticsearch_client(settings), prefix=settings.elasticsearch_prefix,
                            delete_after_days=settings.elasticsearch_delete_after_days)
    raise StoreError(f"unknown store.backend {settings.backend!r}: use sqlite or elasticsearch")


def elasticsearch_client(settings: StoreSettings, environ: Mapping[str, str] | None = None) -> Elasticsearch:
    """The official client for `settings`; the URL falls back to ELASTICSEARCH_URL, and credentials
    come only from the environment variables the settings name (API key first, then user/password)."""
    from elasticsearch import Elasticsearch

    env = os.environ if environ is None else environ
    url = settings.elasticsearch_url or env.get("ELASTICSEARCH_URL")
    if not url:
        raise StoreError("store.backend is elasticsearch but no URL is set: set store.elasticsearch_url in "
                         "config/haidang.yaml or the ELASTICSEARCH_URL environment variable")
    options: dict[str, Any] = {"request_timeout": settings.elasticsearch_timeout_s}
    api_key = env.get(settings.elasticsearch_api_key_env or "")
    user = env.get(settings.elasticsearch_username_env or "")
    password = env.get(settings.elasticsearch_password_env or "")
    if api_key:
        options["api_key"] = api_key
    elif password:
        options["basic_auth"] = (user or "elastic", password)
    if settings.elasticsearch_ca_certs:
        options["ca_certs"] = settings.elasticsearch_ca_certs
    return Elasticsearch(url, **options)
