"""The one outer layer every HTTP request passes before routing.

In order, outermost first: the request id (log lines and ``X-Request-Id``), the
console's security headers, the HTTP metrics, the body limit and the input guard. They
were five middlewares; as one they scan the headers once and wrap ``send`` once, which
the cheapest requests (a cached ``GET /users/me``) notice. Git's smart HTTP is exempt
from the last two: its bodies are packs, bounded by git.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from homeport.logformat import enter_request, leave
from homeport.web import metrics
from homeport.web.body_limit import TOO_LARGE, counting, declared_length, refuse
from homeport.web.console.headers import SECURITY_HEADER_PAIRS, is_console_path
from homeport.web.input_guard import guard, media_type
from homeport.web.request_id import HEADER, fresh_id, sane_id


class EdgeMiddleware:
    """Request id, console headers, metrics, body limit and input guard, in one layer."""

    def __init__(self, app: ASGIApp, limit: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        given = length = kind = None
        chunked = False
        for name, value in scope["headers"]:
            if name == HEADER:
                given = value if given is None else given
            elif name == b"content-length":
                length = value if length is None else length
            elif name == b"content-type":
                kind = value if kind is None else kind
            elif name == b"transfer-encoding":
                chunked = True
        request_id = (sane_id(given) if given is not None else None) or fresh_id()
        id_header = (HEADER, request_id.encode())
        console = is_console_path(scope["path"])
        status = 500  # if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                if console:  # unless the page set its own
                    present = {k.lower() for k, _ in headers}
                    headers.extend(p for p in SECURITY_HEADER_PAIRS if p[0] not in present)
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        token = enter_request(request_id)
        try:
            if scope["path"].startswith(self.exempt):
                await self.app(scope, receive, send_with_id)
                return
            declared = declared_length(length)
            if declared == -1:
                await refuse(send_with_id, 400, "The Content-Length header is not a valid number.")
                return
            if declared is not None and declared > self.limit:
                await refuse(send_with_id, 413, TOO_LARGE.format(limit=self.limit))
                return
            if chunked or (declared is None and scope["method"] not in ("GET", "HEAD")):
                # No declared length: count what streams in (a GET or HEAD without
                # one has no body to read).
                receive = counting(receive, self.limit)
            await guard(self.app, scope, receive, send_with_id, media_type(kind))
        finally:
            leave(token)
            metrics.record(scope, status, time.perf_counter() - began)
