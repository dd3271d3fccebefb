"""``#pause`` and ``#resume``: who may, state rules, links, and the worker's side."""

from __future__ import annotations

from typing import Any

import pytest

from homeport.worker.deploy_tasks import RUNTIME_TYPES
from tests.contract import validate
from tests.helpers import Api, assert_error
from tests.world import World, build_world, drain


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def env_path(world: World, name: str) -> str:
    return f"/projects/{world.pid}/environments/{name}"


def get_env(world: World, name: str, actor: str = "project_admin") -> dict[str, Any]:
    r = world.api.get(env_path(world, name), world.token(actor))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def act(world: World, name: str, op: str, actor: str = "project_admin") -> Any:
    return world.api.post(f"{env_path(world, name)}/{op}", world.token(actor))


def pause_dev(world: World) -> None:
    r = act(world, "dev", "pause", "dev_admin")
    assert r.status_code == 200, r.text
    drain(world.api)


def test_pause_then_resume(world: World) -> None:
    dev = get_env(world, "dev")
    assert "#pause" in dev["_links"] and "#resume" not in dev["_links"]
    r = act(world, "dev", "pause", "dev_admin")
    assert r.status_code == 200, r.text
    validate("AcceptedResponse", r.json())
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.pause" and activity["state"] == "pending"
    # A second pause while the first is queued is refused.
    assert "already being paused" in assert_error(act(world, "dev", "pause"), 409)["message"]
    drain(world.api)
    dev = get_env(world, "dev")
    assert dev["status"] == "paused"
    validate("Environment", dev, frozenset({"needs_redeploy"}))
    assert dev["deployment_state"]["crons"]["status"] == "paused"
    links = dev["_links"]
    assert "#resume" in links and "#deactivate" in links
    for gone in ("#pause", "#redeploy", "#deploy", "#backup", "#branch"):
        assert gone not in links, gone
    done = world.api.get(
        f"/projects/{world.pid}/activities/{activity['id']}", world.token("dev_admin")
    ).json()
    assert done["state"] == "complete" and done["result"] == "success"

    r = act(world, "dev", "resume", "dev_admin")
    assert r.status_code == 200, r.text
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.resume"
    assert "already being resumed" in assert_error(act(world, "dev", "resume"), 409)["message"]
    drain(world.api)
    dev = get_env(world, "dev")
    assert dev["status"] == "active" and "#pause" in dev["_links"]
    assert dev["deployment_state"]["crons"]["status"] == "running"
    assert dev["deployment_state"]["last_deployment_successful"] is True


def test_who_may_pause_and_resume(world: World) -> None:
    for actor in ("dev_viewer", "dev_contributor"):
        refusal = assert_error(act(world, "dev", "pause", actor), 403)
        assert refusal["message"] == ("You need admin on development environments to pause them.")
        assert "#pause" not in get_env(world, "dev", actor)["_links"]
    assert_error(act(world, "dev", "pause", "machine"), 404)
    pause_dev(world)
    for actor in ("dev_viewer", "dev_contributor"):
        refusal = assert_error(act(world, "dev", "resume", actor), 403)
        assert refusal["message"] == ("You need admin on development environments to resume them.")
        assert "#resume" not in get_env(world, "dev", actor)["_links"]
    assert "#resume" in get_env(world, "dev", "dev_admin")["_links"]
    assert act(world, "dev", "resume", "platform_admin").status_code == 200


def test_state_rules(world: World) -> None:
    main = get_env(world, "main")
    assert "#pause" not in main["_links"] and "#resume" not in main["_links"]
    refused = assert_error(act(world, "main", "pause"), 409)
    assert refused["message"] == "The production environment cannot be paused."
    old = assert_error(act(world, "old", "pause"), 409)
    assert old["message"] == "Only an active environment can be paused."
    not_paused = assert_error(act(world, "dev", "resume"), 409)
    assert "is not paused. Only paused environments can be resumed." in not_paused["message"]
    pause_dev(world)
    again = assert_error(act(world, "dev", "pause"), 409)
    assert again["message"] == "The environment dev is already paused."
    redeploy = assert_error(act(world, "dev", "redeploy"), 409)
    assert "paused; resume it" in redeploy["message"]
    assert_error(act(world, "dev", "backup"), 409)
    branch = world.api.post(
        f"{env_path(world, 'dev')}/branch", world.token("project_admin"), json={"name": "x"}
    )
    assert_error(branch, 409)


def test_paused_environment_can_be_deactivated(world: World) -> None:
    pause_dev(world)
    assert act(world, "dev", "deactivate").status_code == 200
    drain(world.api)
    assert get_env(world, "dev")["status"] == "inactive"


def test_pause_and_resume_need_the_runtime_worker() -> None:
    assert {"environment.pause", "environment.resume"} <= RUNTIME_TYPES


def test_push_to_a_paused_environment_is_stored_not_deployed(world: World) -> None:
    from homeport.domain import activities as acts
    from homeport.domain import environments as envs
    from homeport.domain.policy import load_grants
    from homeport.domain.projects import get_project
    from homeport.git import push
    from homeport.git.refs import PushOptions, RefUpdate
    from homeport.store.models import Account

    pause_dev(world)
    api = world.api
    with api.state.db.session(write=True) as s:
        project = get_project(s, world.pid)
        account = s.get(Account, world.ids["dev_admin"])
        assert account is not None
        dev = envs.get_environment(s, project, "dev")
        update = RefUpdate("a" * 40, "b" * 40, "refs/heads/dev")
        [activity_id] = push._record(
            s,
            load_grants(s, account, project),
            project,
            dev,
            None,
            update,
            PushOptions(),
            [],
            1,
            api.state.settings.environments_dir,
        )
        activity = acts.get_activity(s, world.pid, activity_id)
        assert activity.type == "environment.push" and activity.state == "complete"
        assert dev.head_commit == "b" * 40 and dev.status == "paused"
    r = api.get(f"/projects/{world.pid}/activities/{activity_id}/log", world.token("dev_admin"))
    assert "deploys when it is resumed" in r.text


class StubRuntime:
    """Records what the runtime was asked to do (no processes, no builds)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def stop(self, project_id: str, env_name: str) -> None:
        self.calls.append(("stop", env_name))

    def deploy(self, project_id: str, env_name: str, write: Any, **kw: Any) -> bool:
        self.calls.append((f"deploy:{kw.get('kind')}", env_name))
        return True


def test_with_a_runtime_pause_stops_and_resume_redeploys(world: World) -> None:
    from homeport.worker.runner import Worker
    from homeport.worker.tasks import default_handlers

    api, runtime = world.api, StubRuntime()
    handlers = default_handlers(api.state.settings, runtime)  # type: ignore[arg-type]
    worker = Worker(api.state.db, api.state.settings, handlers)
    assert act(world, "dev", "pause").status_code == 200
    while worker.run_once():
        pass
    assert runtime.calls == [("stop", "dev")]
    assert get_env(world, "dev")["status"] == "paused"
    assert act(world, "dev", "resume").status_code == 200
    while worker.run_once():
        pass
    assert runtime.calls[1:] == [("deploy:redeploy", "dev")]
    assert get_env(world, "dev")["status"] == "active"
