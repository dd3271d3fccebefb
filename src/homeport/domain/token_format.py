"""The API token format: ``hpt_`` + 32 random base62 characters + a 6-character checksum.

32 base62 characters carry about 190 random bits. The checksum is CRC32 of the prefix
and random part in base62, so scanners can recognise a leaked token offline and typos
are rejected before any database look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import zlib

PREFIX = "hpt_"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
ALPHABET = string.digits + string.ascii_letters


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        out.append(ALPHABET[rem])
    return "".join(reversed(out))


def checksum(body: str) -> str:
    """The 6-character base62 CRC32 of ``body`` (prefix plus random part)."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate() -> str:
    """A new random API token."""
    body = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def is_well_formed(token: str) -> bool:
    """True when ``token`` has our prefix, length, alphabet and a matching checksum."""
    if len(token) != TOKEN_LENGTH or not token.startswith(PREFIX):
        return False
    rest = token[len(PREFIX) :]
    if any(c not in ALPHABET for c in rest):
        return False
    body, check = token[:-CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    return hmac.compare_digest(checksum(body), check)


def keyed_hash(key: bytes, token: str) -> str:
    """HMAC-SHA256 of ``token`` under the server's token key, as hex (what we store)."""
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def hint(token: str) -> str:
    """The last four characters, shown so people can tell their tokens apart."""
    return token[-4:]
