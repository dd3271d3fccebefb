"""End to end: a real ``homeport serve`` with JSON logs, and its /metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.server import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_json_logs_and_metrics(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data", {"HOMEPORT_LOG_FORMAT": "json", "HOMEPORT_SANDBOX": "none"}
    ).start()
    try:
        password = (server.data_dir / "initial-admin-password").read_text().strip()
        form = {"grant_type": "password", "username": "admin@example.com", "password": password}
        status, body = server.call("POST", "/oauth2/token", form=form)
        assert status == 200, body
        token = body["access_token"]
        assert server.call("GET", "/users/me", token)[0] == 200
        assert server.call("GET", "/projects/nosuchproject1", token)[0] == 404
        assert server.call("POST", "/oauth2/token", form={**form, "password": "wrong"})[0] == 400
        status, text = server.call("GET", "/metrics")
        assert status == 200
        assert 'homeport_http_requests_total{method="GET",route="/users/me",status="200"}' in text
        assert 'route="/projects/{project_id}"' in text and "nosuchproject1" not in text
        assert 'homeport_token_exchanges_total{grant_type="password",outcome="success"}' in text
        assert "homeport_activities_pending" in text and "homeport_db_pool_size" in text
        # Start-up's objects are out of the collector's sight (no 60-80 ms full collections).
        [frozen] = [
            line for line in text.splitlines() if line.startswith("homeport_gc_frozen_objects ")
        ]
        assert float(frozen.split()[1]) > 10_000
        status, denied = server.call("GET", "/metrics", headers={"X-Forwarded-For": "192.0.2.1"})
        assert status == 403 and denied["code"] == 403
        time.sleep(0.3)  # the access line of the last request
    finally:
        assert server.stop() == 0
    lines = [line for line in server.log().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    me_line = next(r for r in access if r.get("http_path") == "/users/me")
    assert me_line["http_status"] == 200 and me_line["request_id"] and me_line["account_id"]
    assert any(r["message"].startswith("Homeport listening") for r in records)
    # The initial password stays in its file; no token reaches the log.
    assert password not in server.log() and token not in server.log()
