"""Supervised processes: restarted after they exit, their output in a rotating log,
stopped with their group (real processes under bubblewrap)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from homeport.runtime import supervisor as sup
from homeport.runtime.sandbox import Sandbox
from homeport.runtime.supervisor import ProcessSpec, RotatingLog, Supervisor

pytestmark = pytest.mark.slow


def _wait(predicate: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_process_that_exits_is_restarted_and_logged(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    log = RotatingLog(tmp_path / "logs" / "app.log")
    box = Sandbox(app, False, env={"PATH": "/usr/bin:/bin"})
    supervisor = Supervisor()
    supervisor.start()
    try:
        spec = ProcessSpec(
            "app", box, ["dash", "-c", "echo started; sleep 0.2; exit 3"], "bwrap", log
        )
        supervisor.run("p/main", spec)
        _wait(lambda: log.path.read_text().count("started") >= 2)
        text = log.path.read_text()
        assert "app exited with status 3; restarting in" in text
        assert supervisor.state("p/main")["app"]["restarts"] >= 1
    finally:
        supervisor.stop_group("p/main")
        supervisor.shutdown()
    count = log.path.read_text().count("started")
    time.sleep(1.5)
    assert log.path.read_text().count("started") == count  # stopped means stopped


def test_stop_group_stops_only_that_group(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    box = Sandbox(app, False, env={"PATH": "/usr/bin:/bin"})
    supervisor = Supervisor()
    try:
        for group in ("p/a", "p/b"):
            log = RotatingLog(tmp_path / group.replace("/", "-") / "app.log")
            supervisor.run(group, ProcessSpec("app", box, ["sleep", "60"], "bwrap", log))
        assert supervisor.pid("p/a", "app") and supervisor.pid("p/b", "app")
        supervisor.stop_group("p/a", grace=2)
        assert supervisor.pid("p/a", "app") is None
        assert supervisor.pid("p/b", "app") is not None
    finally:
        supervisor.shutdown()


def test_logs_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sup, "MAX_LOG_BYTES", 200)
    log = RotatingLog(tmp_path / "app.log")
    for i in range(20):
        log.write(f"line {i} " + "x" * 20)
    assert log.path.stat().st_size <= 200
    assert (tmp_path / "app.log.1").exists()
    assert "line 19" in log.path.read_text()
