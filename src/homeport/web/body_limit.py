"""Request bodies are bounded before anything reads them whole (used by ``web/edge.py``).

A declared ``Content-Length`` over the cap is refused at once, without reading a byte;
a chunked body is counted as it streams in and reading fails with 413 the moment it
passes the cap, so no request can make the server buffer more than the cap. A body
with a declared length needs no counting: the HTTP parser never hands the app more
than the declared bytes.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Send

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


def declared_length(raw: bytes | None) -> int | None:
    """The declared ``Content-Length``; None when absent, -1 when malformed."""
    if raw is None:
        return None
    text = raw.decode("latin-1").strip()
    if not text.isascii() or not text.isdigit():
        return -1
    return int(text)


def counting(receive: Receive, limit: int) -> Receive:
    """``receive`` that fails with 413 once the body read so far passes ``limit``."""
    seen = 0

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


async def refuse(send: Send, code: int, message: str) -> None:
    """Answer ``code`` in the Platform.sh error body and close the connection (the
    unread body is never read)."""
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
