"""API token format, checksum and hashing."""

from __future__ import annotations

import math

from homeport.domain import token_format


def test_generated_tokens_are_well_formed_and_unique() -> None:
    tokens = {token_format.generate() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith("hpt_")
        assert len(token) == token_format.TOKEN_LENGTH
        assert token_format.is_well_formed(token)


def test_random_part_carries_at_least_160_bits() -> None:
    bits = token_format.RANDOM_LENGTH * math.log2(len(token_format.ALPHABET))
    assert bits >= 160


def test_checksum_catches_any_single_character_change() -> None:
    token = token_format.generate()
    for i in range(len(token_format.PREFIX), len(token)):
        replacement = "A" if token[i] != "A" else "B"
        typo = token[:i] + replacement + token[i + 1 :]
        assert not token_format.is_well_formed(typo), i


def test_malformed_tokens_are_rejected() -> None:
    token = token_format.generate()
    assert not token_format.is_well_formed(token[:-1])
    assert not token_format.is_well_formed("xyz_" + token[4:])
    assert not token_format.is_well_formed(token[:10] + "-" + token[11:])
    assert not token_format.is_well_formed("")


def test_keyed_hash_depends_on_key_and_token() -> None:
    token = token_format.generate()
    h1 = token_format.keyed_hash(b"k" * 32, token)
    assert h1 == token_format.keyed_hash(b"k" * 32, token)
    assert h1 != token_format.keyed_hash(b"j" * 32, token)
    assert h1 != token_format.keyed_hash(b"k" * 32, token_format.generate())
    assert token not in h1 and len(h1) == 64


def test_hint_is_last_four_characters() -> None:
    token = token_format.generate()
    assert token_format.hint(token) == token[-4:]
