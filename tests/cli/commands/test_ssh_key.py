"""`ssh-key:*` commands."""

from __future__ import annotations

import base64
from pathlib import Path

from homeport.cli.commands.ssh_key import fingerprint, parse_public_key

from ..conftest import Cli
from ..fake_api import FakeApiServer


def make_key(comment: str = "me@laptop", seed: bytes = b"k") -> str:
    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + seed * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


def test_parse_and_fingerprint() -> None:
    parsed = parse_public_key(make_key())
    assert parsed is not None and parsed[0] == "ssh-ed25519" and parsed[2] == "me@laptop"
    assert fingerprint(parsed[1]).startswith("SHA256:") and "=" not in fingerprint(parsed[1])
    assert parse_public_key("ssh-ed25519 !!!") is None
    assert (
        parse_public_key("ssh-rsa " + base64.b64encode(b"\x00\x00\x00\x07ssh-dss").decode()) is None
    )


def test_list_empty_then_add_and_list(cli: Cli, fake: FakeApiServer) -> None:
    empty = cli("ssh-keys")
    assert (
        empty.code == 0
        and "You do not yet have any SSH public keys in your Homeport account." in empty.err
    )
    ssh = cli.home / ".ssh"
    ssh.mkdir()
    (ssh / "id_ed25519.pub").write_text(make_key() + "\n")
    (ssh / "id_ed25519").write_text("PRIVATE KEY - must never be sent\n")
    result = cli("ssh-key:add", str(ssh / "id_ed25519"), "--name", "Laptop")
    assert result.code == 0, result
    assert "The SSH key Laptop has been successfully added to your Homeport account." in result.err
    body = fake.calls("POST", "/ssh_keys")[0].json()
    assert body == {"value": make_key(), "title": "Laptop"}
    duplicate = cli("ssh-key:add", str(ssh / "id_ed25519.pub"))
    assert duplicate.code == 0 and "This key already exists in your account." in duplicate.err
    listing = cli("ssh-key:list", "--format", "csv")
    assert listing.out.splitlines()[1].endswith(f",Laptop,fp,{ssh / 'id_ed25519.pub'}")


def test_add_refusals(cli: Cli, tmp_path: Path) -> None:
    no_path = cli("ssh-key:add")
    assert no_path.code == 1 and "You must specify the path to a public SSH key" in no_path.err
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    invalid = cli("ssh-key:add", str(bad))
    assert invalid.code == 1 and "does not contain a valid SSH public key" in invalid.err


def test_delete(cli: Cli, fake: FakeApiServer) -> None:
    fake.ssh_keys["u-alice"].append(
        {"key_id": 42, "title": "old", "value": make_key(seed=b"z"), "fingerprint": "x"}
    )
    needs_id = cli("ssh-key:delete")
    assert needs_id.code == 1 and "required in non-interactive mode" in needs_id.err
    missing = cli("ssh-key:delete", "7")
    assert missing.code == 1 and "SSH key not found: 7" in missing.err
    result = cli("ssh-key:delete", "42")
    assert result.code == 0
    assert "The SSH key 42 has been deleted from your Homeport account." in result.err
    assert fake.ssh_keys["u-alice"] == []
