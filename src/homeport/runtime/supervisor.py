"""Supervised app processes: started in their sandbox, restarted with back-off when
they exit, their output kept in a rotating log per environment.

Every process is spawned by the supervisor's own thread. bubblewrap's
`--die-with-parent` ties a sandbox to the thread that forked it, so a short-lived
worker thread must never be that parent.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from homeport.runtime.sandbox import Sandbox, command

log = logging.getLogger(__name__)

MAX_LOG_BYTES = 10 * 1024 * 1024
BACKOFF_MAX = 30.0
# A process that ran this long before exiting starts again at the shortest back-off.
STABLE_AFTER = 30.0


class RotatingLog:
    """Appends timestamped lines to a file, keeping one older file of the same size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, text: str) -> None:
        """Append one line (thread-safe)."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        line = f"[{stamp}] {text}\n".encode("utf-8", "replace")
        with self.lock:
            try:
                if self.path.exists() and self.path.stat().st_size + len(line) > MAX_LOG_BYTES:
                    os.replace(self.path, self.path.with_suffix(self.path.suffix + ".1"))
                with open(self.path, "ab") as fh:
                    fh.write(line)
            except OSError:
                log.warning("cannot write %s", self.path)


@dataclass
class ProcessSpec:
    """One long-running process: what runs, where, and where its output goes."""

    name: str  # e.g. "app" or "app--queue"
    sandbox: Sandbox
    argv: list[str]
    mode: str
    log: RotatingLog


@dataclass
class _Managed:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    next_start: float = 0.0
    stopping: bool = False
    pumps: list[threading.Thread] = field(default_factory=list)


def _pump(stream: IO[bytes], sink: RotatingLog) -> None:
    for raw in iter(stream.readline, b""):
        sink.write(raw[:8192].decode("utf-8", "replace").rstrip("\r\n"))
    stream.close()


class Supervisor:
    """Keeps each group's processes (one group per environment) running."""

    def __init__(self) -> None:
        self._procs: dict[tuple[str, str], _Managed] = {}
        self._calls: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
        self._calls = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- the supervisor thread -----------------------------------------------------

    def start(self) -> None:
        """Start the supervisor thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
            self._thread.start()

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the supervisor thread and return its result."""
        if self._thread is None:
            self.start()
        if threading.current_thread() is self._thread:
            return fn()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._calls.put((fn, future))
        return future.result(timeout=120)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                fn, future = self._calls.get(timeout=0.2)
            except queue.Empty:
                pass
            else:
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)
            self._reap()

    def _spawn(self, managed: _Managed) -> None:
        spec = managed.spec
        with command(spec.sandbox, spec.argv, spec.mode) as (args, fds):
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=dict(spec.sandbox.env),
                cwd=str(spec.sandbox.app_dir) if spec.mode == "none" else None,
                pass_fds=fds,
                start_new_session=True,
            )
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(proc.stdout, spec.log), daemon=True)
        pump.start()
        managed.proc, managed.started, managed.pumps = proc, time.monotonic(), [pump]
        spec.log.write(f"Started {spec.name} (pid {proc.pid})")

    def _reap(self) -> None:
        now = time.monotonic()
        for managed in list(self._procs.values()):
            if managed.stopping:
                continue
            proc = managed.proc
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                code = proc.returncode
                ran = now - managed.started
                managed.backoff = (
                    1.0 if ran > STABLE_AFTER else min(BACKOFF_MAX, managed.backoff * 2)
                )
                managed.next_start = now + managed.backoff
                managed.proc = None
                managed.spec.log.write(
                    f"{managed.spec.name} exited with status {code}; "
                    f"restarting in {managed.backoff:g} s"
                )
            if now >= managed.next_start:
                managed.restarts += 1
                try:
                    self._spawn(managed)
                except OSError as exc:
                    managed.spec.log.write(f"Cannot start {managed.spec.name}: {exc.strerror}")
                    managed.next_start = now + BACKOFF_MAX

    # --- what deploys call -----------------------------------------------------------

    def run(self, group: str, spec: ProcessSpec) -> int:
        """Start ``spec`` in ``group`` (replacing one of the same name); returns its pid."""

        def do() -> int:
            old = self._procs.pop((group, spec.name), None)
            if old is not None:
                self._terminate(old, 10.0)
            managed = _Managed(spec)
            self._spawn(managed)
            self._procs[(group, spec.name)] = managed
            assert managed.proc is not None
            return managed.proc.pid

        result: int = self._call(do)
        return result

    def stop_group(self, group: str, grace: float = 10.0) -> None:
        """Stop every process of ``group``: SIGTERM, then SIGKILL after ``grace``."""

        def do() -> None:
            for key in [k for k in self._procs if k[0] == group]:
                self._terminate(self._procs.pop(key), grace)

        self._call(do)

    def pid(self, group: str, name: str) -> int | None:
        """The running pid of a process, if any (tests and status)."""
        managed = self._procs.get((group, name))
        proc = managed.proc if managed else None
        return proc.pid if proc is not None and proc.poll() is None else None

    def state(self, group: str) -> dict[str, dict[str, Any]]:
        """Each process of ``group``: running or restarting, and its restart count."""
        out: dict[str, dict[str, Any]] = {}
        for (g, name), managed in list(self._procs.items()):
            if g == group:
                running = managed.proc is not None and managed.proc.poll() is None
                out[name] = {
                    "state": "running" if running else "restarting",
                    "restarts": managed.restarts,
                }
        return out

    def groups(self) -> set[str]:
        """Groups with processes."""
        return {g for g, _ in list(self._procs)}

    def shutdown(self) -> None:
        """Stop everything (server shutdown) and the thread."""

        def do() -> None:
            for key in list(self._procs):
                self._terminate(self._procs.pop(key), 5.0)

        if self._thread is not None and self._thread.is_alive():
            self._call(do)
        self._stop.set()

    def _terminate(self, managed: _Managed, grace: float) -> None:
        managed.stopping = True
        proc = managed.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait()
        managed.spec.log.write(f"Stopped {managed.spec.name}")
