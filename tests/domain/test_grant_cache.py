"""The cache of validated access grants: hits skip the grant query, any revocation
(from this or another process) moves the shared counter and ends every hit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select, text, update

from homeport.domain import accounts, api_tokens, auth
from homeport.domain.errors import NotAuthenticated
from homeport.store import revocations
from homeport.store.db import Database
from homeport.store.models import AccessGrant, Account, ApiToken, RevocationCounter
from homeport.store.types import utcnow
from tests.helpers import Api, statements


def check(api: Api, cache: auth.GrantCache, token: str) -> auth.Actor:
    return cache.authenticate(api.state.auth_keys, token)


def counter(db: Database) -> int:
    with db.engine.connect() as conn:
        value = revocations.current(conn)
    assert value is not None
    return value


def grant_queries(seen: list[str]) -> list[str]:
    return [sql for sql in seen if "access_grants" in sql]


def test_a_hit_reads_only_the_counter_and_returns_a_fresh_snapshot(api: Api) -> None:
    token = api.login_new("ada@example.com")
    cache = auth.GrantCache(api.state.db.engine)
    first = check(api, cache, token)
    with statements(api.state.db) as seen:
        second = check(api, cache, token)
    assert all("revocation_counter" in sql for sql in seen)  # (SQLite reads it aside)
    assert second.account.email == "ada@example.com" == first.account.email
    assert second.grant_id == first.grant_id and second.api_token_id == first.api_token_id
    assert second.account is not first.account  # nobody can change what others get
    second.account.is_admin = True
    assert check(api, cache, token).account.is_admin is False


def test_the_cache_is_bounded(api: Api) -> None:
    tokens = [api.login_new(f"u{n}@example.com") for n in range(5)]
    cache = auth.GrantCache(api.state.db.engine, size=3)
    for token in tokens:
        check(api, cache, token)
        assert len(cache) <= 3
    assert len(cache) == 3
    # The oldest went out, and still works (validated again).
    with statements(api.state.db) as seen:
        assert check(api, cache, tokens[0]).account.email == "u0@example.com"
    assert grant_queries(seen)
    assert len(cache) == 3


def test_an_invalid_token_is_never_cached(api: Api) -> None:
    token = api.login_new("ada@example.com")
    head, body, sig = token.split(".")
    cache = auth.GrantCache(api.state.db.engine)
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            check(api, cache, f"{head}.{body}.{sig[:-2]}xx")
    assert len(cache) == 0


def test_a_zero_ttl_validates_every_time(api: Api) -> None:
    token = api.login_new("ada@example.com")
    cache = auth.GrantCache(api.state.db.engine, ttl=0)
    check(api, cache, token)
    with statements(api.state.db) as seen:
        check(api, cache, token)
    assert grant_queries(seen)


@pytest.mark.parametrize(
    "revoke",
    ["deactivate", "delete_token", "revoke_grant", "expire_grant", "expire_token", "bulk"],
)
def test_each_revocation_moves_the_counter_and_ends_the_hit(api: Api, revoke: str) -> None:
    ada = api.create_account("ada@example.com")
    plain = api.api_token(ada.id)
    token = api.access_token(plain)
    cache = auth.GrantCache(api.state.db.engine)
    check(api, cache, token)
    before = counter(api.state.db)
    # Another Database on the same store: other connections, as another process has.
    other = Database(api.state.db.url)
    try:
        with other.session(write=True) as s:
            account = s.get(Account, ada.id)
            assert account is not None
            if revoke == "deactivate":
                accounts.deactivate(s, account)
            elif revoke == "delete_token":
                api_tokens.delete_token(s, s.scalars(select(ApiToken)).one())
            elif revoke == "revoke_grant":
                auth.revoke(s, api.state.auth_keys, token)
            elif revoke == "expire_grant":
                s.scalars(select(AccessGrant)).one().expires_at = utcnow()
            elif revoke == "expire_token":
                s.scalars(select(ApiToken)).one().expires_at = utcnow()
            else:
                s.execute(update(AccessGrant).values(revoked=True))
    finally:
        other.dispose()
    assert counter(api.state.db) == before + 1
    if revoke == "expire_token":
        # The token's expiry bounds new grants; this one lives on until its own.
        assert check(api, cache, token).account.id == ada.id
        return
    with pytest.raises(NotAuthenticated):
        check(api, cache, token)


def test_everyday_writes_leave_the_counter_alone(api: Api) -> None:
    ada = api.create_account("ada@example.com")
    plain = api.api_token(ada.id)
    before = counter(api.state.db)
    api.access_token(plain)  # a grant inserted, the token's last_used_at written
    api.access_token(plain)
    with api.state.db.session(write=True) as s:
        account = s.get(Account, ada.id)
        assert account is not None
        account.first_name = account.first_name  # no net change
        auth.prune_grants(s)
    assert counter(api.state.db) == before


def test_a_change_to_the_account_refreshes_the_snapshot(api: Api) -> None:
    ada = api.create_account("ada@example.com")
    token = api.access_token(api.api_token(ada.id))
    cache = auth.GrantCache(api.state.db.engine)
    assert check(api, cache, token).account.is_admin is False
    with api.state.db.session(write=True) as s:
        account = s.get(Account, ada.id)
        assert account is not None
        account.is_admin = True
    assert check(api, cache, token).account.is_admin is True


def test_a_bump_from_another_process_ends_every_hit(api: Api) -> None:
    token = api.login_new("ada@example.com")
    cache = auth.GrantCache(api.state.db.engine)
    check(api, cache, token)
    with statements(api.state.db) as seen:
        check(api, cache, token)
    assert not grant_queries(seen)
    script = textwrap.dedent(
        """
        import sys
        from homeport.store import revocations
        from homeport.store.db import Database
        db = Database(sys.argv[1])
        with db.session(write=True) as s:
            revocations.bump(s)
        db.dispose()
        """
    )
    subprocess.run([sys.executable, "-c", script, api.state.db.url], check=True)
    with statements(api.state.db) as seen:
        assert check(api, cache, token).account.email == "ada@example.com"
    assert grant_queries(seen)  # validated again: the counter moved


def test_the_counter_has_one_row(api: Api) -> None:
    with api.state.db.session() as s:
        rows = s.scalars(select(RevocationCounter)).all()
        assert [r.id for r in rows] == [1]
        assert s.execute(text(revocations.READ_SQL)).scalar() == rows[0].value
