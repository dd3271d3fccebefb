"""HTTP over `http.client`: lighter to import than urllib.request, and easy to stream.

Connection problems become `ConnectionFailed` (exit 5); HTTP error statuses are
returned to the caller, which knows what they mean for the request it made.
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlencode, urlsplit

from homeport.cli.errors import ConnectionFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any


class Response:
    """A complete HTTP answer."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: dict[str, str],
        body: bytes,
        header_items: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        # The headers as sent (original case and order), for `api:curl -i`.
        self.header_items = header_items if header_items is not None else list(headers.items())

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        """True for 2xx statuses."""
        return 200 <= self.status < 300


def with_query(url: str, params: Sequence[tuple[str, Any]] | Mapping[str, Any] | None) -> str:
    """`url` with `params` appended (lists repeat the key: `type=a&type=b`)."""
    if not params:
        return url
    pairs: list[tuple[str, str]] = []
    items = params.items() if hasattr(params, "items") else params
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    if not pairs:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(pairs)


class StreamedResponse:
    """An open response read line by line (the activity log stream)."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp
        self.status = resp.status

    def lines(self) -> Iterator[bytes]:
        """Lines of the body as they arrive; a read timeout raises `TimeoutError`."""
        while True:
            line = self._resp.readline()
            if not line:
                return
            yield line

    def read(self) -> bytes:
        """The rest of the body."""
        return self._resp.read()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class Transport:
    """Makes HTTP requests; one connection per request keeps it simple and robust."""

    def __init__(self, timeout: float = 30.0, verify: bool = True, user_agent: str = "") -> None:
        self.timeout = timeout
        self.verify = verify
        self.user_agent = user_agent

    def _connect(self, url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionFailed(f"Invalid URL: {url}")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            import ssl

            context = ssl.create_default_context()
            if not self.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(parts.netloc, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=timeout)
        return conn, target

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn, target = self._connect(url, timeout)
        all_headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        all_headers.update(headers or {})
        try:
            conn.request(method, target, body=body, headers=all_headers)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            host = urlsplit(url).netloc
            if isinstance(exc, TimeoutError | socket.timeout):
                raise ConnectionFailed(f"Timed out waiting for host: {host}") from exc
            raise ConnectionFailed(f"Failed to connect to host: {host}") from exc

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send a request and read the whole answer."""
        conn, resp = self._send(method, url, headers, body, self.timeout)
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed(f"Failed to connect to host: {urlsplit(url).netloc}") from exc
        finally:
            conn.close()
        items = resp.getheaders()
        heads = {k.lower(): v for k, v in items}
        return Response(resp.status, resp.reason, heads, data, items)

    def stream(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> StreamedResponse:
        """Open a GET whose body is read incrementally."""
        conn, resp = self._send("GET", url, headers, None, timeout)
        return StreamedResponse(conn, resp)


def form_body(fields: Mapping[str, str]) -> bytes:
    """An `application/x-www-form-urlencoded` body."""
    return urlencode(list(fields.items())).encode("ascii")


def basic_auth(user: str, password: str = "") -> str:
    """An HTTP Basic `Authorization` header value."""
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
