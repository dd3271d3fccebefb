"""Variables over the API: CRUD, conflicts, validation, encoding, inheritance, secrecy."""

from __future__ import annotations

import logging
import secrets

import pytest

from homeport.store.models import Activity, ActivityLog, Variable
from tests.helpers import Api, assert_error
from tests.stores import stored_bytes
from tests.world import drain


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    pid = str(body["_embedded"]["entity"]["id"])
    api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": "child"})
    drain(api)
    api.post(f"/projects/{pid}/environments/child/branch", admin, json={"name": "grandchild"})
    drain(api)
    return pid


def count_variables(api: Api) -> int:
    with api.state.db.session() as s:
        return s.query(Variable).count()


def test_project_crud(api: Api, admin: str, pid: str) -> None:
    url = f"/projects/{pid}/variables"
    r = api.post(url, admin, json={"name": "system_name", "value": "Spiffy"})
    assert r.status_code == 201
    entity = r.json()["_embedded"]["entity"]
    assert entity["value"] == "Spiffy"
    assert (
        entity["is_json"],
        entity["is_sensitive"],
        entity["visible_build"],
        entity["visible_runtime"],
        entity["application_scope"],
    ) == (False, False, True, True, [])
    assert "is_enabled" not in entity and {"self", "#edit", "#delete"} <= set(entity["_links"])
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["type"] == "project.variable.create"
    assert_error(api.post(url, admin, json={"name": "system_name", "value": "x"}), 409)
    listed = api.get(url, admin).json()
    assert isinstance(listed, list) and [v["name"] for v in listed] == ["system_name"]
    r = api.patch(f"{url}/system_name", admin, json={"value": "Spiffier", "visible_build": False})
    assert r.json()["_embedded"]["entity"]["value"] == "Spiffier"
    assert r.json()["_embedded"]["activities"][0]["type"] == "project.variable.update"
    assert api.get(f"{url}/system_name", admin).json()["visible_build"] is False
    r = api.delete(f"{url}/system_name", admin)
    assert r.json()["_embedded"]["activities"][0]["type"] == "project.variable.delete"
    body = assert_error(api.get(f"{url}/system_name", admin), 404)
    assert body["code"] == 404


def test_url_encoded_names(api: Api, admin: str, pid: str) -> None:
    url = f"/projects/{pid}/environments/main/variables"
    assert api.post(url, admin, json={"name": "env:FOO", "value": "1"}).status_code == 201
    r = api.get(f"{url}/env%3AFOO", admin)
    assert r.status_code == 200 and r.json()["name"] == "env:FOO"
    assert r.json()["_links"]["self"]["href"].endswith("/variables/env%3AFOO")
    assert api.patch(f"{url}/env%3AFOO", admin, json={"value": "2"}).status_code == 200
    assert api.delete(f"{url}/env%3AFOO", admin).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "x"}, "name"),
        ({"name": "", "value": "x"}, "name"),
        ({"name": "has space", "value": "x"}, "name"),
        ({"name": "tab\there", "value": "x"}, "name"),
        ({"name": "x" * 257, "value": "x"}, "name"),
        ({"name": "env:1BAD", "value": "x"}, "name"),
        ({"name": "env:BAD-NAME", "value": "x"}, "name"),
        ({"name": "a/b", "value": "x"}, "name"),
        ({"name": "ok"}, "value"),
        ({"name": "ok", "value": "{nope", "is_json": True}, "value"),
        ({"name": "ok", "value": "x" * (64 * 1024 + 1)}, "value"),
        ({"name": "ok", "value": "x", "application_scope": ["bad app!"]}, "application_scope"),
        ({"name": "ok", "value": 5}, "value"),
    ],
)
def test_validation_names_field_and_stores_nothing(
    api: Api, admin: str, pid: str, body: dict[str, object], field: str
) -> None:
    before = count_variables(api)
    for url in (f"/projects/{pid}/variables", f"/projects/{pid}/environments/main/variables"):
        err = assert_error(api.post(url, admin, json=body), 400)
        assert field in err["detail"], err
    assert count_variables(api) == before
    with api.state.db.session() as s:
        assert s.query(Activity).filter(Activity.type.like("%variable%")).count() == 0


def test_json_values(api: Api, admin: str, pid: str) -> None:
    url = f"/projects/{pid}/variables"
    r = api.post(url, admin, json={"name": "cfg", "value": '{"a": [1, 2]}', "is_json": True})
    assert r.status_code == 201 and r.json()["_embedded"]["entity"]["is_json"] is True
    api.post(url, admin, json={"name": "plain", "value": "not json"})
    assert_error(api.patch(f"{url}/plain", admin, json={"is_json": True}), 400)
    assert api.get(f"{url}/plain", admin).json()["is_json"] is False


def test_sensitive_cannot_be_turned_off(api: Api, admin: str, pid: str) -> None:
    url = f"/projects/{pid}/variables"
    r = api.post(url, admin, json={"name": "secret", "value": "s3", "is_sensitive": True})
    assert "value" not in r.json()["_embedded"]["entity"]
    err = assert_error(api.patch(f"{url}/secret", admin, json={"is_sensitive": False}), 400)
    assert "is_sensitive" in err["detail"]
    api.post(url, admin, json={"name": "later", "value": "plain-then-secret"})
    r = api.patch(f"{url}/later", admin, json={"is_sensitive": True})
    assert "value" not in r.json()["_embedded"]["entity"]
    with api.state.db.session() as s:
        row = s.query(Variable).filter(Variable.name == "later").one()
        assert row.value is None and row.value_encrypted


def test_inheritance_chain(api: Api, admin: str, pid: str) -> None:
    def env_url(env: str) -> str:
        return f"/projects/{pid}/environments/{env}/variables"

    api.post(env_url("main"), admin, json={"name": "a", "value": "main-a"})
    api.post(
        env_url("main"), admin, json={"name": "private", "value": "p", "is_inheritable": False}
    )
    api.post(env_url("main"), admin, json={"name": "off", "value": "main-off"})
    api.post(env_url("child"), admin, json={"name": "a", "value": "child-a"})
    api.post(
        env_url("child"), admin, json={"name": "off", "value": "child-off", "is_enabled": False}
    )

    def seen(env: str) -> dict[str, tuple[str, bool]]:
        return {
            v["name"]: (v["value"], v["inherited"]) for v in api.get(env_url(env), admin).json()
        }

    assert seen("child") == {"a": ("child-a", False), "off": ("child-off", False)}
    # The grandchild takes the nearest enabled definition: a from child; off falls
    # through child's disabled one to main's; private is not inheritable.
    assert seen("grandchild") == {"a": ("child-a", True), "off": ("main-off", True)}
    inherited = api.get(f"{env_url('grandchild')}/a", admin).json()
    assert inherited["inherited"] is True and "#delete" not in inherited["_links"]
    assert_error(api.delete(f"{env_url('grandchild')}/a", admin), 409)
    # Creating the same name on the grandchild overrides (no 409: it is inherited).
    assert (
        api.post(env_url("grandchild"), admin, json={"name": "a", "value": "gc-a"}).status_code
        == 201
    )
    assert seen("grandchild")["a"] == ("gc-a", False)
    # Disabling an inherited variable here creates this environment's own copy.
    r = api.patch(f"{env_url('grandchild')}/off", admin, json={"is_enabled": False})
    assert r.status_code == 200
    assert r.json()["_embedded"]["entity"]["inherited"] is False
    assert api.get(f"{env_url('main')}/off", admin).json()["is_enabled"] is True


def test_environment_change_marks_redeploy(api: Api, admin: str, pid: str) -> None:
    api.post(
        f"/projects/{pid}/environments/child/variables", admin, json={"name": "x", "value": "1"}
    )
    assert api.get(f"/projects/{pid}/environments/child", admin).json()["needs_redeploy"] is True
    assert (
        api.get(f"/projects/{pid}/environments/grandchild", admin).json()["needs_redeploy"] is False
    )


def test_sensitive_value_never_leaves(
    api: Api, admin: str, pid: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "MARKER-" + secrets.token_hex(16)
    url = f"/projects/{pid}/environments/main/variables"
    r = api.post(
        url,
        admin,
        json={
            "name": "env:PLATFORMSH_CLI_TOKEN",
            "value": marker,
            "is_sensitive": True,
            "is_inheritable": False,
        },
    )
    assert r.status_code == 201
    api.get(url, admin)
    api.get(f"{url}/env%3APLATFORMSH_CLI_TOKEN", admin)
    api.patch(f"{url}/env%3APLATFORMSH_CLI_TOKEN", admin, json={"visible_build": False})
    api.get(f"/projects/{pid}/activities", admin)
    # A failed update with the marker in the body must not echo it either.
    api.patch(f"{url}/env%3APLATFORMSH_CLI_TOKEN", admin, json={"value": marker, "is_json": True})
    api.post(url, admin, json={"name": "bad name", "value": marker})
    drain(api)  # the redeploys the changes caused: their logs must not carry it either
    for aid in [a["id"] for a in api.get(f"/projects/{pid}/activities", admin).json()]:
        api.get(f"/projects/{pid}/activities/{aid}/log", admin)
    assert not [t for t in api.seen if marker in t]
    assert marker not in caplog.text
    with api.state.db.session() as s:
        for a in s.query(Activity).all():
            assert marker not in f"{a.payload}{a.parameters}{a.description}{a.text}"
        assert all(marker not in line.message for line in s.query(ActivityLog).all())
    assert marker.encode() not in stored_bytes(api.state.db, api.state.settings.data_dir)


def test_key_rotation_keeps_values_readable(api: Api, admin: str, pid: str) -> None:
    from homeport.domain import variables as v
    from homeport.domain.secretbox import SecretBox

    api.post(
        f"/projects/{pid}/variables",
        admin,
        json={"name": "k", "value": "rotate-me", "is_sensitive": True},
    )
    old_keys = (api.state.settings.secrets_dir / "variables.key").read_text().split()
    new_box = SecretBox(["a brand new key", *old_keys])
    with api.state.db.session(write=True) as s:
        assert v.reencrypt_all(s, new_box) == 1
    with api.state.db.session() as s:
        row = s.query(Variable).filter(Variable.name == "k").one()
        assert SecretBox(["a brand new key"]).decrypt(row.value_encrypted or "") == "rotate-me"


def test_becoming_sensitive_scrubs_earlier_activities(api: Api, admin: str, pid: str) -> None:
    main = f"/projects/{pid}/environments/main/variables"
    for url in (f"/projects/{pid}/variables", main):
        assert api.post(url, admin, json={"name": "env:K", "value": "plain-old"}).status_code == 201
    assert api.patch(f"{main}/env:K", admin, json={"is_sensitive": True}).status_code == 200
    with api.state.db.session() as s:
        payloads = {
            (a.type, str(a.payload["variable"].get("value")))
            for a in s.query(Activity).filter(Activity.type.like("%.variable.%"))
        }
    # The environment's variable lost its value everywhere; the project's (still plain,
    # a different variable) keeps its history.
    assert payloads == {
        ("project.variable.create", "plain-old"),
        ("environment.variable.create", "None"),
        ("environment.variable.update", "None"),
    }


def test_environment_change_redeploys_only_that_environment(api: Api, admin: str, pid: str) -> None:
    r = api.post(
        f"/projects/{pid}/environments/child/variables", admin, json={"name": "y", "value": "1"}
    )
    types = [a["type"] for a in r.json()["_embedded"]["activities"]]
    assert types == ["environment.variable.create", "environment.redeploy"]
    redeploy = r.json()["_embedded"]["activities"][1]
    assert redeploy["environments"] == ["child"] and redeploy["state"] == "pending"
    drain(api)
    assert api.get(f"/projects/{pid}/environments/child", admin).json()["needs_redeploy"] is False


def test_project_change_marks_every_active_environment(api: Api, admin: str, pid: str) -> None:
    r = api.post(f"/projects/{pid}/variables", admin, json={"name": "z", "value": "1"})
    assert [a["type"] for a in r.json()["_embedded"]["activities"]] == ["project.variable.create"]
    for name in ("main", "child", "grandchild"):
        env = api.get(f"/projects/{pid}/environments/{name}", admin).json()
        assert env["needs_redeploy"] is (env["status"] == "active"), name
