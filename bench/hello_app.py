"""The baselines: a bare ASGI "hello" app, or (argument ``fastapi``) the same answer from
one FastAPI route, served by the same uvicorn settings."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with a tiny JSON body."""
    if scope["type"] != "http":
        return
    body = b'{"hello":"world"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"17")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def framework_app() -> Any:
    """The same answer from one FastAPI route: the framework's own ceiling."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    api = FastAPI()

    @api.get("/")
    async def hello() -> Response:
        return Response(b'{"hello":"world"}', media_type="application/json")

    return api


if __name__ == "__main__":
    served = framework_app() if sys.argv[2:] == ["fastapi"] else app
    uvicorn.run(
        served, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", server_header=False
    )
