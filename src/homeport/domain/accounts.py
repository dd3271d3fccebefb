"""Accounts: people and machine users."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from homeport.domain.errors import Conflict, Invalid, NotFound
from homeport.domain.passwords import hash_password, password_problem
from homeport.store.models import Account

KINDS = ("human", "machine")
_USERNAME_OK = re.compile(r"[^a-z0-9_.-]+")


def normalize_email(raw: str) -> str:
    """Validate ``raw`` and return it trimmed; raises Invalid naming the ``email`` field."""
    email = (raw or "").strip()
    if len(email) > 254:
        raise Invalid.field("email", "The email address is too long.")
    try:
        info = validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise Invalid.field("email", f"Invalid email address: {email!r}") from None
    return info.normalized


def email_key(email: str) -> str:
    """The case-insensitive key under which an email is unique."""
    return email.strip().lower()


def _free_username(session: Session, email: str) -> str:
    base = _USERNAME_OK.sub("-", email.split("@", 1)[0].lower()).strip("-.") or "user"
    base = base[:48]
    candidate, n = base, 1
    while session.scalar(select(Account.id).where(Account.username == candidate)) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@dataclass(frozen=True)
class NewAccount:
    """What it takes to create an account."""

    email: str
    kind: str = "human"
    password: str | None = None
    first_name: str = ""
    last_name: str = ""
    is_admin: bool = False
    username: str | None = None
    created_by_id: str | None = None


def create_account(session: Session, new: NewAccount) -> Account:
    """Create an account; raises Invalid or Conflict (duplicate email or username)."""
    if new.kind not in KINDS:
        raise Invalid.field("kind", "The kind must be 'human' or 'machine'.")
    email = normalize_email(new.email)
    if find_by_email(session, email) is not None:
        raise Conflict(f"An account with the email {email} already exists.", {"email": [email]})
    for field, value in (("first_name", new.first_name), ("last_name", new.last_name)):
        if len(value) > 128:
            raise Invalid.field(field, "At most 128 characters.")
    if new.username is not None:
        username = new.username.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", username):
            raise Invalid.field("username", "Use 1 to 64 letters, digits, '.', '_' or '-'.")
        taken = select(Account.id).where(func.lower(Account.username) == username.lower())
        if session.scalar(taken) is not None:
            raise Conflict(f"The username {username} is taken.", {"username": [username]})
    else:
        username = _free_username(session, email)
    password_hash = None
    if new.password is not None:
        problem = password_problem(new.password)
        if problem:
            raise Invalid.field("password", problem)
        password_hash = hash_password(new.password)
    account = Account(
        email=email,
        email_key=email_key(email),
        username=username,
        first_name=new.first_name.strip(),
        last_name=new.last_name.strip(),
        kind=new.kind,
        password_hash=password_hash,
        is_admin=new.is_admin,
        created_by_id=new.created_by_id,
    )
    session.add(account)
    session.flush()
    # Pending invitations are the caller's business (access.apply_pending_invitations):
    # whether an account may claim them depends on who created it.
    return account


def find_by_email(session: Session, email: str) -> Account | None:
    """The account with this email, compared without case."""
    return session.scalar(select(Account).where(Account.email_key == email_key(email)))


def find_by_login(session: Session, login: str) -> Account | None:
    """The account whose email or username is ``login`` (case-insensitive)."""
    login = login.strip()
    if "@" in login:
        return find_by_email(session, login)
    return session.scalar(select(Account).where(func.lower(Account.username) == login.lower()))


def get_account(session: Session, account_id: str) -> Account:
    """The account with this id; raises NotFound."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("User not found.")
    return account


def list_accounts(session: Session) -> Sequence[Account]:
    """Every account, oldest first."""
    return session.scalars(select(Account).order_by(Account.created_at, Account.email_key)).all()


def deactivate(session: Session, account: Account) -> None:
    """Deactivate ``account``: its access tokens stop working on the next request."""
    account.deactivated = True


def set_password(session: Session, account: Account, password: str) -> None:
    """Set a new password (machine users may have one too, if someone sets it)."""
    problem = password_problem(password)
    if problem:
        raise Invalid.field("password", problem)
    account.password_hash = hash_password(password)
