"""`ssh-key:*`: the SSH public keys of your account (§4.5).

Keys are validated and fingerprinted here (SHA256 of the key blob, as `ssh-keygen -l`
prints it), so the client needs no `ssh-keygen` except to generate a new key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from homeport.cli.commands.base import Command
from homeport.cli.errors import CommandFailed
from homeport.cli.inputdef import REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = [("id", "ID"), ("title", "Title"), ("fingerprint", "Fingerprint"), ("path", "Local path")]
DEFAULT_COLUMNS = ["id", "title", "fingerprint", "path"]
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


def parse_public_key(text: str) -> tuple[str, bytes, str] | None:
    """(type, blob, comment) of an OpenSSH public key line, or None when invalid."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    # The blob starts with the key type as a length-prefixed string.
    if len(blob) < 4:
        return None
    size = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + size].decode("ascii", "replace") != parts[0]:
        return None
    return parts[0], blob, parts[2].strip() if len(parts) > 2 else ""


def fingerprint(blob: bytes) -> str:
    """`SHA256:...` as printed by `ssh-keygen -l`."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


class SshKeyCommand(Command):
    """Shared access to the account's keys."""

    def keys(self) -> list[dict[str, Any]]:
        """The account's keys, from the legacy `/me` document."""
        me = self.api.get("/me")
        keys = me.get("ssh_keys") if isinstance(me, dict) else None
        return [k for k in keys or [] if isinstance(k, dict)]

    def ssh_dir(self) -> str:
        """`~/.ssh` under the CLI's notion of HOME."""
        return os.path.join(self.config.home, ".ssh")

    def local_keys(self) -> dict[bytes, str]:
        """Public key blobs found in `~/.ssh/*.pub`, mapped to their paths."""
        found: dict[bytes, str] = {}
        try:
            names = sorted(os.listdir(self.ssh_dir()))
        except OSError:
            return found
        for name in names:
            if not name.endswith(".pub"):
                continue
            path = os.path.join(self.ssh_dir(), name)
            try:
                with open(path, encoding="utf-8") as fh:
                    parsed = parse_public_key(fh.read())
            except (OSError, UnicodeDecodeError):
                continue
            if parsed:
                found[parsed[1]] = path
        return found


def _key_id(key: dict[str, Any]) -> str:
    return str(key.get("key_id") or key.get("id") or "")


class SshKeyList(SshKeyCommand):
    """`ssh-key:list` (alias `ssh-keys`)."""

    def configure(self, d: Definition) -> None:
        self.add_format_options(d)

    def execute(self) -> int:
        keys = self.keys()
        service = self.config.service_name
        if not keys:
            self.console.err(f"You do not yet have any SSH public keys in your {service} account.")
            self.console.err(f"To add a key, run: {self.exe} ssh-key:add [path]")
            return 0
        local = self.local_keys()
        rows = []
        for key in keys:
            parsed = parse_public_key(str(key.get("value") or ""))
            rows.append(
                {
                    "id": _key_id(key),
                    "title": str(key.get("title") or ""),
                    "fingerprint": str(
                        key.get("fingerprint") or (fingerprint(parsed[1]) if parsed else "")
                    ),
                    "path": local.get(parsed[1], "") if parsed else "",
                }
            )
        self.table_hint("Your SSH keys are:")
        self.print_table(COLUMNS, DEFAULT_COLUMNS, rows)
        self.table_hint("")
        self.table_hint(f"To add a new SSH key, run: {self.exe} ssh-key:add [path]")
        self.table_hint(f"To delete an SSH key, run: {self.exe} ssh-key:delete [id]")
        return 0


class SshKeyAdd(SshKeyCommand):
    """`ssh-key:add [path]`."""

    def configure(self, d: Definition) -> None:
        d.argument("path", "The path to an existing SSH public key")
        d.option("name", "", REQUIRED, "A name to identify the key")

    def execute(self) -> int:
        path = self.input.arg("path")
        if not path:
            path = self._default_path()
        path = os.path.expanduser(str(path))
        if not os.path.isabs(path):
            path = os.path.join(self.env.cwd, path)
        if not path.endswith(".pub") and os.path.isfile(path + ".pub"):
            # Given a private key: use its public half, never the secret.
            path += ".pub"
        try:
            with open(path, encoding="utf-8") as fh:
                content = fh.read().strip()
        except (OSError, UnicodeDecodeError):
            raise CommandFailed(f"File not found or not readable: {path}") from None
        parsed = parse_public_key(content)
        if parsed is None:
            raise CommandFailed(f"The file does not contain a valid SSH public key: {path}")
        key_type, blob, comment = parsed
        for key in self.keys():
            existing = parse_public_key(str(key.get("value") or ""))
            if existing and existing[1] == blob:
                self.console.err("This key already exists in your account.")
                return 0
        title = self.input.str_opt("name") or comment or os.path.basename(path)
        value = f"{key_type} {base64.b64encode(blob).decode('ascii')}" + (
            f" {comment}" if comment else ""
        )
        self.api.send("POST", "/ssh_keys", {"value": value, "title": title})
        self.console.err(
            f"The SSH key {title} has been successfully added to your "
            f"{self.config.service_name} account."
        )
        return 0

    def _default_path(self) -> str:
        if not self.console.interactive:
            raise CommandFailed("You must specify the path to a public SSH key")
        default = os.path.join(self.ssh_dir(), "id_ed25519.pub")
        if os.path.isfile(default):
            if self.console.confirm(f"Use existing key {default}?", default=True):
                return default
        elif self.console.confirm(f"Generate a new key at {default[:-4]}?", default=True):
            import subprocess

            os.makedirs(self.ssh_dir(), mode=0o700, exist_ok=True)
            done = subprocess.run(
                ["ssh-keygen", "-t", "ed25519", "-f", default[:-4], "-N", ""], check=False
            )
            if done.returncode != 0 or not os.path.isfile(default):
                raise CommandFailed("Failed to generate a key with ssh-keygen.")
            return default
        path = self.console.ask("Enter the path to the public key:")
        if not path:
            raise CommandFailed("You must specify the path to a public SSH key")
        return path


class SshKeyDelete(SshKeyCommand):
    """`ssh-key:delete [id]`."""

    def configure(self, d: Definition) -> None:
        d.argument("id", "The ID of the SSH key to delete")

    def execute(self) -> int:
        keys = self.keys()
        key_id = self.input.arg("id")
        if not key_id:
            if not self.console.interactive:
                raise CommandFailed("The SSH key ID is required in non-interactive mode.")
            if not keys:
                raise CommandFailed("You do not have any SSH keys.")
            key_id = self.console.choose(
                [(_key_id(k), f"{_key_id(k)} ({k.get('title', '')})") for k in keys],
                "Enter a number to choose a key to delete:",
            )
        if not any(_key_id(k) == str(key_id) for k in keys):
            raise CommandFailed(f"SSH key not found: {key_id}")
        self.api.send("DELETE", f"/ssh_keys/{self.api.quote(str(key_id))}")
        self.console.err(
            f"The SSH key {key_id} has been deleted from your {self.config.service_name} account."
        )
        return 0
