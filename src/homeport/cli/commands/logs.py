"""`environment:logs` (`log`): an app's log, read over HTTP.

Logs are a Homeport extension rather than SSH: `GET {environment}/logs/{type}` answers
with the last lines as text, and with `follow=true` keeps streaming new ones.
"""

from __future__ import annotations

from homeport.cli.commands.base import environment_label
from homeport.cli.commands.deployment import DeploymentCommand
from homeport.cli.errors import CommandFailed, ConnectionFailed, InvalidArgument
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The logs Homeport keeps for each app (`/var/log/<type>.log` on Platform.sh).
LOG_TYPES = ("app", "cron", "deploy", "post-deploy")
# A followed log may stay silent for hours: reads then wait (almost) forever.
FOLLOW_READ_TIMEOUT = 1e9


class EnvironmentLogs(DeploymentCommand):
    """`environment:logs [type]` (alias `log`; hidden `logs`)."""

    def configure(self, d: Definition) -> None:
        d.argument("type", f"The log type: {', '.join(sorted(LOG_TYPES))}")
        d.option("lines", "", REQUIRED, "The number of lines to show", default="100")
        d.option("tail", "", FLAG, "Continuously tail the log")
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_container_options(d)

    def execute(self) -> int:
        log_type = self._log_type()
        lines = self._lines()
        env = self.select_environment(required=True)
        assert env is not None
        deployment = self.require_deployment(env)
        name, _, kind = self.select_container(deployment, env, include_workers=True)
        if log_type is None:
            log_type = self.console.choose(
                [(t, t) for t in sorted(LOG_TYPES)], "Enter a number to choose a log:"
            )
        follow = bool(self.input.opt("tail"))
        self.console.err(
            f"Reading log file {log_type}.log of {kind} {name} "
            f"on environment {environment_label(env)}"
        )
        href = f"{self.api.environment_url(self.select_project(), env)}/logs/{log_type}"
        params: list[tuple[str, Any]] = [("app", name), ("lines", lines)]
        if follow:
            params.append(("follow", "true"))
        timeout = FOLLOW_READ_TIMEOUT if follow else self.config.timeout
        return self._read(href, params, timeout, follow)

    def _log_type(self) -> str | None:
        value = self.input.arg("type")
        if not value:
            if not self.console.interactive:
                raise CommandFailed("No log type specified.")
            return None
        value = str(value)
        if value.endswith(".log"):
            value = value[: -len(".log")]
        if value not in LOG_TYPES:
            raise CommandFailed(
                f"Unknown log type: {value}. Available: {', '.join(sorted(LOG_TYPES))}"
            )
        return value

    def _lines(self) -> int:
        raw = str(self.input.opt("lines") or "")
        if not raw.isdigit() or int(raw) < 1:
            raise InvalidArgument(f"The --lines option must be a positive whole number: {raw}")
        return int(raw)

    def _read(self, href: str, params: list[tuple[str, Any]], timeout: float, follow: bool) -> int:
        """Copy the log to stdout as it arrives; with --tail, until Ctrl-C."""
        import http.client

        try:
            stream = self.api.stream(href, params, timeout=timeout)
        except KeyboardInterrupt:
            if follow:
                return 0
            raise
        try:
            for line in stream.lines():
                self.console.out(line.decode("utf-8", errors="replace"), newline=False)
        except KeyboardInterrupt:
            if follow:
                return 0
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed("The connection was lost while reading the log.") from exc
        finally:
            stream.close()
        if follow:
            self.console.err("The server closed the log stream.")
            return 1
        return 0
