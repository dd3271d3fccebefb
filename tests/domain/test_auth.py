"""Access tokens: grants, revocation, per-account limits."""

from __future__ import annotations

import pytest

from homeport.domain import auth
from homeport.domain.errors import NotAuthenticated, TooManyAttempts
from homeport.domain.ratelimit import FailureLimiter
from homeport.store.models import AccessGrant
from tests.helpers import Api


def test_failed_logins_are_limited_per_account_across_addresses(api: Api) -> None:
    api.create_account("ada@example.com", password="a long password")
    api.create_account("bob@example.com", password="another password")
    limiter = FailureLimiter(limit=3, window=60)
    with api.state.db.session() as s:
        for i in range(3):
            with pytest.raises(auth.InvalidGrant):
                auth.check_password(s, limiter, "ada", "wrong", f"10.0.0.{i}")
        with pytest.raises(TooManyAttempts):
            auth.check_password(s, limiter, "ADA", "a long password", "10.9.9.9")
        # Another account from the same fresh address is unaffected.
        assert auth.check_password(s, limiter, "bob", "another password", "10.9.9.9")


def test_email_and_username_share_one_allowance(api: Api) -> None:
    api.create_account("ada@example.com", password="a long password")
    limiter = FailureLimiter(limit=3, window=60)
    with api.state.db.session() as s:
        for i, login in enumerate(("ada@example.com", "ada", "ADA@EXAMPLE.COM")):
            with pytest.raises(auth.InvalidGrant):
                auth.check_password(s, limiter, login, "wrong", f"10.0.{i}.1")
        for login in ("ada", "ada@example.com"):
            with pytest.raises(TooManyAttempts):
                auth.check_password(s, limiter, login, "a long password", "10.9.9.9")


def test_a_valid_api_token_is_not_locked_out_by_password_guesses(api: Api) -> None:
    bot = api.create_account("bot@example.com", kind="machine", password="bot password!")
    good = api.api_token(bot.id)
    limiter = FailureLimiter(limit=2, window=60)
    with api.state.db.session() as s:
        for i in range(3):
            with pytest.raises((auth.InvalidGrant, TooManyAttempts)):
                auth.check_password(s, limiter, "bot@example.com", "guess", f"10.3.0.{i}")
    with api.state.db.session(write=True) as s:
        issued = auth.exchange_api_token(
            s, api.state.auth_keys, limiter, good, "c", "10.4.0.1", 900
        )
    assert issued.access_token


def test_failed_exchanges_are_limited_per_account_across_addresses(api: Api) -> None:
    bot = api.create_account("bot@example.com", kind="machine")
    good = api.api_token(bot.id)
    limiter = FailureLimiter(limit=2, window=60)
    from homeport.store.models import Account

    with api.state.db.session(write=True) as s:
        account = s.get(Account, bot.id)
        assert account is not None
        account.deactivated = True
    for i in range(2):
        with api.state.db.session(write=True) as s, pytest.raises(auth.InvalidGrant):
            auth.exchange_api_token(s, api.state.auth_keys, limiter, good, "c", f"10.1.0.{i}", 900)
    with api.state.db.session(write=True) as s, pytest.raises(TooManyAttempts):
        auth.exchange_api_token(s, api.state.auth_keys, limiter, good, "c", "10.2.0.1", 900)


def test_tampered_or_foreign_jwt_is_refused(api: Api) -> None:
    token = api.login_new("a@example.com")
    head, body, sig = token.split(".")
    with api.state.db.engine.connect() as conn:
        actor = auth.authenticate(conn, api.state.auth_keys, token)
        assert actor.account.email == "a@example.com"
        with pytest.raises(NotAuthenticated):
            auth.authenticate(conn, api.state.auth_keys, f"{head}.{body}.{sig[:-2]}xx")
        other = auth.AuthKeys(token_hash=b"x" * 32, jwt_signing=b"y" * 32)
        with pytest.raises(NotAuthenticated):
            auth.authenticate(conn, other, token)


def test_grants_are_pruned_a_day_after_expiry(api: Api) -> None:
    from datetime import timedelta

    from homeport.store.types import utcnow

    api.login_new("a@example.com")
    with api.state.db.session(write=True) as s:
        s.query(AccessGrant).one().expires_at = utcnow() - timedelta(days=2)
    with api.state.db.session(write=True) as s:
        auth.prune_grants(s)
    with api.state.db.session() as s:
        assert s.query(AccessGrant).count() == 0
