"""The data dir holds every secret Homeport has: it is private to the server's user.

Files are created under a 077 umask whatever the caller's umask was, the data dir and
the database files are tightened to 0700/0600 at every start, and a data dir that
others may write to is refused: whoever can write there can replace the database.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# The database file and the files SQLite keeps beside it.
_PRIVATE_FILES = ("homeport.db", "homeport.db-wal", "homeport.db-shm", "initial-admin-password")


class DataDirError(RuntimeError):
    """The data dir cannot be used safely; the message says what to do."""


def private_umask() -> None:
    """Make every file this process creates private (0600 files, 0700 directories)."""
    os.umask(0o077)


def secure_data_dir(path: Path) -> None:
    """Create ``path`` (0700), refuse it if group- or world-writable, tighten the rest."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise DataDirError(
            f"The data dir {path} is writable by other users (mode {mode:o}); "
            f"make it private first: chmod 700 {path}"
        )
    if mode & 0o077:
        path.chmod(0o700)
    for name in _PRIVATE_FILES:
        file = path / name
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            file.chmod(0o600)
    for sub in ("secrets", "backups", "environments"):
        folder = path / sub
        if folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) & 0o077:
            folder.chmod(0o700)
