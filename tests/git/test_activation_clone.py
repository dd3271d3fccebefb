"""Activating a pushed branch copies its parent's data only for someone who may copy
data out of the parent (the branch right on the parent's type); otherwise it starts
empty and its log says why."""

from __future__ import annotations

import base64

from homeport.domain import activities as acts
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from tests.helpers import Api
from tests.world import World, build_world, drain


def _pushed_branch(api: Api, pid: str, name: str) -> None:
    """An inactive environment under main, as a push of a new branch leaves it."""
    with api.state.db.session(write=True) as s:
        project = get_project(s, pid)
        env = envs.new_environment(pid, name, "development", "main")
        env.clone_parent_on_create = True
        s.add(env)
        main = envs.get_environment(s, project, "main")
        area = envs.data_dir(api.state.settings.environments_dir, main)
    area.mkdir(parents=True, exist_ok=True)
    (area / "customers.csv").write_text("production data")


def _activate(world: World, actor: str, name: str) -> tuple[list[str], str]:
    r = world.api.post(f"/projects/{world.pid}/environments/{name}/activate", world.token(actor))
    assert r.status_code == 200, r.text
    aid = r.json()["_embedded"]["activities"][0]["id"]
    drain(world.api)
    with world.api.state.db.session() as s:
        project = get_project(s, world.pid)
        env = envs.get_environment(s, project, name)
        area = envs.data_dir(world.api.state.settings.environments_dir, env)
        row = acts.get_activity(s, world.pid, aid)
        log = "".join(line.message for line in acts.log_lines(s, row.pk))
        assert env.status == "active"
    return sorted(p.name for p in area.iterdir()), log


def test_only_those_who_may_branch_the_parent_get_its_data(api: Api) -> None:
    world = build_world(api)
    _pushed_branch(api, world.pid, "feat-a")
    _pushed_branch(api, world.pid, "feat-b")
    # dev_admin administers development and holds no role on production.
    files, log = _activate(world, "dev_admin", "feat-a")
    assert files == []
    assert "Not copying data from main" in log and "starts empty" in log
    files, log = _activate(world, "project_admin", "feat-b")
    assert files == ["customers.csv"]
    assert "Copying the data of main" in log


def test_basic_auth_takes_an_access_token_too(api: Api) -> None:
    world = build_world(api)
    from homeport.git import repos

    repos.create_repo(api.state.settings.git_dir, world.pid, "main")
    token = world.token("dev_viewer")
    assert token is not None
    basic = base64.b64encode(f"anyone:{token}".encode()).decode()
    r = api.client.get(
        f"/git/{world.pid}.git/info/refs?service=git-upload-pack",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200
    wrong = base64.b64encode(b"anyone:not-a-token").decode()
    r = api.client.get(
        f"/git/{world.pid}.git/info/refs?service=git-upload-pack",
        headers={"Authorization": f"Basic {wrong}"},
    )
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Basic realm="Homeport"'
