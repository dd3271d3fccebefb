"""`api:curl` (alias `api`), `project:curl` and `environment:curl`."""

from __future__ import annotations

import json

from ..conftest import Cli
from ..fake_api import FakeApiServer


def test_get_relative_to_the_api_url(cli: Cli) -> None:
    result = cli("api:curl", "/users/me")
    assert result.code == 0, result
    assert json.loads(result.out)["id"] == "u-alice"
    assert cli("api", "users/me").out == result.out


def test_include_and_head(cli: Cli) -> None:
    included = cli("api", "/users/me", "-i")
    head, _, body = included.out.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK\r\n") and "Content-Type: application/json" in head
    assert json.loads(body)["id"] == "u-alice"
    only = cli("api", "/users/me", "--head")
    assert only.out.startswith("HTTP/1.1 200") and only.out.endswith("\r\n\r\n")


def test_send_json_with_project_placeholder(cli: Cli, fake: FakeApiServer) -> None:
    result = cli(
        "api:curl",
        "-p",
        "proj1",
        "-X",
        "PATCH",
        "--json",
        '{"title": "Renamed"}',
        "/projects/{project}",
    )
    assert result.code == 0, result
    assert fake.projects["proj1"]["title"] == "Renamed"
    call = fake.calls("PATCH", "/projects/proj1")[-1]
    assert call.headers["content-type"] == "application/json"
    bad = cli("api:curl", "--json", "{nope", "/users/me")
    assert bad.code == 1 and "The value of --json contains invalid JSON." in bad.err


def test_headers_and_project_curl(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("project:curl", "-p", "proj1", "-H", "X-Test: yes", "-H", "X-Other: 2")
    assert result.code == 0 and json.loads(result.out)["id"] == "proj1"
    call = fake.calls("GET", "/projects/proj1")[-1]
    assert call.headers["x-test"] == "yes" and call.headers["x-other"] == "2"
    env = cli("environment:curl", "-p", "proj1", "-e", "main")
    assert env.code == 0 and json.loads(env.out)["id"] == "main"


def test_http_error_prints_body_and_fails(cli: Cli) -> None:
    result = cli("api:curl", "/projects/nope")
    assert result.code == 22  # curl --fail-with-body, as the PHP CLI runs it
    assert json.loads(result.out)["code"] == 404
    quiet = cli("api:curl", "/projects/nope", "--fail")
    assert quiet.code == 22 and quiet.out == ""
    host = cli("api:curl", "https://example.com/x")
    assert host.code == 1 and "Invalid path: https://example.com/x" in host.err


def test_refreshes_the_token_on_401(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("api", "/users/me").code == 0
    fake.expire_access_tokens()
    result = cli("api", "/users/me")
    assert result.code == 0 and json.loads(result.out)["id"] == "u-alice"
    fake.expire_access_tokens()
    no_retry = cli("api", "/users/me", "--no-retry-401")
    assert no_retry.code == 22
