"""``homeport doctor``: check a deployment, one line per check.

Each check answers ``ok``, ``warn`` or ``FAIL`` with a short reason. The checks run in
daemon threads, each with its own time limit, so a hung database or S3 endpoint is
one FAIL line rather than a hung command; an unexpected exception in a check is a FAIL
line for that check. Nothing here changes the deployment, except the blob store probe,
which writes one small object and deletes it again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from homeport.settings import Settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
DEFAULT_TIMEOUT = 15.0
# How long a database connection may take to open before its check gives up.
CONNECT_TIMEOUT = 5
GIB = 1 << 30
# git merge-tree --write-tree (git/merging.py) needs git 2.38.
MIN_GIT = (2, 38)


@dataclass(frozen=True)
class Result:
    """One check's outcome, as printed and as ``--json`` gives it."""

    check: str
    status: str  # OK, WARN or FAIL
    detail: str


@dataclass(frozen=True)
class DiskThresholds:
    """Free space under which the disk check warns or fails."""

    warn_fraction: float = 0.10
    warn_bytes: int = 5 * GIB
    fail_fraction: float = 0.01


DiskUsage = Callable[[Path], Any]  # shutil.disk_usage's shape: .total, .used, .free

CheckFn = Callable[[], tuple[str, str]]


# --- running the checks ---------------------------------------------------------------


def run_checks(checks: list[tuple[str, CheckFn]], timeout: float) -> list[Result]:
    """Run every check at once in its own daemon thread; each gets ``timeout`` seconds
    from the start. A check still running then is a FAIL (its thread is abandoned)."""
    outcomes: dict[str, tuple[str, str]] = {}
    threads: list[tuple[str, threading.Thread]] = []

    def run(name: str, fn: CheckFn) -> None:
        try:
            outcomes[name] = fn()
        except Exception as exc:  # a broken check is a FAIL line, never a crash
            outcomes[name] = (FAIL, f"unexpected error: {type(exc).__name__}: {exc}")

    for name, fn in checks:
        thread = threading.Thread(target=run, args=(name, fn), name=f"doctor-{name}", daemon=True)
        thread.start()
        threads.append((name, thread))
    deadline = time.monotonic() + timeout
    results: list[Result] = []
    for name, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        outcome = outcomes.get(name)
        if thread.is_alive() or outcome is None:
            outcome = (FAIL, f"did not finish within {timeout:g} s")
        results.append(Result(name, *outcome))
    return results


def all_checks(
    settings: Settings,
    env: Mapping[str, str],
    *,
    disk_usage: DiskUsage = shutil.disk_usage,
    thresholds: DiskThresholds | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[tuple[str, CheckFn]]:
    """The checks of ``homeport doctor``, in the order they are printed."""
    limit = max(1.0, timeout - 1)  # subprocesses and connections stop a little earlier
    return [
        ("data dir", lambda: check_dir(settings.data_dir, required=True, refused=True)),
        ("git dir", lambda: check_dir(settings.git_dir, required=False)),
        ("environments dir", lambda: check_dir(settings.environments_dir, required=False)),
        ("database", lambda: check_database(settings.database_url)),
        ("schema", lambda: check_schema(settings.database_url)),
        ("blob store", lambda: check_blob_store(settings.backup_url, env)),
        ("disk", lambda: check_disk(settings.data_dir, disk_usage, thresholds)),
        ("bubblewrap", lambda: check_bubblewrap(settings.sandbox, limit)),
        ("git", lambda: check_git(limit)),
        ("clock", lambda: check_clock(settings.database_url)),
    ]


def run_doctor(
    settings: Settings,
    stdout: TextIO,
    *,
    as_json: bool = False,
    env: Mapping[str, str] | None = None,
    disk_usage: DiskUsage = shutil.disk_usage,
    thresholds: DiskThresholds | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Run every check, print the results; 0 when none failed, else 1."""
    checks = all_checks(
        settings,
        os.environ if env is None else env,
        disk_usage=disk_usage,
        thresholds=thresholds,
        timeout=timeout,
    )
    results = run_checks(checks, timeout)
    if as_json:
        print(json.dumps([asdict(r) for r in results], indent=2), file=stdout)
    else:
        width = max(len(r.check) for r in results)
        for r in results:
            print(f"{r.status:<4}  {r.check:<{width}}  {r.detail}", file=stdout)
    return 1 if any(r.status == FAIL for r in results) else 0


# --- directories ----------------------------------------------------------------------


def check_dir(path: Path, *, required: bool, refused: bool = False) -> tuple[str, str]:
    """Exists, is a directory we own and may write, and others may not write.

    ``refused``: ``homeport serve`` refuses to start while others may write it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if required:
            return FAIL, f"{path} does not exist (set HOMEPORT_DATA_DIR, or run homeport migrate)"
        return OK, f"{path} not created yet"
    if not stat.S_ISDIR(info.st_mode):
        return FAIL, f"{path} is not a directory"
    if not os.access(path, os.W_OK | os.X_OK):
        return FAIL, f"{path} is not writable by uid {os.geteuid()}"
    mode = stat.S_IMODE(info.st_mode)
    problems = []
    if info.st_uid != os.geteuid():
        problems.append(
            f"owned by uid {info.st_uid}, not by uid {os.geteuid()} running doctor "
            "(run it as the server's user)"
        )
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        which = ", which homeport serve refuses" if refused else ""
        problems.append(f"writable by other users (mode {mode:o}){which}: chmod 700 {path}")
    if problems:
        return WARN, f"{path} " + "; ".join(problems)
    return OK, f"{path} (mode {mode:o})"


# --- database -------------------------------------------------------------------------


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for memory databases and other dialects)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _engine(url: str) -> Engine:
    """An engine that gives up connecting after CONNECT_TIMEOUT and pools nothing."""
    backend = make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args = {"timeout": CONNECT_TIMEOUT}
    elif backend == "postgresql":
        connect_args = {
            "connect_timeout": CONNECT_TIMEOUT,
            "options": f"-c statement_timeout={CONNECT_TIMEOUT * 1000}",
        }
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _missing_sqlite(url: str) -> tuple[str, str] | None:
    # Connecting would create an empty file: doctor looks, it does not create.
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        return FAIL, f"no database file at {path}: run homeport migrate"
    return None


def check_database(url: str) -> tuple[str, str]:
    """The database answers ``SELECT 1``."""
    if missing := _missing_sqlite(url):
        return missing
    try:
        engine = _engine(url)
    except Exception as exc:  # e.g. the dialect's driver is not installed
        return FAIL, f"cannot use {_safe_url(url)}: {_first_line(exc)}"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:
        return FAIL, f"cannot reach {_safe_url(url)}: {_first_line(exc)}"
    finally:
        engine.dispose()
    return OK, f"reachable ({_safe_url(url)})"


def check_schema(url: str) -> tuple[str, str]:
    """The Alembic revision in the database is this code's head."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    from homeport.store.migrate import alembic_config

    if missing := _missing_sqlite(url):
        return missing
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = tuple(sorted(script.get_heads()))
    head = ", ".join(heads)
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except Exception as exc:
        return FAIL, f"cannot read the schema revision: {_first_line(exc)}"
    finally:
        engine.dispose()
    if not current:
        return FAIL, f"the database was never migrated (code is at {head}): run homeport migrate"
    for revision in current:
        try:
            known = script.get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            return FAIL, (
                f"the database is at revision {revision}, newer than this code's {head}: "
                "run the Homeport release that migrated it"
            )
    if current == heads:
        return OK, f"at the code's revision {head}"
    at = ", ".join(current)
    return FAIL, f"the database is at {at}, the code at {head}: run homeport migrate"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# --- blob store -----------------------------------------------------------------------


def check_blob_store(url: str, env: Mapping[str, str]) -> tuple[str, str]:
    """Write, read back and delete a small probe object through the backup store."""
    from homeport.store.blobstore import LocalBlobStore, open_blob_store

    store = open_blob_store(url, env)
    if isinstance(store, LocalBlobStore) and not store.root.exists():
        # Created at the first backup; doctor does not create it, but it can be created.
        parent = store.root.parent
        while not parent.exists():
            parent = parent.parent
        if os.access(parent, os.W_OK | os.X_OK):
            return OK, f"{store.root} not created yet; {parent} is writable"
        return FAIL, f"{store.root} does not exist and {parent} is not writable"
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64] or "host"
    key = f"doctor-probe-{host}-{os.getpid()}-{secrets.token_hex(8)}"
    payload = secrets.token_bytes(64)
    with tempfile.TemporaryDirectory(prefix="homeport-doctor-") as tmp:
        source = Path(tmp) / "probe"
        source.write_bytes(payload)
        try:
            store.put(key, source)
            with store.open(key) as stream:
                back = stream.read()
        finally:
            store.delete(key)
    if back != payload:
        return FAIL, f"{store!r}: the probe read back differs from what was written"
    if store.exists(key):
        return FAIL, f"{store!r}: the probe is still there after delete"
    return OK, f"{store!r}: wrote, read back and deleted a probe"


# --- disk -----------------------------------------------------------------------------


def check_disk(
    path: Path, usage: DiskUsage = shutil.disk_usage, thresholds: DiskThresholds | None = None
) -> tuple[str, str]:
    """Free space on the data dir's filesystem."""
    limits = thresholds or DiskThresholds()
    where = path
    while not where.exists() and where != where.parent:
        where = where.parent
    du = usage(where)
    fraction = du.free / du.total if du.total else 0.0
    detail = f"{du.free / GIB:.1f} GiB free of {du.total / GIB:.1f} GiB ({fraction:.1%}) at {where}"
    if fraction < limits.fail_fraction:
        return FAIL, detail
    if fraction < limits.warn_fraction or du.free < limits.warn_bytes:
        return WARN, detail
    return OK, detail


# --- tools ----------------------------------------------------------------------------


def check_bubblewrap(mode: str, timeout: float) -> tuple[str, str]:
    """bubblewrap is there and can run ``true`` in the project's own sandbox."""
    from homeport.runtime.sandbox import Sandbox, command, find_bwrap

    if mode == "none":
        return OK, "not used (HOMEPORT_SANDBOX=none: apps run without a sandbox)"
    bwrap = find_bwrap()
    if bwrap is None:
        return WARN, (
            "bubblewrap is missing (apt-get install bubblewrap): the API works, "
            "but apps cannot be built or run"
        )
    version = subprocess.run(
        [bwrap, "--version"], capture_output=True, text=True, timeout=timeout, check=False
    )
    if version.returncode != 0:
        return WARN, f"{bwrap} --version failed: {version.stderr.strip()[:200]}"
    name = version.stdout.strip() or bwrap
    with tempfile.TemporaryDirectory(prefix="homeport-doctor-") as tmp:
        sandbox = Sandbox(app_dir=Path(tmp), app_writable=False, env={"PATH": "/usr/bin:/bin"})
        with command(sandbox, ["true"], "bwrap") as (argv, fds):
            run = subprocess.run(
                argv,
                env=dict(sandbox.env),
                pass_fds=fds,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
    if run.returncode != 0:
        return WARN, (
            f"{name} is installed but cannot run a sandbox: {run.stderr.strip()[:200]} "
            "(apps cannot be built or run)"
        )
    return OK, f"{name}: ran `true` in a sandbox"


def parse_git_version(output: str) -> tuple[int, ...] | None:
    """``git version 2.39.5`` → (2, 39, 5)."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", output)
    if match is None:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def check_git(timeout: float) -> tuple[str, str]:
    """git is installed and new enough for ``merge-tree --write-tree``."""
    git = shutil.which("git")
    need = ".".join(map(str, MIN_GIT))
    if git is None:
        return FAIL, f"git is not installed (git {need} or later is needed)"
    out = subprocess.run(
        [git, "--version"], capture_output=True, text=True, timeout=timeout, check=False
    )
    version = parse_git_version(out.stdout)
    if out.returncode != 0 or version is None:
        return FAIL, f"{git} --version failed: {(out.stderr or out.stdout).strip()[:200]}"
    shown = ".".join(map(str, version))
    if version < MIN_GIT:
        return FAIL, f"git {shown} is too old: merges need git {need} or later"
    return OK, f"git {shown}"


# --- clock ----------------------------------------------------------------------------

CLOCK_WARN = 2.0
CLOCK_FAIL = 30.0
CLOCK_NOTE = "all nodes share the database's clock as reference: run doctor on each node"


def clock_result(skew: float) -> tuple[str, str]:
    """The verdict on a skew in seconds (positive: this node's clock is ahead)."""
    side = "ahead of" if skew >= 0 else "behind"
    detail = f"this node's clock is {abs(skew):.2f} s {side} the database's; {CLOCK_NOTE}"
    if abs(skew) > CLOCK_FAIL:
        return FAIL, detail
    if abs(skew) > CLOCK_WARN:
        return WARN, detail
    return OK, detail


def check_clock(url: str) -> tuple[str, str]:
    """Compare this node's clock with the database server's (the nodes' shared one)."""
    if make_url(url).get_backend_name() == "sqlite":
        return OK, "single node (SQLite): no other clock to compare with"
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            before = time.time()
            remote = conn.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
            after = time.time()
    finally:
        engine.dispose()
    if not isinstance(remote, dt.datetime):
        return FAIL, f"the database answered {remote!r} for CURRENT_TIMESTAMP"
    if remote.tzinfo is None:
        remote = remote.replace(tzinfo=dt.UTC)
    # The server read its clock somewhere in the round trip: compare with its middle.
    return clock_result((before + after) / 2 - remote.timestamp())
