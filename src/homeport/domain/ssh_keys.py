"""SSH public keys of accounts: parsing, validation, fingerprints."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain.errors import Conflict, Invalid, NotFound
from homeport.store.models import Account, SshKey

MIN_RSA_BITS = 2048
MAX_KEY_LENGTH = 16_384
MAX_ID = 2**63


@dataclass(frozen=True)
class ParsedKey:
    """A validated key: its canonical ``type base64`` text, comment and fingerprint."""

    canonical: str
    comment: str
    fingerprint: str


def parse(value: str) -> ParsedKey:
    """Parse an OpenSSH public key line; raises Invalid naming the ``value`` field."""
    text = (value or "").strip()
    if not text:
        raise Invalid.field("value", "This field is required.")
    if len(text) > MAX_KEY_LENGTH or "\n" in text:
        raise Invalid.field("value", "Give one public key on a single line.")
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise Invalid.field("value", "This is not an OpenSSH public key.")
    try:
        key = load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (ValueError, UnsupportedAlgorithm, binascii.Error):
        raise Invalid.field("value", "This is not a valid OpenSSH public key.") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise Invalid.field("value", f"RSA keys must have at least {MIN_RSA_BITS} bits.")
    elif not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise Invalid.field("value", "Only ed25519, ecdsa and rsa keys are accepted.")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return ParsedKey(
        canonical=f"{parts[0]} {parts[1]}",
        comment=parts[2].strip() if len(parts) > 2 else "",
        fingerprint=f"SHA256:{digest}",
    )


def add_key(session: Session, account: Account, value: str, title: str | None) -> SshKey:
    """Add a key to ``account``; a key already on any account is a Conflict."""
    parsed = parse(value)
    title = (title or parsed.comment or parsed.fingerprint).strip()
    if len(title) > 256:
        raise Invalid.field("title", "At most 256 characters.")
    if session.scalar(select(SshKey.key_id).where(SshKey.fingerprint == parsed.fingerprint)):
        raise Conflict("SSH key can not be duplicated.", {"value": ["This key is already in use."]})
    row = SshKey(
        account_id=account.id,
        title=title,
        value=parsed.canonical + (f" {parsed.comment}" if parsed.comment else ""),
        fingerprint=parsed.fingerprint,
    )
    session.add(row)
    session.flush()
    return row


def list_keys(session: Session, account: Account) -> Sequence[SshKey]:
    """The account's keys, oldest first."""
    query = select(SshKey).where(SshKey.account_id == account.id).order_by(SshKey.key_id)
    return session.scalars(query).all()


def get_key(session: Session, key_id: int) -> SshKey:
    """A key by id; raises NotFound (also for ids no database integer can hold)."""
    if not 0 < key_id < MAX_ID:
        raise NotFound("SSH key not found.")
    row = session.get(SshKey, key_id)
    if row is None:
        raise NotFound("SSH key not found.")
    return row
