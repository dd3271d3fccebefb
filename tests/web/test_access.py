"""Access: centralized and legacy endpoints, invitations, machine users, the owner."""

from __future__ import annotations

import pytest

from tests.helpers import Api, assert_error
from tests.world import drain


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    return str(body["_embedded"]["entity"]["id"])


def permissions(api: Api, token: str, pid: str, user_id: str) -> list[str]:
    r = api.get(f"/projects/{pid}/user-access/{user_id}", token)
    assert r.status_code == 200, r.text
    perms: list[str] = r.json()["permissions"]
    return perms


def test_machine_user_in_one_call(api: Api, admin: str, pid: str) -> None:
    r = api.post(
        f"/projects/{pid}/machine-users",
        admin,
        json={
            "email": "ci@example.com",
            "name": "CI Bot",
            "role": "viewer",
            "permissions": ["production:admin"],
        },
    )
    assert r.status_code == 201
    bot = r.json()["_embedded"]["entity"]
    assert bot["kind"] == "machine" and bot["first_name"] == "CI"
    assert permissions(api, admin, pid, bot["id"]) == ["viewer", "production:admin"]
    types = {a["payload"]["environment_type"] for a in r.json()["_embedded"]["activities"]}
    assert types == {"production"}
    # The creator manages its tokens; its email is unique.
    token = api.post(f"/users/{bot['id']}/api-tokens", admin, json={"name": "ci"})
    assert token.status_code == 201
    again = api.post(
        f"/projects/{pid}/machine-users",
        admin,
        json={"email": "CI@example.com", "role": "viewer", "permissions": ["development:viewer"]},
    )
    assert_error(again, 409)
    # A machine user cannot log in with a password.
    r = api.client.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "ci@example.com", "password": ""},
    )
    assert r.status_code == 400


def test_non_admin_needs_an_environment_type_role(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    err = assert_error(
        api.post(
            f"/projects/{pid}/user-access",
            admin,
            json=[{"user_id": user.id, "permissions": ["viewer"]}],
        ),
        400,
    )
    assert "permissions" in err["detail"]
    assert_error(api.get(f"/projects/{pid}/user-access/{user.id}", admin), 404)
    for bad in (["viewer", "prod:admin"], ["viewer", "production:owner"], ["root"], []):
        assert_error(
            api.post(
                f"/projects/{pid}/user-access",
                admin,
                json=[{"user_id": user.id, "permissions": bad}],
            ),
            400,
        )


def test_grant_change_remove_records_activities(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    url = f"/projects/{pid}/user-access"
    assert (
        api.post(
            url, admin, json=[{"user_id": user.id, "permissions": ["viewer", "development:viewer"]}]
        ).status_code
        == 204
    )
    assert (
        api.patch(
            f"{url}/{user.id}",
            admin,
            json={"permissions": ["viewer", "development:admin", "staging:viewer"]},
        ).status_code
        == 204
    )
    assert permissions(api, admin, pid, user.id) == [
        "viewer",
        "staging:viewer",
        "development:admin",
    ]
    assert api.delete(f"{url}/{user.id}", admin).status_code == 204
    assert_error(api.get(f"{url}/{user.id}", admin), 404)
    types = [
        a["type"]
        for a in api.get(
            f"/projects/{pid}/activities", admin, params={"type": "environment_type.access.*"}
        ).json()
    ]
    assert types == [
        "environment_type.access.delete",
        "environment_type.access.delete",
        "environment_type.access.update",
        "environment_type.access.create",
        "environment_type.access.create",
    ]


def test_owner_is_protected(api: Api, admin: str, pid: str) -> None:
    me = api.me(admin)["id"]
    other_admin = api.create_account("pa@example.com")
    api.post(
        f"/projects/{pid}/user-access",
        admin,
        json=[{"user_id": other_admin.id, "permissions": ["admin"]}],
    )
    pa = api.access_token(api.api_token(other_admin.id))
    assert_error(
        api.patch(
            f"/projects/{pid}/user-access/{me}",
            pa,
            json={"permissions": ["viewer", "development:viewer"]},
        ),
        403,
    )
    assert_error(api.delete(f"/projects/{pid}/user-access/{me}", pa), 403)
    assert_error(api.delete(f"/projects/{pid}/access/{me}", pa), 403)
    item = api.get(f"/projects/{pid}/user-access/{me}", pa).json()
    assert "update" not in item["_links"] and "delete" not in item["_links"]


def test_invitation_for_existing_account_applies_at_once(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    r = api.post(
        f"/projects/{pid}/invitations",
        admin,
        json={
            "email": "ADA@example.com",
            "role": "viewer",
            "permissions": [{"type": "staging", "role": "contributor"}],
            "projectId": pid,
        },
    )
    assert r.status_code == 201 and r.json()["state"] == "accepted"
    assert permissions(api, admin, pid, user.id) == ["viewer", "staging:contributor"]


def test_pending_invitation_applies_on_signup(api: Api, admin: str, pid: str) -> None:
    body = {
        "email": "new@example.com",
        "role": "viewer",
        "permissions": [{"type": "development", "role": "viewer"}],
    }
    first = api.post(f"/projects/{pid}/invitations", admin, json=body)
    assert first.status_code == 201 and first.json()["state"] == "pending"
    assert_error(api.post(f"/projects/{pid}/invitations", admin, json=body), 409)
    forced = api.post(
        f"/projects/{pid}/invitations",
        admin,
        json=body | {"force": True, "permissions": [{"type": "development", "role": "admin"}]},
    )
    assert forced.status_code == 201
    pending = api.get(f"/projects/{pid}/invitations", admin).json()
    assert [i["id"] for i in pending] == [forced.json()["id"]]
    user = api.create_account("New@Example.com")
    assert permissions(api, admin, pid, user.id) == ["viewer", "development:admin"]
    assert api.get(f"/projects/{pid}/invitations", admin).json() == []
    token = api.access_token(api.api_token(user.id))
    assert api.get(f"/projects/{pid}", token).status_code == 200


def test_invitation_validation_and_cancel(api: Api, admin: str, pid: str) -> None:
    url = f"/projects/{pid}/invitations"
    assert_error(api.post(url, admin, json={"email": "not-an-email", "role": "admin"}), 400)
    assert_error(api.post(url, admin, json={"email": "x@example.com", "role": "viewer"}), 400)
    assert_error(api.post(url, admin, json={"email": "x@example.com", "role": "god"}), 400)
    inv = api.post(url, admin, json={"email": "x@example.com", "role": "admin"}).json()
    assert api.delete(f"{url}/{inv['id']}", admin).status_code == 204
    assert_error(api.delete(f"{url}/{inv['id']}", admin), 409)
    assert_error(api.delete(f"{url}/nope", admin), 404)


def test_legacy_and_environment_type_endpoints(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    r = api.post(
        f"/projects/{pid}/environment-types/development/access",
        admin,
        json={"email": "ada@example.com", "role": "contributor"},
    )
    assert r.status_code == 201
    assert r.json()["_embedded"]["entity"]["role"] == "contributor"
    types = api.get(f"/projects/{pid}/environment-types", admin).json()
    assert [t["id"] for t in types] == ["production", "staging", "development"]
    listed = api.get(f"/projects/{pid}/environment-types/development/access", admin).json()
    assert {(a["email"], a["role"]) for a in listed} == {
        ("root@example.com", "admin"),
        ("ada@example.com", "contributor"),
    }
    r = api.patch(
        f"/projects/{pid}/environment-types/development/access/{user.id}",
        admin,
        json={"role": "admin"},
    )
    assert r.json()["_embedded"]["entity"]["role"] == "admin"
    legacy = {a["email"]: a["role"] for a in api.get(f"/projects/{pid}/access", admin).json()}
    assert legacy == {"root@example.com": "admin", "ada@example.com": "viewer"}
    r = api.delete(f"/projects/{pid}/environment-types/development/access/{user.id}", admin)
    assert r.status_code == 200
    assert_error(api.get(f"/projects/{pid}/access/{user.id}", admin), 404)
    assert_error(api.get(f"/projects/{pid}/environment-types/qa", admin), 404)


def test_ref_users_shows_co_members_only(api: Api, admin: str, pid: str) -> None:
    ada = api.create_account("ada@example.com")
    eve = api.create_account("eve@example.com")
    api.post(
        f"/projects/{pid}/user-access",
        admin,
        json=[{"user_id": ada.id, "permissions": ["viewer", "development:viewer"]}],
    )
    ada_token = api.access_token(api.api_token(ada.id))
    me = api.me(admin)["id"]
    refs = api.get("/ref/users", ada_token, params={"in": f"{me},{eve.id}"}).json()
    assert set(refs) == {me}
    assert refs[me]["email"] == "root@example.com"


def test_access_change_marks_environments_for_redeploy(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    api.post(
        f"/projects/{pid}/user-access",
        admin,
        json=[{"user_id": user.id, "permissions": ["viewer", "production:contributor"]}],
    )
    assert api.get(f"/projects/{pid}/environments/main", admin).json()["needs_redeploy"] is True
    api.post(f"/projects/{pid}/environments/main/redeploy", admin)
    drain(api)
    assert api.get(f"/projects/{pid}/environments/main", admin).json()["needs_redeploy"] is False


def test_invitation_with_deprecated_environments(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    url = f"/projects/{pid}/invitations"
    r = api.post(
        url,
        admin,
        json={"email": "ada@example.com", "environments": [{"id": "main", "role": "contributor"}]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "viewer"
    assert permissions(api, admin, pid, user.id) == ["viewer", "production:contributor"]
    other = api.create_account("bob@example.com")
    r = api.post(
        url,
        admin,
        json={
            "email": "bob@example.com",
            "role": "viewer",
            "permissions": [{"type": "staging", "role": "viewer"}],
            "environments": [{"type": "development", "role": "admin"}],
        },
    )
    assert r.status_code == 201, r.text
    assert permissions(api, admin, pid, other.id) == [
        "viewer",
        "staging:viewer",
        "development:admin",
    ]
    for bad in (
        [{"id": "nope", "role": "viewer"}],
        [{"id": "main", "role": "owner"}],
        [{"id": "main", "type": "staging", "role": "viewer"}],
        [{"role": "viewer"}],
        [{"id": "main", "role": "viewer"}, {"type": "production", "role": "admin"}],
    ):
        body = {"email": "carol@example.com", "environments": bad}
        assert_error(api.post(url, admin, json=body), 400)
    assert api.get(url, admin).json() == []


def test_bare_email_invitation_is_a_viewer_without_types(api: Api, admin: str, pid: str) -> None:
    # The spec's role defaults to none; Homeport reads it as viewer, and a viewer must be
    # given at least one environment type (Platform.sh's documented rule).
    err = assert_error(
        api.post(f"/projects/{pid}/invitations", admin, json={"email": "x@example.com"}), 400
    )
    assert "permissions" in err["detail"]
    ok = api.post(
        f"/projects/{pid}/invitations",
        admin,
        json={"email": "x@example.com", "permissions": [{"type": "staging", "role": "viewer"}]},
    )
    assert ok.status_code == 201 and ok.json()["role"] == "viewer"


def test_role_change_updates_the_access_record(api: Api, admin: str, pid: str) -> None:
    user = api.create_account("ada@example.com")
    url = f"/projects/{pid}/user-access"
    body = [{"user_id": user.id, "permissions": ["viewer", "development:viewer"]}]
    assert api.post(url, admin, json=body).status_code == 204
    before = api.get(f"{url}/{user.id}", admin).json()
    patch = {"permissions": ["viewer", "development:contributor"]}
    assert api.patch(f"{url}/{user.id}", admin, json=patch).status_code == 204
    after = api.get(f"{url}/{user.id}", admin).json()
    assert after["updated_at"] > before["updated_at"]
    assert after["granted_at"] == before["granted_at"]
    # The same permissions again change nothing.
    assert api.patch(f"{url}/{user.id}", admin, json=patch).status_code == 204
    assert api.get(f"{url}/{user.id}", admin).json()["updated_at"] == after["updated_at"]
    # An empty list would leave a viewer with no environment type: refused, not a removal.
    err = assert_error(api.patch(f"{url}/{user.id}", admin, json={"permissions": []}), 400)
    assert "permissions" in err["detail"]
    assert permissions(api, admin, pid, user.id) == ["viewer", "development:contributor"]
