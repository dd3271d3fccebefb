"""Error bodies: Platform.sh's shape with Content-Type exactly application/json."""

from __future__ import annotations

from tests.helpers import Api, assert_error


def test_unknown_path_is_404_json(api: Api) -> None:
    assert_error(api.get("/no/such/path"), 404)


def test_wrong_method_is_405_json(api: Api) -> None:
    assert_error(api.request("PUT", "/users/me"), 405)


def test_health_and_openapi_need_no_auth(api: Api) -> None:
    assert api.get("/health").json()["status"] == "ok"
    spec = api.get("/openapi.json").json()
    assert "/oauth2/token" in spec["paths"] and "/users/me" in spec["paths"]
    assert api.get("/docs").status_code == 200


def test_oversized_and_odd_bodies_never_500(api: Api) -> None:
    token = api.login_new("ada@example.com")
    for body in (b"", b"null", b"\x00\x01", b'{"name": 5}', b'{"name": "' + b"x" * 300 + b'"}'):
        r = api.post(
            "/users/me/api-tokens",
            token,
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code < 500, (body, r.text)
        assert r.headers["content-type"] == "application/json"


def test_disk_full_is_recognised_through_wrappers() -> None:
    import errno
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from homeport.web.errors import is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert is_disk_full(OperationalError("INSERT", {}, full))
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5
    assert not is_disk_full(OperationalError("INSERT", {}, locked))
    assert not is_disk_full(OSError(errno.ENOENT, "gone"))


def test_validation_errors_are_capped(api: Api) -> None:
    token = api.login_new("cap@example.com", admin=True)
    pid = api.post("/projects", token, json={"title": "Cap"}).json()["_embedded"]["entity"]["id"]
    items = [{"user_id": i} for i in range(2_000)]
    r = api.post(f"/projects/{pid}/user-access", token, json=items)
    body = assert_error(r, 400)
    fields = [k for k in body["detail"] if k != "_truncated"]
    assert len(fields) <= 10
    assert "errors in all" in body["detail"]["_truncated"]
    assert len(r.content) < 8_000


def test_too_many_values_or_too_deep_refused_before_validation(api: Api) -> None:
    token = api.login_new("deep@example.com", admin=True)
    pid = api.post("/projects", token, json={"title": "Deep"}).json()["_embedded"]["entity"]["id"]
    r = api.post(f"/projects/{pid}/user-access", token, json=[{}] * 20_000)
    assert "more than 10000 values" in assert_error(r, 400)["message"]
    nested: object = "x"
    for _ in range(40):
        nested = {"a": nested}
    r = api.post(f"/projects/{pid}/variables", token, json={"name": "n", "value": nested})
    assert "nested deeper" in assert_error(r, 400)["message"]


def test_body_over_the_cap_is_413(api: Api) -> None:
    token = api.login_new("big@example.com")
    r = api.post(
        "/users/me/api-tokens",
        token,
        content=b'{"name": "' + b"x" * 300_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    body = assert_error(r, 413)
    assert "at most 262144 bytes" in body["message"]


def test_refusals_say_which_role_is_needed(api: Api) -> None:
    from tests.world import build_world

    world = build_world(api)
    base = f"/projects/{world.pid}/environments/dev"
    refused = assert_error(
        api.post(f"{base}/variables", world.token("dev_viewer"), json={"name": "x", "value": "1"}),
        403,
    )
    assert refused["message"] == (
        "You need admin on development environments to change their variables."
    )
    refused = assert_error(api.post(f"{base}/backup", world.token("dev_contributor")), 403)
    assert refused["message"] == "You need admin on development environments to back them up."
    refused = assert_error(
        api.patch(f"/projects/{world.pid}", world.token("dev_viewer"), json={"title": "T"}), 403
    )
    assert refused["message"] == "You need admin on this project to do this."
