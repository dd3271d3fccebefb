"""HOMEPORT_LOG_FORMAT=json: one JSON object per line, with the request, account and
activity ids, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from homeport.logformat import (
    JsonFormatter,
    bind,
    log_context,
    log_format_from,
    make_handler,
)
from homeport.settings import Settings, SettingsError
from homeport.web.deps import CurrentActor
from homeport.web.request_id import fresh_id
from homeport.worker.context import ActivityContext
from homeport.worker.runner import Worker
from tests.helpers import Api
from tests.worker.test_runner import pending

probe = logging.getLogger("homeport.test.probe")


class Captured:
    """Every log line written while it is installed, in one format."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def text(self) -> str:
        return self.stream.getvalue()


def capture(fmt: str) -> Iterator[Captured]:
    stream = io.StringIO()
    handler = make_handler(fmt, stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    # Everything, debug lines of every library included.
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    yield from capture("json")


@pytest.fixture
def text_logs() -> Iterator[Captured]:
    yield from capture("text")


def test_a_json_line_has_the_fields() -> None:
    record = logging.LogRecord("homeport.x", logging.WARNING, __file__, 1, "hi %s", ("you",), None)
    with log_context(request_id="r1"):
        bind(account_id="a1", unknown="ignored")
        line = json.loads(JsonFormatter().format(record))
    assert set(line) == {"time", "level", "logger", "message", "request_id", "account_id"}
    assert line["message"] == "hi you" and line["level"] == "warning"
    assert line["logger"] == "homeport.x" and line["time"].endswith("+00:00")
    plain = json.loads(JsonFormatter().format(record))
    assert "request_id" not in plain and "account_id" not in plain


def test_exceptions_stay_inside_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("h", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["exception"]


def test_uvicorn_access_lines_get_fields_without_the_query() -> None:
    args = ("127.0.0.1:5000", "GET", "/projects/p1?x=secret", "1.1", 200)
    fmt = '%s - "%s %s HTTP/%s" %d'
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, fmt, args, None)
    line = json.loads(JsonFormatter().format(record))
    assert line["http_path"] == "/projects/p1" and line["http_status"] == 200
    assert line["message"] == '127.0.0.1:5000 - "GET /projects/p1 HTTP/1.1" 200'


def test_the_setting() -> None:
    assert Settings.from_env({"HOMEPORT_DATA_DIR": "/tmp/x"}).log_format == "text"
    env = {"HOMEPORT_DATA_DIR": "/tmp/x", "HOMEPORT_LOG_FORMAT": "JSON"}
    assert Settings.from_env(env).log_format == "json"
    with pytest.raises(SettingsError, match="HOMEPORT_LOG_FORMAT"):
        Settings.from_env({**env, "HOMEPORT_LOG_FORMAT": "xml"})
    assert log_format_from("xml") == "text" and log_format_from(None) == "text"


def _add_probe_routes(api: Api) -> None:
    """Two routes that log: one on the event loop, one in the thread pool."""
    app = api.client.app

    async def loop_route(actor: CurrentActor) -> dict[str, str]:
        probe.warning("probe on the loop")
        return {}

    def thread_route(actor: CurrentActor) -> dict[str, str]:
        probe.warning("probe in a thread")
        return {}

    app.add_api_route("/_probe/loop", loop_route, methods=["GET"])  # type: ignore[attr-defined]
    app.add_api_route("/_probe/thread", thread_route, methods=["GET"])  # type: ignore[attr-defined]


def test_request_lines_carry_request_and_account_ids(api: Api, json_logs: Captured) -> None:
    account = api.create_account("ada@example.com")
    token = api.access_token(api.api_token(account.id))
    _add_probe_routes(api)
    ids = {}
    for path in ("/_probe/loop", "/_probe/thread"):
        response = api.get(path, token)
        assert response.status_code == 200, response.text
        ids[path] = response.headers["x-request-id"]
    lines = [r for r in json_logs.records() if r["logger"] == "homeport.test.probe"]
    assert len(lines) == 2
    for line, path in zip(lines, ids, strict=True):
        assert line["request_id"] == ids[path]
        assert line["account_id"] == account.id
    # A caller's own sane request id is kept.
    api.get("/_probe/loop", token, headers={"X-Request-Id": "from-the-proxy.1"})
    last = [r for r in json_logs.records() if r["logger"] == "homeport.test.probe"][-1]
    assert last["request_id"] == "from-the-proxy.1"
    # Every line is one JSON object.
    assert all(isinstance(json.loads(line), dict) for line in json_logs.lines())


def test_worker_lines_carry_the_activity_id(api: Api, admin: str, json_logs: Captured) -> None:
    pid = api.post("/projects", admin, json={"title": "Shop"}).json()["_embedded"]["entity"]["id"]
    ok_id = pending(api, pid, "main", "test.ok")
    bad_id = pending(api, pid, "dev", "test.bad")

    def ok(_ctx: ActivityContext) -> None:
        probe.info("working")

    def bad(_ctx: ActivityContext) -> None:
        raise RuntimeError("handler broke")

    worker = Worker(api.state.db, api.state.settings, {"test.ok": ok, "test.bad": bad})
    while worker.run_once():
        pass
    records = json_logs.records()
    [working] = [r for r in records if r["message"] == "working"]
    assert working["activity_id"] == ok_id
    [failed] = [r for r in records if "handler broke" in r.get("exception", "")]
    assert failed["activity_id"] == bad_id and failed["level"] == "error"
    # Outside an activity, no id.
    probe.info("idle")
    assert "activity_id" not in json_logs.records()[-1]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_tokens_and_passwords_never_reach_the_logs(api: Api, fmt: str) -> None:
    password = "Correct-Horse-Battery-9137"
    for captured in capture(fmt):
        account = api.create_account("bea@example.com", password=password)
        api_token = api.api_token(account.id)
        access = api.access_token(api_token)
        form = {"grant_type": "password", "username": "bea", "password": password}
        assert api.client.post("/oauth2/token", data=form).status_code == 200
        wrong = {**form, "password": password + "-wrong"}
        assert api.client.post("/oauth2/token", data=wrong).status_code == 400
        assert api.exchange(api_token[:-4] + "AAAA").status_code == 400
        assert api.get("/users/me", access).status_code == 200
        assert api.get("/users/me", access + "x").status_code == 401
        api.post("/projects", access, json={"title": "T"})
        probe.warning("a line after all that")
        text = captured.text()
        assert "a line after all that" in text
        for secret in (password, api_token, api_token[4:20], access, access.split(".")[-1]):
            assert secret not in text
        assert "Bearer" not in text and "authorization" not in text.lower()


def test_fresh_request_ids_are_unique_hex_and_new_after_a_fork() -> None:
    ids = {fresh_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids must not repeat the parent's prefix
        os.close(read)
        os.write(write, fresh_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child[:16] != fresh_id()[:16]
