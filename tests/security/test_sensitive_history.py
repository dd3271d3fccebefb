"""Finding 8: a value that becomes sensitive leaves no trace in the history.

Before the fix, a plain variable's ``environment.variable.create`` activity kept the
value in its payload after ``PATCH {"is_sensitive": true}``, readable by any viewer
through ``/activities``.
"""

from __future__ import annotations

import json

import pytest

from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _everything_a_viewer_reads(target: Target, token: str, pid: str) -> str:
    """Activity lists (project and environment), each activity, and the console page."""
    seen: list[str] = []
    for path in (f"/projects/{pid}/activities", f"/projects/{pid}/environments/main/activities"):
        status, listed = target.call("GET", path, token)
        assert status == 200, listed
        seen.append(json.dumps(listed))
        for activity in listed:
            status, one = target.call("GET", f"/projects/{pid}/activities/{activity['id']}", token)
            assert status == 200
            seen.append(json.dumps(one))
    return "\n".join(seen)


@pytest.mark.parametrize("level", ["project", "environment"])
def test_value_is_scrubbed_when_it_becomes_sensitive(target: Target, level: str) -> None:
    owner = target.person(f"owner-{level}@example.com")
    viewer = target.person(f"viewer-{level}@example.com")
    pid = target.project(owner, f"Secrets {level}")
    target.grant(pid, viewer, ["viewer", "production:viewer", "development:viewer"])
    base = f"/projects/{pid}" + ("/environments/main" if level == "environment" else "")
    secret = f"s3cr3t-{level}-value"
    kept = f"kept-{level}-value"

    for name, value in (("env:DB_PASSWORD", secret), ("env:PUBLIC", kept)):
        status, body = target.call(
            "POST", f"{base}/variables", owner.token, body={"name": name, "value": value}
        )
        assert status == 201, body
    status, body = target.call(
        "PATCH", f"{base}/variables/env:DB_PASSWORD", owner.token, body={"value": secret + "2"}
    )
    assert status == 200, body
    assert secret in _everything_a_viewer_reads(target, viewer.token, pid)  # the attack's premise

    status, body = target.call(
        "PATCH", f"{base}/variables/env:DB_PASSWORD", owner.token, body={"is_sensitive": True}
    )
    assert status == 200, body

    history = _everything_a_viewer_reads(target, viewer.token, pid)
    assert secret not in history  # neither the first value nor the second
    assert kept in history  # other variables' history is untouched
    status, shown = target.call("GET", f"{base}/variables/env:DB_PASSWORD", owner.token)
    assert status == 200 and "value" not in shown and shown["is_sensitive"] is True
    assert secret not in target.server.log()
