"""The attack fixture itself works: people, projects, grants."""

from __future__ import annotations

import pytest

from tests.security.conftest import Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_people_and_projects(target: Target) -> None:
    alice = target.person("smoke-alice@example.com")
    project = target.project(alice)
    status, body = target.call("GET", f"/projects/{project}", alice.token)
    assert status == 200 and body["id"] == project
    stranger = target.person("smoke-stranger@example.com")
    status, _ = target.call("GET", f"/projects/{project}", stranger.token)
    assert status == 404
