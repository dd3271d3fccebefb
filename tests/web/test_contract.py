"""Contract: responses validate against Platform.sh's published OpenAPI schemas."""

from __future__ import annotations

import jsonschema
import pytest

from tests.contract import validate
from tests.helpers import Api
from tests.world import World, build_world

# Homeport's documented extensions to Platform.sh's shapes, allowed per schema and call.
# The fields real clients need where a schema forbids extras (``id``, ``_links``,
# ``_embedded``) are allowed once, typed, in tests/contract.py ``DELIBERATE_EXTRAS``,
# as docs/design.md ("Differences from the published API description") lists them.
PROJECT_EXTRA = frozenset({"endpoint", "vendor"})
ENVIRONMENT_EXTRA = frozenset({"needs_redeploy"})
USER_EXTRA = frozenset(
    {"kind", "is_platform_admin", "phone_number_verified", "mfa_enabled", "sso_enabled"}
)
TOKEN_EXTRA = frozenset({"expires_at", "token_hint"})
ME_EXTRA = frozenset({"kind"})


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def test_schema_check_is_not_vacuous() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate("Activity", {"type": "x"})
    with pytest.raises(jsonschema.ValidationError):
        validate("APIToken", {"id": 5, "name": "x"})


def test_identity_shapes(api: Api) -> None:
    token = api.login_new("ada@example.com")
    validate("User", api.get("/users/me", token).json(), USER_EXTRA)
    created = api.post("/users/me/api-tokens", token, json={"name": "t"}).json()
    validate("APIToken", created, TOKEN_EXTRA)
    for item in api.get("/users/me/api-tokens", token).json():
        validate("APIToken", item, TOKEN_EXTRA)
    validate("CurrentUser", api.get("/me", token).json(), ME_EXTRA)
    validate("Error", api.get("/users/nope", token).json())


def test_project_shapes(world: World) -> None:
    api, token, pid = world.api, world.token("project_admin"), world.pid
    validate("Project", api.get(f"/projects/{pid}", token).json(), PROJECT_EXTRA)
    for env in api.get(f"/projects/{pid}/environments", token).json():
        validate("Environment", env, ENVIRONMENT_EXTRA)
    activities = api.get(f"/projects/{pid}/activities", token).json()
    assert activities
    for activity in activities:
        validate("Activity", activity)
    for variable in api.get(f"/projects/{pid}/variables", token).json():
        validate("ProjectVariable", variable)
    for variable in api.get(f"/projects/{pid}/environments/dev/variables", token).json():
        validate("EnvironmentVariable", variable)
    for item in api.get(f"/projects/{pid}/user-access", token).json()["items"]:
        validate("UserProjectAccess", item)
    for env_type in api.get(f"/projects/{pid}/environment-types", token).json():
        validate("EnvironmentType", env_type)
    invitation = api.post(
        f"/projects/{pid}/invitations",
        token,
        json={"email": "new@example.com", "role": "admin"},
    ).json()
    validate("ProjectInvitation", invitation)
    redeploy = api.post(f"/projects/{pid}/environments/main/redeploy", token).json()
    validate("AcceptedResponse", redeploy)
    for activity in redeploy["_embedded"]["activities"]:
        validate("Activity", activity)
