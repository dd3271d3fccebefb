"""The nginx process: start in the foreground, reload on SIGHUP, stop.

nginx runs in its own process group so that stopping it can also reach its
workers, even when the master has died on its own.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import logging
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from homeport.runtime.router.config import (
    GENERATION_PATH,
    TEMP_DIRS,
    Layout,
    check_state_dir,
    listen_address,
    render,
)
from homeport.runtime.router.model import RouteEntry, RouterError

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
RELOAD_TIMEOUT = 10.0
STOP_GRACE = 5.0
CHECK_TIMEOUT = 30.0
# An underscore can never appear in a route's host, so this Host header always
# reaches the default server, whatever routes exist.
PROBE_HOST = "homeport_router_probe"
_POLL = 0.02


def find_nginx() -> str | None:
    """Path of the nginx binary: on PATH, else Debian's /usr/sbin/nginx, else None."""
    found = shutil.which("nginx")
    if found:
        return found
    debian = "/usr/sbin/nginx"
    return debian if os.access(debian, os.X_OK) else None


def _live_group_members(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (Linux /proc).

    Zombies do not count: they hold no sockets and their parent reaps them.
    """
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _serving_workers(master: int) -> set[int]:
    """Pids of the master's workers that still accept connections (Linux /proc).

    A worker told to quit retitles itself "worker process is shutting down"
    just before it closes its listening sockets.
    """
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != master:
                continue
            title = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if "worker process" in title and "shutting down" not in title:
            found.add(int(entry.name))
    return found


class _StderrTail:
    """Forward nginx's stderr to logging and keep its last lines for error messages."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=40)
        self._thread = threading.Thread(
            target=self._pump, args=(stream,), name="nginx-stderr", daemon=True
        )
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self._lines.append(line)
                    log.warning("nginx: %s", line)

    def text(self, wait: float = 0.0) -> str:
        """The recent lines; `wait` lets the pipe drain after nginx exited."""
        if wait:
            self._thread.join(wait)
        return "\n".join(self._lines)


class Router:
    """Homeport's router: an nginx it configures, starts, reloads and stops.

    All methods are thread-safe: `update` may run in a worker thread while the
    server thread owns the process.
    """

    def __init__(
        self, state_dir: Path, bind_host: str, bind_port: int, nginx: str | None = None
    ) -> None:
        """Prepare a router; nothing starts until `start`. Raise ValueError on bad input."""
        self._layout = Layout(check_state_dir(state_dir))
        self._listen = listen_address(bind_host, bind_port)
        self._port = bind_port
        # A wildcard bind is reachable on loopback; probe there.
        self._probe_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind_host, bind_host)
        binary = nginx or find_nginx()
        if binary is None:
            raise RouterError("nginx not found (Debian: apt-get install nginx-light)")
        self._nginx = binary
        self._lock = threading.Lock()
        self._entries: tuple[RouteEntry, ...] = ()
        self._generation = 0
        # Tells this router's nginx from any other answering on the port (say,
        # one left behind by a crashed Homeport, serving its own generation 0).
        self._token = secrets.token_hex(6)
        self._conf_text: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: _StderrTail | None = None

    @property
    def port(self) -> int:
        """The TCP port nginx listens on."""
        return self._port

    def running(self) -> bool:
        """Whether the nginx master process is alive."""
        with self._lock:
            return self._proc is not None and not self._exited(self._proc)

    def start(self) -> None:
        """Write the configuration and start nginx; return once it answers.

        Raise RouterError, with nginx's stderr, if it exits or does not answer
        within 10 s (a busy port, for instance).
        """
        with self._lock:
            if self._proc is not None and not self._exited(self._proc):
                raise RouterError("the router is already running")
            self._reap()
            self._prepare_dirs()
            text = render(self._layout, self._listen, self._entries, self._label(self._generation))
            self._write_conf(self._layout.conf, text)
            self._conf_text = text
            self._layout.pid.unlink(missing_ok=True)
            proc = subprocess.Popen(
                [*self._base_command(), "-c", str(self._layout.conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            assert proc.stderr is not None
            self._proc = proc
            self._stderr = _StderrTail(proc.stderr)
            deadline = time.monotonic() + START_TIMEOUT
            while self._probe() != self._label(self._generation):
                if self._exited(proc) or time.monotonic() > deadline:
                    why = "exited" if self._exited(proc) else "did not answer within 10 s"
                    self._reap()
                    raise RouterError(f"nginx {why}:\n{self._stderr_text()}")
                time.sleep(_POLL)
            log.info("router listening on %s (nginx pid %d)", self._listen, proc.pid)

    def update(self, entries: Sequence[RouteEntry]) -> None:
        """Serve exactly `entries` from now on.

        The new configuration is checked with `nginx -t` before it replaces the
        old one; a running nginx is reloaded with SIGHUP and this returns once
        its workers serve the new routes. On any failure the old configuration
        stays in place and RouterError is raised (ValueError for duplicates).
        """
        new_entries = tuple(entries)
        with self._lock:
            generation = self._generation + 1
            text = render(self._layout, self._listen, new_entries, self._label(generation))
            self._prepare_dirs()
            candidate = self._layout.conf.with_name("nginx.conf.new")
            self._write_conf(candidate, text)
            check = subprocess.run(
                [*self._base_command(), "-t", "-q", "-c", str(candidate)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CHECK_TIMEOUT,
                check=False,
            )
            if check.returncode != 0:
                candidate.unlink(missing_ok=True)
                output = (check.stderr + check.stdout).decode("utf-8", "replace").strip()
                raise RouterError(f"nginx rejected the new configuration:\n{output}")
            os.replace(candidate, self._layout.conf)
            previous = self._conf_text
            self._conf_text, self._entries, self._generation = text, new_entries, generation
            if self._proc is None or self._exited(self._proc):
                return
            self._reload(self._proc, previous)

    def stop(self) -> None:
        """Stop nginx: SIGQUIT lets requests finish; SIGKILL after 5 s. Idempotent."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if not self._exited(proc):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGQUIT)
                deadline = time.monotonic() + STOP_GRACE
                while not self._exited(proc) and time.monotonic() < deadline:
                    time.sleep(_POLL)
            self._reap()
            log.info("router stopped")

    # Internals; callers hold the lock.

    def _base_command(self) -> list[str]:
        # "-e stderr" keeps nginx away from its compiled-in log file before it
        # has read the configuration; "-p" keeps relative paths in state_dir.
        return [self._nginx, "-e", "stderr", "-p", f"{self._layout.state_dir}/"]

    def _prepare_dirs(self) -> None:
        self._layout.state_dir.mkdir(parents=True, exist_ok=True)
        for name in TEMP_DIRS:
            (self._layout.temp / name).mkdir(parents=True, exist_ok=True, mode=0o700)

    @staticmethod
    def _write_conf(path: Path, text: str) -> None:
        # Write aside and rename, so nginx never reads half a file.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def _reload(self, proc: subprocess.Popen[bytes], previous: str | None) -> None:
        old_workers = _serving_workers(proc.pid)
        try:
            os.kill(proc.pid, signal.SIGHUP)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while self._probe() != self._label(self._generation):
            if self._exited(proc) or time.monotonic() > deadline:
                break
            time.sleep(_POLL)
        else:
            # New workers answer, but nginx lets the old ones accept for another
            # 100 ms; wait until they stop so the caller sees only the new routes.
            while old_workers & _serving_workers(proc.pid):
                if time.monotonic() > deadline:
                    break
                time.sleep(_POLL)
            return
        # nginx kept its old configuration (or died): put the old file back so
        # the disk matches what runs, and report why.
        if previous is not None:
            self._write_conf(self._layout.conf, previous)
            self._conf_text = previous
        self._generation -= 1
        raise RouterError(f"nginx did not load the new configuration:\n{self._stderr_text()}")

    def _label(self, generation: int) -> str:
        return f"{self._token}-{generation}"

    def _probe(self) -> str | None:
        """The generation label the workers serve, or None if nothing answers."""
        conn = http.client.HTTPConnection(self._probe_host, self._port, timeout=1.0)
        try:
            conn.request("GET", GENERATION_PATH, headers={"Host": PROBE_HOST})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()
        if response.status != 200:
            return None
        return body.decode("ascii", "replace").strip()

    @staticmethod
    def _exited(proc: subprocess.Popen[bytes]) -> bool:
        # WNOWAIT leaves the master unreaped: while it is a zombie its pid (and
        # so its process group id) cannot be reused, which makes killpg safe.
        if proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _reap(self) -> None:
        """Kill whatever is left of nginx's process group and reap the master."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            # SIGKILL is delivered at once but a worker takes a moment to exit
            # and release the port; wait, bounded, so a restart finds it free.
            deadline = time.monotonic() + STOP_GRACE
            while _live_group_members(proc.pid) and time.monotonic() < deadline:
                time.sleep(_POLL)
        self._proc = None

    def _stderr_text(self) -> str:
        return self._stderr.text(wait=1.0) if self._stderr else ""
