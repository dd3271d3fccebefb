"""Findings 5 and 6: bodies and headers are bounded before the server reads them whole.

Before the fix a 6 MB ``[{},{},…]`` from a viewer blocked ``/health`` for 10 s and came
back as a 40 MB error; 18 MB took 13 GB of memory; a 400 MB chunked body to
``/oauth2/token`` was buffered whole; a 100 MB ``Authorization`` header blocked the
server for 11 s.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CAP = 262_144  # HOMEPORT_MAX_BODY_BYTES default
HEAD_CAP = 65_536  # HOMEPORT_MAX_HEADER_BYTES default


def _raw(target: Target, head: bytes, body_chunks: int = 0, chunk: bytes = b"") -> bytes:
    """Send ``head`` then up to ``body_chunks`` chunks of ``chunk``; the server's answer.

    Stops sending as soon as the server answers or closes (a bounded loop)."""
    host, port = "127.0.0.1", target.server.port
    with socket.create_connection((host, port), timeout=30) as sock:
        try:
            sock.sendall(head)
            for _ in range(body_chunks):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while len(answer) < 1_000_000:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer and answer.split(b"\r\n", 1)[0].count(b" ") >= 1:
                    head_part, _, rest = answer.partition(b"\r\n\r\n")
                    length = [
                        int(line.split(b":", 1)[1])
                        for line in head_part.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ]
                    if length and len(rest) >= length[0]:
                        break
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _json_body(answer: bytes) -> dict[str, object]:
    body: dict[str, object] = json.loads(answer.partition(b"\r\n\r\n")[2])
    return body


@pytest.fixture(scope="module")
def viewer_project(target: Target) -> tuple[str, str]:
    owner = target.person("limits-owner@example.com")
    viewer = target.person("limits-viewer@example.com")
    project = target.project(owner)
    target.grant(project, viewer, ["viewer", "production:viewer", "development:viewer"])
    return project, viewer.token


def test_idle_memory_baseline(target: Target) -> None:
    """Recorded first, so the last test can compare the peak during every attack."""
    rss, _ = target.memory_kb()
    target.server.env["_IDLE_RSS_KB"] = str(rss)
    assert rss > 0


def test_six_megabytes_of_empty_objects_is_refused_at_once(
    target: Target, viewer_project: tuple[str, str]
) -> None:
    project, token = viewer_project
    body = b"[" + b",".join([b"{}"] * (2 * 1024 * 1024)) + b"]"
    head = (
        f"POST /projects/{project}/user-access HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    answer = _raw(target, head + body)
    assert _status(answer) == 413
    error = _json_body(answer)
    assert error["code"] == 413 and "at most" in str(error["message"])
    assert b"content-type: application/json" in answer.lower()
    assert time.perf_counter() - started < 10
    assert target.health_ms() < 2000


def test_chunked_body_is_cut_off_at_the_cap(
    target: Target, viewer_project: tuple[str, str]
) -> None:
    project, token = viewer_project
    head = (
        f"POST /projects/{project}/user-access HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    piece = b"{}," * 20_000
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer = _raw(target, head + b"1\r\n[\r\n", body_chunks=300, chunk=chunk)  # up to 18 MB
    assert _status(answer) == 413, answer[:300]


def test_body_under_the_cap_gets_a_short_error_list(
    target: Target, viewer_project: tuple[str, str]
) -> None:
    """Invalid items under the size cap: 400 before any lock, and the error body is short."""
    project, token = viewer_project
    started = time.perf_counter()
    status, error = target.call(
        "POST", f"/projects/{project}/user-access", token, body=[{}] * 60_000
    )
    assert status == 400 and "values" in error["message"]
    status, error = target.call(
        "POST", f"/projects/{project}/user-access", token, body=[{"user_id": 1}] * 3_000
    )
    assert status == 400
    assert len(json.dumps(error)) < 8_000
    assert "_truncated" in error["detail"]
    assert time.perf_counter() - started < 10
    # Other variants: every write route with a body caps its errors the same way.
    status, error = target.call(
        "POST", f"/projects/{project}/variables", token, body={"bogus": [1] * 50_000}
    )
    assert status in (400, 403) and len(json.dumps(error)) < 8_000


def test_deeply_nested_json_is_refused(target: Target, viewer_project: tuple[str, str]) -> None:
    project, token = viewer_project
    deep = "[" * 100_000 + "]" * 100_000
    for path in (f"/projects/{project}/user-access", f"/projects/{project}/variables"):
        status, error = target.call(
            "POST", path, token, headers={"Content-Type": "application/json"}, raw=deep.encode()
        )
        assert status == 400, error
        assert error["code"] == 400


def test_oauth_token_endpoint_does_not_buffer_a_huge_chunked_body(target: Target) -> None:
    head = (
        b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    piece = b"a" * 1_048_576
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer = _raw(target, head, body_chunks=400, chunk=chunk)  # would be 400 MB
    assert _status(answer) in (400, 413), answer[:300]


@pytest.mark.parametrize("size", [16 * 1024 * 1024, 100 * 1024 * 1024])
def test_huge_headers_answer_431(target: Target, size: int) -> None:
    head = b"GET /users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    chunk = b"A" * 1_048_576
    started = time.perf_counter()
    answer = _raw(target, head, body_chunks=size // len(chunk), chunk=chunk)
    assert _status(answer) == 431, answer[:300]
    assert _json_body(answer)["code"] == 431
    assert time.perf_counter() - started < 10
    assert target.health_ms() < 2000


def test_headers_just_under_the_limit_still_work(target: Target) -> None:
    status, _ = target.call("GET", "/health", headers={"X-Padding": "p" * (HEAD_CAP // 2)})
    assert status == 200


def test_console_forms_are_bounded_too(target: Target) -> None:
    head = (
        "POST /console/login HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {CAP * 40}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = _raw(target, head, body_chunks=40, chunk=b"a" * CAP)
    assert _status(answer) == 413


def test_memory_stayed_bounded_during_the_attacks(target: Target) -> None:
    """The peak resident size never grew 100 MB over the idle size."""
    idle = int(target.server.env.get("_IDLE_RSS_KB", "0"))
    assert idle, "the baseline test did not run first"
    _, peak = target.memory_kb()
    assert peak - idle < 100 * 1024, (idle, peak)
