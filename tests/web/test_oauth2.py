"""POST /oauth2/token and /oauth2/revoke."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt

from homeport.store.models import AccessGrant, ApiToken
from homeport.store.types import utcnow
from tests.helpers import Api


def _bot(api: Api) -> tuple[str, str]:
    account = api.create_account("bot@example.com", kind="machine")
    return account.id, api.api_token(account.id)


def test_form_body_with_basic_client_credentials(api: Api) -> None:
    account_id, token = _bot(api)
    response = api.exchange(token)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == account_id
    assert "tid" in claims


def test_json_body_like_the_js_client(api: Api) -> None:
    _, token = _bot(api)
    basic = base64.b64encode(b"platform-cli:").decode()
    response = api.client.post(
        "/oauth2/token",
        content=json.dumps({"grant_type": "api_token", "api_token": token}),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert api.me(response.json()["access_token"])["email"] == "bot@example.com"


def test_client_id_in_body_or_absent(api: Api) -> None:
    _, token = _bot(api)
    for data in (
        {"grant_type": "api_token", "api_token": token, "client_id": "platform-cli"},
        {"grant_type": "api_token", "api_token": token},
    ):
        assert api.client.post("/oauth2/token", data=data).status_code == 200


def test_last_used_at_is_set_on_exchange(api: Api) -> None:
    _, token = _bot(api)
    with api.state.db.session() as s:
        assert s.query(ApiToken).one().last_used_at is None
    before = utcnow()
    access = api.access_token(token)
    with api.state.db.session() as s:
        row = s.query(ApiToken).one()
        assert row.last_used_at is not None and row.last_used_at >= before
        assert row.updated_at == row.last_used_at
        grant = s.get(AccessGrant, jwt.decode(access, options={"verify_signature": False})["gid"])
        assert grant is not None and not grant.revoked
        assert (grant.account_id, grant.api_token_id) == (row.account_id, row.id)
        assert grant.client_id == "platform-cli"
        assert grant.expires_at - grant.created_at == timedelta(seconds=900)


def _assert_invalid_grant(response: object) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid API token"}


def test_unknown_token_is_invalid_grant(api: Api) -> None:
    _, token = _bot(api)
    _assert_invalid_grant(api.exchange(token[:-6] + "AAAAAA"))
    _assert_invalid_grant(api.exchange("hpt_" + "a" * 38))
    _assert_invalid_grant(api.exchange("garbage"))


def test_expired_token_is_invalid_grant(api: Api) -> None:
    _, token = _bot(api)
    with api.state.db.session(write=True) as s:
        s.query(ApiToken).one().expires_at = utcnow() - timedelta(seconds=1)
    _assert_invalid_grant(api.exchange(token))


def test_deleted_token_is_invalid_grant(api: Api) -> None:
    _, token = _bot(api)
    with api.state.db.session(write=True) as s:
        s.delete(s.query(ApiToken).one())
    _assert_invalid_grant(api.exchange(token))


def test_deactivated_account_is_invalid_grant(api: Api) -> None:
    account_id, token = _bot(api)
    from homeport.store.models import Account

    with api.state.db.session(write=True) as s:
        account = s.get(Account, account_id)
        assert account is not None
        account.deactivated = True
    _assert_invalid_grant(api.exchange(token))


def test_unsupported_grant_and_missing_token(api: Api) -> None:
    r = api.client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = api.client.post("/oauth2/token", data={"grant_type": "api_token"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = api.client.post(
        "/oauth2/token", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = api.client.post("/oauth2/token", content=b"\xff\xfe", headers={"Content-Type": "text/x"})
    assert r.status_code == 400


def test_password_grant_by_email_or_username(api: Api) -> None:
    api.create_account("ada@example.com", password="a long password")
    for login in ("ada@example.com", "ADA@example.com", "ada"):
        r = api.client.post(
            "/oauth2/token",
            data={"grant_type": "password", "username": login, "password": "a long password"},
        )
        assert r.status_code == 200, login
        assert api.me(r.json()["access_token"])["username"] == "ada"
    r = api.client.post(
        "/oauth2/token", data={"grant_type": "password", "username": "ada", "password": "nope"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_machine_user_without_password_cannot_use_password_grant(api: Api) -> None:
    api.create_account("m@example.com", kind="machine")
    r = api.client.post(
        "/oauth2/token", data={"grant_type": "password", "username": "m", "password": ""}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_failed_exchanges_are_rate_limited_per_address(api: Api) -> None:
    limit = api.state.settings.auth_failure_limit
    for _ in range(limit):
        assert api.exchange("hpt_wrong").status_code == 400
    blocked = api.exchange("hpt_wrong")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    # Even a valid token is refused from that address until the window passes.
    _, token = _bot(api)
    assert api.exchange(token).status_code == 429


def test_revoke_kills_the_access_token_at_once(api: Api) -> None:
    _, token = _bot(api)
    access = api.access_token(token)
    assert api.get("/users/me", access).status_code == 200
    assert api.client.post("/oauth2/revoke", data={"token": access}).status_code == 200
    assert api.get("/users/me", access).status_code == 401
    # Unknown tokens are accepted silently (RFC 7009).
    assert api.client.post("/oauth2/revoke", data={"token": "nope"}).status_code == 200
