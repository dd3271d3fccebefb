"""Server secrets kept under the data dir, and keys derived from them."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path


def _read_or_create(path: Path, nbytes: int = 32) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        data = path.read_bytes()
        if len(data) >= nbytes:
            return data
    except FileNotFoundError:
        pass
    fresh = secrets.token_bytes(nbytes)
    # O_EXCL: two processes starting at once must agree on one secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it a moment ago: wait (briefly) for its write.
        deadline = time.monotonic() + 5
        while len(data := path.read_bytes()) < nbytes and time.monotonic() < deadline:
            time.sleep(0.01)
        return data
    with os.fdopen(fd, "wb") as fh:
        fh.write(fresh)
        fh.flush()
        os.fsync(fh.fileno())
    return fresh


class ServerSecrets:
    """One master secret on disk; each purpose gets its own derived key."""

    def __init__(self, secrets_dir: Path) -> None:
        self._master = _read_or_create(secrets_dir / "server.key")

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (token hashing, JWT signing, sessions...)."""
        return hmac.new(self._master, purpose.encode(), hashlib.sha256).digest()
