"""What an environment runs, read from its current deployment (platform-deploy.md §4.9, §9).

The shared base and `environment:url`, `route:list`, `route:get`; the app and mount
commands are in `app.py`, `environment:logs` in `logs.py`. The deployment is
`GET {environment}/deployments/current` (through the environment's `#deployments`
link when it has one); a 404 there means the environment has no deployment (inactive,
or never deployed).

Inside an app container (`PLATFORM_PROJECT` set), `PLATFORM_ROUTES` and
`PLATFORM_APPLICATION` stand in for the API, unless -p/-e/-A name something else.
"""

from __future__ import annotations

import re

from homeport.cli.api import link
from homeport.cli.commands.base import Command, environment_label, project_label
from homeport.cli.errors import CommandFailed, InvalidArgument
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

ROUTE_COLUMNS = [("route", "Route"), ("type", "Type"), ("to", "To"), ("url", "URL")]
ROUTE_DEFAULT_COLUMNS = ["route", "type", "to"]
APP_COLUMNS = [
    ("name", "Name"),
    ("type", "Type"),
    ("disk", "Disk"),
    ("size", "Size"),
    ("path", "Path"),
]
APP_DEFAULT_COLUMNS = ["name", "type"]
MOUNT_COLUMNS = [("path", "Mount path"), ("definition", "Definition")]
MOUNT_DEFAULT_COLUMNS = ["path", "definition"]


def natural_key(text: str) -> list[Any]:
    """Sort key putting `app2` before `app10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def as_mapping(value: Any) -> dict[str, Any]:
    """`value` when it is an object (JSON `{}`), else an empty dict."""
    return dict(value) if isinstance(value, dict) else {}


def sort_routes(routes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Routes (final URL → route) as a list, each with its `url`, best first.

    Primary routes come first, then https before http, then shorter URLs. Several
    primary routes keep their document order among themselves: the PHP CLI's
    comparator never orders two primaries, so its sort leaves them as they came (the
    `route:list` fixture of platform-deploy.md §9.1 depends on that).
    """
    items: list[tuple[tuple[int, int, int, int], dict[str, Any]]] = []
    for index, (url, value) in enumerate(routes.items()):
        route = {"id": None, "primary": False, **as_mapping(value), "url": url}
        if route.get("primary"):
            key = (0, 0, 0, index)
        else:
            https = url.lower().startswith("https://")
            key = (1, 0 if https else 1, len(url), index)
        items.append((key, route))
    items.sort(key=lambda item: item[0])
    return [route for _, route in items]


def service_type(value: Any) -> str:
    """An app type as shown in lists (`php:8.2`, without a third `:` part)."""
    text = "" if value is None else str(value)
    if text.count(":") == 2:
        text = text.rsplit(":", 1)[0]
    return text


def _trim_path(path: str) -> str:
    return path.strip().strip("/")


def normalize_mounts(mounts: Any) -> dict[str, dict[str, Any]]:
    """Mount path (without leading or trailing `/`) → definition.

    The legacy string form `shared:files/x` becomes `{source: local, source_path: x}`.
    """
    result: dict[str, dict[str, Any]] = {}
    for path, definition in as_mapping(mounts).items():
        if isinstance(definition, str) and "shared:files" in definition:
            definition = {
                "source": "local",
                "source_path": definition.replace("shared:files", ""),
            }
        if not isinstance(definition, dict):
            raise CommandFailed(f"Invalid mount definition for {path}: {definition!r}")
        definition = dict(definition)
        if isinstance(definition.get("source_path"), str):
            definition["source_path"] = _trim_path(definition["source_path"])
        result[_trim_path(str(path))] = definition
    return result


def local_app_paths(root: str) -> dict[str, str]:
    """App name → its directory (relative to `root`) from the app configuration files.

    Reads `.platform/applications.yaml` (a list, or a map of name → app) and every
    `.platform.app.yaml` a few levels down; unreadable files are skipped.
    """
    import os

    from homeport.cli.miniyaml import YamlError, loads

    def read(path: str) -> Any:
        try:
            with open(path, encoding="utf-8") as fh:
                return loads(fh.read())
        except (OSError, UnicodeDecodeError, YamlError):
            return None

    found: dict[str, str] = {}
    multi = read(os.path.join(root, ".platform", "applications.yaml"))
    entries: list[tuple[str, Any]] = []
    if isinstance(multi, list):
        entries = [(str(a.get("name", "")), a) for a in multi if isinstance(a, dict)]
    elif isinstance(multi, dict):
        entries = [
            (str(a.get("name", name)), a) for name, a in multi.items() if isinstance(a, dict)
        ]
    for name, app in entries:
        source = app.get("source")
        rel = source.get("root") if isinstance(source, dict) else None
        if name:
            found[name] = _trim_path(str(rel or "")) or "."
    skip = {"node_modules", "vendor", "__pycache__"}
    for current, dirs, files in os.walk(root):
        depth = os.path.relpath(current, root).count(os.sep)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip and depth < 4]
        if ".platform.app.yaml" in files:
            config = read(os.path.join(current, ".platform.app.yaml"))
            if isinstance(config, dict) and config.get("name"):
                found.setdefault(str(config["name"]), os.path.relpath(current, root))
    return found


class DeploymentCommand(Command):
    """Shared look-ups: the current deployment, container variables, app selection."""

    def _given(self, option: str) -> str | None:
        if option in self.input.options:
            return self.input.str_opt(option)
        return None

    def in_container(self, variable: str, environment_argument: str | None = None) -> bool:
        """True when `$PLATFORM_<variable>` should be read instead of the API.

        That is inside an app container (`PLATFORM_PROJECT` set), when no -p, -e (or
        environment argument) and -A name another project, environment or app.
        """
        prefix = self.config.env_prefix
        if not self.env.get(prefix + variable) or not self.env.get(prefix + "PROJECT"):
            return False
        given = {
            "PROJECT": self._given("project"),
            "BRANCH": environment_argument or self._given("environment"),
            "APPLICATION_NAME": self._given("app"),
        }
        if self._given("worker"):
            return False
        return all(
            value is None or value == self.env.get(prefix + var) for var, value in given.items()
        )

    def decode_variable(self, variable: str) -> Any:
        """The JSON value of a base64-encoded `$PLATFORM_<variable>`."""
        import base64
        import binascii
        import json

        name = self.config.env_prefix + variable
        try:
            return json.loads(base64.b64decode(self.env.get(name), validate=False))
        except (binascii.Error, ValueError) as exc:
            raise CommandFailed(
                f"The {name} environment variable does not hold base64-encoded JSON."
            ) from exc

    def deployment_href(self, env: Mapping[str, Any]) -> str:
        """`…/deployments/current`, through the environment's link when it has one."""
        base = link(env, "#deployments")
        if base:
            return base.rstrip("/") + "/current"
        return f"{self.api.environment_url(self.select_project(), env)}/deployments/current"

    def current_deployment(self, env: Mapping[str, Any]) -> dict[str, Any] | None:
        """The environment's current deployment, or None when it has none (404)."""
        data = self.api.get_optional(self.deployment_href(env))
        return data if isinstance(data, dict) else None

    def require_deployment(self, env: Mapping[str, Any]) -> dict[str, Any]:
        """The current deployment, or the error the PHP CLI gives without one."""
        deployment = self.current_deployment(env)
        if deployment is None:
            raise CommandFailed(
                "Unable to find deployment information for the environment: "
                + environment_label(env)
            )
        return deployment

    def load_routes(
        self, environment_argument: str | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Sorted routes, and the environment they came from (None: `PLATFORM_ROUTES`)."""
        if self.in_container("ROUTES", environment_argument):
            decoded = self.decode_variable("ROUTES")
            if not isinstance(decoded, dict):
                raise CommandFailed(
                    f"The {self.config.env_prefix}ROUTES environment variable is not a JSON object."
                )
            return sort_routes(decoded), None
        env = self.select_environment(required=True, argument=environment_argument)
        assert env is not None
        deployment = self.current_deployment(env) or {}
        return sort_routes(as_mapping(deployment.get("routes"))), env

    def select_container(
        self,
        deployment: Mapping[str, Any],
        env: Mapping[str, Any],
        *,
        include_workers: bool,
    ) -> tuple[str, dict[str, Any], str]:
        """(name, configuration, `app` or `worker`) chosen by -A/--worker or a question."""
        webapps = as_mapping(deployment.get("webapps"))
        workers = as_mapping(deployment.get("workers"))
        app = self._given("app")
        worker = self._given("worker") if include_workers else None
        if worker:
            return self._select_worker(workers, app, worker)
        apps_text = ", ".join(sorted(webapps, key=natural_key)) or "none"
        if app:
            if app not in webapps:
                raise InvalidArgument(f"Application not found: {app}\nApps: {apps_text}")
            return app, as_mapping(webapps[app]), "app"
        preset = self.env.get(self.config.env_prefix + "APPLICATION_NAME")
        if preset in webapps:
            return preset, as_mapping(webapps[preset]), "app"
        names = sorted(webapps, key=natural_key)
        if not names:
            raise CommandFailed(
                f"No applications found on the environment {environment_label(env)}"
            )
        if len(names) == 1:
            chosen = names[0]
        elif self.console.interactive:
            chosen = self.console.choose(
                [(n, n) for n in names], "Enter a number to choose an app:"
            )
        else:
            option = "--app (-A) or --worker option" if include_workers else "--app (-A) option"
            raise InvalidArgument(
                f"The environment {environment_label(env)} runs more than one app: {apps_text}\n"
                f"Choose one with the {option}."
            )
        return chosen, as_mapping(webapps[chosen]), "app"

    def _select_worker(
        self, workers: dict[str, Any], app: str | None, worker: str
    ) -> tuple[str, dict[str, Any], str]:
        if "--" in worker or app:
            if app and "--" in worker and not worker.startswith(f"{app}--"):
                raise InvalidArgument(f"The worker {worker} does not belong to the app {app}")
            name = worker if "--" in worker else f"{app}--{worker}"
            if name not in workers:
                raise InvalidArgument(f"Worker not found: {worker}")
            return name, as_mapping(workers[name]), "worker"
        matches = sorted((n for n in workers if n.endswith(f"--{worker}")), key=natural_key)
        if not matches:
            raise InvalidArgument(f"Worker not found: {worker}")
        if len(matches) == 1:
            chosen = matches[0]
        elif self.console.interactive:
            chosen = self.console.choose(
                [(n, n) for n in matches], "Enter a number to choose a worker:"
            )
        else:
            raise InvalidArgument(
                f"More than one worker is called {worker}: {', '.join(matches)}\n"
                "Name it with its app, e.g. --worker APP--WORKER."
            )
        return chosen, as_mapping(workers[chosen]), "worker"

    @staticmethod
    def add_container_options(d: Definition, workers: bool = True) -> None:
        """-A/--app, and --worker."""
        d.option("app", "A", REQUIRED, "The remote application name")
        if workers:
            d.option("worker", "", REQUIRED, "A worker name")


class EnvironmentUrl(DeploymentCommand):
    """`environment:url` (alias `url`)."""

    def configure(self, d: Definition) -> None:
        d.option("primary", "1", FLAG, "Only return the URL of the primary route")
        d.option("browser", "", REQUIRED, "The browser command used to open the URL; 0 for none")
        d.option("pipe", "", FLAG, "Print the URLs to stdout, one per line")
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        routes, _ = self.load_routes()
        if not routes:
            raise CommandFailed("No URLs found.")
        urls = [str(r["url"]) for r in routes]
        if self.input.opt("primary"):
            primary = next((str(r["url"]) for r in routes if r.get("primary")), None)
            if primary is None:
                raise CommandFailed("No primary route found.")
            urls = [primary]
        browser = self.input.str_opt("browser")
        if self.input.opt("pipe") or browser == "0":
            for url in urls:
                self.console.out(url)
            return 0
        if browser:
            import shlex

            try:
                argv = shlex.split(browser)
            except ValueError:
                argv = [browser]
            url = self._pick(urls)
            self._open(argv, url)
            self.console.out(url)
            return 0
        if not self.console.interactive:
            # Scripts have always received a single URL here.
            self.console.out(urls[0])
            return 0
        command = self._default_browser()
        if command is None:
            for url in urls:
                self.console.out(url)
            return 0
        url = self._pick(urls)
        self._open(command, url)
        self.console.out(url)
        return 0

    def _pick(self, urls: list[str]) -> str:
        if len(urls) == 1 or not self.console.interactive:
            return urls[0]
        return self.console.choose([(u, u) for u in urls], "Enter a number to open a URL", urls[0])

    def _default_browser(self) -> list[str] | None:
        """The system's URL opener, when there is a display to open URLs on."""
        import shutil
        import sys

        if sys.platform == "darwin":
            return ["open"]
        if sys.platform == "win32":
            return ["cmd", "/c", "start", ""]
        display = self.env.get("DISPLAY")
        if not display or display == "none":
            return None
        for name in ("xdg-open", "gnome-open"):
            if shutil.which(name, path=self.env.get("PATH") or None):
                return [name]
        return None

    def _open(self, argv: list[str], url: str) -> None:
        """Run `argv URL`; a command that cannot be found or run is reported, not fatal."""
        import shutil
        import subprocess

        found = shutil.which(argv[0], path=self.env.get("PATH") or None) if argv else None
        if not found:
            self.console.err(f"Command not found: {argv[0] if argv else ''}")
            return
        try:
            subprocess.run(
                [found, *argv[1:], url],
                env=dict(self.env.environ),
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except OSError as exc:
            self.console.err(f"Could not run {argv[0]}: {exc}")


class RouteList(DeploymentCommand):
    """`route:list [environment]` (alias `routes`; hidden `environment:routes`)."""

    def configure(self, d: Definition) -> None:
        d.argument("environment", "The environment ID")
        d.option("refresh", "", FLAG, "Bypass the cache of routes")
        self.add_format_options(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        routes, env = self.load_routes(self.input.arg("environment"))
        if not routes:
            self.console.err("No routes found")
            return 0
        rows = [
            {
                "route": str(r.get("original_url") or ""),
                "type": str(r.get("type") or ""),
                "to": str(
                    (r.get("upstream") if r.get("type") == "upstream" else r.get("to")) or ""
                ),
                "url": str(r["url"]),
            }
            for r in routes
        ]
        if env is None:
            self.table_hint(f"Routes from the {self.config.env_prefix}ROUTES environment variable:")
        else:
            self.table_hint(
                f"Routes on the project {project_label(self.select_project())}, "
                f"environment {environment_label(env)}:"
            )
        self.print_table(ROUTE_COLUMNS, ROUTE_DEFAULT_COLUMNS, rows)
        self.table_hint("")
        self.table_hint(f"To view a single route, run: {self.exe} route:get <route>")
        return 0


class RouteGet(DeploymentCommand):
    """`route:get [route]`: one route's properties as YAML, or one with -P."""

    def configure(self, d: Definition) -> None:
        d.argument("route", "The route's original URL")
        d.option("id", "", REQUIRED, "A route ID to select")
        d.option("primary", "1", FLAG, "Select the primary route")
        d.option("property", "P", REQUIRED, "The property to display")
        d.option("refresh", "", FLAG, "Bypass the cache of routes")
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        routes, _ = self.load_routes()
        route = self._select(routes)
        prop = self.input.str_opt("property")
        if prop:
            self.print_property(route, prop)
            return 0
        from homeport.cli.miniyaml import dumps

        self.console.out(dumps(route), newline=False)
        return 0

    def _select(self, routes: list[dict[str, Any]]) -> dict[str, Any]:
        route_id = self.input.str_opt("id")
        if route_id is not None:
            for route in routes:
                if route.get("id") == route_id:
                    return route
            raise CommandFailed(f"No route found with ID: {route_id}")
        if self.input.opt("primary"):
            for route in routes:
                if route.get("primary"):
                    return route
            raise CommandFailed("No primary route found.")
        original = self.input.arg("route")
        if not original:
            if not self.console.interactive:
                raise CommandFailed(
                    "Name a route with the <route> argument (its original URL), "
                    "the --id option or the --primary option."
                )
            if not routes:
                raise CommandFailed("No routes found")
            choices = []
            default = None
            for route in routes:
                label = str(route.get("original_url"))
                if route.get("id"):
                    label += f" ({route['id']})"
                if route.get("primary"):
                    label += " - primary"
                    default = default or str(route.get("original_url"))
                choices.append((str(route.get("original_url")), label))
            original = self.console.choose(choices, "Enter a number to choose a route:", default)
        for route in routes:
            if route.get("original_url") == original:
                return route
        raise CommandFailed(f"No route found for original URL: {original}")
