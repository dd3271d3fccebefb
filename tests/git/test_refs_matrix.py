"""Every per-ref git rule for every kind of actor, decided by the one policy, plus who
may reach the repository at all over smart HTTP (the git routes of the role matrix)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from homeport.domain import environments as envs
from homeport.domain.policy import load_grants
from homeport.domain.projects import get_project
from homeport.git import repos
from homeport.git.refs import PushOptions, RefUpdate, refusal
from homeport.store.models import Account
from tests.world import ACTORS, World, build_world

OK = None
A, OTHER = "anonymous", "other_admin"
V, C, D = "dev_viewer", "dev_contributor", "dev_admin"
P, R, M = "project_admin", "platform_admin", "machine"
Z = repos.ZERO


@pytest.fixture
def world(api: object) -> World:
    from tests.helpers import Api

    assert isinstance(api, Api)
    return build_world(api)


def _repo(world: World, tmp_path: Path) -> tuple[Path, str, str]:
    """The project's repository with main at c1 and c2 (child of c1) and c3 (not)."""
    repo = repos.create_repo(world.api.state.settings.git_dir, world.pid, "main")
    work = tmp_path / "work"
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
        "PATH": "/usr/bin:/bin",
    }

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=work, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    work.mkdir()
    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "c1")
    c1 = git("rev-parse", "HEAD")
    git("commit", "-q", "--allow-empty", "-m", "c2")
    c2 = git("rev-parse", "HEAD")
    git("checkout", "-q", "--orphan", "other")
    git("commit", "-q", "--allow-empty", "-m", "c3")
    c3 = git("rev-parse", "HEAD")
    # Seed the server repository without a push (a push would run the hook).
    subprocess.run(
        ["git", "--git-dir", str(repo), "fetch", "-q", str(work), "+refs/heads/*:refs/seed/*"],
        env=env,
        check=True,
        capture_output=True,
    )
    for branch in ("main", "dev", "old"):
        repos.git(repo, "update-ref", f"refs/heads/{branch}", c1)
    return repo, c2, c3


# name: (branch, old, new, options) -> actors allowed; c1/c2/c3 are resolved per test.
CASES: dict[str, tuple[str, str, str, dict[str, str], set[str]]] = {
    "push to main (production)": ("main", "c1", "c2", {}, {P, R, M}),
    "push to dev": ("dev", "c1", "c2", {}, {C, D, P, R}),
    "force-push dev": ("dev", "c1", "c3", {}, {D, P, R}),
    "force-push main": ("main", "c1", "c3", {}, {P, R, M}),
    "new branch": ("feature", Z, "c2", {}, {C, D, P, R}),
    "new staging branch": ("st", Z, "c2", {"environment.type": "staging"}, {P, R}),
    "new active branch": ("act", Z, "c2", {"environment.status": "active"}, {D, P, R}),
    "delete the default branch": ("main", "c1", Z, {}, set()),
    "delete an active environment's branch": ("dev", "c1", Z, {}, set()),
    "delete an inactive environment's branch": ("old", "c1", Z, {}, {D, P, R}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ref_rules(world: World, tmp_path: Path, case: str) -> None:
    repo, c2, c3 = _repo(world, tmp_path)
    with world.api.state.db.session() as s:
        c1 = repos.branch_head(repo, "main")
        assert c1 is not None
        commit = {"c1": c1, "c2": c2, "c3": c3, Z: Z}
        branch, old, new, raw, allowed = CASES[case]
        update = RefUpdate(commit[old], commit[new], f"refs/heads/{branch}")
        options = PushOptions.parse([f"{k}={v}" for k, v in raw.items()])
        project = get_project(s, world.pid)
        try:
            env = envs.get_environment(s, project, branch)
        except Exception:
            env = None
        for actor in ACTORS[1:]:
            account = s.get(Account, world.ids[actor])
            assert account is not None
            grants = load_grants(s, account, project)
            if not grants.can_project("view"):
                continue  # never reaches the hook: the repository is invisible
            reason = refusal(grants, project, update, env, options, repo)
            if actor in allowed:
                assert reason is OK, (case, actor, reason)
            else:
                assert reason is not None and reason.startswith("Homeport: "), (case, actor)


@pytest.mark.parametrize("service", ["git-upload-pack", "git-receive-pack"])
def test_who_reaches_the_repository(world: World, service: str) -> None:
    repos.create_repo(world.api.state.settings.git_dir, world.pid, "main")
    path = f"/git/{world.pid}.git/info/refs?service={service}"
    expected = {A: 401, OTHER: 404} | {a: 200 for a in (V, C, D, P, R, M)}
    for actor in ACTORS:
        response = world.api.request("GET", path, world.token(actor))
        assert response.status_code == expected[actor], (actor, response.text)
        if actor == A:
            assert response.headers["www-authenticate"] == 'Basic realm="Homeport"'
        if expected[actor] == 200:
            assert response.headers["content-type"] == f"application/x-{service}-advertisement"
        # The service request itself is guarded the same way.
        posted = world.api.request(
            "POST",
            f"/git/{world.pid}.git/{service}",
            world.token(actor),
            content=b"0000",
            headers={"Content-Type": f"application/x-{service}-request"},
        )
        if expected[actor] != 200:
            assert posted.status_code == expected[actor], (actor, posted.text)
        else:
            assert posted.status_code == 200, (actor, posted.text)
