"""Request ids: in every HTTP request's log lines and in ``X-Request-Id`` (set by
``web/edge.py``).

A caller (or a proxy) may send its own ``X-Request-Id`` of at most 64 characters of
``[A-Za-z0-9._-]``; anything else is replaced by a fresh random id.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Fresh ids: a random prefix per process and a counter, 32 hex digits like a random id
# but without a system call per request. They correlate log lines; they guard nothing.
_PREFIX = secrets.token_hex(8)
_NEXT = itertools.count(1)


def _new_prefix() -> None:
    global _PREFIX
    _PREFIX = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_prefix)  # a forked child never repeats ours


def fresh_id() -> str:
    """A request id no other request of any process has (with 2^64 odds)."""
    return f"{_PREFIX}{next(_NEXT) & 0xFFFFFFFFFFFFFFFF:016x}"


def sane_id(raw: bytes) -> str | None:
    """The caller's ``X-Request-Id`` value as an id, if it is a sane one."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _SANE.fullmatch(text) else None
