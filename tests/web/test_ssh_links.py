"""`_links.ssh` and `pf:ssh:<app>` of an environment (platform-deploy.md §7): one per
deployed app the caller may open a shell on, only on active environments and only
when the SSH listener is on. Deployment rows are written straight into the store; the
real path (and that the links connect) is tests/ssh/test_shell.py."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.store.models import Deployment
from tests.helpers import Api
from tests.world import World, build_world

# The default SSH listener (127.0.0.1:2222) as seen from the test client's base URL.
ENDPOINT = "testserver:2222"


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def record_deployment(world: World, env_name: str) -> str:
    """FAKE for API tests: a deployment of two apps, `open` letting viewers in."""
    with world.api.state.db.session(write=True) as session:
        env = envs.get_environment(session, get_project(session, world.pid), env_name)
        document = {
            "id": "current",
            "webapps": {
                "open": {"name": "open", "access": {"ssh": "viewer"}},
                "app": {"name": "app"},
            },
            "routes": {},
        }
        session.add(
            Deployment(
                environment_pk=env.pk,
                project_id=world.pid,
                commit="c" * 40,
                document=document,
                processes={"apps": {}},
            )
        )
        return env.machine_name


def links(world: World, actor: str, env_name: str) -> dict[str, Any]:
    response = world.api.get(f"/projects/{world.pid}/environments/{env_name}", world.token(actor))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["_links"]
    return found


def ssh_rels(found: dict[str, Any]) -> dict[str, Any]:
    return {rel: value for rel, value in found.items() if rel.startswith(("ssh", "pf:ssh"))}


def test_one_link_per_app_the_caller_may_open(world: World) -> None:
    machine = record_deployment(world, "dev")
    url = {app: f"ssh://{world.pid}-{machine}--{app}@{ENDPOINT}" for app in ("app", "open")}
    for actor in ("dev_contributor", "dev_admin", "project_admin"):
        assert ssh_rels(links(world, actor, "dev")) == {
            "ssh": {"href": url["app"]},
            "pf:ssh:app": {"href": url["app"]},
            "pf:ssh:open": {"href": url["open"]},
        }, actor
    # A viewer may only open the app that lets viewers in; `ssh` is then that one.
    assert ssh_rels(links(world, "dev_viewer", "dev")) == {
        "ssh": {"href": url["open"]},
        "pf:ssh:open": {"href": url["open"]},
    }
    listed = world.api.get(f"/projects/{world.pid}/environments", world.token("dev_contributor"))
    dev = next(e for e in listed.json() if e["name"] == "dev")
    assert dev["_links"]["pf:ssh:open"] == {"href": url["open"]}


def test_no_links_without_a_deployment_or_when_inactive(world: World) -> None:
    assert ssh_rels(links(world, "project_admin", "stage")) == {}
    record_deployment(world, "old")  # inactive: a stale row must not make a link
    assert ssh_rels(links(world, "project_admin", "old")) == {}


def test_no_links_when_ssh_is_off(world: World) -> None:
    record_deployment(world, "dev")
    state = world.api.state
    state.settings = dataclasses.replace(state.settings, ssh_bind=None)
    assert ssh_rels(links(world, "project_admin", "dev")) == {}
    project = world.api.get(f"/projects/{world.pid}", world.token("project_admin")).json()
    assert project["repository"]["url"].startswith("http")
