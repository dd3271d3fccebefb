"""Migrations: once, under a lock, on several nodes at once; never over a newer schema;
and a failed statement never shows its parameters (both stores)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.migrate import SchemaTooNew, current_revisions, upgrade
from tests.e2e.server import BIN
from tests.pg_cluster import Cluster


def test_a_newer_schema_is_refused_and_left_alone(settings: Settings) -> None:
    url = settings.database_url
    [head] = current_revisions(url)
    db = Database(url)
    with db.session(write=True) as s:
        s.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    db.dispose()
    with pytest.raises(SchemaTooNew, match="9999_from_the_future, newer than this Homeport"):
        upgrade(url)
    assert current_revisions(url) == ("9999_from_the_future",)
    assert head != "9999_from_the_future"


def test_an_up_to_date_schema_migrates_as_a_no_op(settings: Settings) -> None:
    before = current_revisions(settings.database_url)
    upgrade(settings.database_url)
    assert current_revisions(settings.database_url) == before


def test_nodes_migrating_at_once_on_postgresql_migrate_once(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    """Four real `homeport migrate` processes on one fresh database."""
    name = pg_cluster.create_database()
    url = pg_cluster.url(name)
    env = {**os.environ, "HOMEPORT_DATABASE_URL": url, "HOMEPORT_DATA_DIR": str(tmp_path)}
    try:
        procs = [
            subprocess.Popen(
                [str(BIN / "homeport"), "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        assert all(code == 0 for code, _, _ in outcomes), outcomes
        assert all(out == "Database is up to date.\n" for _, out, _ in outcomes)
        db = Database(url)
        with db.session() as s:
            assert s.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        db.dispose()
    finally:
        pg_cluster.drop_database(name)


def test_failed_statements_never_show_their_parameters(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "secret-value-7f3a9"
    db = Database(settings.database_url)
    insert = text(
        "INSERT INTO accounts (id, email, email_key, username, kind, is_admin, deactivated,"
        " first_name, last_name, created_at, updated_at)"
        " VALUES (:id, :email, :email, :id, 'human', false, false, '', '', :now, :now)"
    )
    params = {"id": "dup", "email": marker, "now": "2026-01-01 00:00:00"}
    with pytest.raises(IntegrityError) as caught, db.session(write=True) as s:
        s.execute(insert, params)
        s.execute(insert, params)
    db.dispose()
    assert marker not in str(caught.value)
    assert "parameters hidden" in str(caught.value)
    assert marker not in caplog.text
