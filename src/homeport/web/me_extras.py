"""The project list of the legacy ``/me`` (filled in once projects exist)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from homeport.store.models import Account


def projects_of(session: Session, account: Account, request: Request) -> list[dict[str, Any]]:
    """The projects ``account`` can see, in ``/me``'s shape."""
    return []
