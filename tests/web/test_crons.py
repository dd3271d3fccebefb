"""The crons API (Homeport extensions): who may list an environment's crons and who
may run one now; what a run records."""

from __future__ import annotations

import pytest

from tests.crons_fixtures import insert_cron_rows, job
from tests.helpers import Api, assert_error
from tests.world import ACTORS, World, build_world

A, OTHER = "anonymous", "other_admin"
V, C, D = "dev_viewer", "dev_contributor", "dev_admin"
P, R, M = "project_admin", "platform_admin", "machine"
SEE = {"main": {P, R, M}, "dev": {V, C, D, P, R}}
RUN = {"main": {P, R, M}, "dev": {D, P, R}}


@pytest.fixture
def world(api: Api) -> World:
    world = build_world(api)
    for env in ("main", "dev"):
        insert_cron_rows(api.state.db, world.pid, env, job("backup"), job("clean", "H/15 * * * *"))
    return world


@pytest.mark.parametrize("env", ["main", "dev"])
def test_who_may_list_crons(world: World, env: str) -> None:
    for actor in ACTORS:
        response = world.api.get(
            f"/projects/{world.pid}/environments/{env}/crons", world.token(actor)
        )
        if actor == A:
            assert response.status_code == 401
        elif actor in SEE[env]:
            assert response.status_code == 200, (actor, response.text)
            names = [c["name"] for c in response.json()]
            assert names == ["backup", "clean"]
            backup = response.json()[0]
            assert backup["spec"] == "0 5 * * *" and backup["timezone"] == "UTC"
            assert backup["commands"] == {"start": "echo backup"}
            assert backup["next_run_at"].endswith("05:00:00+00:00")
            assert backup["last_run"] is None
            # The link says exactly whether the run call would pass.
            assert ("#run" in backup["_links"]) == (actor in RUN[env]), actor
        else:
            assert_error(response, 404)


@pytest.mark.parametrize("env", ["main", "dev"])
def test_who_may_run_a_cron(world: World, env: str) -> None:
    path = f"/projects/{world.pid}/environments/{env}/crons/backup/run"
    for actor in ACTORS:
        response = world.api.post(path, world.token(actor))
        if actor == A:
            assert response.status_code == 401
        elif actor in RUN[env]:
            assert response.status_code == 200, (actor, response.text)
            [activity] = response.json()["_embedded"]["activities"]
            assert activity["type"] == "environment.cron"
            assert activity["state"] == "pending"
            assert activity["parameters"]["cron"] == "backup"
            assert activity["parameters"]["application"] == "app"
            assert activity["parameters"]["spec"]["commands"]["start"] == "echo backup"
            assert activity["payload"]["user"]["id"] == world.ids[actor]
            assert activity["text"].endswith(" ran cron backup")
        elif actor in SEE[env]:
            assert_error(response, 403)
        else:
            assert_error(response, 404)
    listed = world.api.get(path.rsplit("/", 2)[0], world.token(P)).json()
    assert listed[0]["last_run"]["state"] == "pending"


def test_run_answers_unknown_crons_and_inactive_environments(world: World) -> None:
    token = world.token(P)
    base = f"/projects/{world.pid}/environments"
    assert_error(world.api.post(f"{base}/main/crons/nope/run", token), 404)
    assert_error(world.api.post(f"{base}/main/crons/backup/run?application=other", token), 404)
    assert_error(
        world.api.post(f"{base}/main/crons/backup/run", token, json={"application": 5}), 400
    )
    ok = world.api.post(f"{base}/main/crons/backup/run", token, json={"application": "app"})
    assert ok.status_code == 200, ok.text
    # The same name in two apps needs a choice.
    insert_cron_rows(world.api.state.db, world.pid, "main", job("backup"), job("backup", app="two"))
    clash = assert_error(world.api.post(f"{base}/main/crons/backup/run", token), 409)
    assert "two" in clash["message"]
    chosen = world.api.post(f"{base}/main/crons/backup/run", token, json={"application": "two"})
    assert chosen.json()["_embedded"]["activities"][0]["parameters"]["application"] == "two"
    # An inactive environment has no crons to run.
    assert world.api.get(f"{base}/old/crons", token).json() == []
