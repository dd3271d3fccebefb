"""uvicorn's httptools protocol with a bound on the request head.

httptools gathers a whole header (or URL) before handing it over, so a 100 MB
``Authorization`` header would be buffered and parsed in full. Counting the bytes that
arrive while a request head is still open lets the server answer 431 and close the
connection as soon as the head passes the limit.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _response_431(limit: int) -> bytes:
    body = json.dumps(
        {
            "status": "Request Header Fields Too Large",
            "message": f"The request line and headers are too large: at most {limit} bytes.",
            "code": 431,
            "detail": {},
            "title": "Request Header Fields Too Large",
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def header_limited_protocol(limit: int) -> type[HttpToolsProtocol]:
    """An ``HttpToolsProtocol`` class that refuses request heads over ``limit`` bytes."""

    class HeaderLimitedProtocol(HttpToolsProtocol):
        """Counts head bytes per request; 431 and close past the limit."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_open = True
            self._head_bytes = 0

        def data_received(self, data: bytes) -> None:
            if self._head_open:
                # Only the part before the blank line is head; the rest is body.
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end
                if self._head_bytes > limit:
                    self._head_open = False
                    self.transport.write(_response_431(limit))
                    self.transport.close()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._head_open = False
            self._head_bytes = 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            # The next pipelined request's head starts now.
            self._head_open = True

    return HeaderLimitedProtocol
