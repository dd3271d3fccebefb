"""`variable:*`: project- and environment-level variables (platform-cli.md §4.1)."""

from __future__ import annotations

import json

from homeport.cli.api import embedded_activities, embedded_entity, link
from homeport.cli.commands.base import (
    Command,
    environment_label,
    project_label,
    public_properties,
)
from homeport.cli.errors import CliError, CommandFailed, MissingValue
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROJECT = "project"
ENVIRONMENT = "environment"
HIDDEN_VALUE = "[Hidden: sensitive value]"
LIST_COLUMNS = [("name", "Name"), ("level", "Level"), ("value", "Value"), ("is_enabled", "Enabled")]

# Boolean form fields: option, payload key, label in errors, environment-level only.
BOOL_FIELDS = (
    ("json", "is_json", "JSON", False),
    ("sensitive", "is_sensitive", "Sensitive", False),
    ("enabled", "is_enabled", "Enabled", True),
    ("inheritable", "is_inheritable", "Inheritable", True),
    ("visible-build", "visible_build", "Visible at build time", False),
    ("visible-runtime", "visible_runtime", "Visible at runtime", False),
)
_TRUE = ("1", "true", "yes", "y")
_FALSE = ("0", "false", "no", "n")


def shell_quote(text: str) -> str:
    """Quote like PHP's escapeshellarg, as the CLI's hints do."""
    return "'" + text.replace("'", "'\\''") + "'"


def parse_level(value: str | None) -> str | None:
    """`project` or `environment` from any prefix (`p`, `e`, `env`), else an error."""
    if value is None:
        return None
    lowered = value.lower()
    for level in (PROJECT, ENVIRONMENT):
        if lowered and level.startswith(lowered):
            return level
    raise CliError(f"Invalid level: {value}")


def parse_bool(label: str, value: str) -> bool:
    """A boolean form value: 1|0|true|false|yes|no|y|n, case-insensitive."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CliError(f"Invalid value for '{label}': {value} (expected 1, 0, true, or false)")


def is_hidden(variable: dict[str, Any]) -> bool:
    """True for a sensitive variable, whose value the API never returns."""
    return "value" not in variable and bool(variable.get("is_sensitive"))


def add_field_options(d: Definition, with_name: bool) -> None:
    """The variable form's options (values are strings, parsed later)."""
    d.option(
        "level",
        "l",
        REQUIRED,
        "The level at which to set the variable ('project' or 'environment')",
    )
    if with_name:
        d.option("name", "", REQUIRED, "The variable name")
    d.option("value", "", REQUIRED, "The variable's value")
    d.option("json", "", REQUIRED, "Whether the variable value is JSON-formatted")
    d.option("sensitive", "", REQUIRED, "Whether the variable value is sensitive")
    if with_name:
        d.option(
            "prefix",
            "",
            REQUIRED,
            "The variable name's prefix which can determine its type, e.g. 'env'. "
            "Only applicable if the name does not already contain a prefix.",
        )
    d.option("enabled", "", REQUIRED, "Whether the variable should be enabled on the environment")
    d.option(
        "inheritable", "", REQUIRED, "Whether the variable is inheritable by child environments"
    )
    d.option("visible-build", "", REQUIRED, "Whether the variable should be visible at build time")
    d.option("visible-runtime", "", REQUIRED, "Whether the variable should be visible at runtime")
    d.option(
        "app-scope", "", REQUIRED, "Applications to which the variable should apply", is_array=True
    )


class VariableCommand(Command):
    """Shared look-ups and output for variable commands."""

    def project_variables_url(self) -> str:
        """Where project-level variables live."""
        project = self.select_project()
        return link(project, "#manage-variables") or f"{self.api.project_url(project)}/variables"

    def environment_variables_url(self, env: dict[str, Any]) -> str:
        """Where an environment's variables live."""
        project = self.select_project()
        return (
            link(env, "#manage-variables") or f"{self.api.environment_url(project, env)}/variables"
        )

    def get_variable(
        self, name: str, level: str, env: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """A variable at one level, or None."""
        if level == ENVIRONMENT:
            if env is None:
                return None
            base = self.environment_variables_url(env)
        else:
            base = self.project_variables_url()
        data = self.api.get_optional(f"{base}/{self.api.quote(name)}")
        return data if isinstance(data, dict) else None

    def find_variable(
        self, name: str, level: str | None, env: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str]:
        """The variable `name` at `level`, or at whichever level has it (not both)."""
        if level is not None:
            found = self.get_variable(name, level, env)
            if found is None:
                raise CommandFailed(f"Variable not found: {name}")
            return found, level
        env_var = self.get_variable(name, ENVIRONMENT, env) if env is not None else None
        project_var = self.get_variable(name, PROJECT, env)
        if env_var is not None and project_var is not None:
            raise CommandFailed(
                f"Variable found at both project and environment levels: {name}\n"
                "To select a variable, use the --level option ('project' or 'environment')."
            )
        if env_var is not None:
            return env_var, ENVIRONMENT
        if project_var is not None:
            return project_var, PROJECT
        raise CommandFailed(f"Variable not found: {name}")

    def select_level_environment(self, level: str | None) -> dict[str, Any] | None:
        """The environment for a level: required at environment level, optional otherwise."""
        if level == PROJECT:
            self.select_project()
            return None
        return self.select_environment(required=level == ENVIRONMENT)

    def properties(self, variable: dict[str, Any], level: str) -> dict[str, Any]:
        """Properties to display, with the computed `level` and the hidden-value marker."""
        props: dict[str, Any] = {}
        for key, value in public_properties(variable).items():
            props[key] = value
            if key == "name":
                props["level"] = level
                if is_hidden(variable):
                    props["value"] = "" if self.machine_readable else HIDDEN_VALUE
        props.setdefault("level", level)
        if is_hidden(variable):
            props.setdefault("value", "" if self.machine_readable else HIDDEN_VALUE)
        return props

    def after_change(self, result: Any, level: str) -> int:
        """The redeploy hint, or wait for the change's activities."""
        activities = embedded_activities(result)
        if level == PROJECT or not activities:
            self.redeploy_warning()
            return 0
        if self.should_wait():
            return 0 if self.wait_for(activities) else 1
        return 0

    def show_result(self, result: Any, variable: dict[str, Any], level: str) -> None:
        """The variable after a change, as a Property/Value table."""
        entity = embedded_entity(result) or variable
        self.print_properties(self.properties(entity, level))

    def update_variable(self, variable: dict[str, Any], level: str, allow_no_change: bool) -> int:
        """PATCH the fields given on the command line that differ from the current ones."""
        changes: dict[str, Any] = {}
        value = self.input.str_opt("value")
        if value is not None and (is_hidden(variable) or variable.get("value") != value):
            changes["value"] = value
        for option, key, label, env_only in BOOL_FIELDS:
            raw = self.input.str_opt(option)
            if raw is None:
                continue
            if env_only and level == PROJECT:
                raise CliError(
                    f"The option --{option} can only be used for variables at the environment "
                    "level, not at the project level."
                )
            parsed = parse_bool(label, raw)
            if variable.get(key) != parsed:
                changes[key] = parsed
        if self.input.has("app-scope"):
            scope = self.input.list_opt("app-scope")
            if list(variable.get("application_scope") or []) != scope:
                changes["application_scope"] = scope
        is_json = changes.get("is_json", variable.get("is_json"))
        if is_json and "value" in changes:
            _check_json(str(changes["value"]))
        name = str(variable.get("name"))
        if not changes:
            if allow_no_change:
                return 0
            self.console.err("No changes were provided.")
            return 1
        href = link(variable, "#edit") or link(variable, "self")
        if not href:
            raise CommandFailed(f"Operation not available: the variable {name} cannot be updated.")
        result = self.api.send("PATCH", href, changes)
        self.console.err(f"Variable {name} updated")
        self.show_result(result, {**variable, **changes}, level)
        return self.after_change(result, level)


def _check_json(value: str) -> None:
    try:
        json.loads(value)
    except ValueError as exc:
        raise CliError(f"The value is not valid JSON: {value}") from exc


class VariableList(VariableCommand):
    """`variable:list` (aliases `variables`, `var`)."""

    def configure(self, d: Definition) -> None:
        d.option(
            "level", "l", REQUIRED, "The variable level ('project', 'environment', 'p' or 'e')"
        )
        self.add_format_options(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        level = parse_level(self.input.str_opt("level"))
        project = self.select_project()
        env = None if level == PROJECT else self.select_environment(required=True)
        items: list[tuple[dict[str, Any], str]] = []
        if level in (None, PROJECT):
            data = self.api.get(self.project_variables_url())
            items += [(v, PROJECT) for v in data or [] if isinstance(v, dict)]
        if env is not None and level in (None, ENVIRONMENT):
            data = self.api.get(self.environment_variables_url(env))
            items += [(v, ENVIRONMENT) for v in data or [] if isinstance(v, dict)]
        if not items:
            raise CommandFailed("No variables found.")
        if env is None:
            self.table_hint(f"Project-level variables on the project {project_label(project)}:")
        elif level == ENVIRONMENT:
            self.table_hint(
                f"Environment-level variables on the project {project_label(project)}, "
                f"environment {environment_label(env)}:"
            )
        else:
            self.table_hint(
                f"Variables on the project {project_label(project)}, "
                f"environment {environment_label(env)}:"
            )
        rows = []
        for variable, var_level in items:
            if is_hidden(variable):
                value = "" if self.machine_readable else HIDDEN_VALUE
            else:
                value = _text(variable.get("value"))
            enabled = ""
            if var_level == ENVIRONMENT:
                enabled = "true" if variable.get("is_enabled", True) else "false"
            rows.append(
                {
                    "name": str(variable.get("name")),
                    "level": var_level,
                    "value": value,
                    "is_enabled": enabled,
                }
            )
        self.print_table(LIST_COLUMNS, ["name", "level", "value", "is_enabled"], rows)
        self.table_hint("")
        self.table_hint(f"To view variable details, run: {self.exe} variable:get [name]")
        self.table_hint(f"To create a new variable, run: {self.exe} variable:create")
        self.table_hint(f"To update a variable, run: {self.exe} variable:update [name]")
        self.table_hint(f"To delete a variable, run: {self.exe} variable:delete [name]")
        return 0


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class VariableGet(VariableCommand):
    """`variable:get [name]` (alias `vget`)."""

    def configure(self, d: Definition) -> None:
        d.argument("name", "The name of the variable")
        d.option("property", "P", REQUIRED, "View a single variable property")
        d.option(
            "level", "l", REQUIRED, "The variable level ('project', 'environment', 'p' or 'e')"
        )
        d.option("pipe", "", FLAG, "Output the variable value only (deprecated)", hidden=True)
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        level = parse_level(self.input.str_opt("level"))
        name = self.input.arg("name")
        if not name and not self.console.interactive:
            from homeport.cli.registry import BY_NAME

            lister = VariableList(self.app, BY_NAME["variable:list"])
            lister.input = self.input
            return lister.execute()
        env = self.select_level_environment(level)
        if not name:
            name = self._choose(level, env)
        variable, var_level = self.find_variable(str(name), level, env)
        if var_level == ENVIRONMENT and variable.get("is_enabled") is False:
            self.console.err(
                f"The variable {name} is disabled.\n"
                f"Enable it with: {self.exe} variable:enable {shell_quote(str(name))}"
            )
        prop = self.input.str_opt("property")
        if self.input.opt("pipe"):
            prop = "value"
        if prop:
            if prop == "value" and is_hidden(variable):
                raise CommandFailed("The variable is sensitive, so its value cannot be read.")
            self.print_property({**variable, "level": var_level}, prop)
            return 0
        self.print_properties(self.properties(variable, var_level))
        self.table_hint("")
        self.table_hint(f"To list other variables, run: {self.exe} variables")
        self.table_hint(
            f"To update the variable, use: {self.exe} variable:update {shell_quote(str(name))}"
        )
        return 0

    def _choose(self, level: str | None, env: dict[str, Any] | None) -> str:
        choices: list[tuple[str, str]] = []
        if level in (None, PROJECT):
            for v in self.api.get(self.project_variables_url()) or []:
                choices.append((str(v["name"]), f"{v['name']} (project)"))
        if env is not None and level in (None, ENVIRONMENT):
            for v in self.api.get(self.environment_variables_url(env)) or []:
                choices.append((str(v["name"]), f"{v['name']} (environment)"))
        if not choices:
            raise CommandFailed("No variables found.")
        return self.console.choose(choices, "Enter a number to choose a variable:")


class VariableCreate(VariableCommand):
    """`variable:create [name]`: the form, the checks, then POST."""

    def configure(self, d: Definition) -> None:
        d.argument("name", "The variable name")
        d.option("update", "u", FLAG, "Update the variable if it already exists")
        add_field_options(d, with_name=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        arg_name, opt_name = self.input.arg("name"), self.input.str_opt("name")
        if arg_name and opt_name:
            raise CommandFailed("You cannot use both the name argument and --name option.")
        name: str = arg_name or opt_name or ""
        level = parse_level(self.input.str_opt("level"))
        project = self.select_project()
        env = self.select_environment(required=False)
        if name:
            existing = self._existing(name, level, env)
            if existing is not None:
                variable, found_level = existing
                if not self.input.opt("update"):
                    raise CommandFailed(
                        f"The variable already exists: {name}\n"
                        f"To view the variable, use: {self.exe} variable:get {shell_quote(name)}\n"
                        "To skip this check, use the --update (-u) option."
                    )
                return self.update_variable(variable, found_level, allow_no_change=True)
        console = self.console
        if level is None:
            if not console.interactive:
                raise MissingValue("--level is required")
            level = console.choose(
                [(PROJECT, "Project-wide"), (ENVIRONMENT, "Environment-specific")], "Level"
            )
        if level == ENVIRONMENT and env is None:
            if not console.interactive:
                raise MissingValue("--environment is required")
            envs = self.environments()
            chosen = console.choose(
                [(str(e["id"]), environment_label(e)) for e in envs],
                "On what environment should the variable be set?",
            )
            env = next(e for e in envs if str(e["id"]) == chosen)
        if not name:
            if not console.interactive:
                raise MissingValue("--name is required")
            name = console.ask("Name:", validator=_validate_name)
        value = self.input.str_opt("value")
        if value is None:
            if not console.interactive:
                raise MissingValue("--value is required")
            value = console.ask("Value:")
        prefix = self.input.str_opt("prefix")
        if prefix is None and ":" not in name and console.interactive:
            prefix = console.choose(
                [("none", "No prefix"), ("env:", "env: (environment variable)")], "Prefix", "none"
            )
        if prefix and prefix != "none" and ":" not in name:
            name = prefix.rstrip(":") + ":" + name
        _validate_name(name)
        payload = self._payload(name, value, level)
        assert level is not None
        if self.get_variable(name, level, env) is not None:
            where = (
                f"the environment {environment_label(env)}"
                if level == ENVIRONMENT and env is not None
                else f"the project {project_label(project)}"
            )
            raise CommandFailed(f"The variable {name} already exists on {where}")
        if level == ENVIRONMENT:
            assert env is not None
            console.err(f"Creating variable {name} on the environment {environment_label(env)}")
            result = self.api.send("POST", self.environment_variables_url(env), payload)
        else:
            console.err(f"Creating variable {name} on the project {project_label(project)}")
            result = self.api.send("POST", self.project_variables_url(), payload)
        self.show_result(result, payload, level)
        return self.after_change(result, level)

    def _existing(
        self, name: str, level: str | None, env: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str] | None:
        levels = [level] if level else ([ENVIRONMENT] if env is not None else []) + [PROJECT]
        for candidate in levels:
            found = self.get_variable(name, candidate, env)
            if found is not None:
                return found, candidate
        return None

    def _payload(self, name: str, value: str, level: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "name": name,
            "value": value,
            "is_json": False,
            "is_sensitive": False,
            "application_scope": self.input.list_opt("app-scope"),
            "visible_build": level == PROJECT,
            "visible_runtime": True,
        }
        if level == ENVIRONMENT:
            payload["is_enabled"] = True
            payload["is_inheritable"] = True
        for option, key, label, env_only in BOOL_FIELDS:
            raw = self.input.str_opt(option)
            if raw is None:
                continue
            if env_only and level == PROJECT:
                raise CliError(
                    f"The option --{option} can only be used for variables at the environment "
                    "level, not at the project level."
                )
            payload[key] = parse_bool(label, raw)
        if payload["is_json"]:
            _check_json(value)
        # The PHP CLI leaves out visible_build=false / visible_runtime=true at environment
        # level as "API defaults", but the API docs give visible_build=true as the default:
        # sending both explicitly is the safer reading (a secret must not leak into builds).
        return payload


def _validate_name(name: str) -> str:
    import re

    if not name:
        raise CliError("The variable name is required.")
    if len(name) > 256:
        raise CliError("The variable name must be at most 256 characters long.")
    if " " in name:
        raise CliError("The variable name must not contain spaces.")
    if name.startswith("env:") and not re.fullmatch(r"[a-z][a-z0-9_]*", name[4:], re.IGNORECASE):
        raise CliError(
            f"The environment variable name is invalid: {name}\n"
            "Environment variable names can only contain letters (A-Z), digits (0-9), and "
            "underscores. The first character must be a letter."
        )
    return name


class VariableUpdate(VariableCommand):
    """`variable:update <name>`."""

    def configure(self, d: Definition) -> None:
        d.argument("name", "The variable name", required=True)
        d.option(
            "allow-no-change",
            "",
            FLAG,
            "Return success (zero exit code) if no changes were provided",
        )
        add_field_options(d, with_name=False)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        level = parse_level(self.input.str_opt("level"))
        env = self.select_level_environment(level)
        variable, found_level = self.find_variable(str(self.input.arg("name")), level, env)
        return self.update_variable(variable, found_level, bool(self.input.opt("allow-no-change")))


class VariableDelete(VariableCommand):
    """`variable:delete <name>` (asks first; the default answer is no)."""

    def configure(self, d: Definition) -> None:
        d.argument("name", "The variable name", required=True)
        d.option(
            "level", "l", REQUIRED, "The variable level ('project', 'environment', 'p' or 'e')"
        )
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        name = str(self.input.arg("name"))
        level = parse_level(self.input.str_opt("level"))
        env = self.select_level_environment(level)
        variable, found_level = self.find_variable(name, level, env)
        if found_level == ENVIRONMENT and variable.get("inherited"):
            raise CommandFailed(
                f"The variable {name} is inherited, "
                "so it cannot be deleted from this environment.\n"
                "You could delete it from the specific environment where it was set."
            )
        if found_level == ENVIRONMENT and env is not None:
            where = f"the environment {environment_label(env)}"
        else:
            where = f"the project {project_label(self.select_project())}"
        if not self.console.confirm(
            f"Are you sure you want to delete the variable {name} from {where}?", default=False
        ):
            return 1
        href = link(variable, "#delete") or link(variable, "self")
        if not href:
            raise CommandFailed(f"Operation not available: the variable {name} cannot be deleted.")
        result = self.api.send("DELETE", href)
        self.console.err(f"Deleted variable {name}")
        return self.after_change(result, found_level)


class _Toggle(VariableCommand):
    enable = True

    def configure(self, d: Definition) -> None:
        d.argument("name", "The name of the variable", required=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        name = str(self.input.arg("name"))
        env = self.select_environment(required=True)
        variable = self.get_variable(name, ENVIRONMENT, env)
        if variable is None:
            raise CommandFailed(f"Variable not found: {name}")
        word = "enabled" if self.enable else "disabled"
        if bool(variable.get("is_enabled", True)) == self.enable:
            self.console.err(f"The variable {name} is already {word}.")
            return 0
        href = link(variable, "#edit") or link(variable, "self")
        if not href:
            raise CommandFailed(f"Operation not available: the variable {name} cannot be updated.")
        result = self.api.send("PATCH", href, {"is_enabled": self.enable})
        self.console.err(f"{word.capitalize()} variable {name}")
        return self.after_change(result, ENVIRONMENT)


class VariableEnable(_Toggle):
    """`variable:enable <name>`."""

    enable = True


class VariableDisable(_Toggle):
    """`variable:disable <name>`."""

    enable = False
