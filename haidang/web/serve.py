"""Runs the web app with uvicorn: for `haidang web`, and for `haidang serve` beside the scheduler."""

from __future__ import annotations

import uvicorn

from haidang.settings import Settings
from haidang.store import open_store
from haidang.web.app import create_app

__all__ = ["build_server"]


def build_server(settings: Settings, secret: str, host: str | None = None, port: int | None = None, *,
                 create: bool = True) -> uvicorn.Server:
    """A uvicorn server for the app, bound to web.host:web.port unless given (127.0.0.1 by default).

    `create=False` (`haidang web`) opens the store only if it exists: a request then never makes an
    empty store, which would hide a wrong data folder behind empty pages. `haidang serve` keeps the
    default: its scheduler collects into this data folder and creates the store there itself, and
    its web app may answer before the first crawl does.

    Proxy headers are trusted only from 127.0.0.1 (uvicorn's default), so behind the office's
    reverse proxy the audit log records the officer's address, and nobody else can forge it.
    """
    if create:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, lambda: open_store(settings.app.store, create=create), secret)
    config = uvicorn.Config(app, host=host or settings.app.web.host, port=settings.app.web.port if port is None else port,
                            log_level="warning", access_log=False, proxy_headers=True, server_header=False)
    return uvicorn.Server(config)
