"""Refuse characters no store can keep, wherever input enters.

PostgreSQL text cannot hold NUL, and neither store can encode a lone UTF-16
surrogate (JSON allows ``"\\ud800"``; UTF-8 does not). Rather than letting each store
fail differently (SQLite keeps NUL, PostgreSQL answers 500), every request is checked
once, before any route (by ``web/edge.py``): the decoded path, the query string, form
bodies and JSON bodies (keys and string values). Git's smart HTTP carries packs, not
text, and is left to git.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homeport.web.errors import error_response

# Bodies are bounded by the body limit (outermost); JSON with more values than this is
# refused by prevalidate anyway, so the walk stops there.
_MAX_NODES = 20_000


_SURROGATE = re.compile("[\ud800-\udfff]")


def bad_text(value: str) -> bool:
    """Whether ``value`` holds NUL or a lone surrogate."""
    return "\x00" in value or _SURROGATE.search(value) is not None


def _bad_json(value: Any) -> bool:
    stack = [value]
    seen = 0
    while stack and seen < _MAX_NODES:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            if bad_text(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if bad_text(key):
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _bad_urlencoded(raw: bytes) -> bool:
    if not raw:
        return False
    if b"\x00" in raw:
        return True
    if b"%00" in raw:
        return True
    # "+" is a space in forms; decoding the rest finds what a parser would find.
    text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "surrogateescape")
    return "\x00" in text


async def guard(app: ASGIApp, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
    """Run ``app``, unless the path, query or body (of media type ``kind``) holds NUL or
    a lone surrogate: then answer 400 in the Platform.sh error body."""
    if bad_text(scope["path"]) or _bad_urlencoded(scope.get("query_string", b"")):
        await _refuse(scope, receive, send, "The URL")
        return
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        await app(scope, receive, send)
        return
    try:
        body, messages = await _read_all(receive)
    except HTTPException as exc:  # the body limit cut the body off (413)
        await error_response(exc.status_code, str(exc.detail))(scope, receive, send)
        return
    if _bad_body(kind, body):
        await _refuse(scope, _replay(messages, receive), send, "The request body")
        return
    await app(scope, _replay(messages, receive), send)


def media_type(raw: bytes | None) -> str:
    """The bare media type of a ``Content-Type`` value ("" when absent)."""
    if raw is None:
        return ""
    return raw.decode("latin-1").split(";", 1)[0].strip().lower()


async def _refuse(scope: Scope, receive: Receive, send: Send, where: str) -> None:
    message = f"{where} contains a character that cannot be stored (NUL or a lone surrogate)."
    await error_response(400, message)(scope, receive, send)


def _bad_body(kind: str, body: bytes) -> bool:
    # A body without a type is read as a form by the token endpoint and as JSON by
    # the API routes: it is checked both ways.
    if not body:
        return False
    if b"\x00" in body:
        return True
    if kind in ("", "application/x-www-form-urlencoded") and _bad_urlencoded(body):
        return True
    if not (kind in ("", "application/json") or kind.endswith("+json")):
        return False
    if b"\\u" not in body:  # neither NUL nor a surrogate can hide without an escape
        return False
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return False  # the route answers unreadable JSON itself
    return _bad_json(parsed)


async def _read_all(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
