"""`backup:*`: create, list, view, restore and delete environment backups (§4.2)."""

from __future__ import annotations

from homeport.cli.api import embedded_activities, link
from homeport.cli.commands.base import (
    Command,
    environment_label,
    operation_link,
    project_label,
    public_properties,
)
from homeport.cli.errors import CliError, CommandFailed
from homeport.cli.formatting import DATE_KEYS
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = [
    ("created_at", "Created"),
    ("id", "Backup ID"),
    ("restorable", "Restorable"),
    ("automated", "Automated"),
    ("commit_id", "Commit ID"),
    ("expires_at", "Expires"),
    ("index", "Index"),
    ("live", "Live"),
    ("status", "Status"),
    ("updated_at", "Updated"),
    ("safe", "Safe"),
]
DEFAULT_COLUMNS = ["created_at", "id", "restorable"]


class BackupCommand(Command):
    """Shared backup look-ups."""

    def backups_url(self, env: dict[str, Any]) -> str:
        """The environment's backups collection."""
        project = self.select_project()
        return link(env, "backups") or f"{self.api.environment_url(project, env)}/backups"

    def list_backups(self, env: dict[str, Any]) -> list[dict[str, Any]]:
        """Backups, newest first (as the API returns them)."""
        data = self.api.get(self.backups_url(env))
        return [b for b in data or [] if isinstance(b, dict)]

    def get_backup(self, env: dict[str, Any], backup_id: str) -> dict[str, Any]:
        """One backup, or `Backup not found`."""
        data = self.api.get_optional(f"{self.backups_url(env)}/{self.api.quote(backup_id)}")
        if not isinstance(data, dict):
            raise CommandFailed(f"Backup not found: {backup_id}")
        return data

    def choose_backup(self, env: dict[str, Any], argument: str | None) -> dict[str, Any]:
        """The backup named, else a choice whose default is the most recent one."""
        if argument:
            return self.get_backup(env, argument)
        backups = self.list_backups(env)
        if not backups:
            raise CommandFailed("No backups found")
        fmt = self.formatter
        choices = [(str(b["id"]), f"{b['id']} ({fmt.date(b.get('created_at'))})") for b in backups]
        chosen = self.console.choose(
            choices, "Enter a number to choose a backup:", str(backups[0]["id"])
        )
        return next(b for b in backups if str(b["id"]) == chosen)


class BackupCreate(BackupCommand):
    """`backup:create [environment]` (alias `backup`)."""

    def configure(self, d: Definition) -> None:
        d.argument("environment", "The environment")
        d.option("live", "", FLAG, "Live backup: do not stop the environment")
        d.option("unsafe", "", FLAG, "Deprecated: use --live instead", hidden=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        self.warn_deprecated(["unsafe"])
        env = self.select_environment(required=True, argument=self.input.arg("environment"))
        assert env is not None
        label = environment_label(env)
        live = bool(self.input.opt("live") or self.input.opt("unsafe"))
        href = operation_link(env, "backup")
        if not href:
            raise CommandFailed(
                f"Operation not available: cannot create a backup of {label}\n" + self._reason(env)
            )
        self.console.err(f"Creating a {'live ' if live else ''}backup of {label}.")
        self.console.err("Note: this may delete an older backup if the quota has been reached.")
        self.console.err("")
        if not self.console.confirm("Are you sure you want to continue?", default=True):
            return 1
        result = self.api.send("POST", href, {"safe": not live})
        activities = embedded_activities(result)
        if self.should_wait():
            if not self.env.stdin_isatty:
                self.console.warn(
                    "Warning: use the --no-wait (-W) option if you are running this in a cron job."
                )
            if not self.wait_for(activities):
                return 1
            activities = self.finished_activities or activities
        for activity in activities:
            payload = activity.get("payload")
            if activity.get("type") == "environment.backup" and isinstance(payload, dict):
                name = payload.get("backup_name")
                if name:
                    self.console.out(f"Backup name: {name}")
                    break
        return 0

    def _reason(self, env: dict[str, Any]) -> str:
        if env.get("status") != "active":
            return "The environment is not active."
        try:
            project = self.select_project()
            busy = self.api.get(
                f"{self.api.environment_url(project, env)}/activities",
                [("state", "pending"), ("state", "in_progress"), ("count", 1)],
            )
        except CliError:
            busy = None
        if busy:
            return "An activity is currently pending or in progress on the environment."
        return "You must be an administrator to create a backup."


class BackupList(BackupCommand):
    """`backup:list` (alias `backups`)."""

    def configure(self, d: Definition) -> None:
        d.option("limit", "", REQUIRED, "[Deprecated] - this option is unused", hidden=True)
        d.option("start", "", REQUIRED, "[Deprecated] - this option is unused", hidden=True)
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        self.warn_deprecated(["limit", "start"])
        env = self.select_environment(required=True)
        assert env is not None
        backups = self.list_backups(env)
        if not backups:
            raise CommandFailed("No backups found")
        self.table_hint(
            f"Backups on the project {project_label(self.select_project())}, "
            f"environment {environment_label(env)}:"
        )
        fmt = self.formatter
        rows = []
        for backup in backups:
            row = {key: fmt.cell(key, backup.get(key)) for key, _ in COLUMNS}
            if "safe" in backup:
                row["live"] = fmt.cell("live", not backup.get("safe"))
            rows.append(row)
        self.print_table(
            COLUMNS,
            DEFAULT_COLUMNS,
            rows,
            replaced={"created": "created_at", "name": "id"},
            removed=("progress", "state", "result"),
        )
        return 0


class BackupGet(BackupCommand):
    """`backup:get [backup]`: the backup's properties as YAML, or one with -P."""

    def configure(self, d: Definition) -> None:
        d.argument("backup", "The ID of the backup. Defaults to the most recent one")
        d.option("property", "P", REQUIRED, "The backup property to display")
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        backup = self.choose_backup(env, self.input.arg("backup"))
        prop = self.input.str_opt("property")
        if prop:
            self.print_property(backup, prop)
            return 0
        from homeport.cli.miniyaml import dumps

        fmt = self.formatter
        props = {
            k: (fmt.date(v) if k in DATE_KEYS and isinstance(v, str) else v)
            for k, v in public_properties(backup).items()
        }
        self.console.out(dumps(props), newline=False)
        return 0


class BackupRestore(BackupCommand):
    """`backup:restore [backup]`."""

    def configure(self, d: Definition) -> None:
        d.argument("backup", "The ID of the backup. Defaults to the most recent one")
        d.option(
            "target",
            "",
            REQUIRED,
            "The environment to restore to. Defaults to the backup's current environment",
        )
        d.option(
            "branch-from",
            "",
            REQUIRED,
            "If the --target does not yet exist, this specifies the parent of the new environment",
        )
        d.option("no-code", "", FLAG, "Do not restore code, only data")
        d.option(
            "restore-code", "", FLAG, "Whether code should be restored as well as data", hidden=True
        )
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        backup = self.choose_backup(env, self.input.arg("backup"))
        backup_id = str(backup.get("id"))
        if backup.get("restorable") is False:
            raise CommandFailed(f"The backup {backup_id} cannot be restored")
        env_id = str(env.get("id"))
        target = self.input.str_opt("target") or env_id
        branch_from = self.input.str_opt("branch-from")
        if branch_from and self.find_environment(branch_from) is None:
            raise CommandFailed(f"Environment not found (in --branch-from): {branch_from}")
        fmt = self.formatter
        self.console.err(f"Backup ID: {backup_id}")
        self.console.err(f"Created at: {fmt.date(backup.get('created_at'))}")
        if target != env_id:
            self.console.err(f"Original environment: {env_id}")
            question = f"Are you sure you want to restore this backup to the environment {target}?"
        else:
            question = "Are you sure you want to restore this backup?"
        if not self.console.confirm(question, default=True):
            return 1
        body: dict[str, Any] = {}
        if target != env_id:
            body["environment_name"] = target
        if branch_from:
            body["branch_from"] = branch_from
        if self.input.opt("no-code"):
            body["restore_code"] = False
        elif self.input.opt("restore-code"):
            body["restore_code"] = True
        href = (
            link(backup, "#restore")
            or f"{self.backups_url(env)}/{self.api.quote(backup_id)}/restore"
        )
        self.console.err(f"Restoring backup {backup_id} to {target}")
        result = self.api.send("POST", href, body)
        if self.should_wait():
            return 0 if self.wait_for(embedded_activities(result)) else 1
        return 0


class BackupDelete(BackupCommand):
    """`backup:delete [backup]`."""

    def configure(self, d: Definition) -> None:
        d.argument("backup", "The ID of the backup. Required in non-interactive mode.")
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        argument = self.input.arg("backup")
        if not argument and not self.console.interactive:
            raise CommandFailed("A backup ID is required in non-interactive mode.")
        backup = self.choose_backup(env, argument)
        backup_id = str(backup.get("id"))
        date = self.formatter.date(backup.get("created_at"))
        if not self.console.confirm(
            f"Are you sure you want to delete the backup {backup_id} ({date})?", default=True
        ):
            return 1
        href = (
            link(backup, "#delete")
            or link(backup, "self")
            or f"{self.backups_url(env)}/{self.api.quote(backup_id)}"
        )
        result = self.api.send("DELETE", href)
        self.console.err(f"The backup {backup_id} ({date}) has been deleted.")
        if self.should_wait():
            return 0 if self.wait_for(embedded_activities(result)) else 1
        return 0
