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


# Runs a job ($1) so that it can be asked to stop: a line on standard input runs the
# stop command ($2) in the same sandbox, or sends SIGTERM to the job when there is none.
STOPPABLE = """exec 3<&0 </dev/null
dash -c "$1" 3<&- &
child=$!
(
  if read -r _ <&3; then
    if [ -n "$2" ]; then dash -c "$2"; else kill -TERM "$child" 2>/dev/null; fi
  fi
) &
watcher=$!
exec 3<&-
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"""


def stoppable(start: str, stop: str | None) -> list[str]:
    """The argv of a job run with STOPPABLE (see ``run``'s ``grace``)."""
    return ["dash", "-c", STOPPABLE, "job", start, stop or ""]


def _ask_to_stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"stop\n")
        proc.stdin.flush()
    except (OSError, ValueError):
        pass  # it has already ended


def run(
    sandbox: Sandbox,
    argv: list[str],
    mode: str,
    on_line: Callable[[str, str], None],
    *,
    timeout: float | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    grace: float | None = None,
) -> Outcome:
    """Run ``argv`` in ``sandbox``; ``on_line(tag, text)`` gets each output line, tag
    "out" or "err". Stops the command when ``timeout`` passes or ``cancelled()``: at
    once, or, with ``grace`` (for ``stoppable`` argv), by asking it first and killing
    it ``grace`` seconds later."""
    with command(sandbox, argv, mode) as (args, fds):
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL if grace is None else subprocess.PIPE,
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
    kill_at: float | None = None
    open_streams, timed_out, was_cancelled = 2, False, False
    next_check = time.monotonic() + 1.0

    def stop_now() -> None:
        nonlocal kill_at
        if grace is None:
            kill_tree(proc)
        elif kill_at is None:
            _ask_to_stop(proc)
            kill_at = time.monotonic() + grace

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
            stop_now()
        if kill_at is not None and now > kill_at:
            kill_at = float("inf")
            kill_tree(proc)
        if now >= next_check:
            next_check = now + 1.0
            if not was_cancelled and not timed_out and cancelled():
                was_cancelled = True
                stop_now()
    returncode = proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()
    return Outcome(returncode, timed_out=timed_out, cancelled=was_cancelled)
