"""The scheduler with a fake clock: due crons become `environment.cron` activities,
once each, whatever the number of schedulers; missed runs run once; a run still
waiting absorbs the next trigger; inactive environments have no runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from homeport.domain import crons
from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.scheduler.loop import Scheduler
from homeport.store.db import Database
from homeport.store.models import Activity, CronJob
from tests.crons_fixtures import insert_cron_rows, job
from tests.helpers import Api
from tests.world import World, build_world

T0 = datetime(2026, 12, 4, 4, 59, 30, tzinfo=UTC)


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def cron_activities(db: Database) -> list[Activity]:
    with db.session() as session:
        query = select(Activity).where(Activity.type == "environment.cron")
        return list(session.scalars(query.order_by(Activity.pk)))


def set_next_run(db: Database, when: datetime) -> None:
    with db.session(write=True) as session:
        for row in session.scalars(select(CronJob)):
            row.next_run_at = when


def next_runs(db: Database) -> dict[str, datetime]:
    with db.session() as session:
        return {r.name: r.next_run_at for r in session.scalars(select(CronJob))}


def test_a_due_cron_becomes_one_system_activity(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(db, world.pid, "main", job("backup", "0 5 * * *"))
    set_next_run(db, datetime(2026, 12, 4, 5, 0, tzinfo=UTC))
    woken: list[int] = []
    scheduler = Scheduler(db, woken.append)
    assert scheduler.tick(T0) == 0
    assert scheduler.seconds_to_next(T0) == 1.0  # capped: a deploy may add sooner jobs
    assert scheduler.seconds_to_next(T0 + timedelta(seconds=29.5)) == pytest.approx(0.5)
    assert scheduler.tick(T0 + timedelta(seconds=30)) == 1
    assert woken == [1]
    [run] = cron_activities(db)
    assert run.state == "pending" and run.environments == ["main"]
    assert run.payload["user"]["id"] == "admin" and run.actor_id is None
    assert run.text == "Homeport Bot ran cron backup"
    assert run.parameters["cron"] == "backup" and run.parameters["application"] == "app"
    assert run.parameters["spec"]["spec"] == "0 5 * * *"
    assert run.payload["scheduled_for"] == "2026-12-04T05:00:00+00:00"
    assert next_runs(db)["backup"] == datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
    # Nothing more until the next day.
    assert scheduler.tick(T0 + timedelta(hours=1)) == 0


def test_a_late_scheduler_runs_each_missed_job_once(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(db, world.pid, "main", job("often", "*/5 * * * *"), job("daily"))
    set_next_run(db, T0)
    later = T0 + timedelta(hours=6, seconds=10)  # 72 runs of `often` were missed
    assert Scheduler(db).tick(later) == 2
    assert sorted(a.parameters["cron"] for a in cron_activities(db)) == ["daily", "often"]
    following = next_runs(db)
    assert following["often"] == datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
    assert following["daily"] == datetime(2026, 12, 5, 5, 0, tzinfo=UTC)


def test_a_run_still_waiting_absorbs_the_next_trigger(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(db, world.pid, "main", job("slow", "*/5 * * * *"))
    set_next_run(db, T0)
    scheduler = Scheduler(db)
    assert scheduler.tick(T0) == 1
    # No worker took it: five minutes later the trigger adds nothing.
    assert scheduler.tick(T0 + timedelta(minutes=5)) == 0
    assert len(cron_activities(db)) == 1
    assert next_runs(db)["slow"] > T0 + timedelta(minutes=5)
    # Once it ran, the next trigger queues a new run.
    with db.session(write=True) as session:
        for row in session.scalars(select(Activity)):
            row.state, row.result = "complete", "success"
    assert scheduler.tick(T0 + timedelta(minutes=10)) == 1


def test_inactive_environments_have_no_runs(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(db, world.pid, "old", job("backup"))
    set_next_run(db, T0)
    assert Scheduler(db).tick(T0 + timedelta(days=1)) == 0
    assert cron_activities(db) == []


def test_two_schedulers_never_start_one_run_twice(world: World) -> None:
    settings = world.api.state.settings
    db = world.api.state.db
    jobs = [job(f"job{i:02d}", "H/10 * * * *") for i in range(40)]
    insert_cron_rows(db, world.pid, "main", *jobs[:20])
    insert_cron_rows(db, world.pid, "dev", *jobs[20:])
    set_next_run(db, T0)
    others = [Database(settings.database_url) for _ in range(2)]
    started: list[int] = []
    barrier = threading.Barrier(2)

    def run(database: Database) -> None:
        barrier.wait()
        started.append(Scheduler(database).tick(T0 + timedelta(seconds=1)))

    threads = [threading.Thread(target=run, args=(d,)) for d in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in others:
        d.dispose()
    assert sum(started) == 40
    runs = cron_activities(db)
    assert len(runs) == 40
    assert len({(a.environments[0], a.parameters["cron"]) for a in runs}) == 40


def test_time_zones_and_hashed_minutes(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(
        db,
        world.pid,
        "main",
        job("paris", "0 5 * * *", tz="Europe/Paris"),
        job("h1", "H 5 * * *"),
        job("h2", "H 5 * * *"),
    )
    runs = next_runs(db)
    # 05:00 in Paris is 04:00 UTC in December.
    assert runs["paris"].hour == 4 and runs["paris"].minute == 0
    assert runs["h1"].hour == 5 and runs["h2"].hour == 5
    # `H` is stable for a job: the same spec synced again keeps its minute.
    insert_cron_rows(
        db, world.pid, "main", job("paris", "0 5 * * *", tz="Europe/Paris"), job("h1", "H 5 * * *")
    )
    again = next_runs(db)
    assert again["h1"] == runs["h1"] and "h2" not in again


def test_a_changed_spec_is_rescheduled(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(db, world.pid, "main", job("backup", "0 5 * * *"))
    first = next_runs(db)["backup"]
    insert_cron_rows(db, world.pid, "main", job("backup", "30 6 * * *"))
    second = next_runs(db)["backup"]
    assert (first.hour, first.minute) == (5, 0) and (second.hour, second.minute) == (6, 30)


def test_deactivation_clears_the_crons(world: World) -> None:
    db = world.api.state.db
    insert_cron_rows(db, world.pid, "dev", job("backup"))
    with db.session(write=True) as session:
        env = envs.get_environment(session, get_project(session, world.pid), "dev")
        crons.clear(session, env)
        count = session.scalar(select(func.count()).select_from(CronJob))
    assert count == 0
