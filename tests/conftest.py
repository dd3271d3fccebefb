"""Shared fixtures: a migrated database per test, the app, and API helpers.

The store is a SQLite file by default; with ``HOMEPORT_TEST_DATABASE=postgres`` (as
``make test``'s second pass sets it) every test gets its own PostgreSQL database,
copied from a migrated template in a cluster this test run starts itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from homeport.settings import Settings
from homeport.store.migrate import upgrade
from homeport.web.app import create_app
from homeport.web.state import AppState
from tests.helpers import Api
from tests.pg_cluster import Cluster
from tests.stores import ON_POSTGRES, TEMPLATE, Databases


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One PostgreSQL server per test process (each xdist worker starts its own)."""
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def migrated_db_template(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Path | str:
    """One migrated database; each test gets a copy (migrating each time is slow):
    a file on SQLite, a template database on PostgreSQL."""
    if ON_POSTGRES:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        cluster.admin(f'CREATE DATABASE "{TEMPLATE}"')
        upgrade(cluster.url(TEMPLATE))
        return TEMPLATE
    path = tmp_path_factory.mktemp("template") / "homeport.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def databases(
    migrated_db_template: Path | str, request: pytest.FixtureRequest
) -> Iterator[Databases]:
    """The session's maker of fresh databases (see ``Databases``)."""
    cluster: Cluster | None = request.getfixturevalue("pg_cluster") if ON_POSTGRES else None
    made = Databases(migrated_db_template, cluster)
    yield made
    if cluster is not None:
        for name in made.made:
            cluster.drop_database(name)


@pytest.fixture
def database_url(
    tmp_path: Path, migrated_db_template: Path | str, request: pytest.FixtureRequest
) -> Iterator[str | None]:
    """A fresh migrated database for one test: its URL on PostgreSQL, None on SQLite
    (the copied file in the data dir is the default)."""
    if not ON_POSTGRES:
        yield None
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = cluster.create_database(template=str(migrated_db_template))
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture
def settings(
    tmp_path: Path, migrated_db_template: Path | str, database_url: str | None
) -> Settings:
    """Settings over a fresh data dir and a fresh copy of the migrated database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {"HOMEPORT_DATA_DIR": str(data_dir), "HOMEPORT_WORKER": "0"}
    if database_url is None:
        shutil.copy(migrated_db_template, data_dir / "homeport.db")
    else:
        env["HOMEPORT_DATABASE_URL"] = database_url
    return Settings.from_env(env)


@pytest.fixture
def state(settings: Settings) -> Iterator[AppState]:
    """The app state (database and keys) for one test."""
    st = AppState.build(settings)
    yield st
    st.db.dispose()


@pytest.fixture
def api(settings: Settings, state: AppState) -> Iterator[Api]:
    """An in-process client that records every response for secrecy checks."""
    app = create_app(settings, state)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, state)


@pytest.fixture
def admin(api: Api) -> str:
    """A platform admin's access token."""
    return api.login_new("root@example.com", admin=True)
