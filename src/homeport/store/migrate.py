"""Apply Alembic migrations programmatically (``homeport migrate`` and start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from homeport.store.db import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock key held while migrating ("hmprt" in ASCII).
MIGRATION_LOCK = 0x686D707274


class SchemaTooNew(Exception):
    """The database was migrated by a newer Homeport than this one."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revisions(url: str) -> tuple[str, ...]:
    """The schema revisions recorded in the database (empty when never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def check_not_newer(url: str) -> None:
    """Raise SchemaTooNew when the database holds a revision this code does not know."""
    cfg = alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    for revision in current_revisions(url):
        try:
            known = script.get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise SchemaTooNew(
                f"The database schema is at revision {revision}, newer than this Homeport "
                f"knows (its newest is {head}): run the Homeport release that migrated it."
            )


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; refuse a newer one.

    On PostgreSQL the migration holds an advisory lock, so several nodes starting
    at once migrate once."""
    check_not_newer(url)
    command.upgrade(alembic_config(url), "head")
