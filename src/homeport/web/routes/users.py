"""Users: ``/users/me``, ``/users/{id}``, the legacy ``/me``, and API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from homeport.domain import accounts, api_tokens, policy
from homeport.domain.auth import remember
from homeport.domain.errors import Forbidden, Invalid, NotFound
from homeport.domain.ssh_keys import list_keys
from homeport.store.models import Account
from homeport.web.deps import CurrentActor, DbSession, State, get_actor
from homeport.web.me_extras import me_projects
from homeport.web.metrics import NamedRoute
from homeport.web.project_deps import base_url
from homeport.web.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenPublic, UserPublic
from homeport.web.views import (
    NO_WEBSITE,
    picture_url,
    ssh_key_view,
    token_fields,
    token_view,
    user_view,
    with_uris,
)

router = APIRouter(tags=["Users"])


def resolve_user(session: DbSession, actor: Account, user_id: str) -> Account:
    """``me`` or an id the actor may see; anything else is 404, so ids do not leak."""
    if user_id == "me":
        return actor
    try:
        target = accounts.get_account(session, user_id)
    except NotFound:
        raise NotFound("User not found.") from None
    if not policy.may_view_account(actor, target):
        raise NotFound("User not found.")
    return target


async def get_me(request: Request) -> Response:
    """The calling account.

    Clients call it first and often, so it is kept lean. ``app.py`` serves it as a plain
    Starlette route ahead of every other: FastAPI's dependency solving and query parsing
    would cost about a third of the request. The actor is asked for directly, and the body is
    serialized once by its own model.
    """
    actor = await get_actor(request)
    picture = picture_url(request, request.app.state.homeport)
    # Rendered once per validated grant and picture URL: the memo is new whenever the
    # account (or any credential) changed, so this is the answer the account gives now.
    key = f"users/me {picture}"
    body = actor.memo.get(key)
    if body is None:
        body = user_view(actor.account, picture=picture, website=NO_WEBSITE).model_dump_json()
        remember(actor.memo, key, body)
    return Response(body, media_type="application/json")


# The same endpoint as an APIRoute documents it in /openapi.json (with its model); the
# plain route in front answers every GET first.
hot_route = NamedRoute("/users/me", get_me, methods=["GET"])
router.add_api_route("/users/me", get_me, methods=["GET"], response_model=UserPublic)


@router.get("/users/{user_id}", response_model=UserPublic)
def get_user(
    user_id: str, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> UserPublic:
    """Another account, if the caller may see it."""
    return with_uris(user_view(resolve_user(session, actor.account, user_id)), request, state)


@router.get("/me")
def legacy_me(
    request: Request, actor: CurrentActor, session: DbSession, state: State
) -> dict[str, Any]:
    """The deprecated ``CurrentUser`` shape the JS client and older CLIs read."""
    account = actor.account
    keys = [ssh_key_view(k).model_dump() for k in list_keys(session, account)]
    return {
        "id": account.id,
        "uuid": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "status": 0 if account.deactivated else 1,
        "mail": account.email,
        "ssh_keys": keys,
        "has_key": bool(keys),
        "projects": me_projects(session, account, base_url(request, state)),
        "sequence": 0,
        "roles": ["administrator"] if account.is_admin else [],
        "picture": picture_url(request, state),
        "tickets": {},
        "trial": False,
        "current_trial": [],
        "kind": account.kind,
    }


def _token_owner(session: DbSession, actor: Account, user_id: str) -> Account:
    owner = resolve_user(session, actor, user_id)
    if not policy.may_manage_credentials(session, actor, owner):
        raise Forbidden("You may not manage this user's API tokens.")
    return owner


@router.get("/users/{user_id}/api-tokens", response_model=list[ApiTokenPublic])
def list_api_tokens(user_id: str, actor: CurrentActor, session: DbSession) -> list[ApiTokenPublic]:
    """The user's API tokens (never their values)."""
    owner = _token_owner(session, actor.account, user_id)
    return [token_view(t) for t in api_tokens.list_tokens(session, owner)]


@router.post("/users/{user_id}/api-tokens", status_code=201, response_model=ApiTokenCreated)
def create_api_token(
    user_id: str, body: ApiTokenCreate, actor: CurrentActor, session: DbSession, state: State
) -> ApiTokenCreated:
    """Create a token; this response is the only place its value ever appears."""
    owner = _token_owner(session, actor.account, user_id)
    if body.expires_at is not None and body.expires_in is not None:
        raise Invalid.field("expires_at", "Give expires_at or expires_in, not both.")
    expires = body.expires_at
    if expires is not None and expires.tzinfo is None:
        raise Invalid.field("expires_at", "Give a time zone, e.g. 2030-01-01T00:00:00Z.")
    if body.expires_in is not None:
        expires = api_tokens.expiry_in_days(body.expires_in)
    created = api_tokens.create_token(
        session, state.auth_keys.token_hash, owner, body.name, expires
    )
    return ApiTokenCreated.model_validate({**token_fields(created.row), "token": created.plain})


@router.get("/users/{user_id}/api-tokens/{token_id}", response_model=ApiTokenPublic)
def get_api_token(
    user_id: str, token_id: str, actor: CurrentActor, session: DbSession
) -> ApiTokenPublic:
    """One token's metadata."""
    owner = _token_owner(session, actor.account, user_id)
    return token_view(api_tokens.get_token(session, owner, token_id))


@router.delete("/users/{user_id}/api-tokens/{token_id}", status_code=204)
def delete_api_token(
    user_id: str, token_id: str, actor: CurrentActor, session: DbSession
) -> Response:
    """Delete a token; its access tokens fail from the next request on."""
    owner = _token_owner(session, actor.account, user_id)
    api_tokens.delete_token(session, api_tokens.get_token(session, owner, token_id))
    return Response(status_code=204)
