"""Activity helpers and the waiting monitor (`homeport.cli.activities`)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from homeport.cli import activities as acts
from homeport.cli.console import Console
from homeport.cli.env import Environment
from homeport.cli.errors import CliError, ConnectionFailed


def test_match_and_resolve_types() -> None:
    assert acts.match_types("cron") == ["environment.cron"]
    assert acts.match_types("environment.variable.%") == [
        "environment.variable.create",
        "environment.variable.delete",
        "environment.variable.update",
    ]
    warnings: list[str] = []
    assert acts.resolve_types(["cron", "custom"], [], warnings.append) == [
        "environment.cron",
        "custom",
    ]
    assert warnings == ["Unrecognized activity type to include: custom"]
    excluded = acts.resolve_types([], ["cron", "integration.*"], warnings.append)
    assert "environment.cron" not in excluded and "environment.backup" in excluded
    assert not any(t.startswith("integration.") for t in excluded)


def test_display_helpers() -> None:
    activity: dict[str, Any] = {
        "id": "a1",
        "state": "in_progress",
        "result": None,
        "completion_percent": 42,
        "description": "<user>Ann</user> deployed",
        "commands": [{"exit_code": 0}],
    }
    assert acts.text_of(activity) == "Ann deployed"
    assert acts.state_of(activity) == "in progress"
    assert acts.progress_of(activity) == "42%"
    assert acts.result_of(activity) == ""
    activity["commands"].append({"exit_code": 2})
    assert acts.result_of(activity) == "failure"
    assert acts.label(activity) == "[a1] Ann deployed"


class StubApi:
    """Just enough of `Api` for the monitor: refresh() and stream()."""

    def __init__(self, states: list[dict[str, Any]], fail_streams: bool = False) -> None:
        self.states = states
        self.fail_streams = fail_streams
        self.refreshes = 0

    class config:
        executable = "platform"

    def url(self, href: str) -> str:
        return "http://stub" + href

    def refresh(self, activity: dict[str, Any]) -> dict[str, Any]:
        self.refreshes += 1
        return self.states.pop(0) if self.states else activity

    def stream(self, href: str, params: Any = None, timeout: float = 10.0) -> Any:
        raise ConnectionFailed("Failed to connect to host: stub")


def make_monitor(api: StubApi) -> tuple[acts.Monitor, io.StringIO, list[float]]:
    err = io.StringIO()
    sleeps: list[float] = []
    clock = iter(range(0, 10_000, 7))
    env = Environment(
        stdout=io.StringIO(),
        stderr=err,
        environ={},
        cwd="/",
        sleep=sleeps.append,
        clock=lambda: float(next(clock)),
    )
    monitor = acts.Monitor(api, Console(env), env)  # type: ignore[arg-type]
    return monitor, err, sleeps


def test_stream_gives_up_after_two_minutes() -> None:
    running = {"id": "a1", "state": "in_progress", "_links": {"log": {"href": "/log"}}}
    monitor, _, sleeps = make_monitor(StubApi([]))
    with pytest.raises(CliError, match="Failed to open activity log stream: http://stub/log"):
        monitor.stream_log(running, lambda text: None)
    assert sleeps and set(sleeps) == {acts.STREAM_RETRY_DELAY}


def test_wait_multiple_polls_and_summarises() -> None:
    first = {"id": "a1", "type": "environment.redeploy", "state": "pending", "text": "redeploy"}
    second = {"id": "a2", "type": "integration.webhook", "state": "pending", "text": "hook"}
    api = StubApi(
        [
            {**first, "state": "complete", "result": "success"},
            {**second, "state": "complete", "result": "failure"},
        ]
    )
    monitor, err, sleeps = make_monitor(api)
    assert monitor.wait_multiple([first, second]) is False
    text = err.getvalue()
    assert text.startswith("Waiting for 2 activities:\n  1. [a1] redeploy\n  2. [a2] hook\n")
    assert "1/2 activities succeeded:\n  [a1] redeploy\n" in text
    assert "1/2 activities failed:\n  [a2] hook (failure)\n" in text
    assert sleeps == [acts.POLL_INTERVAL, acts.POLL_INTERVAL]
    assert [a["state"] for a in monitor.finished] == ["complete", "complete"]


def test_report_messages() -> None:
    monitor, err, _ = make_monitor(StubApi([]))
    assert monitor.report({"id": "x", "state": "cancelled", "text": "t"}) is False
    assert monitor.report({"id": "x", "state": "complete", "result": None, "text": "t"}) is False
    assert monitor.report({"id": "x", "state": "staged", "result": "success", "text": "t"}) is True
    assert err.getvalue().splitlines() == [
        "The activity was cancelled: [x] t",
        "The activity finished with an unknown result: [x] t",
        "The activity succeeded: [x] t",
        "To deploy staged changes, run: platform environment:deploy",
    ]


class OneShotStream:
    """A log stream with the given lines, then EOF."""

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines

    def lines(self) -> Any:
        return iter(self._lines)

    def close(self) -> None:
        pass


def test_log_without_final_newline_is_terminated() -> None:
    done = {"id": "a1", "state": "complete", "result": "success", "_links": {"log": {"href": "/l"}}}
    api = StubApi([])
    api.stream = lambda href, params=None, timeout=10.0: OneShotStream(  # type: ignore[method-assign]
        [
            b'{"_id": "1", "data": {"timestamp": "t", "message": "no newline"}}\n',
            b"not json\n",
            b'{"_id": "1", "data": {"timestamp": "t", "message": "duplicate"}}\n',
            b'{"_id": "2", "data": {"message": "no timestamp"}}\n',
            b'{"seal": true}\n',
        ]
    )
    monitor, _, _ = make_monitor(api)
    written: list[str] = []
    monitor.stream_log(done, written.append)
    assert written == ["no newline", "\n"]
