"""What every command shares: option groups, project/environment selection, output.

Selection follows platform-cli.md §3: `-p` (an ID or API URL), `PLATFORM_PROJECT`,
the local checkout, then an interactive choice; `-e` (or the command's environment
argument), `PLATFORM_BRANCH`, the checkout's branch, a default, then a choice.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

from homeport.cli.api import link
from homeport.cli.console import VERBOSE
from homeport.cli.errors import CliError, CommandFailed, InvalidArgument, RootNotFound
from homeport.cli.exitcodes import ExitCode
from homeport.cli.formatting import Formatter
from homeport.cli.inputdef import FLAG, REQUIRED, Definition, Input
from homeport.cli.table import check_format, render, resolve_columns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Protocol

    from homeport.cli.api import Api
    from homeport.cli.console import Console
    from homeport.cli.env import Environment
    from homeport.cli.local import Checkout
    from homeport.cli.registry import Spec

    class Application(Protocol):
        """What a command needs of the application that runs it (``cli.app``)."""

        env: Environment
        console: Console

        @property
        def api(self) -> Api: ...

        def load(self, spec: Spec) -> Command: ...


DEFAULT_ENVIRONMENT_CODE = "."
DEPRECATED_COLUMN = "[deprecated]"
FORMAT_HELP = "The output format: table, csv, tsv, or plain"


def parse_project_value(value: str) -> tuple[str, str | None]:
    """A project ID (and maybe an environment) from an ID or an API/console URL."""
    if "/" not in value:
        return value, None
    match = re.search(r"/projects/([^/?#]+)(?:/environments/([^/?#]+))?", value)
    if match:
        env = unquote(match.group(2)) if match.group(2) else None
        return unquote(match.group(1)), env
    parts = [p for p in value.split("://", 1)[-1].split("/")[1:] if p]
    return (parts[-1], None) if parts else (value, None)


def project_label(project: Mapping[str, Any]) -> str:
    """`Title (id)`, or the bare ID when the project has no title."""
    title = project.get("title")
    return f"{title} ({project.get('id')})" if title else str(project.get("id"))


def environment_label(env: Mapping[str, Any]) -> str:
    """`Title (id)` when the title differs from the ID, else the ID."""
    title, ident = env.get("title"), str(env.get("id"))
    return f"{title} ({ident})" if title and title != ident else ident


class Command:
    """Base class: subclasses define `configure` (options) and `execute` (the work)."""

    # Longer help shown by `help COMMAND` after the options (`{exe}` is the executable).
    help_text = ""

    def __init__(self, app: Application, spec: Spec) -> None:
        self.app = app
        self.spec = spec
        self.name = spec.name
        self.env = app.env
        self.config = app.env.config
        self.input: Input = Input(Definition())
        self._project: dict[str, Any] | None = None
        self._project_source = ""
        self._env_from_url: str | None = None
        self._environments: list[dict[str, Any]] | None = None
        self._checkout: Checkout | bool | None = False
        self.finished_activities: list[dict[str, Any]] = []

    @property
    def console(self) -> Console:
        """The run's console (streams, verbosity, questions)."""
        return self.app.console

    @property
    def api(self) -> Api:
        """The API client."""
        return self.app.api

    @property
    def exe(self) -> str:
        """The command name used in hints (`platform`)."""
        return self.config.executable

    def configure(self, d: Definition) -> None:
        """Declare arguments and options."""

    def execute(self) -> int:
        """Do the work; returns the exit status."""
        raise NotImplementedError

    # Option groups ---------------------------------------------------------------------

    @staticmethod
    def add_project_option(d: Definition) -> None:
        """-p/--project."""
        d.option("project", "p", REQUIRED, "The project ID or URL")
        d.option("host", "", REQUIRED, "Deprecated option, no longer used", hidden=True)

    @staticmethod
    def add_environment_option(d: Definition) -> None:
        """-e/--environment."""
        d.option(
            "environment",
            "e",
            REQUIRED,
            'The environment ID. Use "." to select the project\'s default environment.',
        )

    @staticmethod
    def add_wait_options(d: Definition) -> None:
        """-W/--no-wait and --wait."""
        d.option("no-wait", "W", FLAG, "Do not wait for the operation to complete")
        d.option("wait", "", FLAG, "Wait for the operation to complete (default, except in hooks)")

    @staticmethod
    def add_format_options(d: Definition, columns_shortcut: bool = True) -> None:
        """--format, -c/--columns and --no-header."""
        d.option("format", "", REQUIRED, FORMAT_HELP, default="table")
        d.option(
            "columns",
            "c" if columns_shortcut else "",
            REQUIRED,
            "Columns to display. Available columns depend on the command. "
            '"+" stands for the default columns; "%" or "*" are wildcards.',
            is_array=True,
        )
        d.option("no-header", "", FLAG, "Do not output the table header")

    @staticmethod
    def add_date_option(d: Definition) -> None:
        """--date-fmt."""
        d.option("date-fmt", "", REQUIRED, "The date format (as a PHP date format string)")

    # Selection ---------------------------------------------------------------------------

    @property
    def checkout(self) -> Checkout | None:
        """The git checkout around the working directory, if any."""
        if self._checkout is False:
            from homeport.cli.local import Checkout

            self._checkout = Checkout.find(self.env.cwd)
        found = self._checkout
        return found if not isinstance(found, bool) else None

    def _opt_or_none(self, name: str) -> str | None:
        if name in self.input.options:
            return self.input.str_opt(name)
        return None

    def select_project(self) -> dict[str, Any]:
        """The project chosen by -p, PLATFORM_PROJECT, the checkout or a question."""
        if self._project is not None:
            return self._project
        self.warn_deprecated(["host"])
        prefix = self.config.env_prefix
        project_id = ""
        value = self._opt_or_none("project")
        if value:
            project_id, self._env_from_url = parse_project_value(value)
            self._project_source = "option"
        elif self.env.get(prefix + "PROJECT"):
            project_id = self.env.get(prefix + "PROJECT")
            self._project_source = "env"
            self.console.err(
                f"Project ID read from environment variable {prefix}PROJECT: {project_id}",
                VERBOSE,
            )
        elif self.checkout is not None:
            remotes = (str(self.config.get("detection.git_remote_name", "platform")), "origin")
            project_id = self.checkout.project_id(self.config.api_url, remotes)
            self._project_source = "local" if project_id else ""
        if not project_id:
            if not self.console.interactive:
                raise RootNotFound(
                    "Could not determine the current project.\n\n"
                    "Specify it using --project, or go to a project directory."
                )
            projects = self.api.projects()
            if not projects:
                raise RootNotFound("You do not have any projects yet.")
            choices = [(str(p["id"]), project_label(p)) for p in projects]
            project_id = self.console.choose(choices, "Enter a number to choose a project:")
            self._project_source = "choice"
        project = self.api.get_project(project_id)
        if project is None:
            # A checkout pointing at a project we cannot see is its own status (9).
            code = ExitCode.PROJECT_NOT_FOUND if self._project_source == "local" else None
            raise CommandFailed(self._project_not_found(project_id), code)
        self._project = project
        return project

    def _project_not_found(self, project_id: str) -> str:
        message = f"Specified project not found: {project_id}"
        try:
            projects = self.api.projects()
        except CliError:
            return message
        if projects:
            message += "\n\nYour projects are:"
            for project in projects[:8]:
                message += f"\n    {project_label(project)}"
            if len(projects) > 8:
                message += f"\n    ...\n\nList projects with: {self.exe} projects"
        return message

    def environments(self) -> list[dict[str, Any]]:
        """The selected project's environments (read once per run)."""
        if self._environments is None:
            self._environments = self.api.environments(self.select_project())
        return self._environments

    def find_environment(self, value: str) -> dict[str, Any] | None:
        """An environment by ID with one direct request (`GET …/environments/{id}`);
        only when there is none, the list, for a machine name. An environment already
        listed in this run is taken from the list."""
        if self._environments is not None:
            for env in self._environments:
                if str(env.get("id")) == value:
                    return env
        found = self.api.get_environment(self.select_project(), value)
        if found is not None:
            return found
        for env in self.environments():
            if str(env.get("machine_name")) == value:
                return env
        return None

    def default_environment(self) -> dict[str, Any] | None:
        """The project's default environment (`default_branch`, sole, production, main)."""
        project = self.select_project()
        envs = self.environments()
        branch = project.get("default_branch")
        for env in envs:
            if branch and env.get("id") == branch:
                return env
        if len(envs) == 1:
            return envs[0]
        for key, value in (("type", "production"), ("is_main", True)):
            matches = [e for e in envs if e.get(key) == value]
            if len(matches) == 1:
                return matches[0]
        return None

    def select_environment(
        self,
        *,
        required: bool = True,
        argument: str | None = None,
        use_default: bool = False,
    ) -> dict[str, Any] | None:
        """The environment chosen by the argument/-e, PLATFORM_BRANCH, the checkout..."""
        project = self.select_project()
        option = self._opt_or_none("environment")
        if argument and option:
            raise CliError(
                "You cannot use both the <environment> argument and the --environment option"
            )
        value = argument or option or self._env_from_url
        if value:
            if value == DEFAULT_ENVIRONMENT_CODE:
                self.console.err("Selecting default environment (indicated by .)", VERBOSE)
                env = self.default_environment()
                if env is None:
                    raise CommandFailed("Default environment not found")
                self.console.err(f"Selected environment: {environment_label(env)}", VERBOSE)
                return env
            found = self.find_environment(value)
            if found is None:
                raise CommandFailed(f"Specified environment not found: {value}")
            return found
        prefix = self.config.env_prefix
        branch_var = self.env.get(prefix + "BRANCH")
        env_project = self.env.get(prefix + "PROJECT")
        # Only trust PLATFORM_BRANCH for the project the container itself belongs to.
        if branch_var and (not env_project or env_project == project.get("id")):
            self.console.err(
                f"Environment ID read from environment variable {prefix}BRANCH: {branch_var}",
                VERBOSE,
            )
            found = self.find_environment(branch_var)
            if found is None:
                raise CommandFailed(f"Specified environment not found: {branch_var}")
            return found
        found = self._environment_from_checkout(project)
        if found is not None:
            return found
        if use_default:
            found = self.default_environment()
            if found is not None:
                return found
        if not required:
            return None
        if self.console.interactive:
            envs = self.environments()
            if len(envs) == 1:
                self.console.err(f"Selected environment: {environment_label(envs[0])} (by default)")
                return envs[0]
            if envs:
                choices = [(str(e["id"]), environment_label(e)) for e in envs]
                chosen = self.console.choose(choices, "Enter a number to choose an environment:")
                return next(e for e in envs if str(e["id"]) == chosen)
        if self.checkout is not None:
            raise InvalidArgument(
                "Could not determine the current environment.\n"
                "Specify it manually using --environment (-e)."
            )
        raise InvalidArgument(
            "No environment specified.\n"
            "Specify one using --environment (-e), or go to a project directory."
        )

    def _environment_from_checkout(self, project: Mapping[str, Any]) -> dict[str, Any] | None:
        checkout = self.checkout
        if checkout is None:
            return None
        remotes = (str(self.config.get("detection.git_remote_name", "platform")), "origin")
        if checkout.project_id(self.config.api_url, remotes) != project.get("id"):
            return None
        branch = checkout.current_branch()
        if not branch:
            return None
        candidates: list[str] = []
        mapping = checkout.project_config.get("mapping")
        if isinstance(mapping, dict) and mapping.get(branch):
            candidates.append(str(mapping[branch]))
        for remote in remotes:
            upstream = checkout.upstream_branch(branch, remote)
            if upstream:
                candidates.append(upstream)
        candidates.append(branch)
        candidates.append(re.sub(r"[^a-z0-9-]+", "-", branch.lower()).strip("-"))
        envs = self.environments()
        for candidate in candidates:
            for env in envs:
                if env.get("id") == candidate or env.get("machine_name") == candidate:
                    return env
        return None

    # Waiting -----------------------------------------------------------------------------

    def in_hook(self) -> bool:
        """True in a deploy/build hook or cron: PLATFORM_PROJECT set, dash, stdin not a TTY."""
        prefix = self.config.env_prefix
        shell = os.path.basename(self.env.get("SHELL"))
        return (
            bool(self.env.get(prefix + "PROJECT")) and shell == "dash" and not self.env.stdin_isatty
        )

    def should_wait(self) -> bool:
        """Whether to wait for activities (-W, --wait, the hook default)."""
        if "no-wait" in self.input.options and self.input.opt("no-wait"):
            return False
        if "wait" in self.input.options and self.input.opt("wait"):
            return True
        if self.in_hook():
            name = self.config.service_name
            self.console.warn(
                f"Warning: {name} hook environment detected: assuming --no-wait by default."
            )
            self.console.warn("To avoid ambiguity, please specify either --no-wait or --wait.")
            return False
        return True

    def wait_for(self, activities: Sequence[dict[str, Any]]) -> bool:
        """Wait for activities (streaming the log to stderr); True when all succeeded."""
        from homeport.cli.activities import Monitor

        monitor = Monitor(self.api, self.console, self.env)
        ok = monitor.wait_multiple(activities)
        self.finished_activities = monitor.finished
        return ok

    def warn_deprecated(self, options: Sequence[str], template: str | None = None) -> None:
        """The PHP CLI's `DEPRECATED` note on stderr for each deprecated option used."""
        if template is None:
            template = (
                "The option --%s is deprecated and no longer used. "
                "It will be removed in a future version."
            )
        for name in options:
            if name in self.input.options and self.input.opt(name):
                self.console.err(f"{self.console.style('DEPRECATED', 'reverse')} {template % name}")

    def redeploy_warning(self) -> None:
        """The hint printed when a change needs a redeploy to take effect."""
        self.console.err(
            "The remote environment(s) must be redeployed for the change to take effect."
        )
        self.console.err(f"To redeploy an environment, run: {self.exe} redeploy")

    # Output ------------------------------------------------------------------------------

    @property
    def formatter(self) -> Formatter:
        """Value formatting for this run (--date-fmt, timezone)."""
        fmt = self._opt_or_none("date-fmt") or self.config.date_format
        return Formatter(fmt, self.config.timezone)

    @property
    def output_format(self) -> str:
        """The validated --format value (table when the command has no --format)."""
        value = self._opt_or_none("format") or "table"
        return check_format(value)

    @property
    def machine_readable(self) -> bool:
        """True for csv/tsv/plain: headers and hints on stderr are then suppressed."""
        return self.output_format != "table"

    def table_hint(self, text: str) -> None:
        """A stderr line shown only with table output."""
        if not self.machine_readable:
            self.console.err(text)

    def print_table(
        self,
        columns: Sequence[tuple[str, str]],
        defaults: Sequence[str],
        rows: Sequence[Mapping[str, str]],
        *,
        replaced: Mapping[str, str] | None = None,
        removed: Sequence[str] = (),
    ) -> None:
        """Rows (dicts of already-formatted cells) in the chosen format and columns.

        Deprecated column names are accepted with a note on stderr, as in the PHP CLI:
        those in `replaced` map to their successor, those in `removed` show empty.
        """
        fmt = self.output_format
        requested = self.input.list_opt("columns") if "columns" in self.input.options else []
        requested = self._deprecated_columns(requested, replaced or {}, removed)
        columns = [*columns, (DEPRECATED_COLUMN, "[Deprecated]")] if removed else columns
        keys = resolve_columns(columns, defaults, requested)
        labels = dict(columns)
        headers = [labels[k] for k in keys]
        data = [[str(row.get(k, "")) for k in keys] for row in rows]
        show_header = not ("no-header" in self.input.options and self.input.opt("no-header"))
        text = render(
            headers, data, fmt, show_header=show_header, max_width=self.console.table_width
        )
        self.console.out(text, newline=False)

    def _deprecated_columns(
        self, requested: Sequence[str], replaced: Mapping[str, str], removed: Sequence[str]
    ) -> list[str]:
        """`requested` with deprecated names swapped, warning once for each."""
        result: list[str] = []
        tag = self.console.style("DEPRECATED", "reverse")
        for raw in requested:
            plus = "+" if raw.strip().startswith("+") else ""
            name = raw.strip().lstrip("+").lower()
            if name in replaced:
                self.console.err(f"{tag} The column {name} has been replaced by {replaced[name]}.")
                result.append(plus + replaced[name])
            elif name in removed:
                self.console.err(f"{tag} The column {name} has been removed.")
                result.append(plus + DEPRECATED_COLUMN)
            else:
                result.append(raw)
        return result

    def print_properties(self, properties: Mapping[str, Any]) -> None:
        """A Property/Value table of a resource's properties."""
        fmt = self.output_format
        formatter = self.formatter
        rows = [[str(k), formatter.prop(str(k), v)] for k, v in properties.items()]
        show_header = not ("no-header" in self.input.options and self.input.opt("no-header"))
        text = render(
            ["Property", "Value"],
            rows,
            fmt,
            show_header=show_header,
            max_width=self.console.table_width,
        )
        self.console.out(text, newline=False)

    def print_property(self, data: Mapping[str, Any], prop: str) -> None:
        """One property (dotted paths reach nested values), raw for strings."""
        value: Any = data
        for part in prop.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                raise CommandFailed(f"Property not found: {prop}")
        key = prop.rsplit(".", 1)[-1]
        self.console.out(self.formatter.prop(key, value))


def public_properties(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's properties without HAL metadata (`_links`, `_embedded`)."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def operation_link(resource: Mapping[str, Any], operation: str) -> str | None:
    """The href of the `#operation` link, present only when the caller may do it."""
    return link(resource, f"#{operation}")
