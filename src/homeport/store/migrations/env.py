"""Alembic environment: the URL comes from the caller's config, never a file."""

from __future__ import annotations

from alembic import context

from homeport.store.db import make_engine
from homeport.store.migrate import MIGRATION_LOCK
from homeport.store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def run_migrations() -> None:
    """Apply migrations online against ``url``."""
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several nodes may start at once: one migrates, the others wait here
                # and then find the schema current (the lock ends with the transaction).
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            context.run_migrations()
    engine.dispose()


run_migrations()
