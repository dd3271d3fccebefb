"""Benchmark: list endpoints and ``platform *:list`` as the data grows (issue 16).

For each chosen size, seeds a throwaway data dir (through the domain functions; the
activity history and the crowd of accounts in bulk through SQLAlchemy core, with the
columns the domain writes), then

* times the API in process (FastAPI's TestClient over the app of that data dir) and
  counts the SQL statements of every request (``before_cursor_execute``), and
* times the real ``platform`` client against a real ``homeport serve`` on the same
  data (a cached access token, so each run is start-up plus its API calls).

Sizes (activities in the project / projects the account sees / environments /
variables on the environment / accounts with tokens):

    tiny      50 /    3 /   3 /    5 /      5   (smoke test only)
    small  1 000 /   10 /  10 /   10 /     10
    medium 10 000 /  100 / 100 /  100 /  1 000
    large 100 000 / 1 000 / 500 / 1 000 / 10 000

Prints median and p95 per endpoint and size, the statements per request, the
large/small factor (last size over first) and the issue's aims: at the largest size a
paged list answers in p50 <= 20 ms (API) and a ``platform *:list`` in <= 150 ms, every
endpoint grows by at most 2x from the smallest to the largest size, and the statement
count does not depend on the data's size or the page size. Figures only; never a
pass/fail (the exit code is 0 whatever the timings).

    .venv/bin/python bench/scale.py [--sizes small,large] [--repeat 30] [--cli-repeat 10]
        [--json] [--database-url postgresql://...] [--no-cli]

SQLite (a file in the data dir) by default; ``--database-url`` runs on that (empty)
PostgreSQL database instead: its schema is created by the migrations and dropped again
after each size.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import random
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, event, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from tests.e2e.server import BIN, ServerProcess

from homeport import heap
from homeport.domain import access, accounts, api_tokens, backups, projects, token_format, variables
from homeport.domain.activities import actor_payload, env_markup, strong, user_markup
from homeport.domain.environments import new_environment, queue_key
from homeport.git import repos
from homeport.settings import Settings
from homeport.store import models
from homeport.store.migrate import upgrade
from homeport.store.models import Account, Activity, ApiToken, Backup, Environment, Project
from homeport.store.types import utcnow
from homeport.web.app import create_app
from homeport.web.state import AppState


@dataclass(frozen=True)
class Size:
    """How much data one size seeds."""

    activities: int
    projects: int
    environments: int
    variables: int
    accounts: int


SIZES = {
    "tiny": Size(activities=50, projects=3, environments=3, variables=5, accounts=5),
    "small": Size(activities=1_000, projects=10, environments=10, variables=10, accounts=10),
    "medium": Size(10_000, 100, 100, 100, 1_000),
    "large": Size(100_000, 1_000, 500, 1_000, 10_000),
}

# Aims of the issue (marked, never asserted).
API_P50_MS = 20.0
CLI_P50_MS = 150.0
MAX_FACTOR = 2.0

BENCH_ENV = "feature"  # the development environment whose lists are timed
BACKUPS_ON_BENCH_ENV = 10  # the default backup quota: an environment keeps at most 10
BACKUPS_PER_OTHER_ENV = 2
PROJECT_VARIABLES = 3  # inherited by the bench environment's variable list
CHUNK = 5_000


def log(message: str) -> None:
    """Progress goes to stderr, so ``--json`` keeps stdout to the figures."""
    print(message, file=sys.stderr, flush=True)


# -- statistics -------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Result:
    """One endpoint or command at one size."""

    name: str
    kind: str  # "api" or "cli"
    size: str
    samples_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    paged: bool = True  # a list the p50 aim applies to
    whole: bool = False  # a list answered whole (no page size), so it grows with the data
    error: str | None = None
    note: str = ""

    @property
    def median(self) -> float:
        """The median in ms."""
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")

    @property
    def p95(self) -> float:
        """The 95th percentile in ms."""
        return percentile(self.samples_ms, 95)

    @property
    def statement_text(self) -> str:
        """``n`` when every request ran the same number, else ``min-max``."""
        if not self.statements:
            return "-"
        low, high = min(self.statements), max(self.statements)
        return str(low) if low == high else f"{low}-{high}"

    def as_json(self) -> dict[str, Any]:
        """The figures as one JSON object."""
        return {
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "median_ms": round(self.median, 3),
            "p95_ms": round(self.p95, 3),
            "n": len(self.samples_ms),
            "statements": sorted(set(self.statements)),
            "error": self.error,
            "note": self.note,
        }


# -- the store --------------------------------------------------------------------------


@dataclass
class Store:
    """Where one size's data lives: a data dir, and a PostgreSQL URL when given."""

    root: Path
    database_url: str | None

    @property
    def data_dir(self) -> Path:
        """The server's data dir (secrets, and the SQLite file by default)."""
        return self.root / "data"

    @property
    def url(self) -> str:
        """The database URL."""
        return self.database_url or f"sqlite:///{self.data_dir / 'homeport.db'}"

    def env(self) -> dict[str, str]:
        """Settings for the app and the server process."""
        env = {
            "HOMEPORT_DATA_DIR": str(self.data_dir),
            "HOMEPORT_WORKER": "0",
            "HOMEPORT_LOG_LEVEL": "warning",
        }
        if self.database_url:
            env["HOMEPORT_DATABASE_URL"] = self.database_url
        return env


def ensure_empty(engine: Engine) -> None:
    """Refuse a PostgreSQL database that holds any table: the bench drops what it made."""
    tables = inspect(engine).get_table_names()
    if tables:
        raise SystemExit(
            f"--database-url: the database must be empty; it holds {len(tables)} table(s) "
            f"({', '.join(sorted(tables)[:5])}...)"
        )


def drop_everything(engine: Engine) -> None:
    """Drop every table (the migrations' and alembic_version) of the bench's database."""
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)


# -- seeding ----------------------------------------------------------------------------


@dataclass
class Seeded:
    """What the timed calls need to know about the seeded data."""

    project_id: str
    env_name: str
    owner_token: str
    viewer_token: str
    counts: dict[str, int]
    seconds: dict[str, float]


_ALNUM = string.ascii_lowercase + string.digits


class Ids:
    """Unique short ids in the domain's format (fast: one seeded RNG, not ``secrets``)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen: set[str] = set()

    def next(self, length: int = 13) -> str:
        """A new id of ``length`` lowercase alphanumerics."""
        while True:
            value = "".join(self.rng.choices(_ALNUM, k=length))
            if value not in self.seen:
                self.seen.add(value)
                return value


@contextlib.contextmanager
def stopwatch(seconds: dict[str, float], label: str) -> Iterator[None]:
    """Add the block's wall time to ``seconds[label]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start : start + CHUNK])


def seed_accounts(
    session: Session, state: AppState, size: Size, ids: Ids
) -> tuple[Account, Account, str, str]:
    """The owner and the viewer through the domain, the rest of the crowd in bulk.

    Every account has an API token (created with the domain's token format and keyed
    hash), so token look-ups run against ``size.accounts`` rows."""
    key = state.auth_keys.token_hash
    owner = accounts.create_account(
        session,
        accounts.NewAccount(email="owner@bench.example", first_name="Bench", last_name="Owner"),
    )
    viewer = accounts.create_account(
        session, accounts.NewAccount(email="viewer@bench.example", first_name="Dev")
    )
    owner_token = api_tokens.create_token(session, key, owner, "bench").plain
    viewer_token = api_tokens.create_token(session, key, viewer, "bench").plain
    crowd = max(0, size.accounts - 2)
    now = utcnow()
    account_rows, token_rows = [], []
    for i in range(crowd):
        account_id = str(models.new_uuid())
        email = f"user{i:05d}@bench.example"
        at = now - timedelta(minutes=crowd - i)
        account_rows.append(
            {
                "id": account_id,
                "email": email,
                "email_key": accounts.email_key(email),
                "username": f"user{i:05d}",
                "first_name": "User",
                "last_name": f"{i:05d}",
                "kind": "machine" if i % 10 == 9 else "human",
                "password_hash": None,
                "deactivated": False,
                "is_admin": False,
                "created_by_id": None,
                "created_at": at,
                "updated_at": at,
            }
        )
        plain = token_format.generate()
        token_rows.append(
            {
                "id": str(models.new_uuid()),
                "account_id": account_id,
                "name": "ci",
                "token_hash": token_format.keyed_hash(key, plain),
                "token_hint": token_format.hint(plain),
                "mfa_on_creation": False,
                "last_used_at": None,
                "expires_at": None,
                "created_at": at,
                "updated_at": at,
            }
        )
    conn = session.connection()
    _insert(conn, Account.__table__, account_rows)  # type: ignore[arg-type]
    _insert(conn, ApiToken.__table__, token_rows)  # type: ignore[arg-type]
    return owner, viewer, owner_token, viewer_token


def env_names(size: Size) -> list[tuple[str, str]]:
    """(name, type) of the bench project's environments, main first."""
    names = [("main", "production"), (BENCH_ENV, "development")]
    for i in range(max(0, size.environments - 2)):
        kind = "staging" if i % 5 == 0 else "development"
        names.append((f"{'stage' if kind == 'staging' else 'dev'}-{i:04d}", kind))
    return names[: max(2, size.environments)]


def seed_environments(session: Session, project: Project, size: Size) -> list[Environment]:
    """The project's environments besides main, built by the domain's ``new_environment``;
    four in five active (as the worker leaves them), the rest inactive."""
    rng = random.Random(7)
    made = []
    for i, (name, kind) in enumerate(env_names(size)[1:]):
        env = new_environment(project.id, name, kind, parent="main", title=name.title())
        env.status = "inactive" if i % 5 == 4 else "active"
        env.has_code = True
        env.head_commit = f"{rng.getrandbits(160):040x}"
        if env.status == "active":
            env.last_deployment_at = utcnow() - timedelta(hours=i)
            env.last_deployment_successful = True
        made.append(env)
    session.add_all(made)
    session.flush()
    return made


def seed_backups(session: Session, project: Project, envs: list[Environment], ids: Ids) -> int:
    """Backup rows as the worker writes them once an archive is verified."""
    rows = []
    now = utcnow()
    for env in envs:
        if env.status != "active":
            continue
        count = BACKUPS_ON_BENCH_ENV if env.name == BENCH_ENV else BACKUPS_PER_OTHER_ENV
        for i in range(count):
            backup_id = ids.next(26)
            at = now - timedelta(days=count - i)
            rows.append(
                Backup(
                    id=backup_id,
                    project_id=project.id,
                    environment_pk=env.pk,
                    environment_name=env.name,
                    status="CREATED",
                    restorable=True,
                    safe=i % 2 == 0,
                    automated=i % 3 != 0,
                    index=i + 1,
                    commit_id=env.head_commit,
                    blob_key=backups.blob_key(project.id, env, backup_id),
                    manifest_sha256=secrets.token_hex(32),
                    files=1200 + i,
                    size_of_volumes=512 * 1024 * 1024,
                    size_used=64 * 1024 * 1024 + i,
                    created_at=at,
                    updated_at=at,
                )
            )
    session.add_all(rows)
    session.flush()
    return len(rows)


# (type, share of the environment activities): what a busy project's history holds.
ENV_ACTIVITY_TYPES = (
    ("environment.cron", 40),
    ("environment.push", 20),
    ("environment.redeploy", 10),
    ("environment.backup", 10),
    ("environment.variable.update", 8),
    ("environment.deploy", 5),
    ("environment.synchronize", 3),
    ("environment.source-operation", 2),
    ("environment.activate", 1),
    ("environment.deactivate", 1),
)
PROJECT_ACTIVITY_TYPES = (
    ("project.modify.title", 30),
    ("project.variable.update", 40),
    ("environment_type.access.create", 30),
)


def _weighted(choices: tuple[tuple[str, int], ...]) -> list[str]:
    return [name for name, weight in choices for _ in range(weight)]


def _activity_table() -> Table:
    return Activity.__table__  # type: ignore[return-value]


def activity_environment_table() -> Table | None:
    """The normalised activity-environment table, when the models have one."""
    for name, table in models.Base.metadata.tables.items():
        if name != "activities" and "activit" in name and "environment" in name:
            return table
    return None


def _link_row(table: Table, activity_pk: int, env: str, project_id: str, at: datetime) -> Any:
    """One row of the normalised table, filled by column name."""
    values = {
        "activity_pk": activity_pk,
        "environment": env,
        "environment_name": env,
        "project_id": project_id,
        "created_at": at,
    }
    return {c.name: values[c.name] for c in table.columns if c.name in values}


def seed_activities(
    session: Session, project: Project, owner: Account, count: int, ids: Ids
) -> int:
    """``count`` completed activities of the project, older than anything the domain just
    recorded, in bulk: the columns ``activities.record`` writes (markup, payload with the
    actor, parameters, queue key, one log line), and the normalised environment rows.

    Spread: 30 % on main, 20 % on the bench environment, 10 % project-wide, the rest
    over the other environments."""
    if count <= 0:
        return 0
    rng = random.Random(11)
    envs = session.execute(
        select(Environment.name, Environment.title, Environment.type).where(
            Environment.project_id == project.id
        )
    ).all()
    others = [e for e in envs if e.name not in ("main", BENCH_ENV)] or list(envs)
    by_name = {e.name: e for e in envs}
    env_types = _weighted(ENV_ACTIVITY_TYPES)
    project_types = _weighted(PROJECT_ACTIVITY_TYPES)
    who = actor_payload(owner)
    who_markup = user_markup(owner)
    conn = session.connection()
    first_pk = (conn.scalar(select(func.max(Activity.pk))) or 0) + 1
    start = utcnow() - timedelta(seconds=count * 30 + 60)
    link_table = activity_environment_table()
    activity_rows: list[dict[str, Any]] = []
    log_rows: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    for i in range(count):
        pk = first_pk + i
        at = start + timedelta(seconds=i * 30 + rng.random())
        roll = rng.random()
        if roll < 0.1:
            type_ = rng.choice(project_types)
            environments: list[str] = []
            parts = [who_markup, (" changed ", " changed "), strong(project.title)]
            payload: dict[str, Any] = {"user": who, "project": {"id": project.id}}
            parameters: dict[str, Any] = {"user": who["id"]}
            queue = None
            duration = 0.0
        else:
            if roll < 0.4:
                env = by_name["main"]
            elif roll < 0.6 and BENCH_ENV in by_name:
                env = by_name[BENCH_ENV]
            else:
                env = rng.choice(others)
            type_ = rng.choice(env_types)
            environments = [env.name]
            verb = type_.split(".", 1)[1]
            parts = [who_markup, (f" ran {verb} on ", f" ran {verb} on ")]
            parts.append(env_markup(env.name, env.title))
            payload = {
                "user": who,
                "environment": {"id": env.name, "name": env.name, "title": env.title},
                "production": env.type == "production",
            }
            parameters = {"user": who["id"], "environment": env.name}
            queue = queue_key(project.id, env.name)
            duration = 5 + rng.random() * 60
        failed = rng.random() < 0.03
        done = at + timedelta(seconds=duration)
        activity_rows.append(
            {
                "pk": pk,
                "id": ids.next(),
                "project_id": project.id,
                "type": type_,
                "environments": environments,
                "queue_key": queue,
                "state": "complete",
                "result": "failure" if failed else "success",
                "completion_percent": 100,
                "parameters": parameters,
                "payload": payload,
                "description": "".join(m for m, _ in parts),
                "text": "".join(t for _, t in parts),
                "actor_id": owner.id,
                "timings": {"wait": 0, "execute": round(duration, 3)} if duration else {},
                "created_at": at,
                "updated_at": done,
                "started_at": at,
                "completed_at": done,
                "cancelled_at": None,
                "cancel_requested": False,
                "claimed_by": None,
                "heartbeat_at": None,
            }
        )
        log_rows.append(
            {
                "activity_pk": pk,
                "seq": 1,
                "timestamp": at,
                "message": "".join(t for _, t in parts) + "\n",
            }
        )
        if link_table is not None:
            link_rows.extend(_link_row(link_table, pk, e, project.id, at) for e in environments)
    _insert(conn, _activity_table(), activity_rows)
    _insert(conn, models.ActivityLog.__table__, log_rows)  # type: ignore[arg-type]
    if link_table is not None:
        _insert(conn, link_table, link_rows)
    if conn.dialect.name == "postgresql":  # explicit keys: move the sequence past them
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('activities', 'pk'), "
                "(SELECT max(pk) FROM activities))"
            )
        )
    return count


def seed_repositories(state: AppState, settings: Settings) -> None:
    """Every project's bare repository, as ``POST /projects`` creates it (``homeport
    serve`` would otherwise create the missing ones before it answers)."""
    with state.db.session() as session:
        rows = session.execute(select(Project.id, Project.default_branch)).all()
    with ThreadPoolExecutor(max(2, min(8, os.cpu_count() or 2))) as pool:
        list(pool.map(lambda r: repos.create_repo(settings.git_dir, r[0], r[1]), rows))


def seed(store: Store, size: Size) -> Seeded:
    """Seed one size; returns what the timed calls need."""
    store.data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    seconds: dict[str, float] = {}
    with stopwatch(seconds, "schema"):
        upgrade(store.url)
    settings = Settings.from_env(store.env())
    state = AppState.build(settings)
    ids = Ids(1)
    counts: dict[str, int] = {}
    try:
        with state.db.session(write=True) as session:
            with stopwatch(seconds, "accounts"):
                owner, viewer, owner_token, viewer_token = seed_accounts(session, state, size, ids)
            with stopwatch(seconds, "projects"):
                project, _ = projects.create_project(
                    session, owner, projects.NewProject(title="Bench")
                )
                for i in range(size.projects - 1):
                    projects.create_project(
                        session, owner, projects.NewProject(title=f"Project {i:04d}")
                    )
                access.set_roles(
                    session,
                    owner,
                    project,
                    viewer,
                    access.parse_permissions(["development:viewer"]),
                )
            with stopwatch(seconds, "environments"):
                envs = seed_environments(session, project, size)
            bench_env = next(e for e in envs if e.name == BENCH_ENV)
            with stopwatch(seconds, "variables"):
                box = state.secret_box
                for i in range(PROJECT_VARIABLES):
                    variables.create(
                        session,
                        box,
                        owner,
                        project,
                        None,
                        variables.VariableInput(name=f"project_var_{i}", value=f"v{i}"),
                    )
                for i in range(size.variables):
                    variables.create(
                        session,
                        box,
                        owner,
                        project,
                        bench_env,
                        variables.VariableInput(
                            name=f"env:VAR_{i:04d}",
                            value=secrets.token_urlsafe(24),
                            is_sensitive=i % 10 == 9,
                        ),
                    )
            with stopwatch(seconds, "backups"):
                seed_backups(session, project, envs, ids)
            recorded = session.scalar(
                select(func.count()).select_from(Activity).where(Activity.project_id == project.id)
            )
            with stopwatch(seconds, "activities"):
                seed_activities(session, project, owner, size.activities - (recorded or 0), ids)
            project_id = project.id
        with stopwatch(seconds, "git repositories"):
            seed_repositories(state, settings)
        with state.db.session() as session:
            for label, model in (
                ("accounts", Account),
                ("api_tokens", ApiToken),
                ("projects", Project),
                ("environments", Environment),
                ("variables", models.Variable),
                ("backups", Backup),
            ):
                counts[label] = session.scalar(select(func.count()).select_from(model)) or 0
            counts["environments in project"] = (
                session.scalar(
                    select(func.count())
                    .select_from(Environment)
                    .where(Environment.project_id == project_id)
                )
                or 0
            )
            counts["activities in project"] = (
                session.scalar(
                    select(func.count())
                    .select_from(Activity)
                    .where(Activity.project_id == project_id)
                )
                or 0
            )
        if not state.db.is_sqlite:
            with state.db.engine.begin() as conn:  # what autovacuum does soon after a load
                conn.execute(text("ANALYZE"))
    finally:
        state.db.dispose()
    return Seeded(project_id, BENCH_ENV, owner_token, viewer_token, counts, seconds)


# -- timing the API ---------------------------------------------------------------------


class StatementCounter:
    """Counts statements the engine sends (``before_cursor_execute``)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        """Stop listening."""
        event.remove(self.engine, "before_cursor_execute", self._seen)


@dataclass
class Call:
    """One API call to time."""

    name: str
    method: str
    path: str
    token: str | None = None  # "owner", "viewer" or None (anonymous)
    form: dict[str, str] | None = None
    auth: tuple[str, str] | None = None
    paged: bool = True
    whole: bool = False


def api_calls(seeded: Seeded, paged_projects: bool) -> list[Call]:
    """The endpoints of the issue (and count=100 for the page-size comparison)."""
    p, e = seeded.project_id, seeded.env_name
    calls = [
        Call(
            "GET /projects/{p}/activities?count=10 (admin)",
            "GET",
            f"/projects/{p}/activities?count=10",
            "owner",
        ),
        Call(
            "GET /projects/{p}/activities?count=10 (development:viewer)",
            "GET",
            f"/projects/{p}/activities?count=10",
            "viewer",
        ),
        Call(
            "GET /projects/{p}/activities?count=100 (admin)",
            "GET",
            f"/projects/{p}/activities?count=100",
            "owner",
        ),
        Call(
            "GET /projects/{p}/environments/{e}/activities?count=100",
            "GET",
            f"/projects/{p}/environments/{e}/activities?count=100",
            "owner",
        ),
        Call("GET /projects", "GET", "/projects", "owner", whole=not paged_projects),
    ]
    if paged_projects:
        calls.append(Call("GET /projects?page[size]=20", "GET", "/projects?page[size]=20", "owner"))
        # The same page at every size (the smallest has 10 projects): the default page
        # grows from 10 to 100 items, so its factor is the page's, not the data's.
        calls.append(Call("GET /projects?page[size]=10", "GET", "/projects?page[size]=10", "owner"))
    calls += [
        Call(
            "GET /projects/{p}/environments",
            "GET",
            f"/projects/{p}/environments",
            "owner",
            whole=True,
        ),
        Call(
            "GET /projects/{p}/environments/{e}/variables",
            "GET",
            f"/projects/{p}/environments/{e}/variables",
            "owner",
            whole=True,
        ),
        Call(
            "GET /projects/{p}/environments/{e}/backups",
            "GET",
            f"/projects/{p}/environments/{e}/backups",
            "owner",
            whole=True,
        ),
        Call(
            "POST /oauth2/token (api_token)",
            "POST",
            "/oauth2/token",
            None,
            form={"grant_type": "api_token", "api_token": seeded.owner_token},
            auth=("platform-cli", ""),
            paged=False,
        ),
        Call("GET /users/me", "GET", "/users/me", "owner", paged=False),
    ]
    return calls


def _exchange(client: TestClient, api_token: str) -> str:
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "api_token", "api_token": api_token},
        auth=("platform-cli", ""),
    )
    if response.status_code != 200:
        raise RuntimeError(f"token exchange: {response.status_code} {response.text[:300]}")
    token: str = response.json()["access_token"]
    return token


def time_api(store: Store, seeded: Seeded, size_name: str, repeat: int) -> list[Result]:
    """Every API call ``repeat`` times (after three warm-ups), in process."""
    settings = Settings.from_env(store.env())
    state = AppState.build(settings)
    app = create_app(settings, state)
    results: list[Result] = []
    counter = StatementCounter(state.db.engine)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            heap.settle()  # as `homeport serve` does once it has started
            tokens = {
                "owner": _exchange(client, seeded.owner_token),
                "viewer": _exchange(client, seeded.viewer_token),
            }
            first = client.get("/projects", headers={"Authorization": f"Bearer {tokens['owner']}"})
            paged = isinstance(first.json(), dict) and "items" in first.json()
            for call in api_calls(seeded, paged):
                result = Result(call.name, "api", size_name, paged=call.paged, whole=call.whole)
                headers = {"Authorization": f"Bearer {tokens[call.token]}"} if call.token else {}

                def once(call: Call = call, headers: dict[str, str] = headers) -> httpx.Response:
                    response: httpx.Response = client.request(
                        call.method, call.path, headers=headers, data=call.form, auth=call.auth
                    )
                    return response

                for _ in range(3):
                    once()
                for _ in range(repeat):
                    counter.count = 0
                    start = time.perf_counter()
                    response = once()
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status_code != 200:
                        result.error = f"{response.status_code} {response.text[:200]}"
                        break
                    result.samples_ms.append(elapsed)
                    result.statements.append(counter.count)
                result.note = _shape(response) + (" (whole list)" if call.whole else "")
                results.append(result)
                log(f"  {size_name:>6}  {call.name:<62} {result.median:8.2f} ms")
    finally:
        gc.unfreeze()  # the next size's app starts afresh
        counter.close()
        state.db.dispose()
    return results


def _shape(response: httpx.Response) -> str:
    """How many items the answer held (a check that the page is what it should be)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, list):
        return f"{len(body)} items"
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return f"{len(body['items'])} of {body.get('count')} items"
    return ""


# -- timing the CLI ---------------------------------------------------------------------


def cli_commands(seeded: Seeded) -> list[tuple[str, list[str]]]:
    """The ``platform`` commands of the issue."""
    p, e = seeded.project_id, seeded.env_name
    return [
        ("platform project:list", ["project:list"]),
        ("platform environment:list", ["environment:list", "-p", p]),
        ("platform variable:list -e <env>", ["variable:list", "-p", p, "-e", e]),
        ("platform activity:list", ["activity:list", "-p", p]),
    ]


def time_cli(store: Store, seeded: Seeded, size_name: str, repeat: int) -> list[Result]:
    """Each command ``repeat`` times against a real server (after one warm-up run that
    also caches the access token)."""
    server = ServerProcess(store.data_dir, store.env())
    try:
        server.start()
    except RuntimeError as err:  # figures only: report it in the table and carry on
        if server.proc is not None:
            server.stop()
        reason = f"server did not start: {str(err)[-200:]}"
        return [Result(n, "cli", size_name, error=reason) for n, _ in cli_commands(seeded)]
    home = store.root / "cli-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "PLATFORMSH_CLI_TOKEN": seeded.owner_token,
        "PLATFORMSH_CLI_API_URL": server.url,
        "COLUMNS": "200",
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    results = []
    try:
        for name, args in cli_commands(seeded):
            result = Result(name, "cli", size_name)
            command = [str(BIN / "platform"), *args]
            for i in range(repeat + 1):
                start = time.perf_counter()
                done = subprocess.run(
                    command,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                elapsed = (time.perf_counter() - start) * 1000
                if done.returncode != 0:
                    result.error = f"exit {done.returncode}: {(done.stderr or done.stdout)[-300:]}"
                    break
                if i:  # the first run is the warm-up
                    result.samples_ms.append(elapsed)
                    result.note = f"{len(done.stdout.splitlines())} lines"
            results.append(result)
            log(f"  {size_name:>6}  {name:<62} {result.median:8.2f} ms")
    finally:
        server.stop()
    return results


# -- the report -------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"  # NaN check


def report(
    results: list[Result], sizes: list[str], seeds: dict[str, Seeded], backend: str
) -> list[str]:
    """The tables as Markdown lines."""
    lines = [f"# Scale benchmark ({backend})", "", "## Seeded", ""]
    lines.append("| size | " + " | ".join(next(iter(seeds.values())).counts) + " | seed s |")
    lines.append("|---" * (len(next(iter(seeds.values())).counts) + 2) + "|")
    for size in sizes:
        seeded = seeds[size]
        cells = [str(v) for v in seeded.counts.values()]
        total = sum(seeded.seconds.values())
        lines.append(f"| {size} | " + " | ".join(cells) + f" | {total:.1f} |")
    lines.append("")
    for size in sizes:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in seeds[size].seconds.items())
        lines.append(f"- seeding {size}: {parts} (seconds)")
    lines += ["", "## Timings", ""]
    lines.append("| endpoint | size | median ms | p95 ms | statements | answer |")
    lines.append("|---|---|---|---|---|---|")
    names = list(dict.fromkeys(r.name for r in results))
    by_key = {(r.name, r.size): r for r in results}
    for name in names:
        for size in sizes:
            r = by_key.get((name, size))
            if r is None:
                continue
            if r.error:
                lines.append(f"| {name} | {size} | ERROR | | | {r.error[:120]} |")
                continue
            lines.append(
                f"| {name} | {size} | {_ms(r.median)} | {_ms(r.p95)} | "
                f"{r.statement_text} | {r.note} |"
            )
    first, last = sizes[0], sizes[-1]
    lines += ["", f"## {last}/{first} factor and aims", ""]
    lines.append(
        f"Aims at {last}: paged list p50 <= {API_P50_MS:.0f} ms (API), "
        f"<= {CLI_P50_MS:.0f} ms (CLI); {last}/{first} <= {MAX_FACTOR:.0f}x; "
        "statements independent of size. Lists marked unpaged answer every item at "
        "once (the API has no page size for them)."
    )
    lines.append("")
    lines.append(f"| endpoint | {last}/{first} | p50 aim | factor aim | statements aim |")
    lines.append("|---|---|---|---|---|")
    for name in names:
        small, large = by_key.get((name, first)), by_key.get((name, last))
        if small is None or large is None or small.error or large.error:
            lines.append(f"| {name} | - | - | - | - |")
            continue
        factor = large.median / small.median if small.median else float("nan")
        limit = CLI_P50_MS if large.kind == "cli" else API_P50_MS
        p50_aim = (
            ("ok" if large.median <= limit else f"MISSED ({large.median:.1f} ms)")
            if large.paged
            else "n/a"
        )
        if large.whole:
            p50_aim += ", unpaged"
        factor_aim = "ok" if factor <= MAX_FACTOR else "MISSED"
        if large.kind == "cli":
            statements_aim = "n/a"
        elif set(small.statements) == set(large.statements):
            statements_aim = "ok"
        else:
            statements_aim = f"MISSED ({small.statement_text} -> {large.statement_text})"
        lines.append(f"| {name} | {factor:.2f}x | {p50_aim} | {factor_aim} | {statements_aim} |")
    lines += ["", "## Statements and page size", ""]
    for size in sizes:
        for a, b in (
            (
                "GET /projects/{p}/activities?count=10 (admin)",
                "GET /projects/{p}/activities?count=100 (admin)",
            ),
            ("GET /projects?page[size]=20", "GET /projects"),
        ):
            ra, rb = by_key.get((a, size)), by_key.get((b, size))
            if ra is None or rb is None or ra.error or rb.error:
                continue
            same = "same" if set(ra.statements) == set(rb.statements) else "DIFFERENT"
            lines.append(
                f"- {size}: `{a}` {ra.statement_text} vs `{b}` {rb.statement_text}: {same}"
            )
    return lines


def _on_database(url: str, action: Callable[[Engine], None]) -> None:
    """Run ``action`` on an engine of its own for ``url``, disposed afterwards."""
    from homeport.store.db import make_engine

    engine = make_engine(url)
    try:
        action(engine)
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> int:
    """Seed and time every chosen size; print the report."""
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        raise SystemExit(f"--sizes: unknown {unknown}; choose from {', '.join(SIZES)}")
    backend = "PostgreSQL" if args.database_url else "SQLite"
    if args.database_url:
        _on_database(args.database_url, ensure_empty)
    results: list[Result] = []
    seeds: dict[str, Seeded] = {}
    for size_name in sizes:
        size = SIZES[size_name]
        root = Path(tempfile.mkdtemp(prefix=f"homeport-scale-{size_name}-"))
        store = Store(root, args.database_url)
        try:
            log(f"seeding {size_name}: {size}")
            start = time.perf_counter()
            seeded = seed(store, size)
            seeds[size_name] = seeded
            log(f"  seeded in {time.perf_counter() - start:.1f} s: {seeded.counts}")
            results += time_api(store, seeded, size_name, args.repeat)
            if not args.no_cli:
                results += time_cli(store, seeded, size_name, args.cli_repeat)
        finally:
            if args.database_url:
                _on_database(args.database_url, drop_everything)
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(
            json.dumps(
                {
                    "backend": backend,
                    "sizes": {s: SIZES[s].__dict__ for s in sizes},
                    "seeded": {s: seeds[s].counts for s in sizes},
                    "seed_seconds": {s: seeds[s].seconds for s in sizes},
                    "results": [r.as_json() for r in results],
                },
                indent=2,
            )
        )
    else:
        print("\n".join(report(results, sizes, seeds, backend)))
    return 0


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="small,medium,large", help=f"of {', '.join(SIZES)}")
    parser.add_argument("--repeat", type=int, default=30, help="timed API calls per endpoint")
    parser.add_argument("--cli-repeat", type=int, default=10, help="timed runs per command")
    parser.add_argument("--no-cli", action="store_true", help="time the API only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)"
    )
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
