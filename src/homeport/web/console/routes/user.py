"""The User page: profile, and Account Settings with API tokens and SSH keys.

``{user_id}`` is ``me`` for the signed-in person, or a machine user (or, for platform
admins, any account) whose credentials the person may manage, exactly as the API decides.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from homeport.domain import api_tokens, policy, ssh_keys
from homeport.domain.errors import DomainError, Forbidden, Invalid, NotFound
from homeport.store.models import Account, ApiToken, SshKey
from homeport.web.console import csrf
from homeport.web.console.deps import ConsoleRoute, Me, Person, render, see_other
from homeport.web.console.sessions import ConsoleSession, random_id
from homeport.web.deps import DbSession, State
from homeport.web.routes.users import resolve_user

router = APIRouter(route_class=ConsoleRoute)
USER = "/users/{user_id}"
SETTINGS = USER + "/settings"
_PROJECT_ID = re.compile(r"[a-z0-9]{1,32}")


def _owner(session: Session, person: Person, user_id: str) -> Account:
    """The account whose credentials are managed here: 404 if unseen, 403 if not theirs."""
    owner = resolve_user(session, person.account, user_id)
    if not policy.may_manage_credentials(session, person.account, owner):
        raise Forbidden("You may not manage this user's API tokens and SSH keys.")
    return owner


def _slug(person: Person, owner: Account) -> str:
    return "me" if owner.id == person.account.id else owner.id


def _back_project(request: Request) -> str | None:
    """A project to link back to (the Users page a machine user's token was made from)."""
    pid = request.query_params.get("project", "")
    return pid if _PROJECT_ID.fullmatch(pid) else None


@router.get(USER)
def profile(user_id: str, request: Request, person: Me, session: DbSession) -> Response:
    """The User page's first tab: who this account is."""
    account = resolve_user(session, person.account, user_id)
    return render(
        request,
        "console/user/profile.html",
        person,
        owner=account,
        slug=_slug(person, account),
        tab="profile",
        may_manage=policy.may_manage_credentials(session, person.account, account),
    )


@router.get(SETTINGS)
def settings(user_id: str, request: Request, person: Me, session: DbSession) -> Response:
    """Account Settings: the way to API tokens and SSH keys."""
    owner = _owner(session, person, user_id)
    return render(
        request,
        "console/user/settings.html",
        person,
        owner=owner,
        slug=_slug(person, owner),
        tab="settings",
        subtab=None,
        may_manage=True,
        token_count=len(api_tokens.list_tokens(session, owner)),
        key_count=len(ssh_keys.list_keys(session, owner)),
    )


# --- API tokens -----------------------------------------------------------------------


def _tokens_page(
    request: Request,
    person: Person,
    session: Session,
    owner: Account,
    status: int = 200,
    created: api_tokens.CreatedToken | None = None,
    warning: str | None = None,
    cookie: ConsoleSession | None = None,
) -> Response:
    return render(
        request,
        "console/user/tokens.html",
        person,
        status=status,
        cookie=cookie,
        owner=owner,
        slug=_slug(person, owner),
        tab="settings",
        subtab="tokens",
        may_manage=True,
        tokens=api_tokens.list_tokens(session, owner),
        created=created,
        warning=warning,
        back_project=_back_project(request),
    )


@router.get(SETTINGS + "/api-tokens")
def tokens(user_id: str, request: Request, person: Me, session: DbSession) -> Response:
    """The account's API tokens (never their values)."""
    return _tokens_page(request, person, session, _owner(session, person, user_id))


def _new_token_form(
    request: Request,
    person: Person,
    owner: Account,
    status: int = 200,
    error: DomainError | None = None,
    name: str = "",
    expires_in: str = "",
) -> Response:
    return render(
        request,
        "console/user/token_new.html",
        person,
        status=status,
        owner=owner,
        slug=_slug(person, owner),
        tab="settings",
        subtab="tokens",
        may_manage=True,
        # A fresh nonce per form: submitting the same form twice (a reload of the
        # result, the back button) cannot create and show a second token.
        nonce=random_id(),
        nonce_field=csrf.ONCE_FIELD,
        error=error,
        name=name,
        expires_in=expires_in,
        back_project=_back_project(request),
    )


@router.get(SETTINGS + "/api-tokens/new")
def new_token(user_id: str, request: Request, person: Me, session: DbSession) -> Response:
    """The Create an API Token form."""
    return _new_token_form(request, person, _owner(session, person, user_id))


def _days(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise Invalid.field("expires_in", "Give the expiry as a whole number of days.")
    return int(raw)


@router.post(SETTINGS + "/api-tokens")
def create_token(
    user_id: str,
    request: Request,
    person: Me,
    session: DbSession,
    state: State,
    name: Annotated[str, Form(max_length=1024)] = "",
    expires_in: Annotated[str, Form(max_length=16)] = "",
    form_nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create a token and show it in this response only (never in a URL or cookie)."""
    owner = _owner(session, person, user_id)
    if not form_nonce or form_nonce in person.session.used_nonces:
        return _tokens_page(
            request,
            person,
            session,
            owner,
            status=409,
            warning="This form was already submitted, so no new token was created. A token "
            "is shown only once, right after it is created; if you lost it, delete it and "
            "create another.",
        )
    try:
        with session.begin_nested():
            created = api_tokens.create_token(
                session,
                state.auth_keys.token_hash,
                owner,
                name,
                api_tokens.expiry_in_days(_days(expires_in)),
            )
    except DomainError as exc:
        return _new_token_form(request, person, owner, exc.status, exc, name, expires_in)
    return _tokens_page(
        request,
        person,
        session,
        owner,
        status=201,
        created=created,
        cookie=person.session.with_used_nonce(form_nonce),
    )


def _token(session: Session, owner: Account, token_id: str) -> ApiToken:
    return api_tokens.get_token(session, owner, token_id)


@router.get(SETTINGS + "/api-tokens/{token_id}/delete")
def confirm_delete_token(
    user_id: str, token_id: str, request: Request, person: Me, session: DbSession
) -> Response:
    """Ask before deleting a token."""
    owner = _owner(session, person, user_id)
    row = _token(session, owner, token_id)
    slug = _slug(person, owner)
    return render(
        request,
        "console/confirm.html",
        person,
        title="Delete API token",
        message=f"Delete the API token “{row.name}” (ending in …{row.token_hint})? Scripts "
        "using it will stop working at once.",
        action=f"/console/users/{slug}/settings/api-tokens/{row.id}/delete",
        button="Delete token",
        cancel=f"/console/users/{slug}/settings/api-tokens",
        danger=True,
    )


@router.post(SETTINGS + "/api-tokens/{token_id}/delete")
def delete_token(
    user_id: str, token_id: str, request: Request, person: Me, session: DbSession
) -> Response:
    """Delete a token; the access tokens it gave stop working on the next request."""
    owner = _owner(session, person, user_id)
    api_tokens.delete_token(session, _token(session, owner, token_id))
    return see_other(
        f"/console/users/{_slug(person, owner)}/settings/api-tokens?done=token-deleted"
    )


# --- SSH keys -------------------------------------------------------------------------


def _keys_page(
    request: Request,
    person: Person,
    session: Session,
    owner: Account,
    status: int = 200,
    error: DomainError | None = None,
    title: str = "",
) -> Response:
    return render(
        request,
        "console/user/ssh_keys.html",
        person,
        status=status,
        owner=owner,
        slug=_slug(person, owner),
        tab="settings",
        subtab="keys",
        may_manage=True,
        keys=ssh_keys.list_keys(session, owner),
        error=error,
        title=title,
    )


@router.get(SETTINGS + "/ssh-keys")
def keys(user_id: str, request: Request, person: Me, session: DbSession) -> Response:
    """The account's SSH keys and the form to add one."""
    return _keys_page(request, person, session, _owner(session, person, user_id))


@router.post(SETTINGS + "/ssh-keys")
def add_key(
    user_id: str,
    request: Request,
    person: Me,
    session: DbSession,
    value: Annotated[str, Form(max_length=ssh_keys.MAX_KEY_LENGTH + 64)] = "",
    title: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Add a public key."""
    owner = _owner(session, person, user_id)
    try:
        with session.begin_nested():
            ssh_keys.add_key(session, owner, value, title or None)
    except DomainError as exc:
        return _keys_page(request, person, session, owner, exc.status, exc, title)
    return see_other(f"/console/users/{_slug(person, owner)}/settings/ssh-keys?done=key-added")


def _key(session: Session, owner: Account, key_id: int) -> SshKey:
    row = ssh_keys.get_key(session, key_id)
    if row.account_id != owner.id:
        raise NotFound("SSH key not found.")
    return row


@router.get(SETTINGS + "/ssh-keys/{key_id}/delete")
def confirm_delete_key(
    user_id: str, key_id: int, request: Request, person: Me, session: DbSession
) -> Response:
    """Ask before removing a key."""
    owner = _owner(session, person, user_id)
    row = _key(session, owner, key_id)
    slug = _slug(person, owner)
    return render(
        request,
        "console/confirm.html",
        person,
        title="Remove SSH key",
        message=f"Remove the SSH key “{row.title}” ({row.fingerprint})?",
        action=f"/console/users/{slug}/settings/ssh-keys/{row.key_id}/delete",
        button="Remove key",
        cancel=f"/console/users/{slug}/settings/ssh-keys",
        danger=True,
    )


@router.post(SETTINGS + "/ssh-keys/{key_id}/delete")
def delete_key(
    user_id: str, key_id: int, request: Request, person: Me, session: DbSession
) -> Response:
    """Remove a key."""
    owner = _owner(session, person, user_id)
    session.delete(_key(session, owner, key_id))
    return see_other(f"/console/users/{_slug(person, owner)}/settings/ssh-keys?done=key-deleted")
