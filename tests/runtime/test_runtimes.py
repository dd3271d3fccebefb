"""Which app types this host can build, and the one-line refusal for the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.runtime.runtimes import RuntimeUnavailable, available, resolve


def _fake_bin(tmp_path: Path, *names: str) -> tuple[str, ...]:
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\necho v20.1.0\n")
        path.chmod(0o755)
    return (str(directory),)


def test_interpreters_are_found_by_name(tmp_path: Path) -> None:
    dirs = _fake_bin(tmp_path, "python3.11", "python3.12", "node", "python3-config")
    types = [r.type for r in available(dirs)]
    assert types == ["nodejs:20", "python:3.11", "python:3.12"]
    assert resolve("python:3.12", dirs).executable.endswith("/python3.12")


def test_an_absent_interpreter_names_what_is_available(tmp_path: Path) -> None:
    dirs = _fake_bin(tmp_path, "python3.11")
    with pytest.raises(RuntimeUnavailable) as caught:
        resolve("python:3.8", dirs)
    message = str(caught.value)
    assert "python:3.8" in message and "python:3.11" in message and "\n" not in message
    with pytest.raises(RuntimeUnavailable, match=r"golang:1\.22"):
        resolve("golang:1.22", dirs)


def test_this_host_builds_its_own_python() -> None:
    """The suite's apps are `python:3.11`: Debian's interpreter must be found."""
    assert "python:3.11" in [r.type for r in available()]


def test_homeport_runtimes_lists_what_this_server_builds(tmp_path: Path) -> None:
    """`homeport runtimes`, the operator command (a real process)."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [str(Path(sys.executable).parent / "homeport"), "runtimes"],
        env={**os.environ, "HOMEPORT_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("\t") for line in done.stdout.splitlines())
    assert lines["python:3.11"].endswith("/python3.11")
