"""``#merge`` and ``#synchronize``: who may (admin on both types), state rules, bodies,
and the worker's side with real git and real data directories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.git import repos
from homeport.worker.deploy_tasks import RUNTIME_TYPES
from tests.contract import validate
from tests.helpers import assert_error
from tests.web.test_pause_resume import StubRuntime, act, env_path, get_env, pause_dev
from tests.world import World, build_world, drain


@pytest.fixture
def world(api: Any) -> World:
    made = build_world(api)
    repos.create_repo(api.state.settings.git_dir, made.pid, "main")
    return made


def _repo(world: World) -> Path:
    return repos.repo_path(world.api.state.settings.git_dir, world.pid)


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com"}
    env |= {"GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.strip()


def commit(world: World, branch: str, files: dict[str, str]) -> str:
    """A commit on ``branch`` adding or changing ``files`` (written with plumbing, as
    a push would leave it; the environment's head is recorded too). A new branch
    starts at main's head, as branching does."""
    repo = _repo(world)
    head = repos.branch_head(repo, branch) or repos.branch_head(repo, "main")
    entries = {}
    if head:
        for line in _git(repo, "ls-tree", head).splitlines():
            meta, name = line.split("\t", 1)
            entries[name] = meta
    for name, text in files.items():
        blob = _git(repo, "hash-object", "-w", "--stdin", stdin=text)
        entries[name] = f"100644 blob {blob}"
    tree = _git(repo, "mktree", stdin="".join(f"{m}\t{n}\n" for n, m in entries.items()))
    parents = ["-p", head] if head else []
    new = _git(repo, "commit-tree", tree, *parents, "-m", f"change {sorted(files)}")
    _git(repo, "update-ref", f"refs/heads/{branch}", new)
    with world.api.state.db.session(write=True) as s:
        env = envs.get_environment(s, get_project(s, world.pid), branch)
        env.head_commit, env.has_code = new, True
    return new


def show(world: World, branch: str, path: str) -> str:
    return _git(_repo(world), "show", f"refs/heads/{branch}:{path}")


def log_of(world: World, activity_id: str) -> tuple[dict[str, Any], str]:
    r = world.api.get(
        f"/projects/{world.pid}/activities/{activity_id}", world.token("project_admin")
    )
    assert r.status_code == 200, r.text
    with world.api.state.db.session() as s:
        row = acts.get_activity(s, world.pid, activity_id)
        text = "".join(line.message for line in acts.log_lines(s, row.pk))
    return r.json(), text


def data_dir(world: World, name: str) -> Path:
    with world.api.state.db.session() as s:
        env = envs.get_environment(s, get_project(s, world.pid), name)
        return envs.data_dir(world.api.state.settings.environments_dir, env)


def sync(world: World, body: Any, actor: str = "project_admin", name: str = "dev") -> Any:
    return world.api.post(f"{env_path(world, name)}/synchronize", world.token(actor), json=body)


def test_merge_brings_the_childs_code_into_the_parent(world: World) -> None:
    commit(world, "main", {"index.html": "v1"})
    commit(world, "dev", {"index.html": "v1"})
    commit(world, "main", {"hotfix.txt": "fixed"})
    tip = commit(world, "dev", {"feature.txt": "new"})
    dev = get_env(world, "dev")
    assert dev["_links"]["#merge"]["href"].endswith("/environments/dev/merge")
    r = act(world, "dev", "merge")
    assert r.status_code == 200, r.text
    validate("AcceptedResponse", r.json())
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.merge" and activity["state"] == "pending"
    assert activity["environments"] == ["main", "dev"]
    assert activity["parameters"]["from"] == "dev" and activity["parameters"]["into"] == "main"
    assert activity["text"] == "project_admin merged Dev into main"
    drain(world.api)
    done, log = log_of(world, activity["id"])
    assert done["result"] == "success", log
    assert "Merged dev into main: new commit" in log
    assert show(world, "main", "feature.txt") == "new"
    assert show(world, "main", "hotfix.txt") == "fixed"
    main_head = repos.branch_head(_repo(world), "main")
    assert repos.is_ancestor(_repo(world), tip, main_head or "")
    assert get_env(world, "main")["head_commit"] == main_head
    # The merge is listed under both environments.
    for name in ("main", "dev"):
        listed = world.api.get(
            f"{env_path(world, name)}/activities", world.token("project_admin")
        ).json()
        assert activity["id"] in {a["id"] for a in listed}


def test_unrelated_histories_are_not_merged(world: World) -> None:
    commit(world, "main", {"a.txt": "main"})
    repo = _repo(world)
    tree = _git(repo, "mktree", stdin="")
    orphan = _git(repo, "commit-tree", tree, "-m", "a history of its own")
    _git(repo, "update-ref", "refs/heads/dev", orphan)
    main = repos.branch_head(repo, "main")
    r = act(world, "dev", "merge")
    drain(world.api)
    done, log = log_of(world, r.json()["_embedded"]["activities"][0]["id"])
    assert done["result"] == "failure"
    assert "dev and main have no commit in common; nothing was changed." in log
    assert repos.branch_head(repo, "main") == main


def test_a_conflicting_merge_fails_and_changes_nothing(world: World) -> None:
    commit(world, "main", {"a.txt": "base"})
    commit(world, "dev", {"a.txt": "base"})
    main = commit(world, "main", {"a.txt": "main's"})
    dev = commit(world, "dev", {"a.txt": "dev's"})
    r = act(world, "dev", "merge")
    drain(world.api)
    done, log = log_of(world, r.json()["_embedded"]["activities"][0]["id"])
    assert done["result"] == "failure"
    assert "Merge conflict in a.txt. Nothing was changed." in log
    assert repos.branch_head(_repo(world), "main") == main
    assert repos.branch_head(_repo(world), "dev") == dev


def test_a_merge_with_an_invalid_configuration_is_refused(world: World) -> None:
    commit(world, "main", {"index.html": "v1"})
    bad = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: x\ncrons:\n"
    bad += "  often:\n    spec: '* * * * *'\n    commands:\n      start: date\n"
    commit(world, "dev", {".platform.app.yaml": bad})
    main = repos.branch_head(_repo(world), "main")
    r = act(world, "dev", "merge")
    drain(world.api)
    done, log = log_of(world, r.json()["_embedded"]["activities"][0]["id"])
    assert done["result"] == "failure"
    assert "crons.often.spec" in log and "Nothing was changed." in log
    assert repos.branch_head(_repo(world), "main") == main


def test_synchronize_code_merges_or_rebases_the_parent_in(world: World) -> None:
    commit(world, "main", {"a.txt": "base"})
    commit(world, "dev", {"a.txt": "base"})
    commit(world, "main", {"m.txt": "upstream"})
    commit(world, "dev", {"d.txt": "mine"})
    r = sync(world, {"synchronize_code": True, "synchronize_data": False, "rebase": True})
    assert r.status_code == 200, r.text
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.synchronize"
    assert activity["text"] == "project_admin synchronized Dev's code from main"
    drain(world.api)
    done, log = log_of(world, activity["id"])
    assert done["result"] == "success", log
    assert "Rebased dev onto main" in log
    repo = _repo(world)
    assert show(world, "dev", "m.txt") == "upstream" and show(world, "dev", "d.txt") == "mine"
    # Rebased: main's head is an ancestor and there is no merge commit.
    assert repos.is_ancestor(repo, repos.branch_head(repo, "main") or "", "refs/heads/dev")
    assert _git(repo, "rev-list", "--merges", "refs/heads/main..refs/heads/dev") == ""
    # Already up to date: nothing moves, nothing is redeployed.
    again = sync(world, {"synchronize_code": True})
    drain(world.api)
    _, log = log_of(world, again.json()["_embedded"]["activities"][0]["id"])
    assert "dev is already up to date with main" in log and "Redeploying" not in log


def test_synchronize_data_replaces_the_childs_data_with_a_copy(world: World) -> None:
    parent, child = data_dir(world, "main"), data_dir(world, "dev")
    (parent / "mounts" / "uploads").mkdir(parents=True, exist_ok=True)
    (parent / "mounts" / "uploads" / "photo.jpg").write_text("from production")
    child.mkdir(parents=True, exist_ok=True)
    (child / "stale.txt").write_text("dev only")
    r = sync(world, {"synchronize_data": True})
    assert r.status_code == 200, r.text
    drain(world.api)
    done, log = log_of(world, r.json()["_embedded"]["activities"][0]["id"])
    assert done["result"] == "success", log
    assert "Copying the data of main into dev" in log
    assert (child / "mounts" / "uploads" / "photo.jpg").read_text() == "from production"
    assert not (child / "stale.txt").exists()
    assert (parent / "mounts" / "uploads" / "photo.jpg").exists()  # the parent keeps its own
    assert not any(p.name.startswith("data.sync") for p in child.parent.iterdir())


def test_who_may_merge_and_synchronize(world: World) -> None:
    # dev_admin administers development only: merging into production needs more.
    refusal = assert_error(act(world, "dev", "merge", "dev_admin"), 403)
    assert refusal["message"] == (
        "You need admin on production environments to merge them or merge into them."
    )
    refusal = assert_error(sync(world, {"synchronize_code": True}, "dev_admin"), 403)
    assert refusal["message"] == (
        "You need admin on production environments to synchronize them or from them."
    )
    for actor in ("dev_viewer", "dev_contributor"):
        refusal = assert_error(act(world, "dev", "merge", actor), 403)
        assert refusal["message"] == (
            "You need admin on development environments to merge them or merge into them."
        )
        links = get_env(world, "dev", actor)["_links"]
        assert "#merge" not in links and "#synchronize" not in links
    assert "#merge" not in get_env(world, "dev", "dev_admin")["_links"]
    # The machine user (production admin) cannot even see dev.
    assert_error(act(world, "dev", "merge", "machine"), 404)
    listed = world.api.get(
        f"/projects/{world.pid}/environments", world.token("project_admin")
    ).json()
    by_name = {e["name"]: e["_links"] for e in listed}
    assert "#merge" in by_name["dev"] and "#synchronize" in by_name["stage"]
    assert "#merge" not in by_name["main"] and "#merge" not in by_name["old"]


def test_state_rules_and_bodies(world: World) -> None:
    refused = assert_error(act(world, "main", "merge"), 409)
    assert refused["message"] == "The environment main has no parent, so it cannot be merged."
    refused = assert_error(act(world, "old", "merge"), 409)
    assert refused["message"] == "The environment old is not active, so old cannot be merged."
    for body in (
        {},
        {"synchronize_code": False, "synchronize_data": False},
        {"synchronize_resources": True},
    ):
        refused = assert_error(sync(world, body), 400)
        assert refused["message"] == "You must synchronize at least code or data."
    wrong: tuple[Any, ...] = (
        {"synchronize_code": "yes"},
        [],
        {"synchronize_data": True, "rebase": True},
    )
    for body in wrong:
        assert_error(sync(world, body), 400)
    bad = world.api.post(
        f"{env_path(world, 'dev')}/merge",
        world.token("project_admin"),
        json={"resources": {"init": "everything"}},
    )
    assert_error(bad, 400)
    ok = world.api.post(
        f"{env_path(world, 'dev')}/merge",
        world.token("project_admin"),
        json={"resources": {"init": "child"}},
    )
    assert ok.status_code == 200, ok.text
    drain(world.api)
    pause_dev(world)
    refused = assert_error(act(world, "dev", "merge"), 409)
    assert refused["message"] == "The environment dev is paused, so dev cannot be merged."
    assert "#merge" not in get_env(world, "dev")["_links"]


def test_merge_and_synchronize_need_the_runtime_worker() -> None:
    assert {"environment.merge", "environment.synchronize"} <= RUNTIME_TYPES


def test_with_a_runtime_merge_deploys_the_parent_and_sync_data_stops_first(
    world: World,
) -> None:
    from homeport.worker.runner import Worker
    from homeport.worker.tasks import default_handlers

    api, runtime = world.api, StubRuntime()
    worker = Worker(
        api.state.db,
        api.state.settings,
        default_handlers(api.state.settings, runtime),  # type: ignore[arg-type]
    )
    commit(world, "main", {"a.txt": "base"})
    commit(world, "dev", {"b.txt": "feature"})
    assert act(world, "dev", "merge").status_code == 200
    while worker.run_once():
        pass
    assert runtime.calls == [("deploy:push", "main")]
    assert sync(world, {"synchronize_data": True, "synchronize_code": True}).status_code == 200
    while worker.run_once():
        pass
    # Code first (dev already has main's commits), then stop, copy, deploy.
    assert runtime.calls[1:] == [("stop", "dev"), ("deploy:push", "dev")]
