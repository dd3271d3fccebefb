"""The environment git (and so the hook) runs under."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.git.access import git_env, project_from_path


def test_git_env_pins_the_data_dir_and_drops_inherited_git_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = {
        "HOMEPORT_DATA_DIR": "./var",  # the default is relative to the server's cwd
        "GIT_DIR": "/somewhere/else",
        "PLATFORMSH_PUSH_NO_WAIT": "1",
        "PATH": "/usr/bin",
    }
    env = git_env(base, "acc", "proj", no_wait=False)
    assert env["HOMEPORT_DATA_DIR"] == str(tmp_path / "var")
    assert env["HOMEPORT_DATABASE_URL"] == f"sqlite:///{tmp_path / 'var' / 'homeport.db'}"
    assert "GIT_DIR" not in env and "PLATFORMSH_PUSH_NO_WAIT" not in env
    assert env["HOMEPORT_GIT_ACCOUNT"] == "acc" and env["HOMEPORT_GIT_PROJECT"] == "proj"
    assert git_env(base, "acc", "proj", no_wait=True)["PLATFORMSH_PUSH_NO_WAIT"] == "1"


@pytest.mark.parametrize(
    ("path", "project"),
    [
        ("abc123.git", "abc123"),
        ("/abc123.git", "abc123"),
        ("/abc123.git/", "abc123"),
        ("../abc123.git", None),
        ("/etc/passwd", None),
        ("abc.git/../x.git", None),
        ("ABC.git", None),
    ],
)
def test_repository_paths(path: str, project: str | None) -> None:
    assert project_from_path(path) == project
