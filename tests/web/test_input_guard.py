"""Characters no store can keep (NUL, lone surrogates) are refused with 400 wherever
input enters, on SQLite and PostgreSQL alike, and nothing changes."""

from __future__ import annotations

import json

import pytest

from homeport.web.input_guard import bad_text
from tests.helpers import Api, assert_error
from tests.world import World, build_world

NUL = "a\u0000b"
SURROGATE = "a\ud800b"


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def _json(api: Api, method: str, path: str, token: str | None, body: object) -> object:
    # json.dumps escapes NUL as \u0000 and a lone surrogate as \ud800, as clients do.
    return api.request(
        method,
        path,
        token,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


def test_json_bodies_with_nul_or_lone_surrogates_are_refused(world: World) -> None:
    api, token, pid = world.api, world.token("project_admin"), world.pid
    before = api.get(f"/projects/{pid}", token).json()["title"]
    for bad in (NUL, SURROGATE):
        for method, path, body in (
            ("PATCH", f"/projects/{pid}", {"title": bad}),
            ("POST", "/users/me/api-tokens", {"name": bad}),
            ("PATCH", f"/projects/{pid}/environments/dev", {"title": bad}),
            ("POST", f"/projects/{pid}/variables", {"name": "ok", "value": bad}),
            ("POST", f"/projects/{pid}/variables", {bad: "key", "name": "x", "value": "y"}),
        ):
            refused = assert_error(_json(api, method, path, token, body), 400)  # type: ignore[arg-type]
            assert "cannot be stored" in refused["message"], (method, path)
    assert api.get(f"/projects/{pid}", token).json()["title"] == before
    names = {v["name"] for v in api.get(f"/projects/{pid}/variables", token).json()}
    assert "ok" not in names and "x" not in names


def test_an_escaped_backslash_is_ordinary_text(world: World) -> None:
    api, token, pid = world.api, world.token("project_admin"), world.pid
    # The JSON text "a\\u0000b" is the seven characters a, \, u, 0, 0, 0, 0, b.
    r = api.patch(
        f"/projects/{pid}",
        token,
        content=b'{"title": "a\\\\u0000b"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert api.get(f"/projects/{pid}", token).json()["title"] == "a\\u0000b"


def test_paths_and_queries_with_nul_are_refused(world: World) -> None:
    api, token, pid = world.api, world.token("project_admin"), world.pid
    for path in (
        f"/projects/{pid}/environments/a%00b",
        "/users/a%00b",
        f"/projects/{pid}/activities/a%00b",
        f"/projects/{pid}/activities?type=a%00b",
        f"/projects/{pid}/activities?type=a%00",
        "/projects/a%00b",
    ):
        refused = assert_error(api.get(path, token), 400)
        assert refused["message"].startswith("The URL contains a character"), path


def test_forms_and_oauth_parameters_with_nul_are_refused(api: Api) -> None:
    api.create_account("ada@example.com", password="a long password")
    for data in (
        {"grant_type": "password", "username": "ada\u0000", "password": "a long password"},
        {"grant_type": "password", "username": "ada", "password": "x\u0000"},
        {"grant_type": "api_token", "api_token": "t\u0000"},
    ):
        assert_error(api.post("/oauth2/token", data=data), 400)
    # Without a content type the token endpoint reads a form: checked too.
    raw = b"grant_type=password&username=ada%00&password=a+long+password"
    assert_error(api.post("/oauth2/token", content=raw), 400)
    good = {"grant_type": "password", "username": "ada", "password": "a long password"}
    assert api.post("/oauth2/token", data=good).status_code == 200


def test_bad_text() -> None:
    assert bad_text(NUL) and bad_text(SURROGATE) and bad_text("\udfff")
    assert not bad_text("ordinary é 🚀 text") and not bad_text("")
