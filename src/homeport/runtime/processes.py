"""Running one sandboxed command to its end: output streamed line by line, a time
limit, cancellation, and the whole process tree killed when it must stop."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from homeport.runtime.sandbox import Sandbox, command

# A line longer than this is cut: one runaway line must not fill the activity log.
MAX_LINE = 8192


class StepFailed(Exception):
    """A hook or build step failed; the message is written for the activity log."""


@dataclass(frozen=True)
class Outcome:
    """How a command ended."""

    returncode: int
    timed_out: bool = False
    cancelled: bool = False


def _pump(stream: IO[bytes], tag: str, out: queue.Queue[tuple[str, str] | None]) -> None:
    for raw in iter(stream.readline, b""):
        out.put((tag, raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r\n")))
    out.put(None)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a sandboxed command: it leads its own session, so the group goes with it
    (and bubblewrap's PID namespace dies with its first process)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run(
    sandbox: Sandbox,
    argv: list[str],
    mode: str,
    on_line: Callable[[str, str], None],
    *,
    timeout: float | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Outcome:
    """Run ``argv`` in ``sandbox``; ``on_line(tag, text)`` gets each output line, tag
    "out" or "err". Stops the command when ``timeout`` passes or ``cancelled()``."""
    with command(sandbox, argv, mode) as (args, fds):
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(sandbox.env),
            cwd=str(sandbox.app_dir) if mode == "none" else None,
            pass_fds=fds,
            start_new_session=True,
        )
    assert proc.stdout is not None and proc.stderr is not None
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    open_streams, timed_out, was_cancelled = 2, False, False
    next_check = time.monotonic() + 1.0
    while open_streams:
        try:
            item = lines.get(timeout=0.2)
        except queue.Empty:
            item = ()  # type: ignore[assignment]
        if item is None:
            open_streams -= 1
        elif item:
            on_line(*item)
        now = time.monotonic()
        if deadline is not None and now > deadline and not timed_out:
            timed_out = True
            kill_tree(proc)
        if now >= next_check:
            next_check = now + 1.0
            if not was_cancelled and cancelled():
                was_cancelled = True
                kill_tree(proc)
    returncode = proc.wait()
    return Outcome(returncode, timed_out=timed_out, cancelled=was_cancelled)
