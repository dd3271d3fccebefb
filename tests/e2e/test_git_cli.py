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


def _git_ok(target: Target, who: Person, home: Path, clone: Path, *args: str) -> str:
    done = _run(target, who, home, "git", *args, cwd=clone)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _active(target: Target, who: Person, pid: str, name: str) -> None:
    for _ in range(300):
        status, env = target.call("GET", f"/projects/{pid}/environments/{name}", who.token)
        if status == 200 and env["status"] == "active":
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became active")


def test_merge_and_sync_with_the_real_cli(target: Target, tmp_path: Path) -> None:
    owner = target.person("merger@example.com")
    dev_admin = target.person("dev-admin@example.com", machine=True)
    pid = target.project(owner, "Merges")
    target.grant(pid, dev_admin, ["viewer", "development:admin"])
    home = tmp_path / "home"
    home.mkdir()
    assert _run(target, owner, home, "platform", "get", pid, "site").returncode == 0
    clone = home / "site"
    (clone / "index.html").write_text("v1\n")
    _git_ok(target, owner, home, clone, "add", ".")
    _git_ok(target, owner, home, clone, "commit", "-qm", "first")
    main = _run(target, owner, home, "platform", "push", "--target", "main", "-y", cwd=clone)
    assert main.returncode == 0, main.stderr
    _git_ok(target, owner, home, clone, "checkout", "-qb", "feature")
    (clone / "feature.txt").write_text("feature\n")
    _git_ok(target, owner, home, clone, "add", ".")
    _git_ok(target, owner, home, clone, "commit", "-qm", "feature work")
    pushed = _run(target, owner, home, "platform", "push", "--activate", "-y", cwd=clone)
    assert pushed.returncode == 0, pushed.stderr
    _active(target, owner, pid, "feature")
    # main moves on meanwhile, so the merge needs a merge commit.
    _git_ok(target, owner, home, clone, "checkout", "-q", "main")
    (clone / "hotfix.txt").write_text("hotfix\n")
    _git_ok(target, owner, home, clone, "add", ".")
    _git_ok(target, owner, home, clone, "commit", "-qm", "hotfix")
    hot = _run(target, owner, home, "platform", "push", "--target", "main", "-y", cwd=clone)
    assert hot.returncode == 0, hot.stderr

    # A development admin may not merge into production: the CLI says so and exits 1.
    refused = _run(target, dev_admin, home, "platform", "merge", "-p", pid, "-e", "feature", "-y")
    assert refused.returncode == 1
    assert "Operation not available: The environment feature can't be merged." in refused.stderr

    merged = _run(target, owner, home, "platform", "merge", "feature", "-y", cwd=clone)
    assert merged.returncode == 0, merged.stderr
    assert "Are you sure you want to merge feature into its parent, main?" in merged.stderr
    assert "Merging feature into main" in merged.stderr
    assert "Merge complete" in merged.stderr
    _git_ok(target, owner, home, clone, "fetch", "-q", "platform")
    assert _git_ok(target, owner, home, clone, "show", "platform/main:feature.txt") == "feature\n"
    subject = _git_ok(target, owner, home, clone, "log", "-1", "--format=%s|%ae", "platform/main")
    assert subject.strip() == "Merge branch 'feature' into main|merger@example.com"

    # Sync brings main's hotfix and merge into feature (a fast-forward now).
    synced = _run(target, owner, home, "platform", "sync", "code", "-e", "feature", "-y", cwd=clone)
    assert synced.returncode == 0, synced.stderr
    assert "Synchronizing environment feature" in synced.stderr
    assert "Synchronization complete" in synced.stderr
    _git_ok(target, owner, home, clone, "fetch", "-q", "platform")
    heads = _git_ok(target, owner, home, clone, "rev-parse", "platform/main", "platform/feature")
    assert len(set(heads.split())) == 1
    bad = _run(target, owner, home, "platform", "sync", "nothing", "-e", "feature", "-y", cwd=clone)
    assert bad.returncode == 1 and "Specify 'code', 'data', or 'both'" in bad.stderr
    # The activity log names the actor.
    listed = _run(
        target,
        owner,
        home,
        "platform",
        "activity:list",
        "-e",
        "main",
        "--format=csv",
        "--columns=type,description",
        "--no-header",
        cwd=clone,
    )
    assert listed.returncode == 0, listed.stderr
    assert "environment.merge,merger merged feature into main\n" in listed.stdout
