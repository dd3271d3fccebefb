"""CSRF protection: a synchronizer token tied to the session, checked on every POST.

The token is the session's CSRF secret, which lives only inside the signed, HttpOnly
session cookie and in the pages the server renders for that session. Another site can
make the browser send the cookie (SameSite=Lax already stops most of that), but cannot
read the token to put it in the form.
"""

from __future__ import annotations

import hmac

from homeport.web.console.sessions import ConsoleSession

FIELD = "csrf_token"
# The hidden field of forms that must never be acted on twice (creating API tokens).
ONCE_FIELD = "form_nonce"


class CsrfRefused(Exception):
    """The POST did not carry this session's CSRF token."""


def check(session: ConsoleSession | None, submitted: object) -> None:
    """Raise CsrfRefused unless ``submitted`` is the session's token."""
    if session is None or not isinstance(submitted, str) or not submitted:
        raise CsrfRefused()
    if not hmac.compare_digest(submitted.encode(), session.csrf.encode()):
        raise CsrfRefused()
