"""A real ``homeport serve`` process on a free port, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """Starts ``homeport serve`` with its own data dir; ``stop()`` sends SIGTERM."""

    def __init__(
        self, data_dir: Path, extra_env: dict[str, str] | None = None, router: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.ssh_port = free_port()
        # The router (nginx) only for the tests that reach apps through it.
        self.router_port = free_port() if router else None
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "HOMEPORT_DATA_DIR": str(data_dir),
            "HOMEPORT_BIND": f"127.0.0.1:{self.port}",
            "HOMEPORT_SSH_BIND": f"127.0.0.1:{self.ssh_port}",
            "HOMEPORT_LOG_LEVEL": "info",
            "HOMEPORT_ROUTER_BIND": f"127.0.0.1:{self.router_port}" if router else "off",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def homeport(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run an operator command against the same data dir."""
        return subprocess.run(
            [str(BIN / "homeport"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self) -> ServerProcess:
        """Start and wait until /health answers; retry on another port if ours was taken.

        ``free_port`` can only say a port was free a moment ago: a parallel test may take
        it before the server binds.
        """
        for _attempt in range(3):
            if self._start_once():
                return self
            self.port, self.ssh_port = free_port(), free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self.env["HOMEPORT_BIND"] = f"127.0.0.1:{self.port}"
            self.env["HOMEPORT_SSH_BIND"] = f"127.0.0.1:{self.ssh_port}"
        raise RuntimeError(f"server could not bind a port:\n{self.log()}")

    def _start_once(self) -> bool:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "homeport"), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "address already in use" in self.log().lower():
                    return False
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return True
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        """One HTTP call with the standard library; returns (status, parsed JSON or text).

        ``raw`` sends those bytes as the body unchanged (with the caller's headers)."""
        hdrs = dict(headers or {})
        data = raw
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        text = raw.decode()
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def exchange(self, api_token: str) -> str:
        """Exchange an API token for an access token, the way the PHP CLI does."""
        status, body = self.call(
            "POST",
            "/oauth2/token",
            form={"grant_type": "api_token", "api_token": api_token},
            headers={"Authorization": "Basic cGxhdGZvcm0tY2xpOg=="},
        )
        assert status == 200, body
        token: str = body["access_token"]
        return token
