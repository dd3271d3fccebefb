"""The server's SSH host key: generated once into the data dir, private to the server."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

KEY_NAME = "ssh_host_ed25519_key"


def key_path(ssh_dir: Path) -> Path:
    """Where the private host key lives (its public half beside it, ``.pub``)."""
    return ssh_dir / KEY_NAME


def load_or_create(ssh_dir: Path) -> asyncssh.SSHKey:
    """The host key, generated (ed25519, mode 0600) the first time."""
    path = key_path(ssh_dir)
    if path.exists():
        return asyncssh.read_private_key(str(path))
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="homeport host key")
    # Written under a temporary name first, so a crash never leaves half a key.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.export_private_key())
    os.replace(tmp, path)
    pub = path.with_name(KEY_NAME + ".pub")
    pub.write_bytes(key.export_public_key())
    pub.chmod(0o600)
    return key


def fingerprint(key: asyncssh.SSHKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of the key."""
    return str(key.get_fingerprint("sha256"))
