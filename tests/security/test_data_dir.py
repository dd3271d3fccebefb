"""Finding 9: the data dir and everything Homeport creates in it are private.

Before the fix the SQLite file (password hashes, emails, history) was created 0644
under the usual 022 umask, readable by every local user.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.e2e.server import BIN, ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _serve_with_umask(data_dir: Path, umask: int) -> ServerProcess:
    old = os.umask(umask)
    try:
        return ServerProcess(data_dir).start()
    finally:
        os.umask(old)


def test_everything_created_is_private_whatever_the_umask(tmp_path: Path) -> None:
    server = _serve_with_umask(tmp_path / "data", 0o000)
    try:
        # A write, so the WAL files and the backup store exist too.
        password = (server.data_dir / "initial-admin-password").read_text().strip()
        status, _ = server.call(
            "POST",
            "/oauth2/token",
            form={"grant_type": "password", "username": "admin@example.com", "password": password},
        )
        assert status == 200
        created = [server.data_dir, *server.data_dir.rglob("*")]
        assert any(p.name == "homeport.db" for p in created)
        loose = {str(p): oct(_mode(p)) for p in created if _mode(p) & 0o077}
        assert loose == {}
    finally:
        server.stop()


def test_existing_loose_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    first.stop()
    (data / "homeport.db").chmod(0o644)
    data.chmod(0o755)
    second = _serve_with_umask(data, 0o022)
    try:
        assert _mode(data) == 0o700
        assert _mode(data / "homeport.db") == 0o600
    finally:
        second.stop()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_writable_data_dir_is_refused(tmp_path: Path, mode: int) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(mode)
    env = {**os.environ, "HOMEPORT_DATA_DIR": str(data), "HOMEPORT_BIND": "127.0.0.1:1"}
    for command in (["serve"], ["worker"]):
        done = subprocess.run(
            [str(BIN / "homeport"), *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1, done.stderr
        assert "writable by other users" in done.stderr and "chmod 700" in done.stderr
    assert not (data / "homeport.db").exists()
