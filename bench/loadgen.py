"""A small keep-alive HTTP/1.1 load generator on asyncio (no third-party client).

Each of ``concurrency`` connections sends requests back to back for ``duration``
seconds; latencies are recorded per request.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass
class LoadResult:
    """Figures of one run."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def line(self, label: str) -> str:
        """A one-line summary."""
        med = statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")
        return (
            f"{label:<32} {self.rps:9.1f} req/s  p50 {med:7.2f} ms  "
            f"p99 {self.percentile(99):7.2f} ms  errors {self.errors}"
        )


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str, port: int, make_request: bytes, deadline: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(make_request)
            status = await _read_response(reader)
            elapsed = (time.perf_counter() - start) * 1000
            if 200 <= status < 300:
                result.requests += 1
                result.latencies_ms.append(elapsed)
            else:
                result.errors += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, request: bytes, concurrency: int, duration: float
) -> LoadResult:
    result = LoadResult(0, 0, 0.0, [])
    start = time.perf_counter()
    deadline = start + duration
    await asyncio.gather(
        *(_worker(host, port, request, deadline, result) for _ in range(concurrency))
    )
    result.seconds = time.perf_counter() - start
    return result


def run_load(
    host: str, port: int, request: bytes, concurrency: int = 32, duration: float = 5.0
) -> LoadResult:
    """Send ``request`` (raw HTTP/1.1 bytes) over ``concurrency`` connections."""
    return asyncio.run(_run(host, port, request, concurrency, duration))


def http_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """Raw bytes of one keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
