"""Contract, operation by operation: every operation of Platform.sh's published OpenAPI
description that Homeport serves is called once, successfully, and its body validated
against the schema the description gives for that status (or ``default``).

Only the deliberate differences of docs/design.md ("Differences from the published API
description", allowed in tests/contract.py ``DELIBERATE_EXTRAS``) and the per-schema
extensions of tests/web/test_contract.py are allowed. A route that serves an operation
of the description without a case in ``CASES`` fails ``test_every_served_operation_has_a_case``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator, ValidationError

from homeport.runtime import records
from homeport.runtime.appconfig import expand_routes, load_project_config
from homeport.runtime.build import BuildResult
from homeport.settings import Settings
from homeport.web.app import create_app
from homeport.web.state import AppState
from tests.contract import (
    FORMATS,
    SPEC,
    _registry,  # the registry of every schema, deliberate extras declared
    _to_json_schema,
    validate,
)
from tests.helpers import Api
from tests.stores import Databases
from tests.web.test_contract import (
    ENVIRONMENT_EXTRA,
    ME_EXTRA,
    PROJECT_EXTRA,
    TOKEN_EXTRA,
    USER_EXTRA,
)
from tests.world import World, build_world, drain

METHODS = ("get", "put", "post", "patch", "delete")
P, V, R = "project_admin", "dev_viewer", "platform_admin"


# --- the description and the app ------------------------------------------------------


@cache
def spec() -> dict[str, Any]:
    """The published description."""
    document: dict[str, Any] = json.loads(SPEC.read_text())
    return document


def spec_operations() -> set[str]:
    """Every operation of the description, as ``"METHOD /path/{template}"``."""
    return {
        f"{method.upper()} {path}"
        for path, item in spec()["paths"].items()
        for method in item
        if method in METHODS
    }


def _segments(path: str) -> list[str]:
    """Path segments with parameter names dropped (``{projectId}`` and ``{project_id}``
    are both ``{}``; ``email={email}`` is ``email={}``)."""
    return [re.sub(r"\{[^}]*\}", "{}", s) for s in path.strip("/").split("/")]


def serves(route: str, template: str) -> bool:
    """Whether a route path serves (some of) the description's path template: segment by
    segment equal once parameter names are dropped, or a literal where the description
    has a parameter (``…/deployments/current`` serves ``…/deployments/{deploymentId}``,
    the only value the description says may be asked for)."""
    ours, theirs = _segments(route), _segments(template)
    return len(ours) == len(theirs) and all(
        a == b or (b == "{}" and "{" not in a) for a, b in zip(ours, theirs, strict=True)
    )


def fits(path: str, template: str) -> bool:
    """Whether a concrete request path is an instance of the description's template."""
    pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def served_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) the app serves, through included routers at any depth
    (FastAPI keeps an included router as one entry holding the original's routes)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from served_routes(inner.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + getattr(route, "path", ""), set(getattr(route, "methods", None) or ())


def implemented_operations(app: Any) -> set[str]:
    """The operations of the description that some route of ``app`` serves."""
    routes = [(path, methods) for path, methods in served_routes(app.routes)]
    found = set()
    for operation in spec_operations():
        method, template = operation.split(" ", 1)
        if any(method in methods and serves(path, template) for path, methods in routes):
            found.add(operation)
    return found


def response_schema(operation: str, status: int) -> dict[str, Any] | None:
    """The JSON schema of the description's response ``status`` (or ``default``)."""
    method, path = operation.split(" ", 1)
    responses = spec()["paths"][path][method.lower()]["responses"]
    entry = responses.get(str(status), responses.get("default"))
    assert entry is not None, f"{operation}: {status} is not a documented response"
    schema: dict[str, Any] | None = (
        entry.get("content", {}).get("application/json", {}).get("schema")
    )
    return schema


def _component(ref: str) -> str:
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix), ref
    return ref.removeprefix(prefix)


def check_body(schema: dict[str, Any], body: Any, extra: frozenset[str]) -> int:
    """Validate ``body`` against the response schema; returns how many objects were
    checked (a collection's items are validated one by one, so the per-schema
    extensions apply to each)."""
    if "$ref" in schema:
        name = _component(schema["$ref"])
        component = spec()["components"]["schemas"][name]
        if component.get("type") == "array" and "$ref" in component.get("items", {}):
            schema = component  # an ``XCollection``: an array of ``X``
        else:
            validate(name, body, extra)
            return 1
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        assert isinstance(body, list), body
        item_name = _component(schema["items"]["$ref"])
        for item in body:
            validate(item_name, item, extra)
        return len(body)
    # An inline schema: validated whole; ``$ref`` inside it reach the same schemas, with
    # their deliberate extras, but per-call extensions would not apply there.
    assert not extra, "extensions apply to named schemas only"
    Draft7Validator(_to_json_schema(schema), registry=_registry(), format_checker=FORMATS).validate(
        body
    )
    return len(body) if isinstance(body, (list, dict)) else 1


# --- worlds ---------------------------------------------------------------------------


@contextmanager
def serving(data_dir: Path, db_env: dict[str, str]) -> Iterator[Api]:
    """An in-process client of a server over ``data_dir`` and the database ``db_env``
    names (as tests/conftest.py's)."""
    env = {"HOMEPORT_DATA_DIR": str(data_dir), "HOMEPORT_WORKER": "0"}
    settings = Settings.from_env(env | db_env)
    state = AppState.build(settings)
    try:
        with TestClient(create_app(settings, state), raise_server_exceptions=False) as client:
            yield Api(client, state)
    finally:
        state.db.dispose()


@dataclass(frozen=True)
class Template:
    """A data directory holding a built world, and that world's ids and tokens."""

    data_dir: Path
    world: World
    databases: Databases
    db_env: dict[str, str]

    @contextmanager
    def copy(self, to: Path) -> Iterator[World]:
        """A world of its own: a copy of the data directory (database, secrets, git) is
        far quicker than building the world again, and its tokens stay valid."""
        shutil.copytree(self.data_dir, to)
        with serving(to, self.databases.copy(self.db_env)) as api:
            w = self.world
            yield World(api, w.pid, w.other_pid, dict(w.tokens), dict(w.ids))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Template:
    """``build_world``'s world, built once per module."""
    data_dir = tmp_path_factory.mktemp("contract-operations") / "template"
    data_dir.mkdir()
    db_env = databases.fresh(data_dir)
    with serving(data_dir, db_env) as api:
        world = build_world(api)
    return Template(data_dir, world, databases, db_env)


@pytest.fixture(scope="module")
def shared_world(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the read-only cases (they change nothing), with main deployed."""
    with template.copy(tmp_path_factory.mktemp("contract-operations") / "shared") as world:
        record_deployment(world, "main")
        yield world


APP_YAML = b"""name: app
type: python:3.11
web:
  commands:
    start: run
crons:
  nightly:
    spec: "0 3 * * *"
    commands:
      start: echo hi
workers:
  queue:
    commands:
      start: work
"""
ROUTES_YAML = b"""https://{default}/:
  type: upstream
  upstream: app:http
https://www.{default}/:
  type: redirect
  to: https://{default}/
"""


def record_deployment(w: World, env: str) -> None:
    """The deployment a deploy of a small app would record, written through the runtime's
    own ``records.record`` (only the build is skipped: its ids are made up), so the
    document has the shape a real deploy gives it."""
    config = load_project_config(
        {".platform.app.yaml": APP_YAML, ".platform/routes.yaml": ROUTES_YAML}
    )
    build = BuildResult(
        key="k",
        path=Path("/nonexistent"),
        tree_id="t" * 40,
        config_id="c" * 40,
        slug_id="s" * 40,
        reused=False,
    )
    routes = expand_routes(config, f"{env}-abc1234-{w.pid}.localhost", tls=False)
    records.record(
        w.api.state.db,
        w.pid,
        env,
        "c" * 40,
        config,
        [(config.apps[0], build)],
        routes,
        {"apps": {"app": {"port": 1}}},
        success=True,
        talk=True,
    )


# --- helpers for the cases' set-up ----------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a set-up call that must succeed."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def env_path(w: World, env: str) -> str:
    return f"/projects/{w.pid}/environments/{env}"


def new_backup(w: World, env: str = "dev") -> str:
    """A finished backup of ``env``; returns its id."""
    accepted = ok(w.api.post(f"{env_path(w, env)}/backup", w.token(P), json={"safe": True}))
    drain(w.api)
    backup_id: str = accepted["_embedded"]["activities"][0]["payload"]["backup_name"]
    return backup_id


def pending_activity(w: World) -> str:
    """A pending (so cancellable) redeploy of dev; returns its id."""
    accepted = ok(w.api.post(f"{env_path(w, 'dev')}/redeploy", w.token(P)))
    activity_id: str = accepted["_embedded"]["activities"][0]["id"]
    return activity_id


def new_token(w: World, actor: str = V) -> str:
    """A new API token of ``actor``; returns its id."""
    created = ok(w.api.post("/users/me/api-tokens", w.token(actor), json={"name": "t"}), 201)
    token_id: str = created["id"]
    return token_id


def ssh_public_line() -> str:
    """The OpenSSH public line of a new key."""
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def new_ssh_key(w: World, actor: str = V) -> int:
    """A new SSH key of ``actor``; returns its id."""
    made = ok(w.api.post("/ssh_keys", w.token(actor), json={"value": ssh_public_line()}), 201)
    key_id: int = made["key_id"]
    return key_id


def paused(w: World, env: str) -> str:
    """Pause ``env`` and wait for it; returns its name."""
    ok(w.api.post(f"{env_path(w, env)}/pause", w.token(P)))
    drain(w.api)
    return env


def new_variable(w: World, env: str | None) -> str:
    """A throwaway variable of the project (``env`` None) or of ``env``; returns its name."""
    base = f"/projects/{w.pid}" if env is None else env_path(w, env)
    ok(w.api.post(f"{base}/variables", w.token(P), json={"name": "gone", "value": "x"}), 201)
    return "gone"


def throwaway_member(w: World) -> str:
    """A new account holding a role on the project; returns its id."""
    account = w.api.create_account("throwaway@example.com")
    grant = [{"user_id": account.id, "permissions": ["viewer", "development:viewer"]}]
    ok(w.api.post(f"/projects/{w.pid}/user-access", w.token(P), json=grant), 204)
    return account.id


def invitation(w: World) -> str:
    """A new pending invitation; returns its id."""
    body = {
        "email": "invited@example.com",
        "role": "viewer",
        "permissions": [{"type": "development", "role": "viewer"}],
    }
    made = ok(w.api.post(f"/projects/{w.pid}/invitations", w.token(P), json=body), 201)
    invitation_id: str = made["id"]
    return invitation_id


def throwaway_project(w: World) -> str:
    """A new project; returns its id."""
    made = ok(w.api.post("/projects", w.token(R), json={"title": "Gone"}), 201)
    drain(w.api)
    project_id: str = made["_embedded"]["entity"]["id"]
    return project_id


# --- the cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One call: the concrete path, who makes it, and the httpx keyword arguments."""

    path: str
    actor: str = P
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """A valid request for one operation and the success status it must get."""

    status: int
    call: Callable[[World], Request]
    extra: frozenset[str] = frozenset()
    fresh: bool = True  # a world of its own (it changes something)
    xfail: str | None = None
    setup: Callable[[World], object] | None = None  # made before ``call``


def read(
    status: int, call: Callable[[World], Request], extra: frozenset[str] = frozenset()
) -> Case:
    """A read-only case (runs in the shared world)."""
    return Case(status, call, extra, fresh=False)


def body(payload: Any) -> dict[str, Any]:
    return {"json": payload}


PID = "/projects/{projectId}"
ENV = PID + "/environments/{environmentId}"

CASES: dict[str, Case] = {
    # --- users, tokens, keys
    "GET /me": read(200, lambda w: Request("/me", V), ME_EXTRA),
    "GET /users/me": read(200, lambda w: Request("/users/me", V), USER_EXTRA),
    "GET /users/{user_id}": read(200, lambda w: Request(f"/users/{w.ids[V]}", V), USER_EXTRA),
    "GET /users/email={email}": read(
        200, lambda w: Request("/users/email=dev_viewer@example.com", V), USER_EXTRA
    ),
    "GET /users/{user_id}/extended-access": read(
        200, lambda w: Request(f"/users/{w.ids[V]}/extended-access", V)
    ),
    "GET /users/{user_id}/api-tokens": Case(
        200,
        lambda w: Request(f"/users/{w.ids[V]}/api-tokens", V),
        TOKEN_EXTRA,
        setup=new_token,
    ),
    "POST /users/{user_id}/api-tokens": Case(
        201,
        lambda w: Request(f"/users/{w.ids[V]}/api-tokens", V, body({"name": "ci"})),
        TOKEN_EXTRA,
    ),
    "GET /users/{user_id}/api-tokens/{token_id}": Case(
        200, lambda w: Request(f"/users/{w.ids[V]}/api-tokens/{new_token(w)}", V), TOKEN_EXTRA
    ),
    "DELETE /users/{user_id}/api-tokens/{token_id}": Case(
        204, lambda w: Request(f"/users/{w.ids[V]}/api-tokens/{new_token(w)}", V)
    ),
    "POST /ssh_keys": Case(
        201, lambda w: Request("/ssh_keys", V, body({"value": f"{ssh_public_line()} ada@laptop"}))
    ),
    "GET /ssh_keys/{key_id}": Case(200, lambda w: Request(f"/ssh_keys/{new_ssh_key(w)}", V)),
    "DELETE /ssh_keys/{key_id}": Case(204, lambda w: Request(f"/ssh_keys/{new_ssh_key(w)}", V)),
    "GET /ref/users": read(
        200, lambda w: Request("/ref/users", P, {"params": {"in": f"{w.ids[P]},{w.ids[V]}"}})
    ),
    "GET /ref/projects": read(
        200, lambda w: Request("/ref/projects", P, {"params": {"in": w.pid}})
    ),
    # --- projects
    f"GET {PID}": read(200, lambda w: Request(f"/projects/{w.pid}"), PROJECT_EXTRA),
    f"PATCH {PID}": Case(200, lambda w: Request(f"/projects/{w.pid}", P, body({"title": "New"}))),
    f"DELETE {PID}": Case(200, lambda w: Request(f"/projects/{throwaway_project(w)}", R)),
    f"GET {PID}/capabilities": read(200, lambda w: Request(f"/projects/{w.pid}/capabilities")),
    f"GET {PID}/settings": read(200, lambda w: Request(f"/projects/{w.pid}/settings")),
    f"PATCH {PID}/settings": Case(
        200, lambda w: Request(f"/projects/{w.pid}/settings", P, body({}))
    ),
    # --- activities
    f"GET {PID}/activities": read(200, lambda w: Request(f"/projects/{w.pid}/activities")),
    f"GET {PID}/activities/{{activityId}}": read(
        200, lambda w: Request(f"/projects/{w.pid}/activities/{w.ids['dev_activity']}")
    ),
    f"POST {PID}/activities/{{activityId}}/cancel": Case(
        200, lambda w: Request(f"/projects/{w.pid}/activities/{pending_activity(w)}/cancel")
    ),
    f"GET {ENV}/activities": read(200, lambda w: Request(f"{env_path(w, 'dev')}/activities")),
    f"GET {ENV}/activities/{{activityId}}": read(
        200, lambda w: Request(f"{env_path(w, 'dev')}/activities/{w.ids['dev_activity']}")
    ),
    f"POST {ENV}/activities/{{activityId}}/cancel": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/activities/{pending_activity(w)}/cancel")
    ),
    # --- environment types
    f"GET {PID}/environment-types": read(
        200, lambda w: Request(f"/projects/{w.pid}/environment-types")
    ),
    f"GET {PID}/environment-types/{{environmentTypeId}}": read(
        200, lambda w: Request(f"/projects/{w.pid}/environment-types/development")
    ),
    # --- environments
    f"GET {PID}/environments": read(
        200, lambda w: Request(f"/projects/{w.pid}/environments"), ENVIRONMENT_EXTRA
    ),
    f"GET {ENV}": read(200, lambda w: Request(env_path(w, "dev")), ENVIRONMENT_EXTRA),
    f"PATCH {ENV}": Case(200, lambda w: Request(env_path(w, "dev"), P, body({"title": "Devel"}))),
    f"DELETE {ENV}": Case(200, lambda w: Request(env_path(w, "old"))),  # inactive: deletable
    f"POST {ENV}/activate": Case(200, lambda w: Request(f"{env_path(w, 'old')}/activate")),
    f"POST {ENV}/deactivate": Case(200, lambda w: Request(f"{env_path(w, 'dev')}/deactivate")),
    f"POST {ENV}/branch": Case(
        201, lambda w: Request(f"{env_path(w, 'dev')}/branch", P, body({"name": "feature"}))
    ),
    f"POST {ENV}/deploy": Case(200, lambda w: Request(f"{env_path(w, 'dev')}/deploy", P, body({}))),
    f"POST {ENV}/redeploy": Case(200, lambda w: Request(f"{env_path(w, 'dev')}/redeploy")),
    f"POST {ENV}/pause": Case(200, lambda w: Request(f"{env_path(w, 'dev')}/pause")),
    f"POST {ENV}/resume": Case(
        200,
        lambda w: Request(f"{env_path(w, paused(w, 'dev'))}/resume"),
    ),
    f"POST {ENV}/merge": Case(
        200,
        lambda w: Request(f"{env_path(w, 'dev')}/merge", P, body({"resources": {"init": "child"}})),
    ),
    f"POST {ENV}/synchronize": Case(
        200,
        lambda w: Request(
            f"{env_path(w, 'dev')}/synchronize",
            P,
            body(
                {
                    "synchronize_code": True,
                    "synchronize_data": False,
                    "synchronize_resources": False,
                    "rebase": False,
                }
            ),
        ),
    ),
    f"GET {ENV}/deployments": Case(
        200,
        lambda w: Request(f"{env_path(w, 'main')}/deployments"),
        fresh=False,
    ),
    f"GET {ENV}/deployments/{{deploymentId}}": Case(
        200,
        lambda w: Request(f"{env_path(w, 'main')}/deployments/current"),
        fresh=False,
    ),
    f"GET {ENV}/routes": Case(
        200,
        lambda w: Request(f"{env_path(w, 'main')}/routes"),
        fresh=False,
    ),
    # --- backups
    f"POST {ENV}/backup": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/backup", P, body({"safe": True}))
    ),
    f"GET {ENV}/backups": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/backups"), setup=new_backup
    ),
    f"GET {ENV}/backups/{{backupId}}": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/backups/{new_backup(w)}")
    ),
    f"DELETE {ENV}/backups/{{backupId}}": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/backups/{new_backup(w)}")
    ),
    f"POST {ENV}/backups/{{backupId}}/restore": Case(
        200,
        lambda w: Request(f"{env_path(w, 'dev')}/backups/{new_backup(w)}/restore", P, body({})),
    ),
    # --- variables
    f"GET {PID}/variables": read(200, lambda w: Request(f"/projects/{w.pid}/variables")),
    f"POST {PID}/variables": Case(
        201, lambda w: Request(f"/projects/{w.pid}/variables", P, body({"name": "n", "value": "v"}))
    ),
    f"GET {PID}/variables/{{projectVariableId}}": read(
        200, lambda w: Request(f"/projects/{w.pid}/variables/pv")
    ),
    f"PATCH {PID}/variables/{{projectVariableId}}": Case(
        200, lambda w: Request(f"/projects/{w.pid}/variables/pv", P, body({"value": "2"}))
    ),
    f"DELETE {PID}/variables/{{projectVariableId}}": Case(
        200, lambda w: Request(f"/projects/{w.pid}/variables/{new_variable(w, None)}")
    ),
    f"GET {ENV}/variables": read(200, lambda w: Request(f"{env_path(w, 'dev')}/variables")),
    f"POST {ENV}/variables": Case(
        201,
        lambda w: Request(f"{env_path(w, 'dev')}/variables", P, body({"name": "n", "value": "v"})),
    ),
    f"GET {ENV}/variables/{{variableId}}": read(
        200, lambda w: Request(f"{env_path(w, 'dev')}/variables/ev")
    ),
    f"PATCH {ENV}/variables/{{variableId}}": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/variables/ev", P, body({"value": "2"}))
    ),
    f"DELETE {ENV}/variables/{{variableId}}": Case(
        200, lambda w: Request(f"{env_path(w, 'dev')}/variables/{new_variable(w, 'dev')}")
    ),
    # --- access and invitations
    "GET /projects/{project_id}/user-access": read(
        200, lambda w: Request(f"/projects/{w.pid}/user-access")
    ),
    "POST /projects/{project_id}/user-access": Case(
        204,
        lambda w: Request(
            f"/projects/{w.pid}/user-access",
            P,
            body([{"user_id": w.ids[V], "permissions": ["viewer", "staging:viewer"]}]),
        ),
    ),
    "GET /projects/{project_id}/user-access/{user_id}": read(
        200, lambda w: Request(f"/projects/{w.pid}/user-access/{w.ids[V]}")
    ),
    "PATCH /projects/{project_id}/user-access/{user_id}": Case(
        204,
        lambda w: Request(
            f"/projects/{w.pid}/user-access/{w.ids[V]}",
            P,
            body({"permissions": ["viewer", "development:contributor"]}),
        ),
    ),
    "DELETE /projects/{project_id}/user-access/{user_id}": Case(
        204, lambda w: Request(f"/projects/{w.pid}/user-access/{throwaway_member(w)}")
    ),
    "GET /projects/{project_id}/invitations": Case(
        200, lambda w: Request(f"/projects/{w.pid}/invitations"), setup=invitation
    ),
    "POST /projects/{project_id}/invitations": Case(
        201,
        lambda w: Request(
            f"/projects/{w.pid}/invitations",
            P,
            body(
                {
                    "email": "new@example.com",
                    "role": "viewer",
                    "permissions": [{"type": "development", "role": "viewer"}],
                }
            ),
        ),
    ),
    "DELETE /projects/{project_id}/invitations/{invitation_id}": Case(
        204, lambda w: Request(f"/projects/{w.pid}/invitations/{invitation(w)}")
    ),
}


# --- the tests ------------------------------------------------------------------------


def _params() -> list[Any]:
    params = []
    for operation, case in sorted(CASES.items()):
        marks = (
            [pytest.mark.xfail(strict=True, raises=ValidationError, reason=case.xfail)]
            if case.xfail
            else []
        )
        params.append(pytest.param(operation, id=operation, marks=marks))
    return params


@pytest.mark.parametrize("operation", _params())
def test_operation_serves_the_published_shape(
    operation: str, request: pytest.FixtureRequest, template: Template, tmp_path: Path
) -> None:
    case = CASES[operation]
    if case.fresh:
        with template.copy(tmp_path / "data") as world:
            check_operation(operation, case, world)
    else:
        check_operation(operation, case, request.getfixturevalue("shared_world"))


def check_operation(operation: str, case: Case, world: World) -> None:
    """Call the case's request and validate the response."""
    if case.setup is not None:
        case.setup(world)
    call = case.call(world)
    method, template = operation.split(" ", 1)
    assert fits(call.path, template), (call.path, template)  # the case calls its operation
    response = world.api.request(method, call.path, world.token(call.actor), **call.kwargs)
    assert response.status_code == case.status, response.text
    schema = response_schema(operation, case.status)
    if schema is None:
        # The description gives no JSON body for this status (a 204): status only.
        assert not response.content, response.text
        return
    assert response.headers["content-type"].startswith("application/json"), response.headers
    checked = check_body(schema, response.json(), case.extra)
    assert checked, f"{operation}: nothing to validate in {response.text}"


def test_every_served_operation_has_a_case(shared_world: World) -> None:
    """A new route serving an operation of the description fails here until it has a case;
    a case for an operation no route serves fails too."""
    implemented = implemented_operations(shared_world.api.client.app)
    assert "GET /projects/{projectId}" in implemented  # the walk reaches included routers
    missing = implemented - set(CASES)
    assert not missing, f"served operations without a contract case: {sorted(missing)}"
    stale = set(CASES) - implemented
    assert not stale, f"cases for operations Homeport does not serve: {sorted(stale)}"
    unknown = set(CASES) - spec_operations()
    assert not unknown, f"cases for operations the description does not have: {sorted(unknown)}"


def test_route_matching() -> None:
    assert serves("/projects/{project_id}", "/projects/{projectId}")
    assert serves("/users/email={email}", "/users/email={email}")
    assert serves("/p/{a}/deployments/current", "/p/{b}/deployments/{deploymentId}")
    assert not serves("/p/{a}/deployments/{id}", "/p/{b}/deployments/current")
    assert not serves("/projects/{p}/access", "/projects/{p}/user-access")
    assert not serves("/projects", "/projects/{projectId}")
    assert fits("/users/email=a@example.com", "/users/email={email}")
    assert not fits("/projects/p/environments/main", "/projects/{projectId}")
