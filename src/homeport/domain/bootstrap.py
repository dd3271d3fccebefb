"""First start: make sure a platform admin exists."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from homeport.domain.access import apply_pending_invitations
from homeport.domain.accounts import NewAccount, create_account, find_by_email
from homeport.store.models import Account

# PostgreSQL advisory lock key held while the first admin is made ("admin" in ASCII).
BOOTSTRAP_LOCK = 0x61646D696E


def ensure_admin(session: Session, admin_email: str, data_dir: Path) -> str | None:
    """Create the first platform admin if there is none.

    Returns the generated password (also written to ``<data dir>/initial-admin-password``
    with mode 0600), or None when an admin already exists.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Nodes starting together on one database: one creates the admin, the others
        # wait here and then find it (the lock ends with the transaction).
        session.execute(text(f"SELECT pg_advisory_xact_lock({BOOTSTRAP_LOCK})"))
    if session.scalar(select(Account.id).where(Account.is_admin.is_(True)).limit(1)):
        return None
    existing = find_by_email(session, admin_email)
    if existing is not None:
        existing.is_admin = True
        return None
    password = secrets.token_urlsafe(18)
    admin = create_account(
        session,
        NewAccount(email=admin_email, password=password, is_admin=True, first_name="Admin"),
    )
    apply_pending_invitations(session, admin)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "initial-admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    os.chmod(path, 0o600)
    return password
