"""Encryption of sensitive values at rest, with several keys so keys can rotate.

Keys come from ``HOMEPORT_SECRET_KEY`` (comma-separated, newest first) or, when that is
unset, from ``<data dir>/secrets/variables.key`` (one key a line, newest first; created
with one random key). New values are encrypted with the newest key; any listed key
decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBoxError(Exception):
    """A stored value could not be decrypted with any configured key."""


def _fernet(secret: str) -> Fernet:
    # Any passphrase works: SHA-256 stretches it to the 32 bytes Fernet needs.
    digest = hashlib.sha256(("homeport-variables:" + secret).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def load_keys(configured: Sequence[str], secrets_dir: Path) -> list[str]:
    """The configured keys, or those of the key file (created when missing)."""
    if configured:
        return list(configured)
    path = secrets_dir / "variables.key"
    if not path.exists():
        secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise SecretBoxError(f"{path} holds no key")
    return keys


class SecretBox:
    """Encrypts with the newest key; decrypts with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretBoxError("no encryption key configured")
        self._multi = MultiFernet([_fernet(k) for k in keys])

    def encrypt(self, plain: str) -> str:
        """Ciphertext (text) of ``plain``."""
        return self._multi.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plain text; raises SecretBoxError when no key fits."""
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretBoxError("no configured key decrypts this value") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the newest key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise SecretBoxError("no configured key decrypts this value") from None
