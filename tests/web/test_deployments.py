"""`deployments/current`, `routes` and logs: who may read them, and their shapes.

The deployment rows here are written straight into the store (``record_fake_deployment``)
so the API can be tested without building anything; the real path is covered by
tests/e2e/test_runtime_story.py.
"""

from __future__ import annotations

import pytest

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.runtime.logs import log_file
from homeport.store.models import Deployment
from tests.helpers import Api, assert_error
from tests.world import World, build_world

ROUTE = "http://dev-abc1234-p.localhost:8080/"


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def record_fake_deployment(
    world: World, env_name: str, access: dict[str, str] | None = None
) -> str:
    """FAKE for API tests: a deployment row as a deploy would write it (``access``:
    the app's `access` section)."""
    with world.api.state.db.session(write=True) as session:
        project = get_project(session, world.pid)
        env = envs.get_environment(session, project, env_name)
        document = {
            "id": "current",
            "webapps": {
                "app": {
                    "name": "app",
                    "type": "python:3.11",
                    "tree_id": "t" * 40,
                    "access": access or {"ssh": "contributor"},
                }
            },
            "workers": {},
            "services": {},
            "routes": {
                ROUTE: {
                    "type": "upstream",
                    "upstream": "app:http",
                    "original_url": "https://{default}/",
                    "primary": True,
                }
            },
        }
        session.add(
            Deployment(
                environment_pk=env.pk,
                project_id=world.pid,
                commit="c" * 40,
                document=document,
                processes={"apps": {"app": {"port": 1}}},
            )
        )
        machine = env.machine_name
    path = log_file(world.api.state.settings.runtime_dir, world.pid, machine, "app", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"line {i}\n" for i in range(300)))
    return machine


def test_current_deployment_and_routes_for_viewers(world: World) -> None:
    record_fake_deployment(world, "dev")
    base = f"/projects/{world.pid}/environments/dev"
    for actor in ("dev_viewer", "dev_contributor", "project_admin"):
        current = world.api.get(f"{base}/deployments/current", world.token(actor))
        assert current.status_code == 200, (actor, current.text)
        assert current.json()["webapps"]["app"]["type"] == "python:3.11"
        assert current.json()["_links"]["self"]["href"].endswith("/deployments/current")
        listed = world.api.get(f"{base}/deployments", world.token(actor)).json()
        assert [d["id"] for d in listed] == ["current"]
        routes = world.api.get(f"{base}/routes", world.token(actor)).json()
        # The deployment's routes, in order, known by their `id` (else `original_url`).
        shown = list(current.json()["routes"].values())
        assert routes == [{**r, "id": r.get("id") or r["original_url"]} for r in shown]
        assert routes[0]["id"] == "https://{default}/" and routes[0]["upstream"] == "app:http"
        env = world.api.get(base, world.token(actor)).json()
        assert env["_links"]["public-url"]["href"] == ROUTE
        assert env["_links"]["pf:routes"] == [{"href": ROUTE}]
    # The machine user has no role on development environments: invisible.
    hidden = world.api.get(f"{base}/deployments/current", world.token("machine"))
    assert_error(hidden, 404)
    assert_error(world.api.get(f"{base}/deployments/current", None), 401)


def test_a_stored_document_is_shown_in_the_descriptions_shape(world: World) -> None:
    """Fields a stored document lacks get their defaults, fields the description does
    not allow are left out; `original_url` stays on routes, which are not sticky."""
    record_fake_deployment(world, "dev")
    with world.api.state.db.session(write=True) as session:
        row = session.query(Deployment).one()
        document = dict(row.document)
        document["webapps"] = {"app": {**document["webapps"]["app"], "workers": {"q": {}}}}
        document["workers"] = {
            "app--q": {"name": "app--q", "app": "app", "build": {}, "web": {}, "crons": {}}
        }
        row.document = document
    base = f"/projects/{world.pid}/environments/dev"
    current = world.api.get(f"{base}/deployments/current", world.token("dev_viewer")).json()
    app, worker = current["webapps"]["app"], current["workers"]["app--q"]
    assert "workers" not in app and app["build"] == {"flavor": None, "caches": {}}
    assert app["access"] == {"ssh": "contributor"} and app["resources"] is None
    assert not {"build", "web", "crons", "config_id"} & set(worker)
    assert worker["app"] == "app" and worker["preflight"] == {"enabled": False, "ignored_rules": []}
    assert current["subscription"]["suspended"] is False
    route = current["routes"][ROUTE]
    assert route["sticky"] == {"enabled": False} and route["original_url"] == "https://{default}/"
    assert "restrict_robots" not in route and current["id"] == "current"


def test_no_deployment_is_a_404_and_an_empty_list(world: World) -> None:
    base = f"/projects/{world.pid}/environments/dev"
    token = world.token("project_admin")
    assert_error(world.api.get(f"{base}/deployments/current", token), 404)
    assert world.api.get(f"{base}/deployments", token).json() == []
    assert world.api.get(f"{base}/routes", token).json() == []


def test_logs_need_the_ssh_right(world: World) -> None:
    record_fake_deployment(world, "dev")
    url = f"/projects/{world.pid}/environments/dev/logs/app?lines=5"
    for actor in ("dev_contributor", "dev_admin", "project_admin"):
        response = world.api.get(url, world.token(actor))
        assert response.status_code == 200, (actor, response.text)
        assert response.text == "".join(f"line {i}\n" for i in range(295, 300))
    assert_error(world.api.get(url, world.token("dev_viewer")), 403)
    assert_error(world.api.get(url, world.token("machine")), 404)


def test_log_requests_are_bounded(world: World) -> None:
    record_fake_deployment(world, "dev")
    token = world.token("project_admin")
    base = f"/projects/{world.pid}/environments/dev/logs"
    assert_error(world.api.get(f"{base}/secrets", token), 400)
    assert_error(world.api.get(f"{base}/app?lines=0", token), 400)
    assert_error(world.api.get(f"{base}/app?lines=10001", token), 400)
    assert_error(world.api.get(f"{base}/app?app=../../etc", token), 400)
    assert_error(world.api.get(f"{base}/app?app=nope", token), 404)


@pytest.mark.parametrize(
    ("minimum", "allowed"),
    [
        ("viewer", {"dev_viewer", "dev_contributor", "dev_admin"}),
        ("admin", {"dev_admin"}),
    ],
)
def test_logs_follow_the_apps_access_ssh(world: World, minimum: str, allowed: set[str]) -> None:
    """What a shell could read, the logs give: the app's `access.ssh` moves the bar."""
    record_fake_deployment(world, "dev", {"ssh": minimum})
    url = f"/projects/{world.pid}/environments/dev/logs/app?lines=5"
    for actor in ("dev_viewer", "dev_contributor", "dev_admin"):
        response = world.api.get(url, world.token(actor))
        if actor in allowed:
            assert response.status_code == 200, (actor, response.text)
        else:
            assert_error(response, 403)
    env = world.api.get(f"/projects/{world.pid}/environments/dev", world.token("dev_viewer"))
    assert ("pf:ssh:app" in env.json()["_links"]) == ("dev_viewer" in allowed)
