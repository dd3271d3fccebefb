"""`environment:*`: list, inspect, branch, (de)activate, delete, redeploy, pause and
resume (§4.6).

Operations are POSTed to the environment's `#operation` links; the server emits a
link only when the caller may use it, so a missing link means "Operation not
available" without a round trip.
"""

from __future__ import annotations

from homeport.cli.api import embedded_activities
from homeport.cli.commands.base import (
    Command,
    environment_label,
    operation_link,
    project_label,
    public_properties,
)
from homeport.cli.errors import CliError, CommandFailed
from homeport.cli.inputdef import FLAG, OPTIONAL, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = [
    ("id", "ID"),
    ("machine_name", "Machine name"),
    ("title", "Title"),
    ("status", "Status"),
    ("type", "Type"),
    ("created", "Created"),
    ("updated", "Updated"),
]
DEFAULT_COLUMNS = ["id", "title", "status", "type"]
ENV_TYPES = ("production", "staging", "development")
# Properties `environment:info PROPERTY VALUE` may change, and how values are read.
WRITABLE = {
    "title": "string",
    "type": "type",
    "parent": "parent",
    "enable_smtp": "bool",
    "restrict_robots": "bool",
    "clone_parent_on_create": "bool",
}


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise CliError(f"Invalid boolean value: {value} (expected 1, 0, true, or false)")


def _unavailable(env: dict[str, Any], what: str) -> str:
    """The 'Operation not available' message, with the likely reason."""
    label = environment_label(env)
    message = f"Operation not available: The environment {label} can't be {what}."
    status = env.get("status")
    if status in ("inactive", "deleting") and what not in ("activated", "deleted"):
        message += f"\nThe environment is {status}."
    return message


class EnvironmentList(Command):
    """`environment:list` (aliases `environments`, `env`)."""

    def configure(self, d: Definition) -> None:
        d.option("no-inactive", "I", FLAG, "Do not show inactive environments")
        d.option(
            "status",
            "",
            REQUIRED,
            "Filter environments by status (active, inactive, dirty, paused, deleting)",
            is_array=True,
        )
        d.option("pipe", "", FLAG, "Output a simple list of environment IDs")
        d.option("refresh", "", OPTIONAL, "Whether to refresh the list", default="1")
        d.option("sort", "", REQUIRED, "A property to sort by", default="title")
        d.option("reverse", "", FLAG, "Sort in reverse (descending) order")
        d.option("type", "", REQUIRED, "Filter the list by environment type(s)", is_array=True)
        self.add_format_options(d)
        self.add_project_option(d)

    def execute(self) -> int:
        project = self.select_project()
        envs = list(self.environments())
        filters = []
        if self.input.opt("no-inactive"):
            filters.append("--no-inactive")
            envs = [e for e in envs if e.get("status") != "inactive"]
        types = [t.lower() for t in self.input.list_opt("type")]
        if types:
            filters.append("--type")
            envs = [e for e in envs if str(e.get("type", "")).lower() in types]
        statuses = [s.lower() for s in self.input.list_opt("status")]
        if statuses:
            filters.append("--status")
            envs = [e for e in envs if str(e.get("status", "")).lower() in statuses]
        if not envs:
            # Not an error, as in the PHP CLI: `set -e` scripts carry on.
            if filters:
                self.console.err(f"No environments found (filters in use: {', '.join(filters)}).")
            else:
                self.console.err("No environments found.")
            return 0
        sort_key = str(self.input.opt("sort") or "title")
        envs.sort(
            key=lambda e: str(e.get(sort_key) or "").lower(),
            reverse=bool(self.input.opt("reverse")),
        )
        if self.input.opt("pipe"):
            for env in envs:
                self.console.out(str(env.get("id")))
            return 0
        ordered = self._tree(envs) if not self.machine_readable else [(e, 0) for e in envs]
        fmt = self.formatter
        rows = []
        for env, depth in ordered:
            rows.append(
                {
                    "id": "   " * depth + str(env.get("id")),
                    "machine_name": str(env.get("machine_name") or ""),
                    "title": str(env.get("title") or ""),
                    "status": str(env.get("status") or "").capitalize(),
                    "type": str(env.get("type") or ""),
                    "created": fmt.date(env.get("created_at")),
                    "updated": fmt.date(env.get("updated_at")),
                }
            )
        self.table_hint(f"Environments on the project {project_label(project)}:")
        self.print_table(COLUMNS, DEFAULT_COLUMNS, rows)
        self.table_hint("")
        self.table_hint(
            f"To view an environment's details, run: {self.exe} environment:info -e [id]"
        )
        self.table_hint(f"To branch a new environment, run: {self.exe} environment:branch [id]")
        return 0

    @staticmethod
    def _tree(envs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
        """Children right after (and indented under) their parents, keeping the sort."""
        ids = {e.get("id") for e in envs}
        children: dict[Any, list[dict[str, Any]]] = {}
        roots = []
        for env in envs:
            parent = env.get("parent")
            if parent and parent in ids and parent != env.get("id"):
                children.setdefault(parent, []).append(env)
            else:
                roots.append(env)
        out: list[tuple[dict[str, Any], int]] = []

        def walk(env: dict[str, Any], depth: int) -> None:
            out.append((env, depth))
            for child in children.get(env.get("id"), []):
                walk(child, depth + 1)

        for root in roots:
            walk(root, 0)
        return out


class EnvironmentInfo(Command):
    """`environment:info [property] [value]`."""

    def configure(self, d: Definition) -> None:
        d.argument("property", "The name of the property")
        d.argument("value", "Set a new value for the property")
        d.option("refresh", "", FLAG, "Whether to refresh the cache")
        self.add_date_option(d)
        self.add_format_options(d)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        prop, value = self.input.arg("property"), self.input.arg("value")
        if not prop:
            self.print_properties(public_properties(env))
            return 0
        if value is None:
            self.print_property(env, str(prop))
            return 0
        return self._set(env, str(prop), str(value))

    def _set(self, env: dict[str, Any], prop: str, raw: str) -> int:
        kind = WRITABLE.get(prop)
        if kind is None:
            raise CommandFailed(f"Property not writable: {prop}")
        new: Any = raw
        if kind == "bool":
            new = _bool(raw)
        elif kind == "type" and raw not in ENV_TYPES:
            raise CliError(f"Invalid type: {raw} (expected one of: {', '.join(ENV_TYPES)})")
        elif kind == "parent":
            if raw == "-":
                new = None
            elif self.find_environment(raw) is None:
                raise CommandFailed(f"Environment not found: {raw}")
        if env.get(prop) == new:
            self.console.err(f"Property {prop} already set as: {self.formatter.prop(prop, new)}")
            return 0
        href = operation_link(env, "edit")
        if not href:
            raise CommandFailed(_unavailable(env, "updated"))
        result = self.api.send("PATCH", href, {prop: new})
        self.console.err(f"Property {prop} set to: {self.formatter.prop(prop, new)}")
        activities = embedded_activities(result)
        if activities and self.should_wait():
            return 0 if self.wait_for(activities) else 1
        return 0


class EnvironmentBranch(Command):
    """`environment:branch [id] [parent]` (alias `branch`)."""

    def configure(self, d: Definition) -> None:
        d.argument("id", "The ID (branch name) of the new environment")
        d.argument("parent", "The parent of the new environment")
        d.option("title", "", REQUIRED, "The title of the new environment")
        d.option("type", "", REQUIRED, "The type of the new environment")
        d.option("no-clone-parent", "", FLAG, "Do not clone the parent environment's data")
        d.option("no-checkout", "", FLAG, "Do not check out the branch locally")
        d.option(
            "resources-init",
            "",
            REQUIRED,
            "Set the resources to allocate to the new environment (parent, default or minimum)",
        )
        d.option("dry-run", "", FLAG, "Dry run: do not create a new environment", hidden=True)
        d.option("force", "", FLAG, "Deprecated option, no longer used", hidden=True)
        d.option("identity-file", "i", REQUIRED, "Deprecated option, no longer used", hidden=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        name = self.input.arg("id")
        if not name:
            if not self.console.interactive:
                raise CliError("You must specify the name of the new branch.")
            name = self.console.ask("Enter a name (ID) for the new environment:")
            if not name:
                raise CommandFailed("You must specify the name of the new branch.")
        name = str(name)
        parent_arg = self.input.arg("parent")
        if parent_arg:
            parent = self.find_environment(str(parent_arg))
            if parent is None:
                raise CommandFailed(f"Specified environment not found: {parent_arg}")
        else:
            parent = self.select_environment(required=True, use_default=True)
        assert parent is not None
        if any(name in (e.get("id"), e.get("machine_name")) for e in self.environments()):
            raise CommandFailed(f"The environment {name} already exists.")
        href = operation_link(parent, "branch")
        if not href:
            raise CommandFailed(_unavailable(parent, "branched"))
        env_type = self.input.str_opt("type")
        if env_type and env_type not in ENV_TYPES:
            raise CliError(f"Invalid type: {env_type} (expected one of: {', '.join(ENV_TYPES)})")
        body: dict[str, Any] = {
            "name": name,
            "title": self.input.str_opt("title") or name,
            "clone_parent": not self.input.opt("no-clone-parent"),
        }
        if env_type:
            body["type"] = env_type
        if self.input.str_opt("resources-init"):
            body["resources"] = {"init": self.input.str_opt("resources-init")}
        label = environment_label(parent)
        if self.input.opt("dry-run"):
            self.console.err(f"Would create a new environment: {name}, branched from {label}")
            return 0
        self.console.err(f"Creating a new environment: {name}, branched from {label}")
        result = self.api.send("POST", href, body)
        activities = embedded_activities(result)
        if activities and self.should_wait():
            return 0 if self.wait_for(activities) else 1
        return 0


class _Operation(Command):
    """Shared flow of activate/deactivate: several environments, confirm, POST, wait."""

    operation = ""
    done_word = ""
    skip_status = ""

    def configure(self, d: Definition) -> None:
        d.argument("environment", "The environment(s)", is_array=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def targets(self) -> list[dict[str, Any]]:
        """Environments named by the arguments, else the selected one."""
        names = self.input.arg("environment") or []
        if not names:
            env = self.select_environment(required=True)
            assert env is not None
            return [env]
        if self.input.str_opt("environment"):
            raise CliError(
                "You cannot use both the <environment> argument and the --environment option"
            )
        found = []
        for name in names:
            env = self.find_environment(str(name))
            if env is None:
                raise CommandFailed(f"Specified environment not found: {name}")
            found.append(env)
        return found

    def before(self, env: dict[str, Any]) -> None:
        """A hook run before the operation's POST."""

    def execute(self) -> int:
        failed = False
        activities: list[dict[str, Any]] = []
        for env in self.targets():
            label = environment_label(env)
            if env.get("status") == self.skip_status:
                self.console.err(f"The environment {label} is already {self.skip_status}.")
                continue
            href = operation_link(env, self.operation)
            if not href:
                self.console.err(_unavailable(env, self.done_word))
                failed = True
                continue
            if not self.console.confirm(
                f"Are you sure you want to {self.operation} the environment {label}?", default=True
            ):
                failed = True
                continue
            self.before(env)
            result = self.api.send("POST", href, self.body())
            activities.extend(embedded_activities(result))
        if activities and self.should_wait() and not self.wait_for(activities):
            return 1
        return 1 if failed else 0

    def body(self) -> dict[str, Any] | None:
        """The POST body (none by default)."""
        return None


class EnvironmentActivate(_Operation):
    """`environment:activate [environment]...`."""

    operation = "activate"
    done_word = "activated"
    skip_status = "active"

    def configure(self, d: Definition) -> None:
        super().configure(d)
        d.option("parent", "", REQUIRED, "Set a new environment parent before activating")
        d.option("resources-init", "", REQUIRED, "Set the resources to allocate when activating")

    def before(self, env: dict[str, Any]) -> None:
        parent = self.input.str_opt("parent")
        if parent and env.get("parent") != parent:
            if self.find_environment(parent) is None:
                raise CommandFailed(f"Environment not found: {parent}")
            edit = operation_link(env, "edit")
            if not edit:
                raise CommandFailed(_unavailable(env, "updated"))
            self.console.err(f"Setting parent of environment {environment_label(env)} to {parent}")
            self.api.send("PATCH", edit, {"parent": parent})

    def body(self) -> dict[str, Any] | None:
        init = self.input.str_opt("resources-init")
        return {"resources": {"init": init}} if init else None


class EnvironmentDeactivate(_Operation):
    """`environment:deactivate [environment]...`."""

    operation = "deactivate"
    done_word = "deactivated"
    skip_status = "inactive"


class EnvironmentDelete(Command):
    """`environment:delete [environment]...`: deactivate first when needed, then delete."""

    def configure(self, d: Definition) -> None:
        d.argument("environment", "The environment(s) to delete", is_array=True)
        d.option(
            "delete-branch",
            "",
            FLAG,
            "Delete the environment (and its Git branch) even if it is active",
        )
        d.option("no-delete-branch", "", FLAG, "Only deactivate the environment; do not delete it")
        d.option("inactive", "", FLAG, "Delete all inactive environments")
        d.option(
            "exclude", "", REQUIRED, "Environment(s) not to delete (%/* wildcards)", is_array=True
        )
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def _targets(self) -> list[dict[str, Any]]:
        import fnmatch

        names = self.input.arg("environment") or []
        if self.input.opt("inactive"):
            envs = [e for e in self.environments() if e.get("status") == "inactive"]
        elif names:
            envs = []
            for name in names:
                env = self.find_environment(str(name))
                if env is None:
                    raise CommandFailed(f"Specified environment not found: {name}")
                envs.append(env)
        else:
            env = self.select_environment(required=True)
            assert env is not None
            envs = [env]
        excludes = [p.replace("%", "*") for p in self.input.list_opt("exclude")]
        return [
            e for e in envs if not any(fnmatch.fnmatchcase(str(e.get("id")), p) for p in excludes)
        ]

    def execute(self) -> int:
        project = self.select_project()
        envs = self._targets()
        if not envs:
            raise CommandFailed("No environments to delete.")
        default_branch = project.get("default_branch")
        selected = []
        failed = False
        for env in envs:
            if env.get("id") == default_branch:
                self.console.err(
                    f"The default environment {environment_label(env)} cannot be deleted."
                )
                failed = True
            else:
                selected.append(env)
        if not selected:
            return 1
        if len(selected) == 1:
            question = (
                f"Are you sure you want to delete the environment {environment_label(selected[0])}?"
            )
        else:
            self.console.err("Environments to delete:")
            for env in selected:
                self.console.err(f"  {environment_label(env)}")
            question = f"Are you sure you want to delete these {len(selected)} environments?"
        # Deleting is destructive and Platform.sh's default answer is undocumented:
        # the safer reading is that non-interactive runs need --yes.
        if not self.console.confirm(question, default=False):
            return 1
        wait = self.should_wait()
        for env in selected:
            if not self._delete(env, wait):
                failed = True
        return 1 if failed else 0

    def _delete(self, env: dict[str, Any], wait: bool) -> bool:
        label = environment_label(env)
        active = env.get("status") not in ("inactive", "deleting")
        if active and (self.input.opt("no-delete-branch") or not operation_link(env, "delete")):
            deactivate = operation_link(env, "deactivate")
            if not deactivate:
                self.console.err(_unavailable(env, "deleted"))
                return False
            self.console.err(f"Deactivating environment {label}")
            result = self.api.send("POST", deactivate)
            activities = embedded_activities(result)
            if self.input.opt("no-delete-branch"):
                return self.wait_for(activities) if wait and activities else True
            if not wait:
                self.console.err(
                    f"The environment {label} is being deactivated. Run this command again "
                    "once it is inactive to delete it."
                )
                return True
            if activities and not self.wait_for(activities):
                return False
            env = self.api.refresh(env)
        href = operation_link(env, "delete")
        if not href:
            self.console.err(_unavailable(env, "deleted"))
            return False
        self.console.err(f"Deleting environment {label}")
        result = self.api.send("DELETE", href)
        activities = embedded_activities(result)
        if activities and wait and not self.wait_for(activities):
            return False
        self.console.err(f"The environment {label} has been deleted.")
        return True


class EnvironmentRedeploy(Command):
    """`environment:redeploy` (alias `redeploy`)."""

    def configure(self, d: Definition) -> None:
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        href = operation_link(env, "redeploy")
        if not href:
            raise CommandFailed(_unavailable(env, "redeployed"))
        label = environment_label(env)
        if not self.console.confirm(
            f"Are you sure you want to redeploy the environment {label}?", default=True
        ):
            return 1
        result = self.api.send("POST", href)
        activities = embedded_activities(result)
        if activities and self.should_wait():
            return 0 if self.wait_for(activities) else 1
        return 0


PAUSE_HELP = (
    "Pausing an environment helps to reduce resource consumption and carbon emissions.\n\n"
    "The environment will be unavailable until it is resumed. No data will be lost."
)


class _PauseResume(Command):
    """Shared flow of pause/resume: one environment, check, confirm, POST, wait."""

    def configure(self, d: Definition) -> None:
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def run(self, env: dict[str, Any], operation: str, question: str) -> int:
        """Confirm, POST the operation's link and wait for its activities."""
        href = operation_link(env, operation)
        assert href
        if not self.console.confirm(question, default=True):
            return 1
        result = self.api.send("POST", href)
        activities = embedded_activities(result)
        if activities and self.should_wait():
            return 0 if self.wait_for(activities) else 1
        return 0


class EnvironmentPause(_PauseResume):
    """`environment:pause`: stop a preview environment's apps, keeping its data."""

    help_text = PAUSE_HELP

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        label = environment_label(env)
        if env.get("status") == "paused":
            self.console.err(f"The environment {label} is already paused.")
            return 0
        if not operation_link(env, "pause"):
            message = f"Operation not available: The environment {label} can't be paused."
            if env.get("status") != "active":
                message += "\nThe environment is not active."
            raise CommandFailed(message)
        question = f"{PAUSE_HELP}\n\nAre you sure you want to pause the environment {env['id']}?"
        return self.run(env, "pause", question)


class EnvironmentResume(_PauseResume):
    """`environment:resume`: bring a paused environment back (it redeploys)."""

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        label = environment_label(env)
        if not operation_link(env, "resume"):
            if env.get("status") != "paused":
                raise CommandFailed(
                    f"The environment {label} is not paused. "
                    "Only paused environments can be resumed."
                )
            raise CommandFailed(
                f"Operation not available: The environment {label} can't be resumed."
            )
        question = f"Are you sure you want to resume the paused environment {env['id']}?"
        return self.run(env, "resume", question)
