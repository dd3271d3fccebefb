"""Environments: branching, state rules, names, edits, deletion."""

from __future__ import annotations

import pytest

from tests.helpers import Api, assert_error
from tests.world import drain


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    return str(body["_embedded"]["entity"]["id"])


def env(api: Api, token: str, pid: str, name: str) -> dict[str, object]:
    r = api.get(f"/projects/{pid}/environments/{name}", token)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_branch_then_worker_activates_and_copies_data(api: Api, admin: str, pid: str) -> None:
    from homeport.domain import environments as envs
    from homeport.domain.projects import get_project

    with api.state.db.session() as s:
        main = envs.get_environment(s, get_project(s, pid), "main")
        main_dir = envs.data_dir(api.state.settings.environments_dir, main)
    # The production environment has its data area from the project's creation.
    assert main_dir.is_dir()
    (main_dir / "upload.txt").write_text("hello")
    r = api.post(
        f"/projects/{pid}/environments/main/branch",
        admin,
        json={"name": "dev", "title": "Dev", "type": "development"},
    )
    assert r.status_code == 201
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "environment.branch" and activity["state"] == "pending"
    assert r.json()["_embedded"]["entity"]["status"] == "dirty"
    assert "#branch" not in r.json()["_embedded"]["entity"]["_links"]
    drain(api)
    dev = env(api, admin, pid, "dev")
    assert dev["status"] == "active" and dev["parent"] == "main" and dev["title"] == "Dev"
    done = api.get(f"/projects/{pid}/activities/{activity['id']}", admin).json()
    assert done["state"] == "complete" and done["result"] == "success"
    with api.state.db.session() as s:
        child = envs.get_environment(s, get_project(s, pid), "dev")
        assert (
            envs.data_dir(api.state.settings.environments_dir, child) / "upload.txt"
        ).read_text() == "hello"


def test_branch_without_clone_starts_empty(api: Api, admin: str, pid: str) -> None:
    r = api.post(
        f"/projects/{pid}/environments/main/branch",
        admin,
        json={"name": "empty", "type": "staging", "clone_parent": False},
    )
    assert r.status_code == 201
    drain(api)
    assert env(api, admin, pid, "empty")["type"] == "staging"


@pytest.mark.parametrize(
    "name", ["", "a b", "-x", ".x", "x..y", "x.lock", "x/y", "é", "x" * 65, "a:b", "x."]
)
def test_bad_names_are_refused(api: Api, admin: str, pid: str, name: str) -> None:
    err = assert_error(
        api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": name}), 400
    )
    assert "name" in err["detail"]
    assert len(api.get(f"/projects/{pid}/environments", admin).json()) == 1


def test_branch_conflicts_and_types(api: Api, admin: str, pid: str) -> None:
    url = f"/projects/{pid}/environments/main/branch"
    assert api.post(url, admin, json={"name": "dev"}).status_code == 201
    assert_error(api.post(url, admin, json={"name": "dev"}), 409)
    assert_error(api.post(url, admin, json={"name": "main"}), 409)
    assert_error(api.post(url, admin, json={"name": "p2", "type": "production"}), 400)
    # The new environment is not active yet, so it cannot be branched.
    assert_error(
        api.post(f"/projects/{pid}/environments/dev/branch", admin, json={"name": "x"}), 409
    )


def test_lifecycle(api: Api, admin: str, pid: str) -> None:
    base = f"/projects/{pid}/environments"
    api.post(f"{base}/main/branch", admin, json={"name": "dev"})
    drain(api)
    assert_error(api.delete(f"{base}/dev", admin), 409)  # active: deactivate first
    assert_error(api.post(f"{base}/dev/activate", admin), 409)
    r = api.post(f"{base}/dev/deactivate", admin)
    assert (
        r.status_code == 200
        and r.json()["_embedded"]["activities"][0]["type"] == "environment.deactivate"
    )
    drain(api)
    dev = env(api, admin, pid, "dev")
    assert dev["status"] == "inactive"
    links = dev["_links"]
    assert isinstance(links, dict) and "#activate" in links and "#delete" in links
    assert "#redeploy" not in links and "#deactivate" not in links
    assert_error(api.post(f"{base}/dev/redeploy", admin), 409)
    assert api.post(f"{base}/dev/activate", admin).status_code == 200
    drain(api)
    assert env(api, admin, pid, "dev")["status"] == "active"
    api.post(f"{base}/dev/deactivate", admin)
    drain(api)
    r = api.delete(f"{base}/dev", admin)
    assert r.status_code == 200
    assert r.json()["_embedded"]["activities"][0]["type"] == "environment.delete"
    assert_error(api.get(f"{base}/dev", admin), 404)


def test_main_cannot_be_deactivated_or_deleted(api: Api, admin: str, pid: str) -> None:
    base = f"/projects/{pid}/environments/main"
    links = env(api, admin, pid, "main")["_links"]
    assert isinstance(links, dict) and "#deactivate" not in links and "#delete" not in links
    assert_error(api.post(f"{base}/deactivate", admin), 409)
    assert_error(api.delete(base, admin), 409)
    assert_error(api.patch(base, admin, json={"type": "development"}), 400)


def test_redeploy_is_worker_work(api: Api, admin: str, pid: str) -> None:
    r = api.post(f"/projects/{pid}/environments/main/redeploy", admin)
    activity = r.json()["_embedded"]["activities"][0]
    assert activity["state"] == "pending" and r.status_code == 200
    drain(api)
    done = api.get(f"/projects/{pid}/activities/{activity['id']}", admin).json()
    assert done["state"] == "complete" and done["result"] == "success"
    log = api.get(f"/projects/{pid}/activities/{activity['id']}/log", admin).text
    assert "Redeploying environment main" in log


def test_edit_title_type_parent(api: Api, admin: str, pid: str) -> None:
    base = f"/projects/{pid}/environments"
    api.post(f"{base}/main/branch", admin, json={"name": "a"})
    api.post(f"{base}/main/branch", admin, json={"name": "b"})
    drain(api)
    r = api.patch(f"{base}/b", admin, json={"title": "Bee", "type": "staging", "parent": "a"})
    assert r.status_code == 200
    b = r.json()["_embedded"]["entity"]
    assert (b["title"], b["type"], b["parent"]) == ("Bee", "staging", "a")
    assert r.json()["_embedded"]["activities"][0]["type"] == "environment.update"
    assert_error(api.patch(f"{base}/a", admin, json={"parent": "b"}), 400)  # cycle
    assert_error(api.patch(f"{base}/a", admin, json={"parent": "nope"}), 400)
    assert_error(api.patch(f"{base}/main", admin, json={"parent": "a"}), 400)
    # No change, no activity.
    assert (
        api.patch(f"{base}/a", admin, json={"title": "a"}).json()["_embedded"]["activities"] == []
    )


def test_delete_reparents_children(api: Api, admin: str, pid: str) -> None:
    base = f"/projects/{pid}/environments"
    api.post(f"{base}/main/branch", admin, json={"name": "a"})
    drain(api)
    api.post(f"{base}/a/branch", admin, json={"name": "b"})
    drain(api)
    api.post(f"{base}/a/deactivate", admin)
    drain(api)
    api.delete(f"{base}/a", admin)
    assert env(api, admin, pid, "b")["parent"] == "main"


def test_delete_waits_for_the_environments_unfinished_activities(
    api: Api, admin: str, pid: str
) -> None:
    """An environment with a pending activity on its queue cannot be deleted under it."""
    from homeport.domain import activities as acts

    base = f"/projects/{pid}/environments"
    api.post(f"{base}/main/branch", admin, json={"name": "dev"})
    drain(api)
    api.post(f"{base}/dev/deactivate", admin)
    drain(api)
    with api.state.db.session(write=True) as s:
        stuck = acts.record(
            s,
            project_id=pid,
            type="environment.restore",
            actor=None,
            phrase=acts.Phrase().add("restore"),
            environments=["dev"],
            pending=True,
            queue_key=f"{pid}:dev",
        ).id
    assert stuck in assert_error(api.delete(f"{base}/dev", admin), 409)["message"]
    assert api.post(f"/projects/{pid}/activities/{stuck}/cancel", admin).status_code == 200
    assert api.delete(f"{base}/dev", admin).status_code == 200
