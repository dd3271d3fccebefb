"""End to end: a real server process, the operator commands, a real HTTP client."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data").start()
    yield proc
    proc.stop()


def test_first_start_creates_admin_with_password_file(server: ServerProcess) -> None:
    path = server.data_dir / "initial-admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert password in server.log()  # printed once
    status, body = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin@example.com", "password": password},
    )
    assert status == 200
    status, me = server.call("GET", "/users/me", body["access_token"])
    assert status == 200 and me["is_platform_admin"] is True


def test_operator_commands_and_token_exchange(server: ServerProcess) -> None:
    created = server.homeport("user:create", "ci@example.com", "--machine")
    assert created.returncode == 0, created.stderr
    account_id = created.stdout.strip()
    token = server.homeport("api-token:create", "ci@example.com", "--name", "CI")
    assert token.returncode == 0
    plain = token.stdout.strip()
    access = server.exchange(plain)
    status, me = server.call("GET", "/users/me", access)
    assert status == 200
    assert me["id"] == account_id and me["kind"] == "machine"

    listed = server.homeport("user:list")
    assert "ci@example.com" in listed.stdout and "machine" in listed.stdout
    assert plain not in server.log()

    dup = server.homeport("user:create", "CI@example.com")
    assert dup.returncode == 1
    assert dup.stderr.count("\n") == 1 and "already exists" in dup.stderr
    bad = server.homeport("user:create", "not-an-email")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1

    assert server.homeport("user:deactivate", "ci@example.com").returncode == 0
    status, _ = server.call("GET", "/users/me", access)
    assert status == 401


def test_password_stdin_and_sigterm(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    created = server.homeport(
        "user:create", "ada@example.com", "--password-stdin", stdin="a long password\n"
    )
    assert created.returncode == 0
    status, _ = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "ada", "password": "a long password"},
    )
    assert status == 200
    assert server.stop() == 0
    assert "Finished server process" in server.log()


def test_reencrypt_command(server: ServerProcess) -> None:
    result = server.homeport("variables:reencrypt")
    assert result.returncode == 0 and "Re-encrypted 0 sensitive value(s)." in result.stdout
