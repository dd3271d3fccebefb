"""Projects: creation rights, fields, edits, deletion, listing, /me."""

from __future__ import annotations

import re

from homeport.settings import Settings
from homeport.web.state import AppState
from tests.helpers import Api, assert_error


def test_create_project_as_platform_admin(api: Api, admin: str) -> None:
    r = api.post("/projects", admin, json={"title": "Shop", "default_branch": "master"})
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "OK" and body["code"] == 201
    project = body["_embedded"]["entity"]
    assert re.fullmatch(r"[a-z0-9]{13}", project["id"])
    assert project["default_branch"] == "master" and project["region"] == "local"
    assert project["endpoint"].endswith(f"/projects/{project['id']}")
    assert {"self", "#edit", "#delete", "environments"} <= set(project["_links"])
    [activity] = body["_embedded"]["activities"]
    assert activity["type"] == "project.create" and activity["state"] == "complete"
    envs = api.get(f"/projects/{project['id']}/environments", admin).json()
    assert [(e["id"], e["type"], e["status"], e["is_main"]) for e in envs] == [
        ("master", "production", "active", True)
    ]
    assert re.fullmatch(r"master-[a-z]{7}", envs[0]["machine_name"])


def test_only_admins_create_projects_by_default(api: Api) -> None:
    human = api.login_new("ada@example.com")
    bot = api.login_new("bot@example.com", kind="machine")
    assert_error(api.post("/projects", human, json={"title": "x"}), 403)
    assert_error(api.post("/projects", bot, json={"title": "x"}), 403)
    assert_error(api.post("/projects", json={"title": "x"}), 401)


def test_everyone_may_create_when_configured(tmp_path, databases) -> None:
    from fastapi.testclient import TestClient

    from homeport.web.app import create_app

    data = tmp_path / "d"
    data.mkdir()
    settings = Settings.from_env(
        {"HOMEPORT_DATA_DIR": str(data), "HOMEPORT_PROJECT_CREATE": "everyone"}
        | databases.fresh(data)
    )
    state = AppState.build(settings)
    with TestClient(create_app(settings, state)) as client:
        api = Api(client, state)
        human = api.login_new("ada@example.com")
        bot = api.login_new("bot@example.com", kind="machine")
        created = api.post("/projects", human, json={"title": "Mine"})
        assert created.status_code == 201
        pid = created.json()["_embedded"]["entity"]["id"]
        access = api.get(f"/projects/{pid}/user-access", human).json()["items"]
        assert access[0]["permissions"] == ["admin"]
        # Machine users never create projects unless they are platform admins.
        assert_error(api.post("/projects", bot, json={"title": "x"}), 403)
    state.db.dispose()


def test_validation(api: Api, admin: str) -> None:
    for body, field in (
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "default_branch": "bad branch"}, "default_branch"),
        ({"title": "x", "timezone": "Mars/Base"}, "timezone"),
        ({"title": "x", "region": "UP"}, "region"),
    ):
        err = assert_error(api.post("/projects", admin, json=body), 400)
        assert field in err["detail"], (body, err)
    assert api.get("/projects", admin).json()["items"] == []


def test_patch_title_records_activity(api: Api, admin: str) -> None:
    pid = api.post("/projects", admin, json={"title": "Old"}).json()["_embedded"]["entity"]["id"]
    r = api.patch(f"/projects/{pid}", admin, json={"title": "New"})
    assert r.status_code == 200
    assert r.json()["_embedded"]["entity"]["title"] == "New"
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "project.modify.title"
    assert "Old" in activity["text"] and "New" in activity["text"]
    assert api.get(f"/projects/{pid}", admin).json()["title"] == "New"


def test_listing_and_me(api: Api, admin: str) -> None:
    pid = api.post("/projects", admin, json={"title": "A"}).json()["_embedded"]["entity"]["id"]
    stranger = api.login_new("eve@example.com")
    assert [p["id"] for p in api.get("/projects", admin).json()["items"]] == [pid]
    assert api.get("/projects", stranger).json()["items"] == []
    me = api.get("/me", admin).json()
    assert [p["id"] for p in me["projects"]] == [pid]
    assert me["projects"][0]["endpoint"].endswith(f"/projects/{pid}")
    assert_error(api.get(f"/projects/{pid}", stranger), 404)
    assert_error(api.get("/projects/NOT-AN-ID", admin), 404)


def test_delete_project_removes_everything(api: Api, admin: str) -> None:
    pid = api.post("/projects", admin, json={"title": "A"}).json()["_embedded"]["entity"]["id"]
    assert api.delete(f"/projects/{pid}", admin).status_code == 200
    assert_error(api.get(f"/projects/{pid}", admin), 404)
    assert_error(api.get(f"/projects/{pid}/activities", admin), 404)
