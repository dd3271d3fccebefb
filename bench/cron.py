"""Benchmark: the cron scheduler, simulated at 10,000 crons and for real.

**Simulated** (``--environments`` x ``--crons-per-env``, default 1,000 x 10): a fresh
SQLite data dir migrated by ``homeport.store.migrate.upgrade``; accounts, projects,
environments and cron rows are written through the domain layer (``crons.sync``, as a
deploy does) with a mix of realistic specs and time zones. Then ``Scheduler.tick`` and
``Scheduler.seconds_to_next`` are driven exactly as ``Scheduler.run_forever`` drives
them, for ``--sim-seconds`` (3,600) of simulated time, on a virtual clock: the time the
scheduler spends working passes as it would, its sleeps are skipped, and the
benchmark's own bookkeeping is taken out. No process is started: a stand-in worker
completes each queued run at once (otherwise a run still pending absorbs the job's
next trigger, as it should). Measured: CPU time of this process inside the
scheduler's calls (``time.process_time``, SQLite included, as it runs in-process), as
a share of one core over the simulated time; the runs started against those the specs
call for; each run's lateness (the virtual time its activity was written minus its
``scheduled_for``); the longest tick and the longest write transaction (SQLite's
write lock, which every other writer waits for); activity rows at the end. Median of
``--repeats`` runs, each on a fresh database; ``--profile FILE`` adds cProfile's view
of the scheduler's calls.

**Real**: a ``homeport serve`` (runtime on, bubblewrap sandbox, router off,
``HOMEPORT_CRON_MIN_INTERVAL=60``), one project, a trivial app (``python3 -m
http.server``) with ``--real-crons`` crons ``* * * * *`` running ``true``, pushed with
git to ``--real-envs`` environments (main plus activated branches). The first whole
minute after setup and the following ones, until ``--runs`` runs, are measured from the
database: ``created_at``, ``started_at`` and ``completed_at`` of each run minus its
``payload.scheduled_for`` (p50/p99/max), the worker's throughput while a minute's runs
queue (``--worker-threads`` sets ``HOMEPORT_WORKER_THREADS``), and the server's CPU
over those minutes. A failed run makes the exit status 1.

Prints the figures and the issue's aims with "met" / "not met"; never fails on a timing.

    .venv/bin/python bench/cron.py [--repeats 3] [--runs 200] [--real-envs 4]
        [--real-crons 10] [--worker-threads N] [--skip-real] [--skip-sim] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from tests.e2e.server import ServerProcess
from tests.security.conftest import Target

from homeport.domain import accounts, crons, projects
from homeport.domain import environments as envs
from homeport.domain.cronspec import next_run
from homeport.scheduler.loop import Scheduler
from homeport.store.db import Database
from homeport.store.migrate import upgrade
from homeport.store.models import Activity, CronJob, Environment

# The simulated hour starts here (a Monday, 04:30 UTC): `0 5 * * *` in UTC falls in it.
START = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
# One app's crons share its time zone; environments cycle through these.
ZONES: tuple[str | None, ...] = (None, "Europe/Paris", "America/New_York", "Asia/Kolkata")
# Ten crons per environment, in this order (repeated when there are more).
SPECS = (
    "*/5 * * * *",
    "H/15 * * * *",
    "H * * * *",
    "0 5 * * *",
    "H H * * *",
    "*/5 * * * *",
    "H/15 * * * *",
    "H * * * *",
    "0 5 * * *",
    "H H * * *",
)
ENVS_PER_PROJECT = 10
T = TypeVar("T")

AIM_LATENESS = 1.0  # seconds, p99, real runs
AIM_CPU = 0.05  # share of one core, simulated, at 10,000 crons


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values`` (nan when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def met(ok: bool) -> str:
    return "met" if ok else "not met"


# --- simulated -----------------------------------------------------------------------


class VirtualClock:
    """Simulated time: real time passes while the scheduler works, its sleeps are
    skipped, and the benchmark's bookkeeping (``frozen``) does not count."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.origin = time.perf_counter()
        self.skipped = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.perf_counter() - self.origin + self.skipped)

    def sleep(self, seconds: float) -> None:
        self.skipped += seconds

    @contextmanager
    def frozen(self) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.skipped -= time.perf_counter() - began


@dataclass
class SimResult:
    """One simulated run's figures."""

    crons: int
    environments: int
    seconds: float  # simulated
    expected: int  # runs the specs call for in those seconds
    cpu_starting: float = 0.0  # CPU seconds in ticks that started runs
    cpu_idle: float = 0.0  # ... in the others, and in seconds_to_next()
    wall: float = 0.0  # real seconds inside tick() and seconds_to_next()
    ticks: int = 0
    started: int = 0
    lateness: list[float] = field(default_factory=list)
    longest_tick: float = 0.0
    longest_write: float = 0.0
    activity_rows: int = 0
    pending_rows: int = 0

    @property
    def cpu(self) -> float:
        return self.cpu_starting + self.cpu_idle

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.seconds


def build_world(db: Database, environments: int, per_env: int) -> None:
    """Accounts, projects of ten environments each, all active, and their crons."""
    with db.session(write=True) as session:
        owner = accounts.create_account(session, accounts.NewAccount(email="bench@example.com"))
        made = 0
        n = 0
        while made < environments:
            project, _ = projects.create_project(
                session, owner, projects.NewProject(title=f"Bench {n}")
            )
            n += 1
            session.flush()
            for i in range(1, min(ENVS_PER_PROJECT, environments - made)):
                env = envs.new_environment(project.id, f"env{i}", "development", "main")
                env.status = "active"
                session.add(env)
            made += min(ENVS_PER_PROJECT, environments - made)
        session.flush()
        rows = session.scalars(select(Environment).order_by(Environment.pk)).all()
        # Rows are scheduled from `now` at sync: the simulated hour's start.
        with mock.patch.object(crons, "utcnow", lambda: START):
            for index, env in enumerate(rows):
                tz = ZONES[index % len(ZONES)]
                jobs = []
                for j in range(per_env):
                    spec = SPECS[j % len(SPECS)]
                    definition = {
                        "spec": spec,
                        "commands": {"start": f"php cron.php job{j}", "stop": None},
                        "shutdown_timeout": 10,
                        "timeout": 86400,
                    }
                    jobs.append(crons.JobSpec("app", f"job{j:02d}", spec, tz, definition))
                crons.sync(session, env, jobs)


def expected_runs(db: Database, end: datetime) -> int:
    """How many runs the rows' specs call for before ``end``."""
    total = 0
    with db.session() as session:
        query = select(CronJob, Environment.machine_name).join(
            Environment, Environment.pk == CronJob.environment_pk
        )
        for job, machine in session.execute(query):
            hash_id = crons.hash_id(job.project_id, machine, job.app, job.name)
            due = job.next_run_at
            while due < end:
                total += 1
                due = next_run(job.spec, job.timezone, due, hash_id)
    return total


class TimedDatabase:
    """The scheduler's database, timing its write transactions (each holds SQLite's
    write lock, so every other writer of the server waits that long)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.longest_write = 0.0

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        began = time.perf_counter()
        try:
            with self.db.session(write=write) as session:
                yield session
        finally:
            if write:
                self.longest_write = max(self.longest_write, time.perf_counter() - began)


def simulate(
    environments: int, per_env: int, seconds: float, profile: cProfile.Profile | None
) -> SimResult:
    """One simulated run on a fresh data dir, driving the scheduler as its
    ``run_forever`` does: tick, ask how long to sleep, sleep."""
    with tempfile.TemporaryDirectory(prefix="homeport-bench-cron-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'homeport.db'}"
        upgrade(url)
        db = Database(url)
        try:
            build_world(db, environments, per_env)
            end = START + timedelta(seconds=seconds)
            with db.session() as session:
                crons_count = session.scalar(select(func.count()).select_from(CronJob)) or 0
                last_pk = session.scalar(select(func.max(Activity.pk))) or 0
            result = SimResult(crons_count, environments, seconds, expected_runs(db, end))
            clock = VirtualClock(START)
            timed = TimedDatabase(db)
            scheduler = Scheduler(cast(Database, timed), clock=clock)

            def measured(call: Callable[[], T]) -> tuple[T, float, float]:
                """``call()``, its CPU and its wall time (taken out of simulated time)."""
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if profile is not None:
                    profile.enable()
                value = call()
                wall = time.perf_counter() - wall0
                with clock.frozen():
                    if profile is not None:
                        profile.disable()
                    cpu = time.process_time() - cpu0
                return value, cpu, wall

            while clock() < end:
                started, cpu, wall = measured(scheduler.tick)
                with clock.frozen():
                    result.ticks += 1
                    result.wall += wall
                    if started:
                        result.started += started
                        result.cpu_starting += cpu
                        result.longest_tick = max(result.longest_tick, wall)
                        last_pk = complete_runs(db, clock, last_pk, result.lateness)
                    else:
                        result.cpu_idle += cpu
                pause, cpu, wall = measured(scheduler.seconds_to_next)
                with clock.frozen():
                    result.cpu_idle += cpu
                    result.wall += wall
                clock.sleep(pause)
            result.longest_write = timed.longest_write
            with db.session() as session:
                result.activity_rows = session.scalar(select(func.count(Activity.pk))) or 0
                pending = select(func.count(Activity.pk)).where(Activity.state == "pending")
                result.pending_rows = session.scalar(pending) or 0
            return result
        finally:
            db.dispose()


def complete_runs(db: Database, clock: VirtualClock, last_pk: int, lateness: list[float]) -> int:
    """Note the lateness of the runs queued since ``last_pk`` and complete them at
    once (the stand-in worker); returns the highest activity pk seen."""
    # Activities are stamped with the wall clock; in the tick just ended the virtual
    # clock was this far from it (no sleep happened since).
    offset = clock() - datetime.now(UTC)
    with db.session(write=True) as session:
        rows = session.execute(
            select(Activity.pk, Activity.created_at, Activity.payload).where(
                Activity.pk > last_pk, Activity.type == crons.CRON_TYPE
            )
        ).all()
        for pk, created_at, payload in rows:
            due = datetime.fromisoformat(payload["scheduled_for"])
            lateness.append((created_at + offset - due).total_seconds())
            last_pk = max(last_pk, pk)
        done = datetime.now(UTC)
        session.execute(
            update(Activity)
            .where(Activity.type == crons.CRON_TYPE, Activity.state == "pending")
            .values(
                state="complete",
                result="success",
                completion_percent=100,
                started_at=done,
                completed_at=done,
            )
        )
    return last_pk


def report_simulated(results: list[SimResult]) -> float:
    """Print the simulated figures (medians over the repeats); returns the CPU share."""
    first = results[0]
    med = statistics.median
    share = med(r.cpu_share for r in results)
    print(
        f"## Simulated: {first.crons:,} crons over {first.environments:,} environments, "
        f"{first.seconds:,.0f} s of simulated time, {len(results)} repeat(s), medians"
    )
    print()
    print("| measure | median | aim |")
    print("|---|---|---|")
    print(
        f"| scheduler CPU / simulated time | {share * 100:.2f} % of one core "
        f"({med(r.cpu for r in results):.1f} s CPU in {med(r.wall for r in results):.1f} s "
        f"busy) | ≤ 5 % ({met(share <= AIM_CPU)}) |"
    )
    print(
        f"| runs started / expected | {med(r.started for r in results):,.0f} / "
        f"{med(r.expected for r in results):,.0f} | all |"
    )
    print(
        f"| CPU per run started (ticks that started runs) | "
        f"{med(r.cpu_starting / max(1, r.started) * 1000 for r in results):.2f} ms | |"
    )
    print(
        f"| CPU polling (ticks starting nothing, seconds_to_next) | "
        f"{med(r.cpu_idle for r in results):.1f} s over {med(r.ticks for r in results):,.0f} "
        f"ticks | |"
    )
    print(
        f"| simulated lateness p50 / p99 / max | "
        f"{med(percentile(r.lateness, 50) for r in results):.3f} / "
        f"{med(percentile(r.lateness, 99) for r in results):.3f} / "
        f"{med(max(r.lateness, default=math.nan) for r in results):.3f} s | |"
    )
    print(f"| longest tick | {med(r.longest_tick for r in results):.2f} s | |")
    print(
        f"| longest write transaction (SQLite write lock held) | "
        f"{med(r.longest_write for r in results):.2f} s | |"
    )
    print(
        f"| activity rows at the end (pending) | {med(r.activity_rows for r in results):,.0f} "
        f"({med(r.pending_rows for r in results):,.0f}) | |"
    )
    print()
    return share


# --- real ----------------------------------------------------------------------------

APP_YAML_HEAD = """name: app
type: 'python:3.11'
web:
  commands:
    start: python3 -m http.server "$PORT" --bind 127.0.0.1
crons:
"""
CRON_YAML = """  tick{n:02d}:
    spec: '* * * * *'
    commands:
      start: 'true'
"""


def git(cwd: Path, *args: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@example.com",
        "GIT_TERMINAL_PROMPT": "0",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def wait_activity(target: Target, token: str, pid: str, activity_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, body = target.call("GET", f"/projects/{pid}/activities/{activity_id}", token)
        if status == 200 and body["state"] in ("complete", "cancelled"):
            result: dict[str, Any] = body
            return result
        time.sleep(0.2)
    raise RuntimeError(f"activity {activity_id} never finished")


def utc(value: str | None) -> datetime | None:
    """A timestamp as SQLAlchemy stores it in SQLite (naive UTC), made aware."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def cron_rows(db_path: Path) -> list[dict[str, Any]]:
    """Every cron run in the server's database, with its scheduled time."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(
            "SELECT payload, state, result, created_at, started_at, completed_at "
            "FROM activities WHERE type = 'environment.cron'"
        ).fetchall()
    finally:
        con.close()
    out = []
    for payload, state, result, created, started, completed in rows:
        due = json.loads(payload).get("scheduled_for")
        if not due:
            continue  # a run someone asked for (`platform cron:run`)
        out.append(
            {
                "due": datetime.fromisoformat(due),
                "state": state,
                "result": result,
                "created": utc(created),
                "started": utc(started),
                "completed": utc(completed),
            }
        )
    return out


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (utime+stime+cutime+cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def sleep_until(when: datetime) -> None:
    delay = (when - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def real_runs(
    runs: int, n_envs: int, n_crons: int, threads: int | None = None
) -> tuple[int, float]:
    """The real part: prints its figures; returns (1 when a run failed else 0, the
    p99 lateness)."""
    per_minute = n_envs * n_crons
    minutes = max(1, math.ceil(runs / per_minute))
    work = Path(tempfile.mkdtemp(prefix="homeport-bench-cron-real-"))
    extra = {"HOMEPORT_CRON_MIN_INTERVAL": "60", "HOMEPORT_LOG_LEVEL": "warning"}
    if threads is not None:
        extra["HOMEPORT_WORKER_THREADS"] = str(threads)
    server = ServerProcess(work / "data", extra).start()
    try:
        target = Target(server)
        owner = target.person("bench@example.com")
        pid = target.project(owner, "Cron bench")
        repo = work / "app"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / ".platform.app.yaml").write_text(
            APP_YAML_HEAD + "".join(CRON_YAML.format(n=n) for n in range(n_crons))
        )
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "crons")
        url = f"http://b:{owner.api_token}@127.0.0.1:{server.port}/git/{pid}.git"
        setup_began = time.perf_counter()
        git(repo, "push", "-q", url, "HEAD:refs/heads/main")
        for i in range(1, n_envs):
            branch = f"env{i}"
            git(repo, "push", "-q", url, f"HEAD:refs/heads/{branch}")
            status, body = target.call(
                "POST", f"/projects/{pid}/environments/{branch}/activate", owner.token
            )
            if status not in (200, 202):
                raise RuntimeError(f"activate {branch}: {status} {body}")
            done = wait_activity(target, owner.token, pid, body["_embedded"]["activities"][0]["id"])
            if done["result"] != "success":
                raise RuntimeError(f"activate {branch} failed:\n{server.log()[-3000:]}")
        setup = time.perf_counter() - setup_began
        # Every environment's crons are now due at the next whole minute at the latest.
        now = datetime.now(UTC)
        first = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        last = first + timedelta(minutes=minutes)  # exclusive
        assert server.proc is not None
        sleep_until(first - timedelta(seconds=1))
        cpu0, wall0 = proc_cpu(server.proc.pid), time.perf_counter()
        sleep_until(last - timedelta(seconds=1))
        cpu1, wall1 = proc_cpu(server.proc.pid), time.perf_counter()
        deadline = time.monotonic() + 300
        while True:
            window = [r for r in cron_rows(server.data_dir / "homeport.db") if first <= r["due"]]
            window = [r for r in window if r["due"] < last]
            complete = [r for r in window if r["state"] in ("complete", "cancelled")]
            if len(window) >= per_minute * minutes and len(complete) == len(window):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(complete)} of {per_minute * minutes} runs completed:\n"
                    f"{server.log()[-3000:]}"
                )
            time.sleep(0.5)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    queued = [(r["created"] - r["due"]).total_seconds() for r in window]
    lateness = [(r["started"] - r["due"]).total_seconds() for r in window if r["started"]]
    finish = [(r["completed"] - r["due"]).total_seconds() for r in window if r["completed"]]
    failed = [r for r in window if r["result"] != "success"]
    runs_s = [
        (r["completed"] - r["started"]).total_seconds()
        for r in window
        if r["started"] and r["completed"]
    ]
    p99 = percentile(lateness, 99)
    # Each minute's runs are due at once: how fast the worker drains them.
    rates = []
    for minute in range(minutes):
        due = first + timedelta(minutes=minute)
        burst = [r for r in window if r["due"] == due and r["started"] and r["completed"]]
        if len(burst) > 1:
            span = max(r["completed"] for r in burst) - min(r["started"] for r in burst)
            rates.append(len(burst) / span.total_seconds())
    print(
        f"## Real: {len(window)} runs, {n_envs} environment(s) x {n_crons} crons "
        f"`* * * * *` running `true` ({per_minute}/minute, {minutes} minute(s)); "
        f"setup {setup:.0f} s"
    )
    print()
    print("| measure (from `scheduled_for`) | p50 | p99 | max | aim |")
    print("|---|---|---|---|---|")

    def row(label: str, values: list[float], aim: str = "") -> None:
        print(
            f"| {label} | {percentile(values, 50):.3f} s | {percentile(values, 99):.3f} s "
            f"| {max(values, default=math.nan):.3f} s | {aim} |"
        )

    row("queued (`created_at`)", queued)
    row("lateness (`started_at`)", lateness, f"p99 ≤ 1 s ({met(p99 <= AIM_LATENESS)})")
    row("done (`completed_at`)", finish)
    row("run time (`completed_at - started_at`)", runs_s)
    share = (cpu1 - cpu0) / (wall1 - wall0)
    print()
    print(
        f"worker throughput in a minute's burst (median): {statistics.median(rates or [0]):.1f} "
        f"runs/s with {threads or 'the default'} worker thread(s)"
    )
    print(
        f"server CPU over those {minutes} minute(s) (process and reaped children): "
        f"{share * 100:.1f} % of one core; failed runs: {len(failed)}"
    )
    print()
    return (1 if failed else 0), p99


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="simulated runs (median)")
    parser.add_argument("--environments", type=int, default=1000)
    parser.add_argument("--crons-per-env", type=int, default=10)
    parser.add_argument("--sim-seconds", type=float, default=3600.0)
    parser.add_argument("--profile", type=Path, help="cProfile the scheduler's calls to FILE")
    parser.add_argument("--runs", type=int, default=200, help="real cron runs to measure")
    parser.add_argument("--real-envs", type=int, default=4)
    parser.add_argument("--real-crons", type=int, default=10, help="crons per environment")
    parser.add_argument(
        "--worker-threads", type=int, help="HOMEPORT_WORKER_THREADS (default: the server's)"
    )
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()

    status = 0
    summary = []
    if not args.skip_sim:
        profile = cProfile.Profile() if args.profile else None
        results = [
            simulate(args.environments, args.crons_per_env, args.sim_seconds, profile)
            for _ in range(args.repeats)
        ]
        share = report_simulated(results)
        at = f"at {results[0].crons:,} crons"
        summary.append(
            f"scheduler CPU ≤ 5 % of one core {at}: {met(share <= AIM_CPU)} ({share * 100:.2f} %)"
        )
        if profile is not None:
            profile.dump_stats(args.profile)
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(25)
    if not args.skip_real:
        if shutil.which("bwrap") is None:
            print("bubblewrap is not installed (apt-get install bubblewrap)", file=sys.stderr)
            return 1
        status, p99 = real_runs(args.runs, args.real_envs, args.real_crons, args.worker_threads)
        summary.append(
            f"p99 lateness ≤ 1 s for real runs: {met(p99 <= AIM_LATENESS)} ({p99:.3f} s)"
        )
    print("## Aims")
    print()
    for line in summary:
        print(f"- {line}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
