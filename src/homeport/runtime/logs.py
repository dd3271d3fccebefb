"""Where an environment's process logs live, and reading their tail."""

from __future__ import annotations

from collections import deque
from pathlib import Path

LOG_TYPES = ("app", "cron", "deploy", "post-deploy")
# Only the end of a log is read for a tail: logs rotate at 10 MB.
TAIL_WINDOW = 4 * 1024 * 1024


def logs_dir(runtime_dir: Path, project_id: str, machine_name: str) -> Path:
    """The directory of one environment's logs."""
    return runtime_dir / "logs" / project_id / machine_name


def log_file(
    runtime_dir: Path, project_id: str, machine_name: str, kind: str, app: str | None
) -> Path:
    """A log of ``kind``; a worker (``app--name``) has its own process log."""
    name = f"{app}.log" if app and "--" in app and kind == "app" else f"{kind}.log"
    return logs_dir(runtime_dir, project_id, machine_name) / name


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log ("" when it does not exist yet)."""
    if not path.is_file():
        return ""
    kept: deque[bytes] = deque(maxlen=lines)
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - TAIL_WINDOW))
        if size > TAIL_WINDOW:
            fh.readline()  # a partial first line
        for raw in fh:
            kept.append(raw)
    return b"".join(kept).decode("utf-8", "replace")
