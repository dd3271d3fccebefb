"""Request bodies are bounded before anything reads them whole.

A declared ``Content-Length`` over the cap is refused at once, without reading a byte;
a chunked body is counted as it streams in and reading fails with 413 the moment it
passes the cap, so no request can make the server buffer more than the cap.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "The request body is too large: at most {limit} bytes are accepted."


def _error_body(code: int, message: str) -> bytes:
    title = {400: "Bad Request", 413: "Content Too Large"}.get(code, "Error")
    body: dict[str, Any] = {
        "status": "Invalid input" if code == 400 else title,
        "message": message,
        "code": code,
        "detail": {},
        "title": title,
    }
    return json.dumps(body).encode()


class BodyLimitMiddleware:
    """Answer 413 (Platform.sh error body) for request bodies larger than ``limit``."""

    def __init__(self, app: ASGIApp, limit: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        # Paths that stream large bodies on purpose (git pushes) bound them themselves.
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes or ("\0",)):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _reply(send, 400, "The Content-Length header is not a valid number.")
            return
        if declared is not None and declared > self.limit:
            await _reply(send, 413, TOO_LARGE.format(limit=self.limit))
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.limit

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the app's read, so the app's error handlers answer.
                    raise HTTPException(413, TOO_LARGE.format(limit=limit))
            return message

        return counted


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not text.isascii() or not text.isdigit():
                return -1
            return int(text)
    return None


async def _reply(send: Send, code: int, message: str) -> None:
    body = _error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
