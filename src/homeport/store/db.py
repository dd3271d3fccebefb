"""Engine and session factory; SQLite gets WAL and foreign keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# Imported for its session hooks: every write that ends a credential moves the shared
# revocation counter in its own transaction, whichever process makes it.
from homeport.store import revocations as _revocations  # noqa: F401


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``; SQLite files use WAL with a busy timeout.

    ``hide_parameters``: a failed statement's error (and so a log line) shows the SQL
    but never the values, which may be secrets or personal data.
    """
    if url.startswith("sqlite"):
        # SQLite connections are cheap; the pool must outgrow the web thread pool (40)
        # plus the worker's threads, so a burst of reads never waits for a connection.
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=80,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so "BEGIN IMMEDIATE" can be used for claims.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two writers never deadlock
            # on a read-then-write upgrade; readers are not blocked under WAL.
            write = conn.get_execution_options().get("homeport_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(
        url, hide_parameters=True, pool_pre_ping=True, pool_size=20, max_overflow=20
    )


class Database:
    """Owns the engine and hands out sessions with commit/rollback handled."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler sleeps in steps of up to
        # 100 ms; queueing this process's writers on a lock avoids those sleeps. A plain
        # Lock, since FastAPI may end a request's session on another thread than began it.
        self._write_lock = threading.Lock()

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._writer_turn() if write else nullcontext(), self._factory() as session:
            if write:
                session.connection(execution_options={"homeport_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def read_session(self) -> Session:
        """A plain session for reads; it connects on first use. The caller closes it."""
        return self._factory()

    def begin_write(self) -> Session:
        """A session that holds this process's writer turn and its write transaction.

        For callers that cannot use a ``with`` block across their work (the web layer
        commits in a dependency's teardown); ``end_write`` must follow, on any thread.
        """
        acquired = self._write_lock.acquire(timeout=30) if self.is_sqlite else False
        session = self._factory()
        session.info["homeport_writer_turn"] = acquired
        try:
            session.connection(execution_options={"homeport_write": True})
        except BaseException:
            self.end_write(session, commit=False)
            raise
        return session

    def end_write(self, session: Session, commit: bool) -> None:
        """Commit (or roll back) and close a ``begin_write`` session, freeing the turn."""
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        finally:
            try:
                session.close()
            finally:
                if session.info.pop("homeport_writer_turn", False):
                    self._write_lock.release()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Wait for this process's other SQLite writers; never block for ever (a nested
        write would then fall back to SQLite's own busy wait)."""
        if not self.is_sqlite:
            yield
            return
        acquired = self._write_lock.acquire(timeout=30)
        try:
            yield
        finally:
            if acquired:
                self._write_lock.release()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
