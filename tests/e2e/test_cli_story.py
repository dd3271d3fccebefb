"""End to end: the real ``platform`` executable against a real server, as a machine user
with only ``PLATFORMSH_CLI_TOKEN`` and the API URL: the seed's lines verbatim, the role
refusals (exit 6), abbreviations, hook detection, and login required (exit 3)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.settings import Settings
from homeport.store.db import Database
from tests.e2e.server import BIN, ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SEED_VARIABLE = (
    "platform variable:create -e master --level environment --name env:PLATFORMSH_CLI_TOKEN "
    "--sensitive true --value '{token}'"
)
SEED_CRON = 'if [ "$PLATFORM_BRANCH" = master ]; then platform backup:create --yes --no-wait; fi'


@dataclass
class Story:
    server: ServerProcess
    pid: str
    token: str  # the machine user's API token
    admin: str  # an admin access token
    home: Path
    checkout: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "HOME": str(self.home),
            "PLATFORMSH_CLI_API_URL": self.server.url,
            "PLATFORMSH_CLI_TOKEN": self.token,
            "COLUMNS": "200",
        }
        return base | extra

    def sh(
        self, command: str, using: str = "bash", cwd: Path | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        env = self.env(**extra)
        env["SHELL"] = f"/bin/{using}"
        return subprocess.run(
            [f"/bin/{using}", "-c", command],
            cwd=cwd or self.checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def story(tmp_path: Path) -> Iterator[Story]:
    server = ServerProcess(tmp_path / "data").start()
    password = (server.data_dir / "initial-admin-password").read_text().strip()
    _, body = server.call(
        "POST",
        "/oauth2/token",
        form={"grant_type": "password", "username": "admin@example.com", "password": password},
    )
    admin = body["access_token"]
    _, body = server.call(
        "POST", "/projects", admin, body={"title": "Shop", "default_branch": "master"}
    )
    pid = body["_embedded"]["entity"]["id"]
    _, body = server.call(
        "POST",
        f"/projects/{pid}/machine-users",
        admin,
        body={
            "email": "ci-bot@example.com",
            "name": "CI Bot",
            "role": "viewer",
            "permissions": ["production:admin"],
        },
    )
    bot_id = body["_embedded"]["entity"]["id"]
    _, body = server.call("POST", f"/users/{bot_id}/api-tokens", admin, body={"name": "CI"})
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "master", str(checkout)], check=True)
    subprocess.run(
        ["git", "-C", str(checkout), "remote", "add", "platform", f"{server.url}/git/{pid}.git"],
        check=True,
    )
    home = tmp_path / "home"
    home.mkdir()
    yield Story(server, pid, body["token"], admin, home, checkout)
    server.stop()


def wait_for(story: Story, predicate: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, acts = story.server.call("GET", f"/projects/{story.pid}/activities", story.admin)
        if any(a["type"] == predicate and a["state"] == "complete" for a in acts):
            return
        time.sleep(0.1)
    raise AssertionError(f"no completed {predicate}")


def test_seed_variable_line_and_hidden_value(story: Story) -> None:
    secret = "seed-secret-" + os.urandom(6).hex()
    result = story.sh(SEED_VARIABLE.format(token=secret))
    assert result.returncode == 0, result.stderr
    listed = story.sh("platform variable:list -e master --level environment")
    assert listed.returncode == 0, listed.stderr
    assert "env:PLATFORMSH_CLI_TOKEN" in listed.stdout
    assert "[Hidden: sensitive value]" in listed.stdout
    assert secret not in listed.stdout + listed.stderr + story.server.log()
    got = story.sh("platform vget env:PLATFORMSH_CLI_TOKEN -e master --level environment")
    assert secret not in got.stdout
    # Abbreviations resolve per colon segment.
    again = story.sh(
        "platform var:cr -e master --level environment --name env:OTHER --value x --no-interaction"
    )
    assert again.returncode == 0, again.stderr


def test_refused_where_the_role_ends(story: Story) -> None:
    for command in (
        "platform variable:create --level project --name foo --value bar --no-interaction",
        "platform user:add someone@example.com --role viewer --role development:viewer --yes",
    ):
        result = story.sh(command)
        assert result.returncode == 6, (command, result.stdout, result.stderr)
        assert "Permission denied" in result.stderr
        assert "Traceback" not in result.stderr


def data_dir(story: Story, env: str) -> Path:
    settings = Settings.from_env({"HOMEPORT_DATA_DIR": str(story.server.data_dir)})
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            project = get_project(s, story.pid)
            return envs.data_dir(settings.environments_dir, envs.get_environment(s, project, env))
    finally:
        db.dispose()


def test_seed_cron_backs_up_production_as_the_machine_user(story: Story) -> None:
    root = data_dir(story, "master")
    (root / "uploads").mkdir(parents=True, exist_ok=True)
    (root / "uploads" / "invoice.pdf").write_bytes(b"%PDF-1.4 invoice")
    result = story.sh(
        SEED_CRON,
        using="dash",
        cwd=story.home,
        PLATFORM_PROJECT=story.pid,
        PLATFORM_BRANCH="master",
    )
    assert result.returncode == 0, result.stderr
    assert "Backup name:" in result.stdout + result.stderr
    wait_for(story, "environment.backup")
    listed = story.sh("platform backup:list -e master --format csv")
    assert listed.returncode == 0, listed.stderr
    assert "true" in listed.stdout.lower()
    acts = story.sh("platform activity:list -e master --type backup --format csv")
    assert acts.returncode == 0 and "CI Bot" in acts.stdout, acts.stdout + acts.stderr

    # A file deleted after the backup comes back with backup:restore.
    root = data_dir(story, "master")
    victim = root / "uploads" / "invoice.pdf"
    assert victim.read_bytes() == b"%PDF-1.4 invoice"
    victim.unlink()
    restored = story.sh("platform backup:restore -e master --yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert victim.read_bytes() == b"%PDF-1.4 invoice"
    acts = story.sh("platform activity:list -e master --type restore --format csv")
    assert "CI Bot" in acts.stdout and "success" in acts.stdout, acts.stdout


def test_hook_detection_defaults_to_no_wait(story: Story) -> None:
    result = story.sh(
        "platform redeploy --yes",
        using="dash",
        cwd=story.home,
        PLATFORM_PROJECT=story.pid,
        PLATFORM_BRANCH="master",
    )
    assert result.returncode == 0, result.stderr
    assert "hook environment detected: assuming --no-wait by default." in result.stderr


def test_activity_log_abbreviation(story: Story) -> None:
    assert story.sh("platform redeploy -e master --yes").returncode == 0
    log = story.sh("platform act:log -e master")
    assert log.returncode == 0, log.stderr
    assert "Redeploying environment master" in log.stdout


def test_login_required(story: Story) -> None:
    env = story.env()
    del env["PLATFORMSH_CLI_TOKEN"]
    result = subprocess.run(
        ["platform", "project:list"],
        env=env,
        cwd=story.home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 3
    assert "Authentication is required." in result.stderr
    bad = story.sh("platform project:list", PLATFORMSH_CLI_TOKEN="hpt_not-a-valid-token")
    assert bad.returncode == 3, bad.stderr
