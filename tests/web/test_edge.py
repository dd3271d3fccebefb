"""The one outer layer (web/edge.py): request id, metrics, body limit and input guard
hold for every answer, including those refused before any route.

Driven through raw ASGI calls, so the headers are exactly what a client could send
(httpx would fix a malformed Content-Length before it left).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Message

from homeport.web.request_id import HEADER
from tests.helpers import Api

CAP = 262_144  # the default HOMEPORT_MAX_BODY_BYTES


class Answer:
    """What the app sent back, and how much of the body it asked for."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, list[bytes]] = {}
        self.body = b""
        self.reads = 0

    def json(self) -> Any:
        return json.loads(self.body)

    def one(self, name: bytes) -> bytes:
        values = self.headers.get(name, [])
        assert len(values) == 1, (name, values)
        return values[0]


def call(
    app: ASGIApp,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: tuple[bytes, ...] = (),
) -> Answer:
    """One HTTP request straight into the ASGI app."""
    answer = Answer()
    pending = list(chunks) or [b""]

    async def receive() -> Message:
        answer.reads += 1
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            for name, value in message.get("headers", []):
                answer.headers.setdefault(name.lower(), []).append(value)
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    return answer


def assert_platform_error(answer: Answer, code: int) -> dict[str, Any]:
    assert answer.status == code, answer.body
    assert answer.one(b"content-type") == b"application/json"
    body: dict[str, Any] = answer.json()
    assert {"status", "message", "code", "detail", "title"} <= body.keys()
    assert body["code"] == code
    return body


def test_a_declared_body_over_the_cap_is_refused_unread_with_a_request_id(api: Api) -> None:
    answer = call(
        api.client.app,
        "POST",
        "/projects",
        [(b"content-length", str(CAP + 1).encode()), (HEADER, b"edge-1")],
        (b"x" * 10,),
    )
    assert "too large" in assert_platform_error(answer, 413)["message"]
    assert answer.reads == 0  # not a byte of the body was read
    assert answer.one(HEADER) == b"edge-1"


def test_a_malformed_content_length_is_a_clear_400(api: Api) -> None:
    for bad in (b"12a", b"-5", b"\xd9\xa3"):  # the last: an Arabic-Indic digit
        answer = call(api.client.app, "POST", "/projects", [(b"content-length", bad)])
        assert "Content-Length" in assert_platform_error(answer, 400)["message"]
        assert len(answer.one(HEADER)) == 32


def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(api: Api) -> None:
    piece = b"[" + b"0," * 8191
    chunks = (piece,) * (CAP // len(piece) + 4)
    answer = call(
        api.client.app,
        "POST",
        "/oauth2/token",
        [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")],
        chunks,
    )
    assert_platform_error(answer, 413)
    assert answer.reads <= CAP // len(piece) + 2  # it stopped reading at the cap
    assert answer.one(HEADER)


def test_unstorable_characters_are_refused_with_a_request_id(api: Api, admin: str) -> None:
    body = b'{"title": "a\\u0000b"}'
    answer = call(
        api.client.app,
        "POST",
        "/projects",
        [
            (b"authorization", f"Bearer {admin}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (HEADER, b"edge-2"),
        ],
        (body,),
    )
    assert "cannot be stored" in assert_platform_error(answer, 400)["message"]
    assert answer.one(HEADER) == b"edge-2"
    assert api.get("/projects", admin).json()["count"] == 0  # nothing was created


def test_a_route_may_not_set_a_second_request_id(api: Api) -> None:
    answer = call(api.client.app, "GET", "/health", [(HEADER, b"edge-3")])
    assert answer.status == 200
    assert answer.one(HEADER) == b"edge-3"


def test_refusals_before_routing_are_counted_as_other(api: Api) -> None:
    labels = {"route": "other", "method": "POST", "status": "413"}

    def count() -> float:
        return REGISTRY.get_sample_value("homeport_http_requests_total", labels) or 0.0

    before = count()
    call(api.client.app, "POST", "/projects", [(b"content-length", str(CAP * 2).encode())])
    assert count() == before + 1
