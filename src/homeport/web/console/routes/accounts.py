"""Accounts (platform admins): create people and machine users, deactivate accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from homeport.domain import access, accounts, policy
from homeport.domain.errors import Conflict, DomainError, Forbidden
from homeport.store.models import Account
from homeport.web.console.deps import ConsoleRoute, Me, Person, render, see_other
from homeport.web.deps import DbSession

router = APIRouter(route_class=ConsoleRoute)


def _require_admin(person: Person) -> None:
    if not policy.may_manage_accounts(person.account):
        raise Forbidden("Only platform admins manage accounts.")


def _page(
    request: Request,
    person: Person,
    session: Session,
    status: int = 200,
    error: DomainError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "console/accounts/list.html",
        person,
        status=status,
        accounts=accounts.list_accounts(session),
        error=error,
        # The password is never echoed back into the form.
        values=values or {"email": "", "kind": "human", "first_name": "", "last_name": ""},
    )


@router.get("/accounts")
def account_list(request: Request, person: Me, session: DbSession) -> Response:
    """Every account, and the form to create one."""
    _require_admin(person)
    return _page(request, person, session)


@router.post("/accounts")
def create_account(
    request: Request,
    person: Me,
    session: DbSession,
    email: Annotated[str, Form(max_length=320)] = "",
    kind: Annotated[str, Form(max_length=16)] = "human",
    first_name: Annotated[str, Form(max_length=512)] = "",
    last_name: Annotated[str, Form(max_length=512)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    is_admin: Annotated[bool, Form()] = False,
) -> Response:
    """Create a person (optionally with a password) or a machine user."""
    _require_admin(person)
    try:
        with session.begin_nested():
            created = accounts.create_account(
                session,
                accounts.NewAccount(
                    email=email,
                    kind=kind,
                    password=password or None,
                    first_name=first_name,
                    last_name=last_name,
                    is_admin=is_admin,
                    created_by_id=person.account.id,
                ),
            )
            access.apply_pending_invitations(session, created)
    except DomainError as exc:
        values = {"email": email, "kind": kind, "first_name": first_name, "last_name": last_name}
        return _page(request, person, session, exc.status, exc, values)
    return see_other("/console/accounts?done=account-created")


def _target(session: Session, person: Person, account_id: str) -> Account:
    target = accounts.get_account(session, account_id)
    if target.id == person.account.id:
        # A console-only guard: an admin locking themselves out needs an operator.
        raise Conflict("You cannot deactivate your own account.")
    if target.deactivated:
        raise Conflict("This account is already deactivated.")
    return target


@router.get("/accounts/{account_id}/deactivate")
def confirm_deactivate(
    account_id: str, request: Request, person: Me, session: DbSession
) -> Response:
    """Ask before deactivating."""
    _require_admin(person)
    target = _target(session, person, account_id)
    return render(
        request,
        "console/confirm.html",
        person,
        title="Deactivate account",
        message=f"Deactivate {target.display_name} ({target.email})? Their sessions and "
        "tokens stop working at once.",
        action=f"/console/accounts/{target.id}/deactivate",
        button="Deactivate account",
        cancel="/console/accounts",
        danger=True,
    )


@router.post("/accounts/{account_id}/deactivate")
def deactivate(account_id: str, person: Me, session: DbSession) -> Response:
    """Deactivate an account."""
    _require_admin(person)
    accounts.deactivate(session, _target(session, person, account_id))
    return see_other("/console/accounts?done=account-deactivated")
