"""Fixtures: a seeded `FakeApiServer` and a helper running `platform` in process."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeport.cli.env import Environment
from homeport.cli.main import main

from .fake_api import FakeApiServer

ALICE_TOKEN = "hpt_alice_token"
BOB_TOKEN = "hpt_bob_token"
CI_TOKEN = "hpt_ci_token"


class Result:
    """What one run printed and returned."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


class Clock:
    """A controllable clock for token expiry."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Cli:
    """Runs `platform ARGS...` in process with an isolated HOME and environment."""

    def __init__(self, fake: FakeApiServer, home: Path, cwd: Path) -> None:
        self.home = home
        self.cwd = cwd
        self.environ: dict[str, str] = {
            "HOME": str(home),
            "PLATFORMSH_CLI_API_URL": fake.url,
            "PLATFORMSH_CLI_TOKEN": ALICE_TOKEN,
            "COLUMNS": "120",
            "TZ": "UTC",
        }
        self.clock = Clock()
        self.sleeps: list[float] = []

    def __call__(
        self,
        *args: str,
        stdin: str = "",
        env: dict[str, str] | None = None,
        unset: tuple[str, ...] = (),
        tty: bool = False,
        cwd: Path | None = None,
    ) -> Result:
        environ = {**self.environ, **(env or {})}
        for name in unset:
            environ.pop(name, None)
        out, err = io.StringIO(), io.StringIO()
        run_env = Environment(
            stdin=io.StringIO(stdin),
            stdout=out,
            stderr=err,
            environ=environ,
            cwd=str(cwd or self.cwd),
            stdin_isatty=tty,
            stdout_isatty=False,
            stderr_isatty=False,
            sleep=self.sleeps.append,
            clock=self.clock,
        )
        code = main(list(args), env=run_env)
        return Result(code, out.getvalue(), err.getvalue())


def seed(fake: FakeApiServer) -> None:
    """Users, a project with four environments, variables, backups and activities."""
    fake.add_user(
        "u-alice",
        "alice@example.com",
        first_name="Alice",
        last_name="Admin",
        token=ALICE_TOKEN,
        password="alice-secret",
    )
    fake.add_user("u-bob", "bob@example.com", first_name="Bob", last_name="Viewer", token=BOB_TOKEN)
    fake.add_user("u-ci", "ci@example.com", username="ci-bot", kind="machine", token=CI_TOKEN)
    fake.add_project("proj1", "Demo Project", "u-alice")
    fake.grant("proj1", "u-bob", ["viewer", "development:admin", "staging:viewer"])
    fake.grant("proj1", "u-ci", ["viewer", "production:contributor"])
    fake.add_env("proj1", "main", title="Main", env_type="production")
    fake.add_env("proj1", "staging", env_type="staging", parent="main")
    fake.add_env("proj1", "feature-x", title="Feature X", parent="staging")
    fake.add_env("proj1", "old", status="inactive", parent="main")
    fake.add_variable("proj1", None, "bar", "secret", is_sensitive=True)
    fake.add_variable("proj1", None, "api.url", "https://api.example.com")
    fake.add_variable("proj1", "main", "env:FOO", "bar")
    fake.add_variable("proj1", "main", "env:OFF", "x", is_enabled=False)
    fake.add_backup(
        "proj1", "main", "bk-broken", restorable=False, created_at="2024-01-01T08:00:00+00:00"
    )
    fake.add_backup("proj1", "main", "bk-old", created_at="2024-01-01T09:00:00+00:00")
    fake.add_backup(
        "proj1", "main", "bk-new", created_at="2024-01-02T09:00:00+00:00", automated=True
    )
    for index, (kind, env_id, text) in enumerate(
        [
            ("environment.variable.create", "main", "created variable env:FOO on environment main"),
            ("environment.branch", "staging", "branched staging from main"),
            ("environment.cron", "main", "ran cron job backup"),
            ("environment.redeploy", "feature-x", "redeployed environment feature-x"),
        ]
    ):
        fake.add_activity(
            "proj1",
            kind,
            env_id=env_id,
            text=text,
            user_id="u-alice",
            created_at=f"2023-12-0{index + 1}T10:00:00+00:00",
            log=[f"Log line {index}.1", f"Log line {index}.2"],
        )


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    seed(server)
    yield server
    server.stop()


@pytest.fixture
def cli(fake: FakeApiServer, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    return Cli(fake, home, work)


def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


__all__ = ["ALICE_TOKEN", "BOB_TOKEN", "CI_TOKEN", "Cli", "Result", "unused_port"]
