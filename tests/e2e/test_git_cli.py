"""End to end: `platform get` and `platform push` (the real executables) against a real
server, as a CI job with only `PLATFORMSH_CLI_TOKEN` and the API URL."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import BIN, ServerProcess
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(tmp_path_factory.mktemp("git-cli") / "data").start()
    try:
        yield Target(server)
    finally:
        server.stop()


def _run(
    target: Target, who: Person, home: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "HOME": str(home),
        "PLATFORMSH_CLI_API_URL": target.url,
        "PLATFORMSH_CLI_TOKEN": who.api_token,
        "GIT_AUTHOR_NAME": "CI",
        "GIT_AUTHOR_EMAIL": who.email,
        "GIT_COMMITTER_NAME": "CI",
        "GIT_COMMITTER_EMAIL": who.email,
        "GIT_TERMINAL_PROMPT": "0",
    }
    return subprocess.run(
        list(args),
        cwd=cwd or home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_get_then_push_with_only_the_token(target: Target, tmp_path: Path) -> None:
    owner = target.person("lead@example.com")
    pid = target.project(owner, "Shop")
    home = tmp_path / "home"
    home.mkdir()
    got = _run(target, owner, home, "platform", "get", pid, "shop")
    assert got.returncode == 0, got.stderr
    assert "was successfully downloaded to: shop" in got.stderr
    clone = home / "shop"
    config = (clone / ".git" / "config").read_text()
    assert owner.api_token not in config and "password" not in config
    assert f"/git/{pid}.git" in config and "auth:git-credential" in config
    assert '[remote "platform"]' in config
    # The first push, then a feature branch pushed as an active environment.
    (clone / "index.html").write_text("hello")
    assert _run(target, owner, home, "git", "add", ".", cwd=clone).returncode == 0
    assert _run(target, owner, home, "git", "commit", "-qm", "first", cwd=clone).returncode == 0
    pushed = _run(target, owner, home, "platform", "push", "--target", "main", "-y", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr
    assert "Pushing HEAD to the environment main." in pushed.stderr
    assert "Processing activity:" in pushed.stderr
    assert _run(target, owner, home, "git", "checkout", "-qb", "feature", cwd=clone).returncode == 0
    activated = _run(target, owner, home, "platform", "push", "--activate", "-y", cwd=clone)
    assert activated.returncode == 0, activated.stderr
    assert "It will be created as an active environment." in activated.stderr
    for _ in range(200):
        status, env = target.call("GET", f"/projects/{pid}/environments/feature", owner.token)
        if status == 200 and env["status"] == "active":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("feature never became active")
    # project:info shows both remotes; the checkout is detected as this project.
    info = _run(target, owner, home, "platform", "project:info", "repository", cwd=clone)
    assert info.returncode == 0, info.stderr
    assert f"ssh://{pid}@127.0.0.1:{target.server.ssh_port}/{pid}.git" in info.stdout
    assert f"{target.url}/git/{pid}.git" in info.stdout


def test_a_reader_cannot_push_and_says_why(target: Target, tmp_path: Path) -> None:
    owner = target.person("owner2@example.com")
    reader = target.person("reader2@example.com", machine=True)
    pid = target.project(owner, "Shop2")
    target.grant(pid, reader, ["viewer", "production:viewer"])
    home = tmp_path / "home"
    home.mkdir()
    got = _run(target, reader, home, "platform", "get", pid)
    assert got.returncode == 0, got.stderr
    clone = home / pid
    (clone / "x").write_text("x")
    _run(target, reader, home, "git", "add", ".", cwd=clone)
    _run(target, reader, home, "git", "commit", "-qm", "x", cwd=clone)
    refused = _run(target, reader, home, "platform", "push", "--target", "main", "-y", cwd=clone)
    assert refused.returncode == 1
    assert "you need contributor on production environments to push to main" in refused.stderr
