"""A push whose crons run too often, or whose spec or time zone is invalid, is
refused with the rule stated; the limit is the operator's setting."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from homeport.git.push import invalid_config
from homeport.git.refs import RefUpdate
from homeport.git.repos import ZERO

APP = """name: app
type: 'python:3.11'
web:
  commands:
    start: python3 -m http.server $PORT
{extra}crons:
  backup:
    spec: '{spec}'
    commands:
      start: platform backup:create --yes --no-wait
"""


def commit(tmp_path: Path, spec: str, extra: str = "") -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "HOME": str(tmp_path)}
    env |= {
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    (repo / ".platform.app.yaml").write_text(APP.format(spec=spec, extra=extra))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "c"], cwd=repo, check=True, env=env)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    return repo / ".git", head


def test_specs_shorter_than_the_minimum_are_refused(tmp_path: Path) -> None:
    repo, head = commit(tmp_path, "* * * * *")
    update = RefUpdate(ZERO, head, "refs/heads/main")
    reason = invalid_config(repo, update, 300)
    assert reason is not None
    assert reason.startswith(
        "Homeport: invalid configuration: .platform.app.yaml: crons.backup.spec:"
    )
    assert "every 60 s" in reason and "every 300 s (HOMEPORT_CRON_MIN_INTERVAL)" in reason
    # The operator may lower the limit (Platform.sh's Enterprise plans allow 1 minute).
    assert invalid_config(repo, update, 60) is None


@pytest.mark.parametrize(
    ("spec", "extra", "expected"),
    [
        ("61 * * * *", "", "crons.backup.spec: invalid cron spec"),
        ("0 5 * *", "", "expected 5 fields"),
        ("0 5 * * *", "timezone: Mars/Olympus\n", "timezone: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_invalid_specs_and_zones_are_refused(
    tmp_path: Path, spec: str, extra: str, expected: str
) -> None:
    repo, head = commit(tmp_path, spec, extra)
    reason = invalid_config(repo, RefUpdate(ZERO, head, "refs/heads/main"), 300)
    assert reason is not None and expected in reason, reason


def test_a_valid_daily_cron_passes(tmp_path: Path) -> None:
    repo, head = commit(tmp_path, "H 5 * * *", "timezone: Europe/Paris\n")
    assert invalid_config(repo, RefUpdate(ZERO, head, "refs/heads/main"), 300) is None
