"""The revocation counter's shadow in shared memory (SQLite): a hit asks the database
nothing, a commit that moves the counter is seen by the next read in any process, and
a lost advance is caught by the periodic database read."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update

from homeport.domain import auth
from homeport.domain.errors import NotAuthenticated
from homeport.settings import Settings
from homeport.store import revocations
from homeport.store.migrate import upgrade
from homeport.store.models import AccessGrant
from homeport.store.revocation_mirror import Mirror, mirror_for, mirror_path
from tests.helpers import Api, statements


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file: the mirror serves SQLite files, so these tests use one
    on the PostgreSQL pass too."""
    path = tmp_path_factory.mktemp("mirror") / "homeport.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings over a fresh data dir holding a copy of the migrated SQLite file."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(sqlite_template, data_dir / "homeport.db")
    return Settings.from_env({"HOMEPORT_DATA_DIR": str(data_dir), "HOMEPORT_WORKER": "0"})


def generation(api: Api) -> int:
    mirror = mirror_for(api.state.db.engine)
    assert mirror is not None
    return mirror.value()


def test_the_mirror_lives_beside_the_database_file_and_is_private(api: Api) -> None:
    path = mirror_path(api.state.db.engine)
    assert path is not None and path.name.endswith(".db-revocations")
    assert mirror_for(api.state.db.engine) is mirror_for(api.state.db.engine)  # one per file
    assert path.stat().st_mode & 0o777 == 0o600
    assert mirror_path(create_engine("sqlite://")) is None  # in memory: nobody to share


def test_a_hit_runs_no_statement_while_the_mirror_stands(api: Api) -> None:
    token = api.login_new("ada@example.com")
    cache = auth.GrantCache(api.state.db.engine)
    cache.authenticate(api.state.auth_keys, token)
    with statements(api.state.db) as seen:
        for _ in range(5):
            assert cache.authenticate(api.state.auth_keys, token).account.email == (
                "ada@example.com"
            )
    assert seen == []


def test_a_commit_that_revokes_advances_the_mirror_after_it_commits(api: Api) -> None:
    token = api.login_new("ada@example.com")
    before = generation(api)
    with api.state.db.session(write=True) as s:
        auth.revoke(s, api.state.auth_keys, token)
        s.flush()  # the counter moved in the transaction...
        assert generation(api) == before  # ...but readers are told only once it commits
    assert generation(api) == before + 1


def test_a_rolled_back_revocation_leaves_the_mirror(api: Api) -> None:
    token = api.login_new("ada@example.com")
    before = generation(api)
    with pytest.raises(RuntimeError), api.state.db.session(write=True) as s:
        auth.revoke(s, api.state.auth_keys, token)
        s.flush()
        raise RuntimeError("changed my mind")
    assert generation(api) == before
    cache = auth.GrantCache(api.state.db.engine)
    assert cache.authenticate(api.state.auth_keys, token).account.email == "ada@example.com"


def test_another_process_revoking_ends_the_hit_at_once(api: Api) -> None:
    token = api.login_new("ada@example.com")
    cache = auth.GrantCache(api.state.db.engine, ttl=3600)
    cache.authenticate(api.state.auth_keys, token)
    script = textwrap.dedent(
        """
        import sys
        from sqlalchemy import update
        from homeport.store.db import Database
        from homeport.store.models import AccessGrant
        db = Database(sys.argv[1])
        with db.session(write=True) as s:
            s.execute(update(AccessGrant).values(revoked=True))
        db.dispose()
        """
    )
    before = generation(api)
    subprocess.run([sys.executable, "-c", script, api.state.db.url], check=True, timeout=60)
    assert generation(api) == before + 1  # the other process's commit, seen in our memory
    with pytest.raises(NotAuthenticated):
        cache.authenticate(api.state.auth_keys, token)


def test_a_lost_advance_is_caught_by_the_periodic_database_read(api: Api) -> None:
    token = api.login_new("ada@example.com")
    cache = auth.GrantCache(api.state.db.engine, ttl=3600)
    cache._counter.recheck = 0.3  # the default is a second; the test waits less
    cache.authenticate(api.state.auth_keys, token)
    # A process that died between its commit and the advance: the counter moved in the
    # database, the mirror did not.
    with api.state.db.engine.begin() as conn:
        conn.execute(revocations.BUMP)
        conn.execute(update(AccessGrant).values(revoked=True))
    time.sleep(0.4)
    with pytest.raises(NotAuthenticated):
        cache.authenticate(api.state.auth_keys, token)


def test_advancing_is_shared_between_mappings(tmp_path: Any) -> None:
    one, two = Mirror(tmp_path / "m"), Mirror(tmp_path / "m")
    assert one.value() == two.value() == 0
    one.advance()
    two.advance()
    assert one.value() == two.value() == 2
