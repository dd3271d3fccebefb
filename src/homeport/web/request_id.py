"""A request id for every HTTP request: in its log lines and in ``X-Request-Id``.

A caller (or a proxy) may send its own ``X-Request-Id`` of at most 64 characters of
``[A-Za-z0-9._-]``; anything else is replaced by a fresh random id.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homeport.logformat import enter_request, leave

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Fresh ids: a random prefix per process and a counter, 32 hex digits like a random id
# but without a system call per request. They correlate log lines; they guard nothing.
_PREFIX = secrets.token_hex(8)
_NEXT = itertools.count(1)


def _new_prefix() -> None:
    global _PREFIX
    _PREFIX = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_prefix)  # a forked child never repeats ours


def fresh_id() -> str:
    """A request id no other request of any process has (with 2^64 odds)."""
    return f"{_PREFIX}{next(_NEXT) & 0xFFFFFFFFFFFFFFFF:016x}"


def incoming_id(scope: Scope) -> str | None:
    """The caller's request id, if it is a sane one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return None
            return text if _SANE.fullmatch(text) else None
    return None


class RequestIdMiddleware:
    """Binds ``request_id`` for the request's log lines and answers it in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_id(scope) or fresh_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                headers.append((HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = enter_request(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            leave(token)
