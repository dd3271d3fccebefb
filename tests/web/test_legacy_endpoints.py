"""The compatibility endpoints of ``routes/legacy.py``: who may call them, who may not,
and that their bodies fit Platform.sh's published schemas."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import pytest

from tests.contract import validate
from tests.helpers import Api, assert_error
from tests.world import ACTORS, World, build_world

A, OTHER = "anonymous", "other_admin"
V, C, D = "dev_viewer", "dev_contributor", "dev_admin"
P, R, M = "project_admin", "platform_admin", "machine"
MEMBERS = {V, C, D, P, R, M}
SEE_PROD = {P, R, M}
SEE_DEV = {V, C, D, P, R}


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def check(
    world: World, method: str, path: str, ok: set[str], forbidden: AbstractSet[str] = frozenset()
) -> None:
    """Anonymous 401; ``ok`` 200; ``forbidden`` 403; everyone else 404."""
    for actor in ACTORS:
        kwargs: dict[str, Any] = {"json": {}} if method == "PATCH" else {}
        r = world.api.request(method, path, world.token(actor), **kwargs)
        if actor == A:
            assert_error(r, 401)
        elif actor in ok:
            assert r.status_code == 200, (actor, path, r.text)
        else:
            assert_error(r, 403 if actor in forbidden else 404)


def test_who_may_read(world: World) -> None:
    pid, dev_viewer = world.pid, world.ids[V]
    check(world, "GET", "/platform/me", set(ACTORS[1:]))
    check(world, "GET", f"/platform/profiles/{dev_viewer}", {V, R})
    check(world, "GET", f"/projects/{pid}/environments/main/access", SEE_PROD)
    check(world, "GET", f"/projects/{pid}/environments/dev/access", SEE_DEV)
    check(world, "GET", f"/projects/{pid}/capabilities", MEMBERS)
    check(world, "GET", f"/projects/{pid}/settings", MEMBERS)
    check(world, "PATCH", f"/projects/{pid}/settings", {P, R}, MEMBERS - {P, R})
    check(world, "GET", f"/users/{dev_viewer}/extended-access", {V, R})
    check(world, "GET", "/users/email=dev_viewer@example.com", {V, R})
    check(world, "GET", f"/ref/projects?in={pid}", set(ACTORS[1:]))
    assert_error(world.api.get(f"/projects/{pid}/environments/nope/access", world.token(P)), 404)
    assert_error(world.api.get("/users/email=nobody@example.com", world.token(R)), 404)


def test_platform_me(world: World) -> None:
    body = world.api.get("/platform/me", world.token(V)).json()
    validate("CurrentUser", body, frozenset(_ME_EXTRAS))
    assert body["id"] == body["uuid"] == world.ids[V]
    assert body["mail"] == "dev_viewer@example.com" and body["roles"] == []
    [project] = body["projects"]
    assert project["id"] == project["name"] == world.pid and project["title"] == "Shop"
    assert project["endpoint"].endswith(f"/projects/{world.pid}")
    assert {"subscription_id", "region_label", "owner", "status", "vendor", "plan"} <= set(project)
    assert body["ssh_keys"] == [] and body["has_key"] is False
    # A platform admin lists the projects it holds a role on, not every project.
    admin = world.api.get("/platform/me", world.token(R)).json()
    assert admin["roles"] == ["administrator"] and admin["projects"] == []


_ME_EXTRAS = {
    "first_name",
    "last_name",
    "mail_confirmed",
    "website",
    "company_role",
    "company_type",
    "organizations",
    "teams",
    "newsletter",
    "plaintext",
    "kind",
    "created_at",
    "updated_at",
}


def test_profiles_show_email_to_oneself_and_admins(world: World) -> None:
    path = f"/platform/profiles/{world.ids[V]}"
    own = world.api.get(path, world.token(V)).json()
    validate("Profile", own)
    assert own["email"] == "dev_viewer@example.com" and own["type"] == "user"
    assert world.api.get(path, world.token(R)).json()["email"] == own["email"]
    me = world.api.get("/platform/profiles/me", world.token(C)).json()
    assert me["id"] == world.ids[C]


def test_environment_access_lists_effective_roles(world: World) -> None:
    body = world.api.get(f"/projects/{world.pid}/environments/dev/access", world.token(V)).json()
    roles = {item["id"]: item["role"] for item in body}
    ids = world.ids
    assert roles == {
        ids["owner"]: "admin",
        ids[V]: "viewer",
        ids[C]: "contributor",
        ids[D]: "admin",
        ids[P]: "admin",
    }
    item = next(i for i in body if i["id"] == ids[C])
    assert item["user"] == ids[C] and item["email"] == "dev_contributor@example.com"
    assert item["environment"] == "dev" and item["project"] == world.pid
    assert item["_embedded"]["users"][0]["id"] == ids[C]
    assert set(item["_links"]) == {"self"}
    main = world.api.get(f"/projects/{world.pid}/environments/main/access", world.token(M))
    assert {i["id"]: i["role"] for i in main.json()}[ids[M]] == "admin"


def test_capabilities_and_settings_fit_the_spec(world: World) -> None:
    token = world.token(V)
    caps = world.api.get(f"/projects/{world.pid}/capabilities", token).json()
    validate("ProjectCapabilities", caps)
    assert caps["custom_domains"]["enabled"] is False and caps["autoscaling"]["enabled"] is False
    settings = world.api.get(f"/projects/{world.pid}/settings", token).json()
    validate("ProjectSettings", settings)
    assert settings["cron_minimum_interval"] == 5
    assert settings["centralized_permissions"] is True


def test_settings_patch_refuses_what_homeport_does_not_honour(world: World) -> None:
    url, token = f"/projects/{world.pid}/settings", world.token(P)
    ok = world.api.patch(url, token, json={})
    assert ok.status_code == 200 and ok.json()["_embedded"]["entity"]["product_code"] == "homeport"
    bodies: list[dict[str, Any]] = [
        {"cron_minimum_interval": 1},
        {"build_resources": {"cpu": 1.0, "memory": 512}},
        {"initialize": {}},
        {"data_retention": "x"},
    ]
    for body in bodies:
        err = assert_error(world.api.patch(url, token, json=body), 400)
        assert set(err["detail"]) == set(body), err
    assert_error(world.api.patch(url, world.token(V), json={}), 403)


def test_extended_access_and_ref_projects(world: World) -> None:
    body = world.api.get(f"/users/{world.ids[V]}/extended-access", world.token(V)).json()
    [item] = body["items"]
    assert item["resource_id"] == world.pid and item["resource_type"] == "project"
    assert item["permissions"] == ["viewer", "development:viewer"]
    ref = body["_links"]["ref:projects:0"]["href"]
    assert ref == f"/ref/projects?in={world.pid}"
    mine = world.api.get("/users/me/extended-access", world.token(V)).json()
    assert mine["items"] == body["items"]
    orgs = world.api.get(
        "/users/me/extended-access?filter[resource_type]=organization", world.token(V)
    )
    assert orgs.json()["items"] == []
    both = f"/ref/projects?in={world.pid},{world.other_pid},nope"
    seen = world.api.get(both, world.token(V)).json()
    assert list(seen) == [world.pid]
    validate("ProjectReference", seen[world.pid], frozenset({"vendor"}))
    assert list(world.api.get(both, world.token(OTHER)).json()) == [world.other_pid]
    assert set(world.api.get(both, world.token(R)).json()) == {world.pid, world.other_pid}


def test_user_by_email(world: World) -> None:
    r = world.api.get("/users/email=DEV_VIEWER@example.com", world.token(V))
    assert r.status_code == 200
    extras = {"kind", "is_platform_admin", "phone_number_verified", "mfa_enabled", "sso_enabled"}
    validate("User", r.json(), frozenset(extras))
    assert r.json() == world.api.get(f"/users/{world.ids[V]}", world.token(V)).json()
    assert r.json()["id"] == world.ids[V]
    # Co-members do not find each other by email.
    assert_error(world.api.get("/users/email=dev_viewer@example.com", world.token(P)), 404)
