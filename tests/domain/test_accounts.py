"""Accounts: email rules, usernames, machine users."""

from __future__ import annotations

import pytest

from homeport.domain import accounts
from homeport.domain.errors import Conflict, Invalid
from homeport.web.state import AppState


def test_emails_differing_only_in_case_collide(state: AppState) -> None:
    with state.db.session(write=True) as s:
        accounts.create_account(s, accounts.NewAccount(email="Ada@Example.com"))
    with state.db.session(write=True) as s, pytest.raises(Conflict):
        accounts.create_account(s, accounts.NewAccount(email="ada@example.COM"))
    with state.db.session() as s:
        found = accounts.find_by_email(s, "ADA@EXAMPLE.COM")
        assert found is not None and found.email == "Ada@example.com"


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@", "@b.c", "a b@c.d", "x" * 250 + "@e.com"])
def test_invalid_emails_are_refused(state: AppState, bad: str) -> None:
    with state.db.session(write=True) as s, pytest.raises(Invalid) as info:
        accounts.create_account(s, accounts.NewAccount(email=bad))
    assert "email" in info.value.detail
    with state.db.session() as s:
        assert accounts.list_accounts(s) == []


def test_usernames_are_derived_and_unique(state: AppState) -> None:
    with state.db.session(write=True) as s:
        a = accounts.create_account(s, accounts.NewAccount(email="ci.bot@one.example"))
        b = accounts.create_account(s, accounts.NewAccount(email="ci.bot@two.example"))
    assert a.username == "ci.bot"
    assert b.username == "ci.bot-2"


def test_machine_user_has_no_password(state: AppState) -> None:
    with state.db.session(write=True) as s:
        bot = accounts.create_account(s, accounts.NewAccount(email="bot@x.io", kind="machine"))
    assert bot.kind == "machine" and bot.password_hash is None


def test_short_password_is_refused(state: AppState) -> None:
    with state.db.session(write=True) as s, pytest.raises(Invalid):
        accounts.create_account(s, accounts.NewAccount(email="p@x.io", password="short"))
