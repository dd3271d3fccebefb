"""Builds end as they must: a failing hook, the time limit and a cancellation each
stop the build with a one-line reason and leave no half-made build behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from homeport.runtime.appconfig import load_project_config
from homeport.runtime.build import Builder, BuildInputs, BuildLog
from homeport.runtime.contract import AppFacts
from homeport.runtime.processes import StepFailed
from tests.runtime.test_build_ids import _git

pytestmark = pytest.mark.slow


def _inputs(tmp_path: Path, hook: str) -> BuildInputs:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    config = (
        "name: app\ntype: 'python:3.11'\nweb:\n  commands:\n    start: python3 index.py\n"
        f"hooks:\n  build: |\n    {hook}\n"
    )
    (work / ".platform.app.yaml").write_text(config)
    (work / "index.py").write_text("print('hi')\n")
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "one")
    commit = _git(work, "rev-parse", "HEAD").strip()
    app = load_project_config({".platform.app.yaml": config.encode()}).apps[0]
    facts = AppFacts("p", "e" * 56, "app", "", "/app", "http://127.0.0.1:1")
    return BuildInputs(work / ".git", commit, app, facts, {})


def _build(
    tmp_path: Path, hook: str, timeout: float = 60, cancel_after: float | None = None
) -> tuple[list[str], Builder]:
    builder = Builder(tmp_path / "runtime", "bwrap", timeout)
    lines: list[str] = []
    started = time.monotonic()

    def cancelled() -> bool:
        return cancel_after is not None and time.monotonic() - started > cancel_after

    builder.build(_inputs(tmp_path, hook), BuildLog(lines.append), cancelled)
    return lines, builder


def test_a_build_hook_runs_and_a_second_build_is_reused(tmp_path: Path) -> None:
    lines, builder = _build(tmp_path, "echo building; echo oops >&2")
    text = "\n".join(lines)
    assert "Executing build hook..." in text
    assert "    building" in lines and "    W: oops" in lines
    again: list[str] = []
    builder.build(
        _inputs(tmp_path / "x", "echo building; echo oops >&2"),
        BuildLog(again.append),
        lambda: False,
    )
    assert "  Reusing existing build for this tree ID" in again


def test_the_last_command_decides(tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match="exit status 3"):
        _build(tmp_path, "true; exit 3")
    builds = tmp_path / "runtime" / "builds"
    assert [p.name for p in builds.iterdir() if not p.name.startswith(".")] == []
    assert not [
        p for p in builds.iterdir() if p.name.startswith(".") and p.is_dir() and "." in p.name[1:]
    ]


def test_the_time_limit_stops_the_build(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(StepFailed, match="exceeded 1 s"):
        _build(tmp_path, "sleep 30", timeout=1)
    assert time.monotonic() - started < 15


def test_a_cancelled_build_stops(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(StepFailed, match="cancelled"):
        _build(tmp_path, "sleep 30", cancel_after=0.5)
    assert time.monotonic() - started < 15
