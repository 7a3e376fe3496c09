"""The header every response of the web app carries, downloads and redirects included."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NoSniff"]

_NOSNIFF = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """ASGI middleware adding X-Content-Type-Options: nosniff where the response lacks it.

    A browser that sniffs could run a .docx or an error body as HTML; the pages set the header
    themselves too, because the crash page is sent from outside the middleware stack.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
                    headers.append(_NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
