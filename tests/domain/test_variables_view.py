"""The runtime view: env: variables, PLATFORM_VARIABLES, phases, app scope, and the
worked example of the runtime spec (main and feature-x), read back by platformshconfig."""

from __future__ import annotations

import base64
import json

from platformshconfig import Config

from homeport.domain import variables as v
from homeport.domain.environments import get_environment
from homeport.domain.policy import load_grants
from homeport.domain.projects import get_project
from homeport.store.models import Account
from tests.helpers import Api
from tests.world import drain


def setup_project(api: Api, admin: str) -> str:
    pid = str(
        api.post("/projects", admin, json={"title": "Spiffy"}).json()["_embedded"]["entity"]["id"]
    )
    api.post(f"/projects/{pid}/environments/main/branch", admin, json={"name": "feature-x"})
    drain(api)
    return pid


def view(
    api: Api, pid: str, env: str, phase: v.Phase = "runtime", app: str = "app"
) -> dict[str, str]:
    with api.state.db.session() as s:
        project = get_project(s, pid)
        return v.process_environment(
            s, api.state.secret_box, project, get_environment(s, project, env), phase, app
        ).variables


def test_worked_example(api: Api, admin: str) -> None:
    pid = setup_project(api, admin)
    for name, value in (("system_name", "Spiffy"), ("system_version", "1.5")):
        api.post(f"/projects/{pid}/variables", admin, json={"name": name, "value": value})
    for env, name, value in (
        ("main", "api_key", "abc123"),
        ("main", "debug_mode", "1"),
        ("feature-x", "api_key", "def456"),
        ("feature-x", "system_version", "1.7"),
    ):
        r = api.post(
            f"/projects/{pid}/environments/{env}/variables",
            admin,
            json={"name": name, "value": value},
        )
        assert r.status_code == 201
    feature = view(api, pid, "feature-x")
    decoded = json.loads(base64.b64decode(feature["PLATFORM_VARIABLES"]))
    assert decoded == {
        "system_name": "Spiffy",
        "system_version": "1.7",
        "api_key": "def456",
        "debug_mode": "1",
    }
    main = json.loads(base64.b64decode(view(api, pid, "main")["PLATFORM_VARIABLES"]))
    assert main == {
        "system_name": "Spiffy",
        "system_version": "1.5",
        "api_key": "abc123",
        "debug_mode": "1",
    }
    # The platformshconfig library reads back exactly what we produce.
    assert (
        Config(
            environment_variables={"PLATFORM_VARIABLES": feature["PLATFORM_VARIABLES"]}
        ).variables()
        == decoded
    )


def test_env_prefix_sensitive_and_not_inherited(api: Api, admin: str) -> None:
    pid = setup_project(api, admin)
    token = "hpt-not-a-real-token-value"
    r = api.post(
        f"/projects/{pid}/environments/main/variables",
        admin,
        json={
            "name": "env:PLATFORMSH_CLI_TOKEN",
            "value": token,
            "is_sensitive": True,
            "is_inheritable": False,
        },
    )
    assert r.status_code == 201
    main = view(api, pid, "main")
    assert main["PLATFORMSH_CLI_TOKEN"] == token
    assert "env:PLATFORMSH_CLI_TOKEN" not in json.loads(
        base64.b64decode(main["PLATFORM_VARIABLES"])
    )
    assert "PLATFORMSH_CLI_TOKEN" not in view(api, pid, "feature-x")


def test_case_is_kept_and_json_is_decoded(api: Api, admin: str) -> None:
    pid = setup_project(api, admin)
    url = f"/projects/{pid}/variables"
    api.post(url, admin, json={"name": "env:lower_case", "value": "x"})
    api.post(url, admin, json={"name": "env:LIST", "value": '["a", "b"]', "is_json": True})
    api.post(
        url, admin, json={"name": "d8config:system.site:name", "value": '{"x": 1}', "is_json": True}
    )
    out = view(api, pid, "main")
    assert out["lower_case"] == "x" and "LOWER_CASE" not in out
    assert out["LIST"] == '["a", "b"]'  # env: values stay text
    decoded = Config(
        environment_variables={"PLATFORM_VARIABLES": out["PLATFORM_VARIABLES"]}
    ).variables()
    assert decoded["d8config:system.site:name"] == {"x": 1}


def test_phase_app_scope_and_disabled(api: Api, admin: str) -> None:
    pid = setup_project(api, admin)
    url = f"/projects/{pid}/environments/main/variables"
    api.post(url, admin, json={"name": "env:BUILD_ONLY", "value": "b", "visible_runtime": False})
    api.post(url, admin, json={"name": "env:RUN_ONLY", "value": "r", "visible_build": False})
    api.post(url, admin, json={"name": "env:API_ONLY", "value": "a", "application_scope": ["api"]})
    api.post(url, admin, json={"name": "env:OFF", "value": "o", "is_enabled": False})
    api.post(f"/projects/{pid}/variables", admin, json={"name": "env:OFF", "value": "project"})
    build = view(api, pid, "main", "build", "app")
    runtime = view(api, pid, "main", "runtime", "app")
    assert "BUILD_ONLY" in build and "BUILD_ONLY" not in runtime
    assert "RUN_ONLY" in runtime and "RUN_ONLY" not in build
    assert "API_ONLY" not in runtime and view(api, pid, "main", "runtime", "api")["API_ONLY"] == "a"
    # The disabled environment variable falls through to the project's.
    assert runtime["OFF"] == "project"


def test_effective_uses_domain_grants(api: Api, admin: str) -> None:
    """The view does not depend on who asks: it is for the runtime, not for people."""
    pid = setup_project(api, admin)
    with api.state.db.session() as s:
        project = get_project(s, pid)
        owner = s.get(Account, project.owner_id)
        assert owner is not None
        assert load_grants(s, owner, project).is_project_admin
        assert v.effective(s, project, get_environment(s, project, "main")) == {}
