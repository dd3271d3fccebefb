"""Shared fixtures: a migrated SQLite file per test, the app, and API helpers."""

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


@pytest.fixture(scope="session")
def migrated_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file; each test gets a copy (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "homeport.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_db_template: Path) -> Settings:
    """Settings over a fresh data dir holding a copy of the migrated database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_db_template, data_dir / "homeport.db")
    return Settings.from_env({"HOMEPORT_DATA_DIR": str(data_dir), "HOMEPORT_WORKER": "0"})


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
