"""The runtime driver contract (runtime/driver.py): a second driver plugs into the
worker without touching the domain, the bubblewrap driver satisfies the contract, and
``HOMEPORT_RUNTIME_DRIVER`` refuses names it does not know."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from homeport.runtime.driver import (
    DRIVERS,
    CronRun,
    DeployFailed,
    NotDeployed,
    RuntimeDriver,
    make_driver,
)
from homeport.runtime.local import LocalRuntime
from homeport.settings import RUNTIME_DRIVERS, Settings, SettingsError
from homeport.store.db import Database
from homeport.worker.runner import Worker
from homeport.worker.tasks import default_handlers
from tests.crons_fixtures import insert_cron_rows, job
from tests.helpers import Api
from tests.world import World, build_world

SRC = Path(__file__).resolve().parents[2] / "src" / "homeport"


class FakeDriverForTests:
    """A second runtime driver: runs nothing, records every call, and answers what it
    is told to (``deploy_error``, ``cron_error``, ``cron_result``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.deploy_error: Exception | None = None
        self.cron_error: Exception | None = None
        self.cron_result = CronRun(returncode=0, timeout=60)
        self.unused_builds = 0

    def acquire(self) -> bool:
        self.calls.append(("acquire",))
        return True

    def start(self) -> None:
        self.calls.append(("start",))

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))

    def router_address(self) -> tuple[str, int] | None:
        return None

    def process_state(self, group: str) -> dict[str, dict[str, Any]]:
        return {"app": {"state": "running", "restarts": 0}}

    def deploy(
        self,
        project_id: str,
        env_name: str,
        write: Callable[[str], None],
        *,
        kind: str = "push",
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        self.calls.append(("deploy", env_name, kind))
        write(f"fake driver: deploying {env_name} ({kind})")
        if self.deploy_error is not None:
            raise self.deploy_error
        return True

    def stop(self, project_id: str, env_name: str) -> None:
        self.calls.append(("stop", env_name))

    def remove_unused_builds(self) -> int:
        self.calls.append(("remove_unused_builds",))
        return self.unused_builds

    def run_cron(
        self,
        project_id: str,
        env_name: str,
        app_name: str,
        cron_name: str,
        write: Callable[[str], None],
        *,
        activity_id: str = "",
        cancelled: Callable[[], bool] = lambda: False,
    ) -> CronRun:
        self.calls.append(("run_cron", env_name, app_name, cron_name))
        if self.cron_error is not None:
            raise self.cron_error
        write(f"fake driver: cron {cron_name} ran")
        return self.cron_result


# mypy checks both drivers against the contract here.
_fake_is_a_driver: type[RuntimeDriver] = FakeDriverForTests
_local_is_a_driver: type[RuntimeDriver] = LocalRuntime


@pytest.fixture
def world(api: Api) -> World:
    world = build_world(api)
    insert_cron_rows(api.state.db, world.pid, "dev", job("backup"))
    return world


def run_all(world: World, fake: FakeDriverForTests) -> None:
    worker = Worker(
        world.api.state.db,
        world.api.state.settings,
        default_handlers(world.api.state.settings, runtime=fake),
    )
    while worker.run_once():
        pass


def post(world: World, path: str) -> str:
    r = world.api.post(f"/projects/{world.pid}/environments/dev/{path}", world.token("dev_admin"))
    assert r.status_code == 200, r.text
    activity_id: str = r.json()["_embedded"]["activities"][0]["id"]
    return activity_id


def activity(world: World, activity_id: str) -> tuple[dict[str, Any], str]:
    base = f"/projects/{world.pid}/activities/{activity_id}"
    token = world.token("dev_admin")
    return world.api.get(base, token).json(), world.api.get(f"{base}/log", token).text


def status(world: World) -> str:
    r = world.api.get(f"/projects/{world.pid}/environments/dev", world.token("dev_admin"))
    value: str = r.json()["status"]
    return value


def test_a_second_driver_runs_pause_resume_cron_and_deactivate(world: World) -> None:
    fake = FakeDriverForTests()
    assert isinstance(fake, RuntimeDriver)

    paused = post(world, "pause")
    run_all(world, fake)
    assert fake.calls == [("stop", "dev")]
    assert status(world) == "paused"
    assert activity(world, paused)[0]["result"] == "success"

    resumed = post(world, "resume")
    run_all(world, fake)
    assert fake.calls[1:] == [("deploy", "dev", "redeploy")]
    assert status(world) == "active"
    body, log = activity(world, resumed)
    assert body["result"] == "success"
    assert "fake driver: deploying dev (redeploy)" in log

    cron = post(world, "crons/backup/run")
    run_all(world, fake)
    assert fake.calls[2:] == [("run_cron", "dev", "app", "backup")]
    body, log = activity(world, cron)
    assert body["result"] == "success" and "fake driver: cron backup ran" in log

    fake.unused_builds = 2
    post(world, "deactivate")
    run_all(world, fake)
    assert fake.calls[3:] == [("stop", "dev"), ("remove_unused_builds",)]
    assert status(world) == "inactive"


def test_the_worker_turns_driver_outcomes_into_activity_results(world: World) -> None:
    fake = FakeDriverForTests()
    fake.cron_result = CronRun(returncode=3, timeout=60)
    failed = post(world, "crons/backup/run")
    run_all(world, fake)
    body, log = activity(world, failed)
    assert body["result"] == "failure"
    assert "The cron backup exited with status 3." in log

    fake.cron_result = CronRun(returncode=-9, timeout=5, timed_out=True)
    late = post(world, "crons/backup/run")
    run_all(world, fake)
    assert "ran longer than its timeout of 5 s" in activity(world, late)[1]

    fake.cron_error = NotDeployed("The environment dev is paused.")
    gone = post(world, "crons/backup/run")
    run_all(world, fake)
    assert "The environment dev is paused. The cron backup did not run." in activity(world, gone)[1]

    fake.deploy_error = DeployFailed("E: the fake driver refuses")
    redeploy = post(world, "redeploy")
    run_all(world, fake)
    body, log = activity(world, redeploy)
    assert body["result"] == "failure"
    assert "E: the fake driver refuses" in log and "Environment redeployment failed" in log


def test_local_runtime_satisfies_the_contract(settings: Settings, tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        local = LocalRuntime(settings, db)
        assert isinstance(local, RuntimeDriver)
        made = make_driver(settings, db)
        assert type(made) is LocalRuntime and settings.runtime_driver == "local"
        assert local.router_address() is None  # not started: no router
        assert local.process_state("p/main") == {}
    finally:
        db.dispose()
    assert set(DRIVERS) == set(RUNTIME_DRIVERS)


def test_an_unknown_runtime_driver_is_refused(tmp_path: Path) -> None:
    env = {"HOMEPORT_DATA_DIR": str(tmp_path), "HOMEPORT_RUNTIME_DRIVER": "kubernetes"}
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert message == (
        "HOMEPORT_RUNTIME_DRIVER must name a known runtime driver (local), not 'kubernetes'"
    )
    assert Settings.from_env({**env, "HOMEPORT_RUNTIME_DRIVER": "local"}).runtime_driver == "local"
    assert Settings.from_env({"HOMEPORT_DATA_DIR": str(tmp_path)}).runtime_driver == "local"
    # A settings object built some other way is refused by the factory too.
    plain = Settings.from_env({"HOMEPORT_DATA_DIR": str(tmp_path)})
    odd = dataclasses.replace(plain, runtime_driver="nomad")
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        with pytest.raises(SettingsError, match=r"known runtime driver \(local\), not 'nomad'"):
            make_driver(odd, db)
    finally:
        db.dispose()


def test_only_the_driver_factory_names_the_bubblewrap_driver() -> None:
    """Outside runtime/, code holds a RuntimeDriver; runtime/driver.py alone constructs
    LocalRuntime."""
    wrong: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "runtime":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            imports = isinstance(node, ast.ImportFrom) and node.module == "homeport.runtime.local"
            names = isinstance(node, ast.Name) and node.id == "LocalRuntime"
            if imports or names:
                wrong.append(str(rel))
    assert not wrong, wrong
