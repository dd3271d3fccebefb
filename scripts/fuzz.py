"""Fuzz a real ``homeport serve`` process with requests generated from its own OpenAPI
description (schemathesis + hypothesis); run it with ``make fuzz``.

The server runs from a fresh temporary data dir on a free port, with its own SQLite
database: every ``HOMEPORT_*`` variable of the caller's environment is dropped except
``HOMEPORT_MAX_BODY_BYTES``, so a developer's database or backup store is never touched.
The script logs in as the bootstrap platform admin, creates one project, and points the
path parameters ``project_id``, ``environment_id``, ``env_type``, ``user_id`` and
``activity_id`` at things that exist, so the handlers run past their look-ups (the other
ids, and every query and body, stay as generated).

``FUZZ_EXAMPLES`` (default 2,000) is the total budget, spread evenly over the
operations. A request fails the run when it answers 5xx, when its body is larger than
the server's body cap (``HOMEPORT_MAX_BODY_BYTES``, 262,144 bytes by default), or when it
takes longer than ``REQUEST_TIMEOUT`` seconds in total (a stream that never ends must not
hang the fuzzer). The run also fails if no request at all succeeded: then the fuzzer
tested nothing but its own mistakes. On failure the temporary dir, with the server log,
is kept and its path printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NotSet
from schemathesis.core.result import Ok
from urllib3.exceptions import ReadTimeoutError

from homeport.settings import Settings

BIN = Path(sys.executable).parent
DEFAULT_EXAMPLES = 2000
REQUEST_TIMEOUT = 30.0  # seconds for one whole request, body included
CONNECT_TIMEOUT = 5.0
ADMIN_EMAIL = "admin@example.com"
TOKEN_TTL = 86_400  # one access token for the whole run, however long it takes
# Environment variables passed through to the server; every other HOMEPORT_* is dropped.
PASS_THROUGH = ("HOMEPORT_MAX_BODY_BYTES",)
SHOWN = 600  # characters of a request body or traceback shown per failure line


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def shorten(text: str, limit: int = SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more)"


def histogram(statuses: Counter[str]) -> str:
    """``200: 3, 404: 1``, or ``-`` when empty."""
    return ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())) or "-"


class Server:
    """``homeport serve`` on a free port with its own data dir; output goes to a log."""

    def __init__(self, tmp: Path) -> None:
        self.data_dir = tmp / "data"
        self.data_dir.mkdir(mode=0o700)
        self.data_dir.chmod(0o700)  # whatever the umask: the server refuses a shared dir
        self.log_path = tmp / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEPORT_")}
        env.update({k: os.environ[k] for k in PASS_THROUGH if k in os.environ})
        self.env = {
            **env,
            "HOMEPORT_DATA_DIR": str(self.data_dir),
            "HOMEPORT_ADMIN_EMAIL": ADMIN_EMAIL,
            "HOMEPORT_ACCESS_TOKEN_TTL": str(TOKEN_TTL),
            "HOMEPORT_LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",  # so a traceback is in the log when we look
        }
        self.settings = Settings.from_env(self.env)
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until /health answers; retry on another port if ours was taken."""
        for _attempt in range(3):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self.env["HOMEPORT_BIND"] = f"127.0.0.1:{port}"
            if self._start_once():
                return
        raise RuntimeError(f"server could not bind a port:\n{self.log()}")

    def _start_once(self) -> bool:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "homeport"), "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "address already in use" in self.log().lower():
                    return False
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def alive(self) -> bool:
        """Whether the server process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM and wait (SIGKILL after 20 s); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_size(self) -> int:
        """Bytes in the log so far: a mark to read what one request added."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log(self, since: int = 0) -> str:
        """What the server printed since the mark ``since``."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")


@dataclass
class Outcome:
    """What one request got: status (None on a transport error), body size, any problem."""

    status: int | None
    size: int
    problem: str = ""


@dataclass
class Fuzzer:
    """Sends generated cases to the server and keeps count of what came back."""

    server: Server
    session: requests.Session = field(default_factory=requests.Session)
    token: str = ""
    project_id: str = ""
    activity_id: str = ""
    account_id: str = ""
    requests_sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def cap(self) -> int:
        """The server's body cap: no response may be larger."""
        return self.server.settings.max_body_bytes

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A setup request as the admin (not counted)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.session.request(
            method, self.server.url + path, headers=headers, timeout=REQUEST_TIMEOUT, **kwargs
        )

    def login(self) -> None:
        """Log in as the bootstrap admin, waiting out the failure limiter if needed.

        Fuzzed token requests fail from our address, so a later login can meet a 429."""
        password = (self.server.data_dir / "initial-admin-password").read_text().strip()
        form = {"grant_type": "password", "username": ADMIN_EMAIL, "password": password}
        deadline = time.monotonic() + 180
        while True:
            r = self.session.post(self.server.url + "/oauth2/token", data=form, timeout=30)
            if r.status_code == 200:
                self.token = r.json()["access_token"]
                return
            if r.status_code != 429 or time.monotonic() > deadline:
                raise RuntimeError(f"admin login failed: {r.status_code} {r.text}")
            time.sleep(int(r.headers.get("Retry-After", "5")) + 1)

    def ensure_ready(self) -> None:
        """Make sure our token works and our project exists (an operation may delete it)."""
        if not self.token or self.api("GET", "/users/me").status_code == 401:
            if self.token:
                print("  (admin token no longer accepted: logging in again)")
            self.token = ""
            self.login()
            self.account_id = self.api("GET", "/users/me").json()["id"]
        if self.project_id and self.api("GET", f"/projects/{self.project_id}").status_code == 200:
            return
        if self.project_id:
            print(f"  (project {self.project_id} is gone: creating another)")
        r = self.api("POST", "/projects", json={"title": "Fuzz"})
        if r.status_code != 201:
            raise RuntimeError(f"cannot create the project: {r.status_code} {r.text}")
        body = r.json()["_embedded"]
        self.project_id = body["entity"]["id"]
        self.activity_id = body["activities"][0]["id"]

    def point_at_existing(self, case: Any) -> None:
        """Substitute path parameters with things that exist.

        ``user_id`` is ``me`` under ``/users`` (where that alias works) and the admin's
        own id elsewhere: project access paths take a real id and 404 on ``me``."""
        params = case.path_parameters or {}
        known = {
            "project_id": self.project_id,
            "environment_id": "main",
            "env_type": "production",
            "user_id": "me" if case.path.startswith("/users/") else self.account_id,
            "activity_id": self.activity_id,
        }
        for name, value in known.items():
            if name in params and value:
                params[name] = value

    def send(self, case: Any) -> Outcome:
        """Send one case; read the body within the total timeout, counting its size."""
        kwargs = case.as_transport_kwargs(
            base_url=self.server.url, headers={"Authorization": f"Bearer {self.token}"}
        )
        kwargs.update(
            stream=True, timeout=(CONNECT_TIMEOUT, REQUEST_TIMEOUT), allow_redirects=False
        )
        # Each read waits at most REQUEST_TIMEOUT, and reading stops once REQUEST_TIMEOUT
        # has passed in total: a stream that trickles or stays silent cannot hang us.
        deadline = time.monotonic() + REQUEST_TIMEOUT
        timed_out = f"timeout: no complete answer within {REQUEST_TIMEOUT:.0f} s"
        status: int | None = None
        size = 0
        try:
            with self.session.request(**kwargs) as response:
                status = response.status_code
                while chunk := response.raw.read1(65_536, decode_content=True):
                    size += len(chunk)
                    if time.monotonic() > deadline:
                        return Outcome(status, size, timed_out)
        except (requests.Timeout, ReadTimeoutError, TimeoutError):
            return Outcome(status, size, timed_out)
        except Exception as exc:  # any other transport error is a finding too
            return Outcome(status, size, f"{type(exc).__name__}: {exc}")
        if status >= 500:
            return Outcome(status, size, "server error")
        if size > self.cap:
            return Outcome(status, size, f"body of {size} bytes is over the {self.cap} cap")
        return Outcome(status, size)

    def check(self, case: Any) -> None:
        """One example: send it, count it, record a failure with what reproduces it."""
        if not self.server.alive():
            raise ServerDied
        self.point_at_existing(case)
        mark = self.server.log_size()
        outcome = self.send(case)
        self.requests_sent += 1
        if outcome.problem.startswith("timeout"):
            self.statuses["timeout"] += 1
        else:
            self.statuses[str(outcome.status) if outcome.status else "error"] += 1
        if not outcome.problem:
            return
        line = f"{case.method} {case.formatted_path} {outcome.status} {outcome.size}"
        self.failures.append(f"{line}: {outcome.problem}")
        print(f"  FAIL {line}: {outcome.problem}")
        print(f"    query: {case.query!r}")
        print(f"    headers: {case.headers!r}")
        body = "-" if isinstance(case.body, NotSet) else shorten(repr(case.body))
        print(f"    body: {body}")
        curl = case.as_curl_command(
            headers={"Authorization": "Bearer $TOKEN"}, base_url=self.server.url
        )
        print(f"    curl: {shorten(curl, 2 * SHOWN)}")
        time.sleep(0.2)  # let the server finish writing what it has to say
        added = self.server.log(mark).strip()
        if added:
            print("    server log for this request:")
            for text in shorten(added, 8 * SHOWN).splitlines()[-60:]:
                print(f"      {text}")
        if not self.server.alive():
            raise ServerDied


class ServerDied(Exception):
    """The server process exited while we were fuzzing it."""


def examples_total() -> int:
    """``FUZZ_EXAMPLES`` or the default."""
    raw = os.environ.get("FUZZ_EXAMPLES", "")
    try:
        total = int(raw) if raw else DEFAULT_EXAMPLES
    except ValueError:
        raise SystemExit(f"FUZZ_EXAMPLES must be a whole number, not {raw!r}") from None
    if total < 1:
        raise SystemExit("FUZZ_EXAMPLES must be at least 1")
    return total


def fuzz_operation(fuzzer: Fuzzer, operation: Any, examples: int) -> None:
    """Send up to ``examples`` generated cases for one operation."""
    deletes_project = (operation.method.upper(), operation.path) == (
        "DELETE",
        "/projects/{project_id}",
    )

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        fuzzer.check(case)
        if deletes_project:
            fuzzer.ensure_ready()  # a deleted project would 404 every later example

    run()


def fuzz(fuzzer: Fuzzer, total: int) -> tuple[int, list[str], list[str]]:
    """Run every operation; returns (operations, not generated, sent no request)."""
    schema = schemathesis.openapi.from_url(f"{fuzzer.server.url}/openapi.json")
    results = list(schema.get_all_operations())
    per_op = max(1, total // len(results))
    print(f"{len(results)} operations, {per_op} examples each (FUZZ_EXAMPLES={total})")
    not_generated: list[str] = []
    silent: list[str] = []
    for result in results:
        if not isinstance(result, Ok):
            not_generated.append(f"invalid operation in the description: {result}")
            print(f"  NOT GENERATED {not_generated[-1]}")
            continue
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        fuzzer.ensure_ready()
        before = fuzzer.requests_sent
        seen = fuzzer.statuses.copy()
        try:
            fuzz_operation(fuzzer, operation, per_op)
        except ServerDied:
            raise
        except Exception as exc:  # say which operation: never skip silently
            not_generated.append(f"{label}: {type(exc).__name__}: {shorten(str(exc))}")
            print(f"  NOT FUZZED {not_generated[-1]}")
        sent = fuzzer.requests_sent - before
        print(f"  {label}: {sent} requests ({histogram(fuzzer.statuses - seen)})")
        if sent == 0:
            silent.append(label)
    return len(results), not_generated, silent


def main() -> int:
    """Start the server, fuzz it, print the summary; 1 if anything failed."""
    total = examples_total()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="homeport-fuzz-"))
    server = Server(tmp)
    fuzzer = Fuzzer(server)
    operations = 0
    not_generated: list[str] = []
    silent: list[str] = []
    crashed = ""
    try:
        server.start()
        print(f"homeport serve on {server.url}, data dir {server.data_dir}")
        print(f"response body cap: {fuzzer.cap} bytes; request timeout {REQUEST_TIMEOUT:.0f} s")
        operations, not_generated, silent = fuzz(fuzzer, total)
    except ServerDied:
        crashed = "the server process exited during the run"
    except Exception as exc:  # report, then still stop the server
        crashed = f"fuzzer stopped: {type(exc).__name__}: {exc}"
    finally:
        code = server.stop()
    if code not in (0, None):
        fuzzer.failures.append(f"server exit code {code} after SIGTERM (expected 0)")
    elapsed = time.monotonic() - started
    ok = sum(n for status, n in fuzzer.statuses.items() if status.isdigit() and int(status) < 300)

    print()
    print("Summary")
    print(f"  operations: {operations}")
    print(f"  requests:   {fuzzer.requests_sent} ({ok} answered < 300)")
    print(f"  statuses:   {histogram(fuzzer.statuses)}")
    print(f"  elapsed:    {elapsed:.1f} s")
    for line in not_generated:
        print(f"  not generated: {line}")
    for label in silent:
        print(f"  sent no request: {label}")
    print(f"  failures:   {len(fuzzer.failures)}")
    for line in fuzzer.failures:
        print(f"    {line}")
    if crashed:
        print(f"  {crashed}")
    if ok == 0:
        print("  no request succeeded: the fuzzer is not reaching the handlers")

    failed = bool(fuzzer.failures or crashed or ok == 0)
    if failed:
        print(f"\nserver log kept at {server.log_path}; its tail:")
        print("\n".join(server.log().splitlines()[-40:]))
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
