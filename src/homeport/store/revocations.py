"""The shared revocation counter: moved by every change that may end a credential.

Processes cache the access grants they validated (domain/auth.py ``GrantCache``) and
trust an entry only while ``revocation_counter.value`` is the one they read when they
validated it. So every change that could make a validated grant invalid must move the
counter *in the same transaction*; the session hooks below do it for the ORM:

- an account changed in any column (deactivated, admin flag, kind, names: the cached
  actor is a snapshot of the whole row) or deleted;
- an API token deleted (its grants cascade) or its ``expires_at`` or owner changed
  (``last_used_at``, written on every exchange, is no revocation);
- an access grant changed (revoked, expiry moved) or deleted;
- a bulk ORM ``update``/``delete`` of any of these tables (pass the execution option
  ``homeport_no_revocation=True`` for one that ends nothing, like pruning grants that
  expired long ago).

Writes that bypass the ORM must call :func:`bump` themselves (with their session, or
with a connection and then :func:`advanced` once committed). New rows never bump: a
grant nobody has validated yet is in no cache. On SQLite, readers watch the counter's
shadow in shared memory (store/revocation_mirror.py), advanced after each such commit.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, event, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from homeport.store.models import AccessGrant, Account, ApiToken, RevocationCounter
from homeport.store.revocation_mirror import mirror_for

BUMP = (
    update(RevocationCounter)
    .where(RevocationCounter.id == 1)
    .values(value=RevocationCounter.value + 1)
)
READ = select(RevocationCounter.value).where(RevocationCounter.id == 1)
# The same read as plain SQL, for callers on a raw DB-API cursor.
READ_SQL = "SELECT value FROM revocation_counter WHERE id = 1"

_TABLES = frozenset(m.__tablename__ for m in (Account, ApiToken, AccessGrant))
_TOKEN_FIELDS = ("expires_at", "account_id")


# Marks a session whose transaction moved the counter: its commit advances the mirror.
_BUMPED = "homeport_revocation_bumped"


def bump(conn: Connection | Session) -> None:
    """Move the counter in the caller's transaction. Given a bare connection, call
    :func:`advanced` once its transaction committed (a session does it itself)."""
    if isinstance(conn, Session):
        conn.info[_BUMPED] = True
        conn = conn.connection()
    conn.execute(BUMP)


def advanced(engine: Engine) -> None:
    """Tell this machine's readers that a committed change moved the counter."""
    mirror = mirror_for(engine)
    if mirror is not None:
        mirror.advance()


def current(conn: Connection) -> int | None:
    """The counter's value; None if the row is missing (then trust no cache)."""
    value = conn.execute(READ).scalar()
    return None if value is None else int(value)


class CounterReader:
    """Reads the counter once per request, as cheaply as the store allows.

    SQLite: while the shared-memory mirror has not moved since the last read of the
    database, and that read is less than ``recheck`` seconds old, its value stands
    (no statement at all); otherwise one connection of its own, in autocommit, reads
    it with a single statement that sees every commit made before it (WAL readers
    never wait), without a pool checkout, BEGIN and rollback around it. Other stores:
    a pooled connection, every time.
    """

    def __init__(self, engine: Engine, recheck: float = 1.0) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.recheck = recheck
        self._mirror = mirror_for(engine) if self.is_sqlite else None
        # (mirror generation read before, counter read, monotonic time it stands until)
        self._seen: tuple[int, int, float] | None = None
        self._lock = threading.Lock()
        self._conn: Any = None

    def read(self) -> int | None:
        """The counter's value now; None if its row is missing (trust no cache)."""
        if not self.is_sqlite:
            with self.engine.connect() as conn:
                return current(conn)
        mirror, generation = self._mirror, 0
        if mirror is not None:
            # Before the database: a commit seen below was advanced after it.
            generation = mirror.value()
            seen = self._seen
            if seen is not None and seen[0] == generation and time.monotonic() < seen[2]:
                return seen[1]
        with self._lock:
            try:
                value = self._read_sqlite()
            except Exception:
                self._close()  # a broken connection: try once more on a new one
                value = self._read_sqlite()
        if mirror is not None:
            self._seen = (
                None if value is None else (generation, value, time.monotonic() + self.recheck)
            )
        return value

    def _read_sqlite(self) -> int | None:
        if self._conn is None:
            # The engine's connect hook made it autocommit, WAL, with a busy timeout.
            pooled = self.engine.raw_connection()
            pooled.detach()  # ours now: closing it closes the connection
            self._conn = pooled.dbapi_connection
        row = self._conn.execute(READ_SQL).fetchone()
        return None if row is None else int(row[0])

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close the connection of its own (a new one opens on the next read)."""
        with self._lock:
            self._close()


def _ends_a_credential(session: Session) -> bool:
    for obj in session.deleted:
        if isinstance(obj, (Account, ApiToken, AccessGrant)):
            return True
    for obj in session.dirty:
        if isinstance(obj, (Account, AccessGrant)):
            if session.is_modified(obj, include_collections=False):
                return True
        elif isinstance(obj, ApiToken):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in _TOKEN_FIELDS):
                return True
    return False


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    if _ends_a_credential(session):
        # Core on the session's connection: no autoflush, so no recursion.
        bump(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get("homeport_no_revocation", False):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _TABLES:
        bump(state.session)


@event.listens_for(Session, "after_commit")
def _advance_after_commit(session: Session) -> None:
    if session.info.pop(_BUMPED, False):
        bind = session.get_bind()
        advanced(bind if isinstance(bind, Engine) else bind.engine)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_BUMPED, None)
