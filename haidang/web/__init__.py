"""The officers' web app: signed flag links, the search page, report downloads and logins (Starlette + Jinja2)."""

from __future__ import annotations

from haidang.web.app import create_app
from haidang.web.serve import build_server

__all__ = ["build_server", "create_app"]
