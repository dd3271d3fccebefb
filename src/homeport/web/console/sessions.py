"""Console sessions: a signed cookie, so no session table is needed.

The cookie holds the account id, a random session id, the time it was issued, the CSRF
secret of the session and a mark of the account's password hash. It is signed with
HMAC-SHA256 under a key derived from the server secret; every request re-reads the
account, so deactivating it or changing its password ends its sessions at once, and a
session ends 12 hours after sign-in whatever happens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

COOKIE_NAME = "homeport_console"
COOKIE_PATH = "/console"
LIFETIME_SECONDS = 12 * 3600
# One-time form nonces remembered per session (enough for a few tabs of token forms).
MAX_USED_NONCES = 8
_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_id(nbytes: int = 18) -> str:
    """A URL-safe random string (session ids, CSRF secrets, form nonces)."""
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class ConsoleSession:
    """What the cookie says. ``account_id`` is None for a visitor who has not signed in:
    such a session only carries the CSRF secret of the sign-in form."""

    account_id: str | None
    sid: str
    issued_at: int
    csrf: str
    password_mark: str = ""
    used_nonces: tuple[str, ...] = ()

    @property
    def signed_in(self) -> bool:
        """Whether this session belongs to an account."""
        return self.account_id is not None

    def with_used_nonce(self, nonce: str) -> ConsoleSession:
        """The same session, remembering that a one-time form was submitted."""
        kept = (*self.used_nonces, nonce)[-MAX_USED_NONCES:]
        return replace(self, used_nonces=kept)


class SessionCodec:
    """Signs, verifies and ages console session cookies."""

    def __init__(
        self,
        key: bytes,
        lifetime: int = LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.lifetime = lifetime
        self._clock = clock

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._key, f"{_VERSION}.{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def password_mark(self, password_hash: str | None) -> str:
        """A short keyed digest of the password hash: a new password ends old sessions."""
        digest = hmac.new(self._key, b"pw:" + (password_hash or "").encode(), hashlib.sha256)
        return _b64(digest.digest()[:12])

    def anonymous(self) -> ConsoleSession:
        """A fresh visitor session (for the sign-in form's CSRF token)."""
        return ConsoleSession(None, random_id(), int(self._clock()), random_id())

    def sign_in(self, account_id: str, password_hash: str | None) -> ConsoleSession:
        """A new session for ``account_id``: new id and CSRF secret (no fixation)."""
        return ConsoleSession(
            account_id,
            random_id(),
            int(self._clock()),
            random_id(),
            self.password_mark(password_hash),
        )

    def dumps(self, session: ConsoleSession) -> str:
        """The cookie value."""
        body = {
            "a": session.account_id,
            "s": session.sid,
            "i": session.issued_at,
            "c": session.csrf,
            "p": session.password_mark,
            "u": list(session.used_nonces),
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{_VERSION}.{payload}.{self._sign(payload)}"

    def loads(self, raw: str | None) -> ConsoleSession | None:
        """The session in a cookie value; None when absent, forged, malformed or expired."""
        if not raw or len(raw) > 4096:
            return None
        version, _, rest = raw.partition(".")
        payload, _, signature = rest.partition(".")
        if version != _VERSION or not payload or not signature:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            session = ConsoleSession(
                account_id=body["a"] if body["a"] is None else str(body["a"]),
                sid=str(body["s"]),
                issued_at=int(body["i"]),
                csrf=str(body["c"]),
                password_mark=str(body.get("p", "")),
                used_nonces=tuple(str(n) for n in body.get("u", []))[-MAX_USED_NONCES:],
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        age = self._clock() - session.issued_at
        if age < -60 or age > self.lifetime:  # a little clock skew is tolerated
            return None
        return session
