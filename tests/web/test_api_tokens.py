"""/users/{id}/api-tokens: shown once, hashed, and managed only by the right people."""

from __future__ import annotations

import logging

import pytest

from homeport.store.models import ApiToken
from tests.helpers import Api, assert_error
from tests.stores import stored_bytes


def test_create_list_get_delete(api: Api) -> None:
    token = api.login_new("ada@example.com")
    created = api.post("/users/me/api-tokens", token, json={"name": "CI"})
    assert created.status_code == 201
    body = created.json()
    plain = body["token"]
    assert plain.startswith("hpt_") and body["token_hint"] == plain[-4:]
    assert body["last_used_at"] is None and body["expires_at"] is None
    listed = api.get("/users/me/api-tokens", token).json()
    assert [t["name"] for t in listed if t["id"] == body["id"]] == ["CI"]
    assert all("token" not in t for t in listed)
    one = api.get(f"/users/me/api-tokens/{body['id']}", token).json()
    assert "token" not in one and one["name"] == "CI"
    # The new token works, then stops working once deleted.
    access = api.access_token(plain)
    assert api.get(f"/users/me/api-tokens/{body['id']}", access).json()["last_used_at"]
    assert api.delete(f"/users/me/api-tokens/{body['id']}", token).status_code == 204
    assert api.exchange(plain).status_code == 400
    assert_error(api.get("/users/me", access), 401)
    assert_error(api.get(f"/users/me/api-tokens/{body['id']}", token), 404)


def test_token_is_never_stored_or_shown_again(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = api.login_new("ada@example.com")
    plain = api.post("/users/me/api-tokens", token, json={"name": "CI"}).json()["token"]
    api.access_token(plain)
    api.get("/users/me/api-tokens", token)
    api.get("/me", token)
    creation_responses = [t for t in api.seen if plain in t]
    assert len(creation_responses) == 1
    assert plain not in caplog.text
    with api.state.db.session() as s:
        for row in s.query(ApiToken).all():
            assert plain not in (row.token_hash, row.token_hint, row.name)
    assert plain.encode() not in stored_bytes(api.state.db, api.state.settings.data_dir)


def test_expiry(api: Api) -> None:
    token = api.login_new("ada@example.com")
    r = api.post("/users/me/api-tokens", token, json={"name": "short", "expires_in": 7})
    assert r.status_code == 201 and r.json()["expires_at"]
    past = api.post(
        "/users/me/api-tokens", token, json={"name": "x", "expires_at": "2000-01-01T00:00:00Z"}
    )
    assert assert_error(past, 400)["detail"].get("expires_at")
    naive = api.post(
        "/users/me/api-tokens", token, json={"name": "x", "expires_at": "2099-01-01T00:00:00"}
    )
    assert_error(naive, 400)
    assert_error(api.post("/users/me/api-tokens", token, json={"name": "x", "expires_in": 0}), 400)


def test_validation_names_the_field(api: Api) -> None:
    token = api.login_new("ada@example.com")
    body = assert_error(api.post("/users/me/api-tokens", token, json={}), 400)
    assert "name" in body["detail"]
    body = assert_error(api.post("/users/me/api-tokens", token, json={"name": ""}), 400)
    assert "name" in body["detail"]
    assert_error(api.post("/users/me/api-tokens", token, content=b"[1,2"), 400)
    assert_error(api.post("/users/me/api-tokens", token, json=["x"]), 400)
    with api.state.db.session() as s:
        assert s.query(ApiToken).count() == 1  # only the login token


def test_who_may_manage_tokens(api: Api, admin: str) -> None:
    lead = api.create_account("lead@example.com")
    lead_token = api.access_token(api.api_token(lead.id))
    bot = api.create_account("bot@example.com", kind="machine", created_by=lead.id)
    stranger = api.login_new("eve@example.com")
    bot_token = api.access_token(api.api_token(bot.id))
    path = f"/users/{bot.id}/api-tokens"
    # The creator, the machine user itself and platform admins may.
    for who in (lead_token, bot_token, admin):
        r = api.post(path, who, json={"name": "t"})
        assert r.status_code == 201, r.text
        assert api.get(path, who).status_code == 200
    # A stranger may not even learn the account exists.
    assert_error(api.get(path, stranger), 404)
    assert_error(api.post(path, stranger, json={"name": "t"}), 404)
    some_id = api.get(path, admin).json()[0]["id"]
    assert_error(api.delete(f"{path}/{some_id}", stranger), 404)
    # A machine user may not manage its creator's tokens (visible to nobody but admins).
    assert_error(api.get(f"/users/{lead.id}/api-tokens", bot_token), 404)
    # Anonymous callers get 401 everywhere.
    assert_error(api.get(path), 401)
    assert_error(api.post(path, json={"name": "t"}), 401)
    assert_error(api.delete(f"{path}/{some_id}"), 401)


def test_human_cannot_manage_another_human_even_if_visible(api: Api) -> None:
    """A creator link on a human account gives visibility, not token rights."""
    lead = api.create_account("lead@example.com")
    human = api.create_account("h@example.com", created_by=lead.id)
    lead_token = api.access_token(api.api_token(lead.id))
    assert api.get(f"/users/{human.id}", lead_token).status_code == 200
    assert_error(api.get(f"/users/{human.id}/api-tokens", lead_token), 403)
