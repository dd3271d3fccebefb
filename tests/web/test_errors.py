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
