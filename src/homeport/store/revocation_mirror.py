"""The revocation counter's shadow in shared memory, for the processes of one SQLite file.

Every request reads the revocation counter (store/revocations.py). On SQLite that read
was a statement, and under load its system calls and the GIL hand-offs around them
cost about a tenth of a cached request's time. All processes of one SQLite file run
on one machine, so they share an 8-byte generation in a memory-mapped file beside the
database instead: a process advances it right after it *commits* a change that moved
the counter (before the change's answer is sent), and readers consult the database
only when the generation moved, or when their last database read is older than a
second (a backstop for a process that died between its commit and the advance).

The ordering is what makes it safe: a reader reads the generation, then the counter;
a writer commits the counter, then advances the generation. So whenever a reader
finds the generation it saw with a counter value, no revocation committed after that
counter read has had its answer sent yet.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import threading
from pathlib import Path

from sqlalchemy import Engine

_SIZE = 8
_mirrors: dict[str, Mirror | None] = {}
_lock = threading.Lock()


class Mirror:
    """An 8-byte generation in a shared mapping of ``path`` (created 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(self._fd).st_size < _SIZE:
                os.ftruncate(self._fd, _SIZE)  # zeros; never shrinks a live one
            self._map = mmap.mmap(self._fd, _SIZE, mmap.MAP_SHARED)
        except BaseException:
            os.close(self._fd)
            raise

    def value(self) -> int:
        """The generation now (no system call: a read of shared memory)."""
        return int.from_bytes(self._map[:_SIZE], "little")

    def advance(self) -> None:
        """Move the generation on, under a lock shared with the other processes."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            current = int.from_bytes(self._map[:_SIZE], "little")
            self._map[:_SIZE] = ((current + 1) % (1 << 63)).to_bytes(_SIZE, "little")
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)


def mirror_path(engine: Engine) -> Path | None:
    """Where an SQLite file's mirror lives (beside it); None for other stores and for
    in-memory databases, which no other process can share."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{os.path.abspath(database)}-revocations")


def mirror_for(engine: Engine) -> Mirror | None:
    """This process's mirror for ``engine``'s database, opened once; None when it has
    none or it cannot be opened (then every read asks the database, as before)."""
    path = mirror_path(engine)
    if path is None:
        return None
    key = str(path)
    with _lock:
        if key not in _mirrors:
            try:
                _mirrors[key] = Mirror(path)
            except OSError:
                _mirrors[key] = None
        return _mirrors[key]
