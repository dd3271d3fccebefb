"""API tokens of an account: create (shown once), list, delete, and who may manage them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from homeport.domain import token_format
from homeport.domain.errors import Invalid, NotFound
from homeport.store.models import Account, ApiToken
from homeport.store.types import utcnow

MAX_NAME = 256
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class CreatedToken:
    """A new token row and its plain text, which exists only in this object."""

    row: ApiToken
    plain: str


def create_token(
    session: Session,
    hash_key: bytes,
    account: Account,
    name: str,
    expires_at: datetime | None = None,
) -> CreatedToken:
    """Create a token for ``account``; the plain text is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise Invalid.field("name", "This field is required.")
    if len(name) > MAX_NAME:
        raise Invalid.field("name", f"At most {MAX_NAME} characters.")
    if expires_at is not None:
        now = utcnow()
        if expires_at <= now:
            raise Invalid.field("expires_at", "The expiry must be in the future.")
        if expires_at > now + timedelta(days=MAX_EXPIRY_DAYS):
            raise Invalid.field("expires_at", f"At most {MAX_EXPIRY_DAYS} days ahead.")
    plain = token_format.generate()
    row = ApiToken(
        account_id=account.id,
        name=name,
        token_hash=token_format.keyed_hash(hash_key, plain),
        token_hint=token_format.hint(plain),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return CreatedToken(row=row, plain=plain)


def expiry_in_days(days: int | None) -> datetime | None:
    """The expiry ``days`` from now (None keeps the token until deleted)."""
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise Invalid.field("expires_in", f"Between 1 and {MAX_EXPIRY_DAYS} days.")
    return utcnow() + timedelta(days=days)


def list_tokens(session: Session, account: Account) -> Sequence[ApiToken]:
    """The account's tokens, newest first."""
    query = (
        select(ApiToken)
        .where(ApiToken.account_id == account.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    )
    return session.scalars(query).all()


def get_token(session: Session, account: Account, token_id: str) -> ApiToken:
    """One token of ``account``; raises NotFound."""
    row = session.get(ApiToken, token_id)
    if row is None or row.account_id != account.id:
        raise NotFound("API token not found.")
    return row


def delete_token(session: Session, row: ApiToken) -> None:
    """Delete a token; the access tokens it gave stop working at once (grants cascade)."""
    session.delete(row)
    session.flush()


_BY_HASH = select(ApiToken).where(ApiToken.token_hash == bindparam("digest"))


def find_by_plain(session: Session, hash_key: bytes, plain: str) -> ApiToken | None:
    """The token whose keyed hash matches ``plain``, if well formed and known."""
    if not token_format.is_well_formed(plain):
        return None
    digest = token_format.keyed_hash(hash_key, plain)
    return session.scalar(_BY_HASH, {"digest": digest})
