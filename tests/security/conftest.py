"""A real ``homeport serve`` for the adversarial suite, and the accounts an attacker uses.

Each test module gets its own server (module scope) so one attack cannot disturb
another's measurements; accounts are made with the operator commands, as an operator
would, and every attack then goes over HTTP only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ServerProcess


@dataclass
class Person:
    """An account on the server under attack, with a live access token."""

    email: str
    id: str
    api_token: str
    token: str


class Target:
    """The server under attack plus helpers that act like its users would."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.url = server.url
        password = (server.data_dir / "initial-admin-password").read_text().strip()
        status, body = server.call(
            "POST",
            "/oauth2/token",
            form={"grant_type": "password", "username": "admin@example.com", "password": password},
        )
        assert status == 200, body
        self.admin_token: str = body["access_token"]
        self.admin_password = password

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        """One HTTP call (see ``ServerProcess.call``)."""
        return self.server.call(method, path, token, **kw)

    def person(self, email: str, *, machine: bool = False, password: str | None = None) -> Person:
        """An account created by the operator, with an API token and an access token."""
        args = ["user:create", email] + (["--machine"] if machine else [])
        if password is not None:
            args += ["--password-stdin"]
        created = self.server.homeport(*args, stdin=password)
        assert created.returncode == 0, created.stderr
        account_id = created.stdout.strip()
        minted = self.server.homeport("api-token:create", email, "--name", "attack")
        assert minted.returncode == 0, minted.stderr
        api_token = minted.stdout.strip()
        return Person(email, account_id, api_token, self.server.exchange(api_token))

    def project(self, owner: Person | None = None, title: str = "Target") -> str:
        """A project created by the platform admin; ``owner`` is made its admin."""
        status, body = self.call(
            "POST",
            "/projects",
            self.admin_token,
            body={"title": title, "default_branch": "main", "region": "local"},
        )
        assert status in (201, 202), body
        project_id: str = body["_embedded"]["entity"]["id"] if "_embedded" in body else body["id"]
        if owner is not None:
            self.grant(project_id, owner, ["admin"])
        return project_id

    def grant(self, project_id: str, who: Person, permissions: list[str]) -> None:
        """Give ``who`` the permissions (``admin``, ``viewer``, ``production:viewer``…)."""
        status, body = self.call(
            "POST",
            f"/projects/{project_id}/user-access",
            self.admin_token,
            body=[{"user_id": who.id, "permissions": permissions}],
        )
        assert status == 204, body

    def memory_kb(self) -> tuple[int, int]:
        """The server process's resident size now and its peak so far (kB)."""
        assert self.server.proc is not None
        fields = {}
        status = Path(f"/proc/{self.server.proc.pid}/status").read_text()
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]

    def health_ms(self) -> float:
        """Milliseconds for one ``GET /health``."""
        import time

        start = time.perf_counter()
        status, _ = self.call("GET", "/health")
        assert status == 200
        return (time.perf_counter() - start) * 1000


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A fresh ``homeport serve`` (SQLite, default limits) for one test module."""
    base: Path = tmp_path_factory.mktemp("attack")
    server = ServerProcess(base / "data").start()
    try:
        yield Target(server)
    finally:
        server.stop()
