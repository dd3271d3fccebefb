"""No input causes a 500: property-based requests generated from our own OpenAPI
description (schemathesis + hypothesis), for every operation, sent as a platform admin
whose project the path parameters point at."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.helpers import Api

pytestmark = pytest.mark.slow

EXAMPLES = 10


def test_no_input_causes_a_server_error(api: Api) -> None:
    token = api.login_new("fuzz@example.com", admin=True)
    pid = api.post("/projects", token, json={"title": "Fuzz"}).json()["_embedded"]["entity"]["id"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures: list[str] = []
    calls: list[int] = []
    operations = 0

    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # our own description must be valid
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            params = case.path_parameters or {}
            # Point at things that exist, so the handlers run past their look-ups.
            for name, value in (("project_id", pid), ("environment_id", "main"), ("user_id", "me")):
                if name in params:
                    params[name] = value
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert operations > 60
    assert len(calls) > operations * 3  # hypothesis really sent requests
    assert any(code < 300 for code in calls)  # and some passed validation
    assert failures == []
