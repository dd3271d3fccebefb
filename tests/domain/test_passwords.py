"""Password hashing with argon2id."""

from __future__ import annotations

from homeport.domain.passwords import hash_password, password_problem, verify_password


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")


def test_same_password_hashes_differently() -> None:
    assert hash_password("a password") != hash_password("a password")


def test_missing_or_garbage_hash_never_verifies() -> None:
    assert not verify_password(None, "homeport-dummy-password")
    assert not verify_password("not-a-hash", "anything")


def test_password_rules() -> None:
    assert password_problem("short") is not None
    assert password_problem("x" * 2000) is not None
    assert password_problem("long enough") is None
