"""Git over HTTPS against a real ``homeport serve``, with the real ``git`` client: the
seed's CI case (a viewer machine user clones with its API token, its push is refused
with the reason), branches becoming environments, and the per-ref rules."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ServerProcess
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class Git:
    """Runs real ``git`` as one person, authenticated by an API token over HTTPS."""

    def __init__(self, target: Target, who: Person, home: Path) -> None:
        self.target, self.who, self.home = target, who, home
        home.mkdir(parents=True, exist_ok=True)

    def url(self, project: str) -> str:
        host = self.target.url.removeprefix("http://")
        return f"http://ci:{self.who.api_token}@{host}/git/{project}.git"

    def run(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "HOME": str(self.home),
            "PATH": os.environ["PATH"],
            "GIT_AUTHOR_NAME": self.who.email,
            "GIT_AUTHOR_EMAIL": self.who.email,
            "GIT_COMMITTER_NAME": self.who.email,
            "GIT_COMMITTER_EMAIL": self.who.email,
            "GIT_TERMINAL_PROMPT": "0",
        }
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
        )
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def clone(self, project: str, into: str) -> Path:
        path = self.home / into
        self.run("clone", "--quiet", self.url(project), str(path))
        return path

    def commit(self, repo: Path, name: str, content: str = "x") -> str:
        (repo / name).write_text(content)
        self.run("add", name, cwd=repo)
        self.run("commit", "--quiet", "-m", f"add {name}", cwd=repo)
        return self.run("rev-parse", "HEAD", cwd=repo).stdout.strip()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(tmp_path_factory.mktemp("git") / "data").start()
    try:
        yield Target(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def story(target: Target, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("clients")
    owner = target.person("owner@example.com")
    dev = target.person("dev@example.com")
    reader = target.person("ci-reader@example.com", machine=True)
    pid = target.project(owner, "Shop")
    target.grant(pid, dev, ["viewer", "production:viewer", "development:contributor"])
    target.grant(pid, reader, ["viewer", "production:viewer", "development:viewer"])
    git = {
        name: Git(target, who, base / name)
        for name, who in (("owner", owner), ("dev", dev), ("reader", reader))
    }
    # The owner makes the first push to main.
    work = git["owner"].clone(pid, "work")
    git["owner"].commit(work, "README.md", "hello")
    pushed = git["owner"].run("push", "origin", "HEAD:main", cwd=work)
    return {
        "pid": pid,
        "git": git,
        "owner": owner,
        "dev": dev,
        "reader": reader,
        "first_push": pushed.stderr,
        "work": work,
    }


def _env(target: Target, token: str, pid: str, name: str) -> tuple[int, Any]:
    return target.call("GET", f"/projects/{pid}/environments/{name}", token)


def test_first_push_records_and_shows_the_activity(target: Target, story: dict[str, Any]) -> None:
    assert "Processing activity:" in story["first_push"]
    assert "pushed to" in story["first_push"]
    assert "Found 1 new commit" in story["first_push"]
    status, main = _env(target, story["owner"].token, story["pid"], "main")
    assert status == 200 and main["has_code"] is True and main["head_commit"]
    status, listed = target.call(
        "GET", f"/projects/{story['pid']}/activities?type=environment.push", story["owner"].token
    )
    push = listed[0]
    assert push["parameters"]["new_commit"] == main["head_commit"]
    assert push["payload"]["commits_count"] == 1
    assert push["payload"]["commits"][0]["author"]["email"] == "owner@example.com"


def test_reader_clones_but_cannot_push(target: Target, story: dict[str, Any]) -> None:
    reader: Git = story["git"]["reader"]
    clone = reader.clone(story["pid"], "reader-clone")
    assert (clone / "README.md").read_text() == "hello"
    reader.commit(clone, "evil.txt")
    refused = reader.run("push", "origin", "HEAD:main", cwd=clone, check=False)
    assert refused.returncode != 0
    assert (
        "[remote rejected] HEAD -> main (Homeport: you need contributor on production "
        "environments to push to main)" in refused.stderr
    )
    new_branch = reader.run("push", "origin", "HEAD:feature-x", cwd=clone, check=False)
    assert "you need contributor on development environments to push feature-x" in new_branch.stderr
    assert _env(target, story["owner"].token, story["pid"], "feature-x")[0] == 404


def test_developer_pushes_a_feature_branch_not_production(
    target: Target, story: dict[str, Any]
) -> None:
    dev: Git = story["git"]["dev"]
    clone = dev.clone(story["pid"], "dev-clone")
    dev.commit(clone, "feature.txt")
    pushed = dev.run("push", "origin", "HEAD:feature", cwd=clone)
    assert "[new branch]" in pushed.stderr
    status, env = _env(target, story["dev"].token, story["pid"], "feature")
    assert status == 200
    assert env["status"] == "inactive" and env["parent"] == "main" and env["type"] == "development"
    assert env["head_commit"] == dev.run("rev-parse", "HEAD", cwd=clone).stdout.strip()
    refused = dev.run("push", "origin", "HEAD:main", cwd=clone, check=False)
    assert "you need contributor on production environments to push to main" in refused.stderr
    # A contributor may not rewrite history: force push needs admin.
    dev.run("commit", "--amend", "-m", "rewritten", cwd=clone)
    forced = dev.run("push", "--force", "origin", "HEAD:feature", cwd=clone, check=False)
    assert "you need admin on development environments to force-push to feature" in forced.stderr


def test_admin_force_pushes_and_deletion_rules(target: Target, story: dict[str, Any]) -> None:
    owner: Git = story["git"]["owner"]
    work = story["work"]
    owner.commit(work, "a.txt")
    owner.run("push", "origin", "HEAD:main", cwd=work)
    owner.run("reset", "--hard", "HEAD~1", cwd=work)
    owner.commit(work, "b.txt")
    forced = owner.run("push", "--force", "origin", "HEAD:main", cwd=work)
    assert "forced update" in forced.stderr
    # The default branch is never deleted; an active environment's branch only after
    # deactivation.
    refused = owner.run("push", "origin", "--delete", "main", cwd=work, check=False)
    assert "the default branch cannot be deleted" in refused.stderr
    owner.run("push", "-o", "environment.status=active", "origin", "HEAD:live", cwd=work)
    _wait_status(target, story, "live", "active")
    refused = owner.run("push", "origin", "--delete", "live", cwd=work, check=False)
    assert "cannot be deleted until the environment has been deactivated" in refused.stderr


def test_git_and_environments_agree_both_ways(target: Target, story: dict[str, Any]) -> None:
    owner: Person = story["owner"]
    status, body = target.call(
        "POST",
        f"/projects/{story['pid']}/environments/main/branch",
        owner.token,
        body={"name": "from-api", "title": "From the API"},
    )
    assert status == 201, body
    listed = story["git"]["owner"].run("ls-remote", story["git"]["owner"].url(story["pid"]))
    heads = dict(line.split("\t")[::-1] for line in listed.stdout.splitlines())
    assert heads["refs/heads/from-api"] == heads["refs/heads/main"]


def test_no_credentials_get_a_basic_challenge(target: Target, story: dict[str, Any]) -> None:
    url = f"{target.url}/git/{story['pid']}.git/info/refs?service=git-upload-pack"
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as err:
        assert err.code == 401
        assert err.headers["WWW-Authenticate"] == 'Basic realm="Homeport"'
    else:
        raise AssertionError("an anonymous clone was answered")


def test_deleted_token_and_deactivated_account_are_refused(
    target: Target, story: dict[str, Any], tmp_path: Path
) -> None:
    temp = target.person("temp@example.com")
    target.grant(story["pid"], temp, ["viewer", "production:viewer"])
    git = Git(target, temp, tmp_path / "temp")
    git.clone(story["pid"], "ok")
    _, tokens = target.call("GET", f"/users/{temp.id}/api-tokens", target.admin_token)
    for token in tokens:
        target.call("DELETE", f"/users/{temp.id}/api-tokens/{token['id']}", target.admin_token)
    failed = git.run("clone", git.url(story["pid"]), str(tmp_path / "no"), check=False)
    assert failed.returncode != 0 and "Authentication failed" in failed.stderr
    # A deactivated account's token stops at its next git request.
    gone = target.person("gone@example.com")
    target.grant(story["pid"], gone, ["viewer", "production:viewer"])
    gone_git = Git(target, gone, tmp_path / "gone")
    gone_git.clone(story["pid"], "ok")
    assert target.server.homeport("user:deactivate", "gone@example.com").returncode == 0
    refused = gone_git.run("clone", gone_git.url(story["pid"]), str(tmp_path / "x"), check=False)
    assert refused.returncode != 0 and "Authentication failed" in refused.stderr


def test_concurrent_pushes_to_one_branch(
    target: Target, story: dict[str, Any], tmp_path: Path
) -> None:
    owner: Git = story["git"]["owner"]
    clones = [owner.clone(story["pid"], f"race-{i}") for i in range(2)]
    for i, clone in enumerate(clones):
        owner.commit(clone, f"race-{i}.txt")
    start = threading.Barrier(2)
    results: list[subprocess.CompletedProcess[str]] = []

    def push(clone: Path) -> None:
        start.wait()
        results.append(owner.run("push", "origin", "HEAD:main", cwd=clone, check=False))

    threads = [threading.Thread(target=push, args=(c,)) for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(r.returncode == 0 for r in results) == [False, True]
    loser = next(r for r in results if r.returncode != 0)
    assert "non-fast-forward" in loser.stderr or "fetch first" in loser.stderr
    fsck = subprocess.run(
        ["git", "--git-dir", str(target.server.data_dir / "git" / f"{story['pid']}.git"), "fsck"],
        capture_output=True,
        text=True,
    )
    assert fsck.returncode == 0, fsck.stderr


def _wait_status(target: Target, story: dict[str, Any], name: str, status: str) -> None:
    for _ in range(200):
        got, env = _env(target, story["owner"].token, story["pid"], name)
        if got == 200 and env["status"] == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {status}")


def test_no_wait_push_returns_before_the_activity_ends(
    target: Target, story: dict[str, Any]
) -> None:
    owner: Git = story["git"]["owner"]
    work = story["work"]
    owner.run("fetch", "-q", "origin", cwd=work)
    owner.run("reset", "-q", "--hard", "origin/main", cwd=work)
    owner.commit(work, "nowait.txt")
    pushed = owner.run("push", "-o", "no-wait", "origin", "HEAD:main", cwd=work)
    assert "Processing activity:" in pushed.stderr
    assert "Not waiting for activity" in pushed.stderr
    assert "Redeploying environment main" not in pushed.stderr


def test_push_options_title_parent_type(target: Target, story: dict[str, Any]) -> None:
    owner: Git = story["git"]["owner"]
    work = story["work"]
    owner.run("fetch", "-q", "origin", cwd=work)
    owner.run("checkout", "-q", "-B", "opts", "origin/main", cwd=work)
    owner.commit(work, "opts.txt")
    owner.run(
        "push",
        "-o",
        "environment.title=Options test",
        "-o",
        "environment.parent=from-api",
        "-o",
        "environment.type=staging",
        "-o",
        "environment.clone_parent_on_create=false",
        "origin",
        "HEAD:opts",
        cwd=work,
    )
    status, env = _env(target, story["owner"].token, story["pid"], "opts")
    assert status == 200
    assert (env["title"], env["parent"], env["type"]) == ("Options test", "from-api", "staging")
    assert env["status"] == "inactive" and env["clone_parent_on_create"] is False
    bad = owner.run(
        "push", "-o", "environment.type=moon", "origin", "HEAD:opts2", cwd=work, check=False
    )
    assert "Homeport: Unknown environment type 'moon'." in bad.stderr


def test_a_parent_one_cannot_see_is_no_parent(target: Target, story: dict[str, Any]) -> None:
    status, body = target.call(
        "POST",
        f"/projects/{story['pid']}/environments/main/branch",
        story["owner"].token,
        body={"name": "stg", "type": "staging"},
    )
    assert status == 201, body
    dev: Git = story["git"]["dev"]
    clone = dev.clone(story["pid"], "dev-parent")
    dev.commit(clone, "p.txt")
    answers = []
    for parent in ("stg", "no-such-env"):
        pushed = dev.run(
            "push",
            "-o",
            f"environment.parent={parent}",
            "origin",
            f"HEAD:child-{parent}",
            cwd=clone,
            check=False,
        )
        answers.append(pushed.stderr.split("(Homeport: ")[1].split(")")[0].replace(parent, "X"))
    assert answers[0] == answers[1] == "there is no environment X to be the parent"
