"""Which store the tests run on, and fresh databases for tests that build their own
settings (``HOMEPORT_TEST_DATABASE=postgres`` selects PostgreSQL)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from homeport.store.db import Database
from homeport.store.models import Base
from tests.pg_cluster import Cluster

ON_POSTGRES = os.environ.get("HOMEPORT_TEST_DATABASE", "sqlite") == "postgres"
TEMPLATE = "homeport_template"


class Databases:
    """Fresh migrated databases for tests that build their own settings: a file in the
    data dir on SQLite, a database of the test cluster on PostgreSQL. ``fresh`` and
    ``copy`` return the settings environment that points at it."""

    def __init__(self, template: Path | str, cluster: Cluster | None) -> None:
        self.template = template
        self.cluster = cluster
        self.made: list[str] = []

    def fresh(self, data_dir: Path) -> dict[str, str]:
        """A new migrated database for ``data_dir``."""
        if self.cluster is None:
            shutil.copy(self.template, data_dir / "homeport.db")
            return {}
        return self._create(str(self.template))

    def copy(self, env: dict[str, str]) -> dict[str, str]:
        """A copy of the database ``env`` points at (on SQLite the file travels with
        its data dir, so there is nothing to do). Nothing may be connected to it."""
        url = env.get("HOMEPORT_DATABASE_URL")
        if self.cluster is None or not url:
            return {}
        return self._create(url.rsplit("/", 1)[1])

    def _create(self, template: str) -> dict[str, str]:
        assert self.cluster is not None
        name = self.cluster.create_database(template=template)
        self.made.append(name)
        return {"HOMEPORT_DATABASE_URL": self.cluster.url(name)}


def stored_bytes(db: Database, data_dir: Path) -> bytes:
    """Everything the store holds, as bytes to search for a secret: the SQLite file
    and its WAL, or every row of every table on PostgreSQL."""
    if db.is_sqlite:
        db.dispose()  # checkpoint nothing into the file we did not also search
        return b"".join(p.read_bytes() for p in sorted(data_dir.glob("homeport.db*")))
    out: list[bytes] = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                out.append(repr(tuple(row)).encode())
    return b"\n".join(out)
