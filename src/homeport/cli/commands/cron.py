"""`cron:list` and `cron:run`: an environment's crons, and running one now.

Homeport extensions (the PHP CLI has no cron commands): `GET {environment}/crons`
lists the deployed crons with their last and next runs, and
`POST {environment}/crons/{name}/run` queues an `environment.cron` activity, which
`cron:run` waits for and streams like `backup:create`.
"""

from __future__ import annotations

from homeport.cli.api import embedded_activities, error_message
from homeport.cli.commands.base import Command, environment_label, project_label
from homeport.cli.errors import CommandFailed
from homeport.cli.exitcodes import ExitCode
from homeport.cli.inputdef import REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

COLUMNS = [
    ("name", "Name"),
    ("app", "App"),
    ("spec", "Spec"),
    ("timezone", "Timezone"),
    ("last_run", "Last run"),
    ("result", "Result"),
    ("next_run", "Next run"),
    ("command", "Command"),
    ("id", "ID"),
    ("stop", "Stop command"),
    ("timeout", "Timeout"),
    ("shutdown_timeout", "Shutdown timeout"),
    ("activity", "Last activity"),
]
DEFAULT_COLUMNS = ["name", "app", "spec", "timezone", "last_run", "result", "next_run"]


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def last_result(last_run: Mapping[str, Any]) -> str:
    """`success`/`failure` once finished, else the state (`pending`, `in progress`)."""
    state = str(last_run.get("state") or "")
    if state == "complete":
        return str(last_run.get("result") or "")
    return state.replace("_", " ")


class CronCommand(Command):
    """Shared: the environment's crons URL."""

    def crons_url(self, env: Mapping[str, Any]) -> str:
        """`…/environments/{e}/crons`."""
        return f"{self.api.environment_url(self.select_project(), env)}/crons"

    def add_app_option(self, d: Definition, text: str) -> None:
        """-A/--app."""
        d.option("app", "A", REQUIRED, text)


class CronList(CronCommand):
    """`cron:list` (alias `crons`)."""

    def configure(self, d: Definition) -> None:
        self.add_app_option(d, "Only list the crons of this app")
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        label = environment_label(env)
        data = self.api.get_optional(self.crons_url(env))
        if data is None:
            raise CommandFailed(f"The server does not list crons for the environment {label}.")
        crons = [c for c in data if isinstance(c, dict)] if isinstance(data, list) else []
        app = self.input.str_opt("app")
        if app:
            crons = [c for c in crons if str(c.get("application")) == app]
        if not crons:
            where = f"the app {app} on " if app else ""
            self.console.err(f"No crons found on {where}the environment {label}.")
            return 0
        self.table_hint(
            f"Crons on the project {project_label(self.select_project())}, environment {label}:"
        )
        self.print_table(COLUMNS, DEFAULT_COLUMNS, [self._row(c) for c in crons])
        self.table_hint("")
        self.table_hint(f"To run a cron now, run: {self.exe} cron:run NAME")
        return 0

    def _row(self, cron: Mapping[str, Any]) -> dict[str, str]:
        fmt = self.formatter
        commands = _mapping(cron.get("commands"))
        last = _mapping(cron.get("last_run"))
        when = last.get("started_at") or last.get("created_at")
        return {
            "name": str(cron.get("name") or ""),
            "app": str(cron.get("application") or ""),
            "spec": str(cron.get("spec") or ""),
            "timezone": str(cron.get("timezone") or ""),
            "last_run": fmt.date(when) if when else "",
            "result": last_result(last) if last else "",
            "next_run": fmt.date(cron.get("next_run_at")) if cron.get("next_run_at") else "",
            "command": str(commands.get("start") or ""),
            "id": str(cron.get("id") or ""),
            "stop": str(commands.get("stop") or ""),
            "timeout": fmt.cell("timeout", cron.get("timeout")),
            "shutdown_timeout": fmt.cell("shutdown_timeout", cron.get("shutdown_timeout")),
            "activity": str(last.get("activity") or ""),
        }


class CronRun(CronCommand):
    """`cron:run NAME`: run a cron now, and wait for its activity."""

    def configure(self, d: Definition) -> None:
        d.argument("name", "The cron's name", required=True)
        self.add_app_option(d, "The app whose cron to run (when several apps have one so named)")
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        name = str(self.input.arg("name"))
        env = self.select_environment(required=True)
        assert env is not None
        label = environment_label(env)
        app = self.input.str_opt("app")
        href = f"{self.crons_url(env)}/{self.api.quote(name)}/run"
        body = {"application": app} if app else None
        of_app = f" of the app {app}" if app else ""
        self.console.err(f"Running the cron {name}{of_app} on the environment {label}")
        resp = self.api.raw("POST", href, body=body)
        if resp.status in (403, 404, 409):
            raise CommandFailed(
                self._refusal(resp.status, resp.json(), name, label), self._code(resp.status)
            )
        result = self.api.check(resp, "POST", href)
        activities = embedded_activities(result)
        if not activities:
            return 0
        if self.should_wait():
            return 0 if self.wait_for(activities) else 1
        project_id = self.select_project().get("id")
        self.console.err(
            f"To follow its log, run: {self.exe} activity:log {activities[0].get('id')} "
            f"-p {project_id}"
        )
        return 0

    @staticmethod
    def _code(status: int) -> int:
        return ExitCode.PERMISSION_DENIED if status == 403 else ExitCode.GENERAL

    @staticmethod
    def _refusal(status: int, body: Any, name: str, label: str) -> str:
        """The server's message on one line, or a default for the status."""
        message = " ".join(error_message(body).split())
        if message and message.lower() not in ("not found", "forbidden", "conflict"):
            return message
        if status == 403:
            return f"Permission denied: you may not run crons on the environment {label}."
        if status == 404:
            return f"Cron not found: {name}"
        return f"The cron {name} cannot be run on the environment {label} now."
