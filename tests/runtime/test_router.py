"""The router against a real nginx and real backend apps started by each test."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.runtime.router import Redirect, RouteEntry, Router, RouterError, Upstream, find_nginx
from homeport.runtime.router import process as router_process

pytestmark = pytest.mark.slow

MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _AppState:
    name: str
    stream_done: threading.Event = field(default_factory=threading.Event)
    body_started: threading.Event = field(default_factory=threading.Event)
    peers: list[Any] = field(default_factory=list)
    upgrades: list[bytes] = field(default_factory=list)


def _handler(state: _AppState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive towards nginx

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, payload: dict[str, Any]) -> None:
            body = json.dumps({"name": state.name, **payload}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.peers.append(self.client_address)
            if self.path != "/stream":
                self._json({"path": self.path, "headers": dict(self.headers)})
                return
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(4):
                self.wfile.write(b"6\r\npart%d\n\r\n" % i)
                self.wfile.flush()
                time.sleep(0.4)
            state.stream_done.set()
            self.wfile.write(b"0\r\n\r\n")

        def do_POST(self) -> None:
            # The test uploads with chunked encoding, which nginx passes on as is.
            digest, length = hashlib.sha256(), 0
            while size := int(self.rfile.readline().split(b";")[0], 16):
                while size:
                    data = self.rfile.read(min(size, 65536))
                    assert data, "body cut short"
                    state.body_started.set()
                    digest.update(data)
                    length += len(data)
                    size -= len(data)
                self.rfile.readline()
            self.rfile.readline()
            self._json({"length": length, "sha256": digest.hexdigest()})

    return Handler


def _echo_handler(state: _AppState) -> type[socketserver.StreamRequestHandler]:
    class Echo(socketserver.StreamRequestHandler):
        """Answers 101, says hello, then echoes every byte: a WebSocket app, minus framing."""

        def handle(self) -> None:
            head = b""
            while (line := self.rfile.readline()) not in (b"\r\n", b""):
                head += line
            state.upgrades.append(head)
            self.wfile.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n\r\nhello\n"
            )
            while data := self.rfile.read1(65536):
                self.wfile.write(data)

    return Echo


_Server = (
    ThreadingHTTPServer | socketserver.ThreadingTCPServer | socketserver.ThreadingUnixStreamServer
)


class _Backends:
    """Apps in threads, on loopback ports or unix sockets; all closed at teardown."""

    def __init__(self) -> None:
        self._servers: list[_Server] = []

    def _serve(self, server: _Server) -> None:
        server.daemon_threads = True  # an open upgraded connection must not block close()
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def tcp(self, name: str, port: int = 0, echo: bool = False) -> tuple[int, _AppState]:
        state = _AppState(name)
        server = (
            socketserver.ThreadingTCPServer(("127.0.0.1", port), _echo_handler(state))
            if echo
            else ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
        )
        self._serve(server)
        return int(server.server_address[1]), state

    def unix(self, name: str, path: str) -> _AppState:
        state = _AppState(name)
        self._serve(socketserver.ThreadingUnixStreamServer(path, _handler(state)))
        return state

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


def _get(
    router: Router, host: str, path: str = "/", headers: dict[str, str] | None = None
) -> tuple[int, str, http.client.HTTPMessage]:
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read().decode(), response.headers
    finally:
        conn.close()


def _app(
    router: Router, host: str, path: str = "/", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    status, body, _ = _get(router, host, path, headers)
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def _upgrade(port: int, host: str) -> tuple[socket.socket, bytes]:
    """Open an upgraded connection through the router; return it and its first bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
    )
    data = b""
    while b"hello\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return sock, data


def _group(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@pytest.fixture
def backends() -> Iterator[_Backends]:
    apps = _Backends()
    yield apps
    apps.close()


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Router]:
    r = Router(tmp_path / "router", "127.0.0.1", _free_port())
    r.start()
    yield r
    r.stop()


def _up(name: str, port: int) -> Upstream:
    return Upstream(environment=name, port=port)


def test_routes_by_host_with_forwarded_headers(router: Router, backends: _Backends) -> None:
    a, _ = backends.tcp("A")
    b, _ = backends.tcp("B")
    router.update(
        [RouteEntry("a.localhost", "/", _up("a", a)), RouteEntry("b.localhost", "/", _up("b", b))]
    )
    assert _app(router, "a.localhost")["name"] == "A"
    seen = _app(router, f"b.localhost:{router.port}", "/x?q=1")
    assert (seen["name"], seen["path"]) == ("B", "/x?q=1")
    headers = seen["headers"]
    # The Host header reaches the app as sent, port included.
    assert headers["Host"] == headers["X-Forwarded-Host"] == f"b.localhost:{router.port}"
    assert headers["X-Forwarded-For"] == headers["X-Real-IP"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    chained = _app(router, "a.localhost", "/", {"X-Forwarded-For": "203.0.113.7"})["headers"]
    assert chained["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"


def test_longest_path_prefix_wins(router: Router, backends: _Backends) -> None:
    (a, _), (b, _), (c, _) = backends.tcp("A"), backends.tcp("B"), backends.tcp("C")
    router.update(
        [
            RouteEntry("p.localhost", "/", _up("a", a)),
            RouteEntry("p.localhost", "/api/", _up("b", b)),
            RouteEntry("p.localhost", "/api/v2/", _up("c", c)),
        ]
    )
    assert _app(router, "p.localhost", "/index.html")["name"] == "A"
    # Plain prefix semantics: no redirect from "/api" to "/api/".
    assert _app(router, "p.localhost", "/api")["name"] == "A"
    assert _app(router, "p.localhost", "/api/v2")["name"] == "B"
    # The prefix is not stripped: the app sees the whole path.
    seen = _app(router, "p.localhost", "/api/users")
    assert (seen["name"], seen["path"]) == ("B", "/api/users")
    assert _app(router, "p.localhost", "/api/v2/x")["name"] == "C"


def test_unknown_host_and_unrouted_path_answer_404(router: Router, backends: _Backends) -> None:
    a, _ = backends.tcp("A")
    router.update([RouteEntry("api-only.localhost", "/api/", _up("a", a))])
    status, body, headers = _get(router, "nowhere.localhost")
    assert (status, body) == (404, "No route for this host\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert _get(router, "api-only.localhost", "/")[:2] == (404, "No route for this path\n")
    assert _get(router, "api-only.localhost", "/api")[:2] == (404, "No route for this path\n")


def test_app_down_answers_502_naming_the_environment(router: Router, backends: _Backends) -> None:
    port = _free_port()
    env = "main (project abc123) <b>$host</b>"
    router.update([RouteEntry("down.localhost", "/", _up(env, port))])
    status, body, headers = _get(router, "down.localhost")
    assert (status, headers["Content-Type"]) == (502, "text/html; charset=utf-8")
    # Escaped for HTML, and "$host" not expanded by nginx.
    assert (
        "502 Bad Gateway: the app of environment main (project abc123) "
        "&lt;b&gt;&#36;host&lt;/b&gt; is not answering."
    ) in body
    # nginx never marks the lone server as failed: the app is used as soon as it is back.
    backends.tcp("back", port)
    assert _app(router, "down.localhost")["name"] == "back"


def test_unix_socket_upstream(router: Router, backends: _Backends) -> None:
    # A short directory: unix socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="hp-router-") as short:
        path = f"{short}/app.sock"
        router.update([RouteEntry("sock.localhost", "/", Upstream("sock env", socket=path))])
        status, body, _ = _get(router, "sock.localhost")
        assert status == 502 and "sock env" in body
        backends.unix("S", path)
        assert _app(router, "sock.localhost", "/s")["name"] == "S"


def test_streamed_response_arrives_before_the_app_finishes(
    router: Router, backends: _Backends
) -> None:
    a, state = backends.tcp("A")
    router.update([RouteEntry("s.localhost", "/", _up("a", a))])
    pieces: list[tuple[bytes, bool]] = []
    url = f"http://127.0.0.1:{router.port}/stream"
    with httpx.stream("GET", url, headers={"Host": "s.localhost"}, trust_env=False) as r:
        for chunk in r.iter_raw():
            pieces.append((chunk, state.stream_done.is_set()))
    assert b"".join(p for p, _ in pieces) == b"part0\npart1\npart2\npart3\n"
    assert pieces[0][0].startswith(b"part0") and not pieces[0][1]
    assert sum(1 for _, done in pieces if not done) >= 2


def test_large_upload_streams_through(router: Router, backends: _Backends) -> None:
    a, state = backends.tcp("A")
    router.update([RouteEntry("u.localhost", "/", _up("a", a))])
    block = os.urandom(MB)
    started_early: list[bool] = []

    def body() -> Iterator[bytes]:
        for i in range(50):
            if i == 8:
                # Unbuffered: the app reads the start before the client sends the rest.
                started_early.append(state.body_started.wait(10))
            yield block

    url = f"http://127.0.0.1:{router.port}/upload"
    response = httpx.post(
        url, content=body(), headers={"Host": "u.localhost"}, trust_env=False, timeout=60
    )
    expected = hashlib.sha256(block * 50).hexdigest()
    assert response.json() == {"name": "A", "length": 50 * MB, "sha256": expected}
    assert started_early == [True]


def test_keep_alive_serves_several_requests_on_one_connection(
    router: Router, backends: _Backends
) -> None:
    a, state = backends.tcp("A")
    router.update([RouteEntry("k.localhost", "/", _up("a", a))])
    conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    try:
        conn.connect()
        first = conn.sock
        for i in range(5):
            conn.request("GET", f"/{i}", headers={"Host": "k.localhost"})
            response = conn.getresponse()
            assert json.loads(response.read())["path"] == f"/{i}"
            assert response.getheader("Connection") != "close" and conn.sock is first
    finally:
        conn.close()
    # nginx kept its own connection to the app open too (upstream keepalive).
    assert len(set(state.peers)) == 1


def test_websocket_upgrade_carries_bytes_both_ways(router: Router, backends: _Backends) -> None:
    port, state = backends.tcp("ws", echo=True)
    router.update([RouteEntry("ws.localhost", "/", _up("ws", port))])
    sock, head = _upgrade(router.port, "ws.localhost")
    with sock:
        assert head.startswith(b"HTTP/1.1 101 ")
        for message in (b"ping-1", b"x" * 100_000):
            sock.sendall(message)
            got = b""
            while len(got) < len(message):
                got += sock.recv(65536)
            assert got == message
    request = state.upgrades[0].lower()
    assert b"upgrade: websocket" in request and b"connection: upgrade" in request


def test_redirect_route(router: Router) -> None:
    router.update(
        [
            RouteEntry("r.localhost", "/", Redirect("https://www.example.com/")),
            RouteEntry("r.localhost", "/old/", Redirect("https://example.com/new?x=1", 302)),
        ]
    )
    status, _, headers = _get(router, "r.localhost", "/anything")
    assert (status, headers["Location"]) == (301, "https://www.example.com/")
    status, _, headers = _get(router, "r.localhost", "/old/page")
    assert (status, headers["Location"]) == (302, "https://example.com/new?x=1")


def test_long_host_names_are_served(router: Router) -> None:
    hosts = [("a" * 63 + ".") * 3 + "b" * 61, "c" * 110 + ".localhost"]  # 253 and 120 bytes
    router.update([RouteEntry(h, "/", Redirect(f"https://{h}.example/")) for h in hosts])
    for host in hosts:
        assert _get(router, host)[2]["Location"] == f"https://{host}.example/"


def test_update_switches_backend_without_dropping_the_listener(
    router: Router, backends: _Backends, tmp_path: Path
) -> None:
    (a, _), (b, _) = backends.tcp("A"), backends.tcp("B")
    router.update([RouteEntry("sw.localhost", "/", _up("a", a))])
    master = (tmp_path / "router" / "nginx.pid").read_text()
    results: list[object] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                results.append(_app(router, "sw.localhost")["name"])
            except Exception as exc:  # recorded, asserted on below
                results.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        time.sleep(0.2)
        router.update([RouteEntry("sw.localhost", "/", _up("b", b))])
        # update returns once only the new workers accept connections.
        assert [_app(router, "sw.localhost")["name"] for _ in range(20)] == ["B"] * 20
    finally:
        stop.set()
        thread.join()
    assert set(results) == {"A", "B"}, [r for r in results if r not in ("A", "B")]
    assert (tmp_path / "router" / "nginx.pid").read_text() == master


def test_concurrent_updates_are_serialised(router: Router, backends: _Backends) -> None:
    ports = [backends.tcp(name)[0] for name in "ABCD"]
    errors: list[BaseException] = []

    def worker(port: int) -> None:
        try:
            for _ in range(3):
                router.update([RouteEntry("c.localhost", "/", _up("c", port))])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in ports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _app(router, "c.localhost")["name"] in "ABCD"


BAD_HOSTS = "Main.localhost|a.localhost; return 200|a.localhost\n|.wild.localhost|*.localhost|a..b"
BAD_PATHS = 'api/|/api|/a{/|/a"/|/a b/|/a\\b/|'
BAD_TARGETS: list[Callable[[], object]] = [
    lambda: Upstream("e", port=0),
    lambda: Upstream("e", port=70000),
    lambda: Upstream("e"),
    lambda: Upstream("e", port=80, socket="/run/app.sock"),
    lambda: Upstream("e", socket="relative.sock"),
    lambda: Upstream("e", socket="/run/a b.sock"),
    lambda: Redirect("https://example.com/$host"),
    lambda: Redirect("javascript:alert(1)"),
    lambda: Redirect('https://example.com/";'),
    lambda: Redirect("https://example.com/", 200),
    lambda: Router(Path("/tmp/x"), "127.0.0.1", 0),
    lambda: Router(Path("/tmp/x"), "bad host;", 8080),
]


@pytest.mark.parametrize("host", [*BAD_HOSTS.split("|"), "a_b.localhost", "", "a" * 254])
def test_invalid_host_is_rejected(host: str) -> None:
    with pytest.raises(ValueError):
        RouteEntry(host, "/", Redirect("/"))


@pytest.mark.parametrize("path", BAD_PATHS.split("|"))
def test_invalid_path_is_rejected(path: str) -> None:
    with pytest.raises(ValueError):
        RouteEntry("a.localhost", path, Redirect("/"))


@pytest.mark.parametrize("make", BAD_TARGETS)
def test_invalid_target_or_router_is_rejected(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()


def test_odd_but_valid_path_stays_literal(router: Router, backends: _Backends) -> None:
    a, _ = backends.tcp("A")
    path = "/a;b'c(d)$x/"
    router.update([RouteEntry("odd.localhost", path, _up("a", a))])
    assert _app(router, "odd.localhost", path + "z")["path"] == path + "z"
    assert _get(router, "odd.localhost", "/a")[0] == 404
    with pytest.raises(ValueError, match="duplicate"):
        router.update([RouteEntry("odd.localhost", path, Redirect("/"))] * 2)
    assert _app(router, "odd.localhost", path)["name"] == "A"


def test_rejected_configuration_keeps_the_old_one(tmp_path: Path, backends: _Backends) -> None:
    # Python's checks let no invalid configuration through, so the refusal is
    # simulated: a wrapper whose `nginx -t` fails while a flag file exists.
    flag, wrapper = tmp_path / "refuse", tmp_path / "nginx-wrapper"
    wrapper.write_text(
        f'#!/bin/sh\nfor a in "$@"; do if [ "$a" = -t ] && [ -e {flag} ]; then\n'
        'echo "nginx: [emerg] simulated" >&2; exit 1; fi; done\n'
        f'exec {find_nginx()} "$@"\n'
    )
    wrapper.chmod(0o755)
    (a, _), (b, _) = backends.tcp("A"), backends.tcp("B")
    router = Router(tmp_path / "router", "127.0.0.1", _free_port(), nginx=str(wrapper))
    router.start()
    try:
        router.update([RouteEntry("x.localhost", "/", _up("a", a))])
        flag.touch()
        with pytest.raises(RouterError, match="simulated"):
            router.update([RouteEntry("x.localhost", "/", _up("b", b))])
        assert _app(router, "x.localhost")["name"] == "A"
        conf = (tmp_path / "router" / "nginx.conf").read_text()
        assert f"127.0.0.1:{a};" in conf and f"127.0.0.1:{b};" not in conf
        assert not (tmp_path / "router" / "nginx.conf.new").exists()
        flag.unlink()
        router.update([RouteEntry("x.localhost", "/", _up("b", b))])
        assert _app(router, "x.localhost")["name"] == "B"
    finally:
        router.stop()


def test_stop_leaves_no_nginx_process(tmp_path: Path) -> None:
    router = Router(tmp_path / "router", "127.0.0.1", _free_port())
    # Routes set before start are served from the start.
    router.update([RouteEntry("early.localhost", "/", Redirect("https://example.com/"))])
    for _ in range(2):  # and it starts again afterwards
        router.start()
        assert router.running() and _get(router, "early.localhost")[0] == 301
        master = int((tmp_path / "router" / "nginx.pid").read_text())
        assert len(_group(master)) >= 2  # master and workers
        router.stop()
        assert not router.running() and _group(master) == []
    router.stop()  # idempotent


def test_stop_kills_nginx_held_up_by_an_open_connection(
    router: Router, backends: _Backends, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(router_process, "STOP_GRACE", 0.5)
    port, _ = backends.tcp("ws", echo=True)
    router.update([RouteEntry("ws.localhost", "/", _up("ws", port))])
    sock, _ = _upgrade(router.port, "ws.localhost")
    with sock:
        master = int((tmp_path / "router" / "nginx.pid").read_text())
        # A graceful stop would wait for this connection; SIGKILL ends it.
        router.stop()
        assert _group(master) == []


def test_start_on_a_busy_port_reports_nginx_stderr(router: Router, tmp_path: Path) -> None:
    # The port is held by another router's nginx: its answers must not be
    # mistaken for the new one's.
    other = Router(tmp_path / "other", "127.0.0.1", router.port)
    with pytest.raises(RouterError, match="Address already in use"):
        other.start()
    assert not other.running() and router.running()
