"""Waking the worker from another process (the git hook): a pid file and SIGUSR1.

The in-process worker wakes at once for changes made by the API; a push is recorded
by git's hook, a separate process, which would otherwise leave the new activity
waiting for the next poll.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

PID_FILE = "worker.pid"


def listen(data_dir: Path, event: threading.Event) -> None:
    """Set ``event`` on SIGUSR1 and say where to send it (call from the main thread)."""
    signal.signal(signal.SIGUSR1, lambda _sig, _frame: event.set())
    path = data_dir / PID_FILE
    path.write_text(str(os.getpid()))


def forget(data_dir: Path) -> None:
    """Remove our pid file at shutdown (only if it is still ours)."""
    path = data_dir / PID_FILE
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text()) == os.getpid():
            path.unlink()


def wake(data_dir: Path) -> None:
    """Ask the worker to look for new activities now (silently nothing if none runs)."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((data_dir / PID_FILE).read_text())
        if pid > 1:
            os.kill(pid, signal.SIGUSR1)
