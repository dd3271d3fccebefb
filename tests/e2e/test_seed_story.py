"""The seed's whole story, as one team would live it (a real `homeport serve` with its
scheduler and runtime, real git, bubblewrap and the real `platform` command):

an admin creates project "Seed" (default branch master) and a machine user
ci@example.com with admin on production and viewer on development; creates its API
token; stores it with the seed's `variable:create` line verbatim; pushes an app whose
build hook installs the CLI from the server, whose `.environment` puts it on the PATH
and whose cron is the seed's. Within two minutes a backup of master exists, made by
the cron under the machine user's name, and it restores; the same app on `feature`
runs the cron and backs up nothing; the token appears in no log, activity or output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import BIN, ServerProcess
from tests.e2e.test_runtime_story import git, make_repo

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SEED_VARIABLE = (
    "platform variable:create -e master --level environment --name env:PLATFORMSH_CLI_TOKEN "
    "--sensitive true --value '{token}'"
)
SEED_CRON = 'if [ "$PLATFORM_BRANCH" = master ]; then platform backup:create --yes --no-wait; fi'
APP = """name: app
type: 'python:3.11'
mounts:
  'var':
    source: local
    source_path: var
hooks:
  build: |
    set -e
    curl -fsS "$PLATFORMSH_CLI_API_URL/cli/installer" | php
web:
  commands:
    start: python3 server.py
crons:
  backup:
    spec: '* * * * *'
    commands:
      start: |
        {cron}
"""


@dataclass
class Seed:
    server: ServerProcess
    admin: str  # the admin's API token (for the `platform` command)
    admin_access: str
    pid: str
    bot_id: str
    bot_token: str
    home: Path

    def platform(
        self, command: str, cwd: Path, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "HOME": str(self.home),
            "PLATFORMSH_CLI_API_URL": self.server.url,
            "PLATFORMSH_CLI_TOKEN": token or self.admin,
            "COLUMNS": "200",
        }
        return subprocess.run(
            ["/bin/bash", "-c", command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.server.call(method, path, self.admin_access, body=body)
        assert status < 300, (method, path, status, answer)
        return answer


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    base = tmp_path_factory.mktemp("seed")
    server = ServerProcess(base / "data", {"HOMEPORT_CRON_MIN_INTERVAL": "60"}).start()
    try:
        password = (server.data_dir / "initial-admin-password").read_text().strip()
        _, body = server.call(
            "POST",
            "/oauth2/token",
            form={"grant_type": "password", "username": "admin@example.com", "password": password},
        )
        access = body["access_token"]
        _, me = server.call("GET", "/users/me", access)
        _, minted = server.call(
            "POST", f"/users/{me['id']}/api-tokens", access, body={"name": "me"}
        )
        _, body = server.call(
            "POST", "/projects", access, body={"title": "Seed", "default_branch": "master"}
        )
        pid = body["_embedded"]["entity"]["id"]
        # The seed's advice: a machine user with its own email and only the roles it needs.
        _, body = server.call(
            "POST",
            f"/projects/{pid}/machine-users",
            access,
            body={
                "email": "ci@example.com",
                "name": "ci",
                "role": "viewer",
                "permissions": ["production:admin", "development:viewer"],
            },
        )
        bot_id = body["_embedded"]["entity"]["id"]
        _, bot = server.call("POST", f"/users/{bot_id}/api-tokens", access, body={"name": "CI"})
        home = base / "home"
        home.mkdir()
        yield Seed(server, minted["token"], access, pid, bot_id, bot["token"], home)
    finally:
        server.stop()


def push(seed: Seed, repo: Path, branch: str) -> str:
    url = f"http://t:{seed.admin}@127.0.0.1:{seed.server.port}/git/{seed.pid}.git"
    done = git(repo, "push", url, f"HEAD:refs/heads/{branch}")
    assert done.returncode == 0, done.stderr
    return done.stderr


def wait(check: Any, seconds: float, what: str, seed: Seed) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s\n{seed.server.log()[-4000:]}")


def activities(seed: Seed, env: str, kind: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = seed.call(
        "GET", f"/projects/{seed.pid}/environments/{env}/activities?type={kind}"
    )
    return listed


def test_the_seed_story(seed: Seed, tmp_path: Path) -> None:
    # The app: the CLI installed at build, on the PATH through `.environment`, the cron;
    # its checkout has the project's remote, as after `platform get`.
    repo = make_repo(tmp_path / "app", "python")
    (repo / ".platform.app.yaml").write_text(APP.format(cron=SEED_CRON))
    assert git(repo, "checkout", "-q", "-b", "master").returncode == 0
    assert git(repo, "commit", "-qam", "the seed's app").returncode == 0
    remote = f"{seed.server.url}/git/{seed.pid}.git"
    assert git(repo, "remote", "add", "platform", remote).returncode == 0
    # The seed's variable line, verbatim, by the admin.
    stored = seed.platform(SEED_VARIABLE.format(token=seed.bot_token), repo)
    assert stored.returncode == 0, stored.stdout + stored.stderr
    output = push(seed, repo, "master")
    assert "Executing build hook..." in output, output
    output = push(seed, repo, "feature")
    activated = seed.platform("platform environment:activate -e feature --yes", repo)
    assert activated.returncode == 0, activated.stdout + activated.stderr
    crons = seed.call("GET", f"/projects/{seed.pid}/environments/master/crons")
    assert [c["name"] for c in crons] == ["backup"]

    # Within two minutes the cron has backed up master, as the machine user.
    def backups() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = seed.call(
            "GET", f"/projects/{seed.pid}/environments/master/backups"
        )
        return found

    [backup, *_] = wait(backups, 130, "no backup of master", seed)
    assert backup["restorable"] is True
    [made_by, *_] = wait(
        lambda: [
            a for a in activities(seed, "master", "environment.backup") if a["state"] == "complete"
        ],
        60,
        "the backup activity did not complete",
        seed,
    )
    assert made_by["result"] == "success"
    assert made_by["payload"]["user"]["id"] == seed.bot_id
    assert made_by["payload"]["user"]["kind"] == "machine"
    runs = activities(seed, "master", "environment.cron")
    assert runs and runs[-1]["payload"]["user"]["id"] == "admin"  # started by the system
    assert runs[-1]["parameters"]["cron"] == "backup"
    listed = seed.platform("platform activity:list -e master --type backup --format csv", repo)
    assert listed.returncode == 0, listed.stderr
    assert "ci (machine user) created a " in listed.stdout, listed.stdout

    # The backup restores.
    restored = seed.platform(f"platform backup:restore {backup['id']} -e master --yes", repo)
    assert restored.returncode == 0, restored.stdout + restored.stderr

    # On feature the cron runs too, and backs nothing up.
    wait(
        lambda: [
            a
            for a in activities(seed, "feature", "environment.cron")
            if a["state"] == "complete" and a["result"] == "success"
        ],
        130,
        "no successful cron run on feature",
        seed,
    )
    assert seed.call("GET", f"/projects/{seed.pid}/environments/feature/backups") == []
    assert activities(seed, "feature", "environment.backup") == []

    # The token is in no log, activity or cron output.
    everything = seed.call("GET", f"/projects/{seed.pid}/activities?count=1000")
    for activity in everything:
        status, log = seed.server.call(
            "GET", f"/projects/{seed.pid}/activities/{activity['id']}/log", seed.admin_access
        )
        assert status == 200
        assert seed.bot_token not in str(log) and seed.bot_token not in str(activity)
    assert seed.bot_token not in seed.server.log()
    for path in (seed.server.data_dir / "runtime" / "logs").rglob("*.log*"):
        assert seed.bot_token.encode() not in path.read_bytes(), path
    shutil.rmtree(repo)
