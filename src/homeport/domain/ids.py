"""Random identifiers in Platform.sh's style."""

from __future__ import annotations

import secrets
import string

_LOWER_ALNUM = string.ascii_lowercase + string.digits


def short_id(length: int = 13) -> str:
    """Lowercase alphanumerics, like Platform.sh project and activity ids."""
    return "".join(secrets.choice(_LOWER_ALNUM) for _ in range(length))


def suffix(length: int = 7) -> str:
    """A short lowercase suffix (environment machine names)."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))
