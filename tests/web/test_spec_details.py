"""Issue 14: serve what the published description allows, refuse what it forbids."""

from __future__ import annotations

import jsonschema
import pytest

from tests.contract import DELIBERATE_EXTRAS, forbids_extras, validate
from tests.helpers import Api, assert_error
from tests.web.test_contract import USER_EXTRA
from tests.world import drain


@pytest.fixture
def pid(api: Api, admin: str) -> str:
    body = api.post("/projects", admin, json={"title": "Shop"}).json()
    return str(body["_embedded"]["entity"]["id"])


# --- 1. commit_id is a string ----------------------------------------------------------


def test_backup_without_a_commit_serves_an_empty_commit_id(api: Api, admin: str, pid: str) -> None:
    env = f"/projects/{pid}/environments/main"
    made = api.post(f"{env}/backup", admin, json={"safe": True})
    assert made.status_code == 200, made.text
    validate("AcceptedResponse", made.json())
    drain(api)
    [item] = api.get(f"{env}/backups", admin).json()
    validate("Backup", item)
    assert item["commit_id"] == ""  # the main branch of a new project has no commit yet
    validate("Backup", api.get(f"{env}/backups/{item['id']}", admin).json())


# --- 2. picture and website are URIs ---------------------------------------------------


def test_picture_and_website_are_uris(api: Api) -> None:
    token = api.login_new("ada@example.com")
    me = api.get("/users/me", token).json()
    validate("User", me, USER_EXTRA)
    assert me["picture"].startswith("http") and me["picture"].endswith("/favicon.svg")
    assert me["website"] == "about:blank"
    assert api.client.get(me["picture"]).status_code == 200  # the picture is really there
    assert api.get(f"/users/{me['id']}", token).json()["picture"] == me["picture"]
    assert api.get("/me", token).json()["picture"] == me["picture"]


def test_a_new_machine_users_entity_has_uris_too(api: Api, admin: str, pid: str) -> None:
    made = api.post(
        f"/projects/{pid}/machine-users",
        admin,
        json={"email": "bot@example.com", "role": "viewer", "permissions": ["production:admin"]},
    )
    assert made.status_code == 201, made.text
    entity = made.json()["_embedded"]["entity"]
    assert entity["picture"].endswith("/favicon.svg") and entity["website"] == "about:blank"


def test_the_uri_check_is_not_vacuous(api: Api) -> None:
    me = api.get("/users/me", api.login_new("ada@example.com")).json()
    for field in ("picture", "website"):
        with pytest.raises(jsonschema.ValidationError):
            validate("User", {**me, field: ""}, USER_EXTRA)


# --- 3. 405 names every method of the path ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/projects/{pid}", "GET, PATCH, DELETE"),
        ("PUT", "/projects", "GET, POST"),
        ("GET", "/projects/{pid}/environments/main/backup", "POST"),
        ("PUT", "/users/me", "GET"),
    ],
)
def test_405_lists_the_methods_the_path_accepts(
    api: Api, admin: str, pid: str, method: str, path: str, allowed: str
) -> None:
    r = api.request(method, path.format(pid=pid), admin)
    body = assert_error(r, 405)
    validate("Error", body)
    assert r.headers["Allow"] == allowed
    assert method in body["message"]


# --- 4. spec-invalid requests are refused ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"default_domain": 1.8e308}', "default_domain"),  # found by schemathesis
        ('{"default_domain": 5}', "default_domain"),
        ('{"region": ["eu"]}', "region"),
        ('{"attributes": {"a": 1}}', "attributes.a"),
        ('{"attributes": "x"}', "attributes"),
        ('{"title": null}', "title"),
        ('{"timezone": 3}', "timezone"),
    ],
)
def test_project_patch_refuses_what_the_description_forbids(
    api: Api, admin: str, pid: str, raw: str, field: str
) -> None:
    before = api.get(f"/projects/{pid}", admin).json()
    headers = {"Content-Type": "application/json"}
    r = api.patch(f"/projects/{pid}", admin, content=raw, headers=headers)
    assert field in assert_error(r, 400)["detail"]
    assert api.get(f"/projects/{pid}", admin).json()["title"] == before["title"]


def test_project_patch_takes_every_field_the_description_declares(
    api: Api, admin: str, pid: str
) -> None:
    body = {
        "title": "New",
        "attributes": {"team": "web"},
        "region": "local",
        "default_domain": None,
        "default_branch": None,
    }
    r = api.patch(f"/projects/{pid}", admin, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["_embedded"]["entity"]["title"] == "New"


@pytest.mark.parametrize("safe", ["yes", "false", 1, None, [True]])
def test_backup_refuses_a_safe_that_is_not_a_boolean(
    api: Api, admin: str, pid: str, safe: object
) -> None:
    r = api.post(f"/projects/{pid}/environments/main/backup", admin, json={"safe": safe})
    assert "safe" in assert_error(r, 400)["detail"]


@pytest.mark.parametrize("kw", [{}, {"json": {}}])
def test_backup_without_safe_is_a_safe_backup(
    api: Api, admin: str, pid: str, kw: dict[str, object]
) -> None:
    """A deliberate difference: the PHP clients' ``backup()`` posts no ``safe``."""
    r = api.post(f"/projects/{pid}/environments/main/backup", admin, **kw)
    assert r.status_code == 200, r.text
    [activity] = r.json()["_embedded"]["activities"]
    assert activity["parameters"]["safe"] is True


def test_restore_refuses_flags_that_are_not_booleans(api: Api, admin: str, pid: str) -> None:
    env = f"/projects/{pid}/environments/main"
    api.post(f"{env}/backup", admin, json={"safe": True})
    drain(api)
    [item] = api.get(f"{env}/backups", admin).json()
    r = api.post(f"{env}/backups/{item['id']}/restore", admin, json={"restore_code": "no"})
    assert "restore_code" in assert_error(r, 400)["detail"]


# --- 5. the contract's allowances are explicit and narrow ------------------------------


def test_every_allowance_is_for_a_schema_that_forbids_extras() -> None:
    for name in DELIBERATE_EXTRAS:
        assert forbids_extras(name), name


def test_allowances_are_per_schema_and_typed(api: Api, admin: str, pid: str) -> None:
    project = api.get(f"/projects/{pid}", admin).json()
    extra = frozenset({"endpoint", "vendor"})
    validate("Project", project, extra)
    bad: list[dict[str, object]] = [
        {**project, "_embedded": {}},  # allowed on AcceptedResponse only
        {**project, "bogus": 1},
        {**project, "id": 5},
        {**project, "_links": {"self": "not-a-link"}},
    ]
    for instance in bad:
        with pytest.raises(jsonschema.ValidationError):
            validate("Project", instance, extra)
    accepted = api.patch(f"/projects/{pid}", admin, json={"title": "T"}).json()
    validate("AcceptedResponse", accepted)
    with pytest.raises(jsonschema.ValidationError):
        validate("AcceptedResponse", {**accepted, "id": "x"})
    with pytest.raises(jsonschema.ValidationError):
        validate("AcceptedResponse", {**accepted, "_embedded": {"activities": [], "other": 1}})


def test_user_access_pages_within_the_specs_bounds(api: Api, admin: str) -> None:
    """`page[size]` is 1-200 as the spec says; pages follow `next`."""
    pid = api.post("/projects", admin, json={"title": "Paged", "default_branch": "main"}).json()[
        "_embedded"
    ]["entity"]["id"]
    for i in range(3):
        account = api.create_account(f"member{i}@example.com")
        done = api.post(
            f"/projects/{pid}/user-access",
            admin,
            json=[{"user_id": account.id, "permissions": ["viewer", "production:viewer"]}],
        )
        assert done.status_code == 204, done.text
    base = f"/projects/{pid}/user-access"
    for bad in ("0", "201", "x"):
        assert_error(api.get(f"{base}?page[size]={bad}", admin), 400)
    everyone = api.get(base, admin).json()["items"]
    assert len(everyone) == 4 and "next" not in api.get(base, admin).json()["_links"]
    seen: list[str] = []
    url: str | None = f"{base}?page[size]=3"
    while url:
        page = api.get(url, admin).json()
        assert len(page["items"]) <= 3
        seen += [item["user_id"] for item in page["items"]]
        url = page["_links"].get("next", {}).get("href")
    assert seen == [item["user_id"] for item in everyone]
