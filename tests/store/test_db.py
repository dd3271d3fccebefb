"""The database wrapper: SQLite write sessions queue on a lock that any thread may end."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from homeport.store.db import Database


def test_write_session_may_end_on_another_thread(tmp_path: Path) -> None:
    """FastAPI may close a request's session on a different worker thread."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    session_cm = db.session(write=True)
    session = session_cm.__enter__()
    session.execute(text("CREATE TABLE t (x INTEGER)"))
    errors: list[BaseException] = []

    def finish() -> None:
        try:
            session_cm.__exit__(None, None, None)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=finish)
    thread.start()
    thread.join()
    assert errors == []
    with db.session(write=True) as s:  # the lock was released: this does not hang
        s.execute(text("INSERT INTO t VALUES (1)"))
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 1
    db.dispose()


def test_writers_are_serialised_and_all_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'y.db'}")
    with db.session(write=True) as s:
        s.execute(text("CREATE TABLE c (n INTEGER)"))
        s.execute(text("INSERT INTO c VALUES (0)"))

    def bump() -> None:
        for _ in range(50):
            with db.session(write=True) as s:
                n = s.execute(text("SELECT n FROM c")).scalar_one()
                s.execute(text("UPDATE c SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.session() as s:
        assert s.execute(text("SELECT n FROM c")).scalar_one() == 200
    db.dispose()
