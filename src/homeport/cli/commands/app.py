"""`app:list`, `app:config-get` and `mount:list`: the apps and mounts of the current
deployment (platform-deploy.md §9)."""

from __future__ import annotations

from homeport.cli.commands.base import environment_label, project_label
from homeport.cli.commands.deployment import (
    APP_COLUMNS,
    APP_DEFAULT_COLUMNS,
    MOUNT_COLUMNS,
    MOUNT_DEFAULT_COLUMNS,
    DeploymentCommand,
    as_mapping,
    local_app_paths,
    natural_key,
    normalize_mounts,
    service_type,
)
from homeport.cli.errors import CommandFailed
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class AppList(DeploymentCommand):
    """`app:list` (alias `apps`)."""

    def configure(self, d: Definition) -> None:
        d.option("refresh", "", FLAG, "Whether to refresh the cache")
        d.option("pipe", "", FLAG, "Output a list of app names only")
        self.add_format_options(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        deployment = self.require_deployment(env)
        apps = as_mapping(deployment.get("webapps"))
        if not apps:
            self.console.err("No applications found.")
            self._hints(deployment)
            return 0
        names = sorted(apps, key=natural_key)
        if self.input.opt("pipe"):
            for name in names:
                self.console.out(name)
            return 0
        paths = self._local_paths()
        defaults = [*APP_DEFAULT_COLUMNS, "path"] if paths is not None else APP_DEFAULT_COLUMNS
        fmt = self.formatter
        rows = []
        for key, value in apps.items():
            app = as_mapping(value)
            name = str(app.get("name") or key)
            rows.append(
                {
                    "name": name,
                    "type": service_type(app.get("type")),
                    "disk": fmt.cell("disk", app.get("disk")),
                    "size": fmt.cell("size", app.get("size")),
                    "path": (paths or {}).get(name, ""),
                }
            )
        self.table_hint(
            f"Applications on the project {project_label(self.select_project())}, "
            f"environment {environment_label(env)}:"
        )
        self.print_table(APP_COLUMNS, defaults, rows)
        if not self.machine_readable:
            self._hints(deployment)
        return 0

    def _local_paths(self) -> dict[str, str] | None:
        """App directories in the local checkout, when it is the selected project's."""
        checkout = self.checkout
        if checkout is None:
            return None
        remotes = (str(self.config.get("detection.git_remote_name", "platform")), "origin")
        if checkout.project_id(self.config.api_url, remotes) != self.select_project().get("id"):
            return None
        return local_app_paths(checkout.root)

    def _hints(self, deployment: Mapping[str, Any]) -> None:
        """Point at the service and worker lists, for the commands this client has."""
        from homeport.cli.registry import BY_NAME

        lines = []
        if deployment.get("services") and "service:list" in BY_NAME:
            lines.append(f"To list services, run: {self.exe} services")
        if deployment.get("workers") and "worker:list" in BY_NAME:
            lines.append(f"To list workers, run: {self.exe} workers")
        if lines:
            self.console.err("")
            for line in lines:
                self.console.err(line)


class AppConfigGet(DeploymentCommand):
    """`app:config-get`: an app's configuration as YAML, or one property with -P."""

    def configure(self, d: Definition) -> None:
        d.option("property", "P", REQUIRED, "The configuration property to view")
        d.option("refresh", "", FLAG, "Whether to refresh the cache")
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_container_options(d, workers=False)

    def execute(self) -> int:
        if self.in_container("APPLICATION"):
            config = self.decode_variable("APPLICATION")
            if not isinstance(config, dict):
                raise CommandFailed(
                    f"The {self.config.env_prefix}APPLICATION environment variable "
                    "is not a JSON object."
                )
        else:
            env = self.select_environment(required=True)
            assert env is not None
            deployment = self.require_deployment(env)
            _, config, _ = self.select_container(deployment, env, include_workers=False)
        prop = self.input.str_opt("property")
        if prop:
            self.print_property(config, prop)
            return 0
        from homeport.cli.miniyaml import dumps

        self.console.out(dumps(config), newline=False)
        return 0


class MountList(DeploymentCommand):
    """`mount:list` (alias `mounts`)."""

    def configure(self, d: Definition) -> None:
        d.option("paths", "", FLAG, "Output the mount paths only (one per line)")
        d.option("refresh", "", FLAG, "Whether to refresh the cache")
        self.add_format_options(d)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_container_options(d)

    def execute(self) -> int:
        if self.in_container("APPLICATION"):
            config = self.decode_variable("APPLICATION")
            config = as_mapping(config)
            name = str(config.get("name") or "")
            kind = "worker" if "--" in name else "app"
            env_text = self.env.get(self.config.env_prefix + "BRANCH")
        else:
            env = self.select_environment(required=True)
            assert env is not None
            deployment = self.require_deployment(env)
            name, config, kind = self.select_container(deployment, env, include_workers=True)
            env_text = environment_label(env)
        mounts = normalize_mounts(config.get("mounts"))
        if not mounts:
            self.console.err(f"No mounts found on environment {env_text}, {kind} {name}")
            return 0
        if self.input.opt("paths"):
            for path in mounts:
                self.console.out(path)
            return 0
        fmt = self.formatter
        rows = [
            {"path": path, "definition": fmt.prop("definition", definition)}
            for path, definition in mounts.items()
        ]
        self.table_hint(f"Mounts on environment {env_text}, {kind} {name}:")
        self.print_table(MOUNT_COLUMNS, MOUNT_DEFAULT_COLUMNS, rows)
        return 0
