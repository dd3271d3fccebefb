"""`homeport doctor`: one line per check, exit 1 only when a check failed."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from homeport import doctor
from homeport.doctor import FAIL, OK, WARN, DiskThresholds, Result
from homeport.settings import Settings
from homeport.store.blobstore import LocalBlobStore
from homeport.store.migrate import alembic_config, upgrade
from tests.stores import ON_POSTGRES, Databases

Usage = namedtuple("Usage", "total used free")
GIB = 1 << 30
PLENTY = Usage(total=1000 * GIB, used=100 * GIB, free=900 * GIB)


def plenty(_path: Path) -> Usage:
    """A disk with room to spare, whatever this machine's disk holds."""
    return PLENTY


def head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def sqlite_settings(data_dir: Path) -> Settings:
    return Settings.from_env({"HOMEPORT_DATA_DIR": str(data_dir)})


def migrated(tmp_path: Path) -> Path:
    """A fresh data dir with a SQLite database migrated by ``upgrade``."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    upgrade(sqlite_settings(data_dir).database_url)
    return data_dir


def doctor_run(settings: Settings) -> tuple[int, dict[str, Result], str]:
    out = io.StringIO()
    code = doctor.run_doctor(settings, out, env={}, disk_usage=plenty, timeout=10)
    results: dict[str, Result] = {}
    for line in out.getvalue().splitlines():  # "status  check  detail", columns aligned
        status, rest = line.split("  ", 1)
        name, _, detail = rest.strip().partition("  ")
        results[name] = Result(name, status.strip(), detail.strip())
    return code, results, out.getvalue()


def test_a_healthy_fresh_data_dir_passes(tmp_path: Path) -> None:
    code, results, text = doctor_run(sqlite_settings(migrated(tmp_path)))
    assert code == 0, text
    assert all(r.status in (OK, WARN) for r in results.values()), text
    assert results["schema"].status == OK
    assert head() in results["schema"].detail
    assert results["database"].status == OK
    assert results["data dir"].status == OK
    assert results["clock"].detail.startswith("single node (SQLite)")
    assert len(results) == 10


def test_the_homeport_executable_checks_a_healthy_deployment(
    tmp_path: Path, databases: Databases
) -> None:
    """The real `homeport doctor --json`; on PostgreSQL the clock is compared too."""
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    extra = databases.fresh(data_dir) if ON_POSTGRES else {}
    if not ON_POSTGRES:
        upgrade(sqlite_settings(data_dir).database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEPORT_")}
    env |= {"HOMEPORT_DATA_DIR": str(data_dir), **extra}
    (data_dir / "backups").mkdir(mode=0o700)  # so the probe really writes
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "homeport"), "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    results = {r["check"]: r for r in json.loads(proc.stdout)}
    assert set(next(iter(results.values()))) == {"check", "status", "detail"}
    # The machine's real free disk is not this test's business: only the exit code
    # must agree with it.
    others = {name: r["status"] for name, r in results.items() if name != "disk"}
    assert set(others.values()) <= {OK, WARN}, proc.stdout
    assert others["schema"] == OK and others["blob store"] == OK
    assert "wrote, read back and deleted" in results["blob store"]["detail"]
    assert LocalBlobStore(data_dir / "backups").list_keys() == []
    assert proc.returncode == (1 if results["disk"]["status"] == FAIL else 0), proc.stderr
    if ON_POSTGRES:
        assert "database's clock as reference" in results["clock"]["detail"]


def test_an_unmigrated_database_fails(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    sqlite3.connect(data_dir / "homeport.db").close()
    code, results, text = doctor_run(sqlite_settings(data_dir))
    assert code == 1
    assert results["database"].status == OK
    assert results["schema"].status == FAIL
    assert "run homeport migrate" in results["schema"].detail
    assert text.splitlines()[4].startswith("FAIL  schema")


def test_a_database_without_its_file_fails_and_is_not_created(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o700)
    code, results, _ = doctor_run(sqlite_settings(data_dir))
    assert code == 1
    assert results["database"].status == FAIL
    assert "run homeport migrate" in results["schema"].detail
    assert not (data_dir / "homeport.db").exists()


def test_a_database_newer_than_the_code_fails_naming_both(tmp_path: Path) -> None:
    data_dir = migrated(tmp_path)
    with sqlite3.connect(data_dir / "homeport.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.close()
    code, results, _ = doctor_run(sqlite_settings(data_dir))
    assert code == 1
    schema = results["schema"]
    assert schema.status == FAIL
    assert "9999_from_the_future" in schema.detail and head() in schema.detail
    assert "newer" in schema.detail


def test_an_older_database_is_told_to_migrate(tmp_path: Path) -> None:
    data_dir = migrated(tmp_path)
    with sqlite3.connect(data_dir / "homeport.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001_identity'")
    conn.close()
    status, detail = doctor.check_schema(sqlite_settings(data_dir).database_url)
    assert status == FAIL
    assert "0001_identity" in detail and "run homeport migrate" in detail


def test_a_world_writable_data_dir_warns(tmp_path: Path) -> None:
    data_dir = migrated(tmp_path)
    data_dir.chmod(0o777)
    (data_dir / "git").mkdir(mode=0o700)
    (data_dir / "git").chmod(0o775)
    code, results, _ = doctor_run(sqlite_settings(data_dir))
    assert code == 0
    assert results["data dir"].status == WARN
    assert "chmod 700" in results["data dir"].detail
    assert results["git dir"].status == WARN
    assert results["environments dir"].status == OK  # absent: not created yet


def test_a_missing_data_dir_fails_and_stays_missing(tmp_path: Path) -> None:
    data_dir = tmp_path / "nowhere"
    code, results, _ = doctor_run(sqlite_settings(data_dir))
    assert code == 1
    assert results["data dir"].status == FAIL
    assert "does not exist" in results["data dir"].detail
    assert not data_dir.exists()


def test_a_file_as_data_dir_fails(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert doctor.check_dir(tmp_path / "file", required=True)[0] == FAIL


@pytest.mark.parametrize(
    ("free_gib", "total_gib", "status"),
    [
        (900, 1000, OK),
        (90, 1000, WARN),  # under 10 %
        (4, 20, WARN),  # 20 %, but under 5 GiB
        (5, 1000, FAIL),  # under 1 %
        (0, 0, FAIL),
    ],
)
def test_free_disk_thresholds(tmp_path: Path, free_gib: int, total_gib: int, status: str) -> None:
    def usage(path: Path) -> Usage:
        assert path == tmp_path
        return Usage(total_gib * GIB, (total_gib - free_gib) * GIB, free_gib * GIB)

    assert doctor.check_disk(tmp_path, usage)[0] == status


def test_disk_thresholds_can_be_injected(tmp_path: Path) -> None:
    strict = DiskThresholds(warn_fraction=0.99, warn_bytes=0, fail_fraction=0.95)
    assert doctor.check_disk(tmp_path, plenty, strict)[0] == FAIL
    # A missing data dir is measured where it would be.
    status, detail = doctor.check_disk(tmp_path / "a" / "b", plenty)
    assert status == OK and str(tmp_path) in detail


@pytest.mark.parametrize(
    ("skew", "status"), [(0.1, OK), (-1.9, OK), (2.5, WARN), (-29, WARN), (31, FAIL), (-60, FAIL)]
)
def test_clock_skew_thresholds(skew: float, status: str) -> None:
    verdict, detail = doctor.clock_result(skew)
    assert verdict == status
    assert "database's clock as reference" in detail


def test_sqlite_has_no_clock_to_compare(tmp_path: Path) -> None:
    assert doctor.check_clock(f"sqlite:///{tmp_path}/x.db") == (
        OK,
        "single node (SQLite): no other clock to compare with",
    )


def test_a_check_that_raises_is_a_fail_line() -> None:
    def broken() -> tuple[str, str]:
        raise RuntimeError("boom")

    [result] = doctor.run_checks([("broken", broken)], timeout=5)
    assert result == Result("broken", FAIL, "unexpected error: RuntimeError: boom")


def test_a_check_that_hangs_is_a_fail_line() -> None:
    release = threading.Event()

    def hangs() -> tuple[str, str]:
        release.wait(30)
        return OK, "too late"

    start = time.monotonic()
    try:
        results = doctor.run_checks([("hangs", hangs), ("quick", lambda: (OK, "fine"))], 0.2)
    finally:
        release.set()
    assert time.monotonic() - start < 2
    assert results == [
        Result("hangs", FAIL, "did not finish within 0.2 s"),
        Result("quick", OK, "fine"),
    ]


def test_a_bad_blob_store_url_fails(tmp_path: Path) -> None:
    [result] = doctor.run_checks(
        [("blob store", lambda: doctor.check_blob_store("ftp://example.com/x", {}))], 5
    )
    assert result.status == FAIL and "file:// or s3://" in result.detail


def test_missing_bubblewrap_only_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("homeport.runtime.sandbox.find_bwrap", lambda: None)
    status, detail = doctor.check_bubblewrap("bwrap", 5)
    assert status == WARN and "apt-get install bubblewrap" in detail
    assert doctor.check_bubblewrap("none", 5)[0] == OK


def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = bin_dir / "git"
    git.write_text(f"#!/bin/sh\necho 'git version {version}'\n")
    git.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_an_old_git_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch, "2.30.2")
    status, detail = doctor.check_git(5)
    assert status == FAIL and "2.30.2" in detail and "2.38" in detail


def test_a_new_enough_git_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch, "2.38.0.windows.1")
    assert doctor.check_git(5) == (OK, "git 2.38.0")


def test_a_missing_git_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert doctor.check_git(5)[0] == FAIL
