"""/users/me, /users/{id} and the legacy /me: who may see whom."""

from __future__ import annotations

from sqlalchemy import select

from homeport.domain.auth import MEMO_SIZE
from homeport.store.models import Account
from tests.helpers import Api, assert_error


def test_users_me_fields(api: Api) -> None:
    token = api.login_new("ada@example.com")
    me = api.me(token)
    for field in (
        "id",
        "deactivated",
        "namespace",
        "username",
        "email",
        "email_verified",
        "first_name",
        "last_name",
        "picture",
        "company",
        "website",
        "country",
        "created_at",
        "updated_at",
        "kind",
    ):
        assert field in me
    assert me["kind"] == "human" and me["email"] == "ada@example.com"


def test_machine_user_shows_its_kind(api: Api) -> None:
    assert api.me(api.login_new("bot@example.com", kind="machine"))["kind"] == "machine"


def test_anonymous_and_bad_bearer_get_401(api: Api) -> None:
    assert_error(api.get("/users/me"), 401)
    assert_error(api.get("/users/me", "not-a-jwt"), 401)
    assert_error(api.get("/me"), 401)
    r = api.client.get("/users/me", headers={"Authorization": "Basic abc"})
    assert_error(r, 401)


def test_user_by_id_visibility(api: Api, admin: str) -> None:
    ada = api.create_account("ada@example.com")
    ada_token = api.access_token(api.api_token(ada.id))
    bob_token = api.login_new("bob@example.com")
    # Oneself and platform admins see the account; others get 404, not 403.
    assert api.get(f"/users/{ada.id}", ada_token).json()["id"] == ada.id
    assert api.get(f"/users/{ada.id}", admin).json()["id"] == ada.id
    assert_error(api.get(f"/users/{ada.id}", bob_token), 404)
    assert_error(api.get("/users/00000000-0000-0000-0000-000000000000", admin), 404)


def test_machine_user_creator_sees_it(api: Api) -> None:
    creator = api.create_account("lead@example.com")
    bot = api.create_account("bot@example.com", kind="machine", created_by=creator.id)
    lead = api.access_token(api.api_token(creator.id))
    assert api.get(f"/users/{bot.id}", lead).json()["kind"] == "machine"


def test_legacy_me(api: Api) -> None:
    token = api.login_new("ada@example.com")
    body = api.get("/me", token).json()
    assert body["mail"] == "ada@example.com"
    assert body["status"] == 1
    assert body["ssh_keys"] == [] and body["has_key"] is False
    assert isinstance(body["projects"], list)


def test_deactivation_kills_access_tokens_on_next_request(api: Api) -> None:
    from homeport.store.models import Account

    ada = api.create_account("ada@example.com")
    token = api.access_token(api.api_token(ada.id))
    assert api.get("/users/me", token).status_code == 200
    with api.state.db.session(write=True) as s:
        account = s.get(Account, ada.id)
        assert account is not None
        account.deactivated = True
    assert_error(api.get("/users/me", token), 401)


def test_users_me_follows_a_change_to_the_account_at_once(api: Api) -> None:
    # The answer is rendered once per validated grant; a change to the account (here
    # by an operator, outside the API) gives the next request the new answer.
    token = api.login_new("ada@example.com")
    assert api.me(token)["first_name"] == api.me(token)["first_name"]
    with api.state.db.session(write=True) as s:
        account = s.scalars(select(Account).where(Account.email == "ada@example.com")).one()
        account.first_name = "Augusta"
    assert api.me(token)["first_name"] == "Augusta"


def test_users_me_renders_the_picture_for_each_host(api: Api) -> None:
    # The picture URL comes from the Host header; many hosts neither mix up the
    # answers nor grow what is remembered for the grant beyond its bound.
    token = api.login_new("ada@example.com")
    for n in range(2 * MEMO_SIZE):
        host = f"h{n}.example.com"
        me = api.get("/users/me", token, headers={"Host": host}).json()
        assert me["picture"].startswith(f"http://{host}/"), me["picture"]
        again = api.get("/users/me", token, headers={"Host": host}).json()
        assert again == me
    entry = next(iter(api.state.grant_cache._entries.values()))
    assert len(entry.memo) <= MEMO_SIZE
