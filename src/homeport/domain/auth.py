"""Access tokens: exchanging API tokens and passwords, checking bearers, revoking."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, instrumentation

from homeport.domain import accounts, api_tokens
from homeport.domain.errors import NotAuthenticated
from homeport.domain.passwords import verify_password
from homeport.domain.ratelimit import Limiter
from homeport.store import revocations
from homeport.store.models import AccessGrant, Account, ApiToken, new_uuid
from homeport.store.types import utcnow

ISSUER = "homeport"
ALGORITHM = "HS256"


class InvalidGrant(Exception):
    """The credentials of an exchange were refused (OAuth2 ``invalid_grant``)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class AuthKeys:
    """The keys auth needs, derived once from the server secret."""

    token_hash: bytes
    jwt_signing: bytes


@dataclass(frozen=True)
class IssuedToken:
    """An access token as the token endpoint returns it."""

    access_token: str
    expires_in: int


@dataclass(frozen=True)
class Actor:
    """Who is calling: the account and the grant their bearer token came from.

    ``memo`` holds what callers derived from this validated grant and its account (an
    answer already rendered, say): ``GrantCache`` hands the same dict to every request
    of the grant while its entry stays valid, and a fresh one once anything that may
    end a credential or change an account was written. At most ``MEMO_SIZE`` keys.
    """

    account: Account
    grant_id: str
    api_token_id: str | None = None
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


# Keys one grant's memo may hold: callers key by request details (a Host header), so
# the memo must not grow with what a caller sends.
MEMO_SIZE = 4


def remember(memo: dict[str, Any], key: str, value: Any) -> None:
    """Store ``value`` in an actor's ``memo`` unless it is full."""
    if key in memo or len(memo) < MEMO_SIZE:
        memo[key] = value


_NEW_GRANT = insert(AccessGrant)
_TOUCH_TOKEN = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"), updated_at=bindparam("now"))
)


def _issue(
    session: Session,
    keys: AuthKeys,
    account: Account,
    ttl: int,
    client_id: str,
    api_token_id: str | None,
    not_after: datetime | None,
) -> IssuedToken:
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    if not_after is not None and not_after < expires:
        expires = not_after
    grant_id = new_uuid()
    # Core on the session's connection rather than the unit of work: exchanges queue
    # for the one writer, so their transaction is kept short. A new grant is in no
    # cache, so it moves no revocation counter.
    session.connection().execute(
        _NEW_GRANT,
        {
            "id": grant_id,
            "account_id": account.id,
            "api_token_id": api_token_id,
            "client_id": client_id[:128],
            "created_at": now,
            "expires_at": expires,
            "revoked": False,
        },
    )
    claims = {
        "iss": ISSUER,
        "sub": account.id,
        "gid": grant_id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    if api_token_id:
        claims["tid"] = api_token_id
    token = jwt.encode(claims, keys.jwt_signing, algorithm=ALGORITHM)
    return IssuedToken(access_token=token, expires_in=max(1, int((expires - now).total_seconds())))


def prune_grants(session: Session) -> None:
    """Forget grants that expired more than a day ago."""
    session.execute(
        delete(AccessGrant).where(AccessGrant.expires_at < utcnow() - timedelta(days=1)),
        execution_options={"homeport_no_revocation": True},  # they end nothing
    )


def exchange_api_token(
    session: Session,
    keys: AuthKeys,
    limiter: Limiter,
    plain: str,
    client_id: str,
    client_address: str,
    ttl: int,
) -> IssuedToken:
    """Exchange an API token for a short-lived access token (``grant_type=api_token``)."""
    # A valid token is checked per address only: an account key here would let anyone
    # who fails that account's password lock its CI out. Tokens found but unusable
    # (expired, deactivated account) also count against the account.
    held = limiter.reserve([f"address:{client_address}"])
    row = api_tokens.find_by_plain(session, keys.token_hash, plain.strip())
    if row is None:
        raise InvalidGrant("Invalid API token")  # the reserved attempt stays a failure
    now = utcnow()
    if row.account.deactivated or (row.expires_at is not None and row.expires_at <= now):
        limiter.reserve([f"account:{row.account_id}"])
        raise InvalidGrant("Invalid API token")
    limiter.release(held)
    # Core, as in _issue; ``last_used_at`` ends no credential, so no counter moves.
    session.connection().execute(_TOUCH_TOKEN, {"token_id": row.id, "now": now})
    return _issue(session, keys, row.account, ttl, client_id, row.id, row.expires_at)


def account_for_api_token(
    session: Session, keys: AuthKeys, limiter: Limiter, plain: str, client_address: str
) -> Account:
    """The account of a usable API token, for callers that present it directly (git over
    HTTPS); limited like an exchange, and writes nothing. Raises NotAuthenticated."""
    held = limiter.reserve([f"address:{client_address}"])
    row = api_tokens.find_by_plain(session, keys.token_hash, plain.strip())
    now = utcnow()
    if (
        row is None
        or row.account.deactivated
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise NotAuthenticated("Invalid API token.")
    limiter.release(held)
    return row.account


def issue_for_login(
    session: Session, keys: AuthKeys, account_id: str, client_id: str, ttl: int
) -> IssuedToken:
    """Issue an access token after :func:`check_password` passed (``grant_type=password``).

    The two steps take separate transactions so the slow password hash is checked
    without holding the database's write lock.
    """
    account = session.get(Account, account_id)
    if account is None or account.deactivated:
        raise InvalidGrant("Invalid credentials")
    return _issue(session, keys, account, ttl, client_id, None, None)


def check_password(
    session: Session, limiter: Limiter, login: str, password: str, client_address: str
) -> Account:
    """The account for a correct login and password; raises InvalidGrant otherwise.

    Failures count per client address and per account: the email and the username of
    one account share a single allowance (an unknown login counts under its own name).
    """
    login = login.strip()
    account = accounts.find_by_login(session, login) if login else None
    subject = f"account:{account.id}" if account else f"login:{login.lower()}"
    held = limiter.reserve([f"address:{client_address}", subject])
    # verify_password runs even for unknown logins, so timing does not reveal them.
    ok = verify_password(account.password_hash if account else None, password)
    if account is None or not ok or account.deactivated:
        raise InvalidGrant("Invalid credentials")  # the reserved attempt stays a failure
    limiter.release(held)
    return account


def _decode(keys: AuthKeys, token: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(
            token,
            keys.jwt_signing,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "gid"]},
        )
    except jwt.PyJWTError:
        raise NotAuthenticated("Invalid or expired access token.") from None
    return claims


_ACCOUNT_COLUMNS = tuple(Account.__table__.c.keys())
# Core, not ORM: this runs on every API call, and skipping the unit of work makes it
# several times cheaper.
_GRANT_QUERY = (
    select(
        AccessGrant.revoked.label("grant_revoked"),
        AccessGrant.expires_at.label("grant_expires_at"),
        AccessGrant.api_token_id.label("grant_api_token_id"),
        *Account.__table__.c,
    )
    .join(Account, Account.id == AccessGrant.account_id)
    .where(AccessGrant.id == bindparam("gid"))
)


def _validate(conn: Connection, keys: AuthKeys, bearer: str) -> tuple[dict[str, Any], Actor, int]:
    """Check ``bearer`` against the database: the account's columns, the actor, and the
    token's ``exp``. Raises NotAuthenticated."""
    claims = _decode(keys, bearer)
    row = conn.execute(_GRANT_QUERY, {"gid": str(claims["gid"])}).mappings().first()
    if row is None:
        raise NotAuthenticated("Invalid or expired access token.")
    if (
        row["grant_revoked"]
        or row["deactivated"]
        or row["grant_expires_at"] <= utcnow()
        or row["id"] != claims["sub"]
    ):
        raise NotAuthenticated("Invalid or expired access token.")
    columns = {name: row[name] for name in _ACCOUNT_COLUMNS}
    actor = Actor(
        account=Account(**columns),
        grant_id=str(claims["gid"]),
        api_token_id=row["grant_api_token_id"],
    )
    exp = claims["exp"]
    return columns, actor, exp if isinstance(exp, int) else 0


def authenticate(conn: Connection, keys: AuthKeys, bearer: str) -> Actor:
    """The actor behind a bearer token; revoked grants and deactivated accounts fail.

    The returned ``Actor.account`` is a detached snapshot: load the account in your own
    session before changing it.
    """
    return _validate(conn, keys, bearer)[1]


_ACCOUNT_MANAGER = instrumentation.manager_of_class(Account)


def _snapshot(columns: dict[str, Any]) -> Account:
    """A new transient ``Account`` holding ``columns``, made the way the ORM makes
    loaded rows (about ten times cheaper than ``Account(**columns)``)."""
    account: Account = _ACCOUNT_MANAGER.new_instance()
    account.__dict__.update(columns)
    return account


@dataclass(frozen=True)
class _Validated:
    columns: dict[str, Any]
    grant_id: str
    api_token_id: str | None
    counter: int
    until: float  # time.time() after which the token is checked again
    memo: dict[str, Any]  # Actor.memo, shared by the requests this entry answers


class GrantCache:
    """The access tokens this process validated, trusted while nothing was revoked.

    Checking a token against the database costs a join per request; instead each entry
    remembers the shared revocation counter (store/revocations.py) read *before* the
    token was validated, and is used only while the counter still has that value: every
    change that may end a credential moves it in its own transaction, so a revocation
    committed anywhere (another process, another node) is seen by the next request here.
    An entry also ends at the token's expiry and after ``ttl`` seconds (a backstop for
    a write that would bypass the counter), and at most ``size`` are kept (oldest out).

    Keyed by the exact bearer string, which was verified (signature, issuer, claims)
    when the entry was made; so a hit skips the JWT check too. Each call returns a fresh
    ``Account`` snapshot, so a caller cannot change what others get.
    """

    def __init__(self, engine: Engine, size: int = 4096, ttl: float = 60.0) -> None:
        self.engine = engine
        self.size = size
        self.ttl = ttl
        self._counter = revocations.CounterReader(engine)
        self._entries: dict[str, _Validated] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        """Forget every entry and close the counter's own connection."""
        self.clear()
        self._counter.close()

    def authenticate(self, keys: AuthKeys, bearer: str) -> Actor:
        """Like :func:`authenticate`, answered from the cache while it may be."""
        # Read first: a revocation committed after this read moves the counter past the
        # value stored below, and the validation below sees it; so no entry is ever
        # trusted past a revocation.
        counter = self._counter.read()
        hit = self._entries.get(bearer)
        if hit is not None and hit.counter == counter and time.time() < hit.until:
            return Actor(
                account=_snapshot(hit.columns),
                grant_id=hit.grant_id,
                api_token_id=hit.api_token_id,
                memo=hit.memo,
            )
        with self.engine.connect() as conn:
            columns, actor, exp = _validate(conn, keys, bearer)
        if counter is not None:
            entry = _Validated(
                columns,
                actor.grant_id,
                actor.api_token_id,
                counter,
                min(float(exp), time.time() + self.ttl),
                actor.memo,
            )
            with self._lock:
                entries = self._entries
                entries.pop(bearer, None)
                while len(entries) >= self.size:
                    del entries[next(iter(entries))]
                entries[bearer] = entry
        return actor


def revoke(session: Session, keys: AuthKeys, token: str) -> None:
    """Revoke an access token; unknown or invalid tokens are ignored (RFC 7009)."""
    try:
        claims = _decode(keys, token)
    except NotAuthenticated:
        return
    grant = session.get(AccessGrant, str(claims["gid"]))
    if grant is not None:
        grant.revoked = True
