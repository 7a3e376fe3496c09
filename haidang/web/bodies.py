"""The cap on request bodies: every form of the app is a few kilobytes, so a longer body is refused."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY_BYTES", "BodyLimit"]

# The longest form is the claims list's (2,000 characters of claim, 2,000 of note, a URL): about
# 60 KB when every character is a percent-encoded Vietnamese letter (9 bytes). A quarter of a MiB
# leaves room for any typing and none for a flood: Starlette alone takes 1,000 fields of 1 MiB
# each into memory and spools uploaded files to disk without limit, and uvicorn caps nothing.
MAX_BODY_BYTES = 256 * 1024


class BodyLimit:
    """ASGI middleware: a request body longer than `limit` bytes ends in 413.

    The check sits in `receive`, so the 413 is raised where the endpoint reads its form and the
    app's error handler draws its Vietnamese page; a declared Content-Length over the limit is
    refused before a byte is read, and a chunked body as soon as it passes the limit. A route that
    never reads its body (every GET) is unaffected.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for name, value in scope.get("headers", []) if name.lower() == b"content-length"), b"")
        too_long = declared.strip().isdigit() and int(declared) > self.limit
        received = 0

        async def capped() -> Message:
            nonlocal received
            if too_long:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413)
            return message

        await self.app(scope, capped, send)
