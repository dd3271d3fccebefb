"""The API layer: URLs, links and error mapping (`homeport.cli.api`)."""

from __future__ import annotations

import io

from homeport.cli.api import Api, embedded_activities, embedded_entity, error_message, link
from homeport.cli.console import Console
from homeport.cli.env import Environment

from .conftest import Cli
from .fake_api import FakeApiServer, error


def make_api(base: str) -> Api:
    env = Environment(
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        cwd="/",
        environ={"PLATFORMSH_CLI_API_URL": base, "HOME": "/nonexistent"},
    )
    return Api(env, env.config, Console(env))


def test_urls_keep_only_the_path_of_absolute_hrefs() -> None:
    api = make_api("http://h:1")
    assert api.url("/projects/p") == "http://h:1/projects/p"
    assert api.url("http://internal:9/projects/p?x=1") == "http://h:1/projects/p?x=1"
    prefixed = make_api("http://h:1/api/")
    assert prefixed.url("/projects/p") == "http://h:1/api/projects/p"
    assert prefixed.url("/api/projects/p") == "http://h:1/api/projects/p"
    assert Api.quote("env:FOO/x") == "env%3AFOO%2Fx"


def test_hal_helpers() -> None:
    resource = {"_links": {"self": {"href": "/a"}, "pf:routes": [{"href": "/r"}], "bad": "x"}}
    assert link(resource, "self") == "/a"
    assert link(resource, "pf:routes") == "/r"
    assert link(resource, "bad") is None and link(None, "self") is None
    result = {"_embedded": {"entity": {"id": 1}, "activities": [{"id": "a"}, "junk"]}}
    assert embedded_entity(result) == {"id": 1}
    assert embedded_activities(result) == [{"id": "a"}]
    assert embedded_entity({"id": "bare"}) == {"id": "bare"}
    assert (
        error_message({"message": "Bad", "detail": {"name": ["Required."]}})
        == "Bad\nname: Required."
    )


def test_server_error_message(cli: Cli, fake: FakeApiServer) -> None:
    original = fake.route

    def broken(req, h):
        if req.path == "/projects/proj1/environments":
            raise error(500, "Database on fire")
        original(req, h)

    fake.route = broken  # type: ignore[method-assign]
    result = cli("env", "-p", "proj1")
    assert result.code == 1
    assert "[ApiResponseException]" in result.err
    assert "The server failed: GET /projects/proj1/environments: HTTP 500" in result.err
    assert "Database on fire" in result.err


def test_debug_verbosity_logs_requests(cli: Cli) -> None:
    result = cli("auth:info", "-P", "id", "-vvv")
    assert result.out == "u-alice\n"
    assert "> GET " in result.err and "/users/me" in result.err and "< 200" in result.err


def test_permission_denied_shows_the_server_message(cli: Cli, fake: FakeApiServer) -> None:
    original = fake.route

    def strict(req, h):
        if req.path == "/projects/proj1/environments" and req.method == "GET":
            raise error(403, "The project role 'admin' is required.")
        original(req, h)

    fake.route = strict  # type: ignore[method-assign]
    result = cli("env", "-p", "proj1")
    assert result.code == 6
    assert "Permission denied. Check your permissions on the project." in result.err
    assert "The project role 'admin' is required." in result.err  # without -v
