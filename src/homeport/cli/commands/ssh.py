"""`environment:ssh` (`ssh`): a shell, or one command, in an app's container.

The address comes from the environment's HAL links (platform-deploy.md §7):
`pf:ssh:<app>`, `pf:ssh:<app>--<worker>` and `pf:ssh:<name>:<instance>`, else the
legacy `ssh` link. Values look like `ssh://<user>@<host>[:<port>]`. The system `ssh`
client does the connecting, and its exit status is the command's (the remote
command's status passes through; 255 means the connection failed).
"""

from __future__ import annotations

import contextlib
import os
import re
from urllib.parse import urlsplit

from homeport.cli.api import link
from homeport.cli.commands.base import Command, environment_label
from homeport.cli.commands.deployment import natural_key
from homeport.cli.console import DEBUG, QUIET, VERY_VERBOSE
from homeport.cli.errors import CliError, CommandFailed, InvalidArgument
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, TextIO

LINK_PREFIX = "pf:ssh:"
# Remembers the environments whose first-login warning was shown (in the writable dir).
WARNED_FILE = "ssh-env-warnings.json"
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def ssh_links(env: Mapping[str, Any]) -> dict[str, str]:
    """`pf:ssh:*` hrefs keyed by what follows the prefix; else `{"": <ssh link>}`."""
    links = env.get("_links")
    found: dict[str, str] = {}
    if isinstance(links, dict):
        for rel in links:
            if isinstance(rel, str) and rel.startswith(LINK_PREFIX):
                href = link(env, rel)
                if href:
                    found[rel[len(LINK_PREFIX) :]] = href
    if not found:
        legacy = link(env, "ssh")
        if legacy:
            found[""] = legacy
    return found


def display_url(url: str) -> str:
    """The URL as printed: `user@host` when it has no port (as the PHP CLI prints it)."""
    if url.startswith("ssh://"):
        try:
            port = urlsplit(url).port
        except ValueError:
            port = None
        if port is None:
            return url[len("ssh://") :].rstrip("/")
    return url


def destination(url: str) -> tuple[str, int | None]:
    """(`user@host`, port) for an `ssh://` URL (or a bare `user@host`)."""
    if not url.startswith("ssh://"):
        url = "ssh://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CommandFailed(f"Invalid SSH URL: {url}") from None
    user, host = parts.username or "", parts.hostname or ""
    # The URL comes from the server: never let it smuggle an option onto ssh's command line.
    if not host or any(p.startswith("-") or _UNSAFE.search(p) for p in (user, host) if p):
        raise CommandFailed(f"Invalid SSH URL: {url}")
    return (f"{user}@{host}" if user else host), port


def remote_command(args: Sequence[str]) -> str | None:
    """One argument as given; several POSIX-quoted and joined (like the PHP CLI)."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    import shlex

    return " ".join(shlex.quote(arg) for arg in args)


class EnvironmentSsh(Command):
    """`environment:ssh [cmd]...` (alias `ssh`)."""

    def configure(self, d: Definition) -> None:
        d.argument("cmd", "A command to run on the environment", is_array=True)
        d.option("pipe", "", FLAG, "Output the SSH URL only")
        d.option("all", "", FLAG, "Output all SSH URLs (for every app)")
        d.option("option", "o", REQUIRED, "Pass an extra option to SSH", is_array=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        d.option("app", "A", REQUIRED, "The remote application name")
        d.option("worker", "", REQUIRED, "A worker name")
        d.option("instance", "I", REQUIRED, "An instance ID")
        d.option(
            "identity-file",
            "i",
            REQUIRED,
            "Deprecated: an SSH identity (private key) to use",
            hidden=True,
        )

    def execute(self) -> int:
        env = self.select_environment(required=True)
        assert env is not None
        label = environment_label(env)
        status = str(env.get("status") or "")
        if status in ("inactive", "paused"):
            self.console.err(
                f"The environment {label} is {status}, so an SSH connection is not possible."
            )
            if status == "inactive" and not env.get("has_code"):
                self.console.err("")
                self.console.err("Push code to the environment to activate it.")
            return 1
        urls = ssh_links(env)
        if not urls:
            reason = (
                "You may not have permission to SSH."
                if status == "active"
                else "It is not currently active."
            )
            raise CommandFailed(f"No SSH URL found for the environment {label}. {reason}")
        if self.input.opt("all"):
            for url in urls.values():
                self.console.out(display_url(url))
            return 0
        url = self._select_url(urls, env)
        if self.input.opt("pipe"):
            self.console.out(display_url(url), newline=False)
            return 0
        command = remote_command([str(a) for a in self.input.arg("cmd") or []])
        dest, port = destination(url)
        argv = self._ssh_argv(dest, port, command)
        if command is None and self.env.stdin_isatty:
            self._first_login_warning(env)
        return self._run(argv)

    # Choosing the container ------------------------------------------------------------

    def _select_url(self, urls: dict[str, str], env: Mapping[str, Any]) -> str:
        """The URL for -A/--worker/-I (or the only app, or a choice)."""
        app = self.input.str_opt("app")
        worker = self.input.str_opt("worker")
        instance = self.input.str_opt("instance")
        if "" in urls:
            # Only the legacy link: like the PHP client, append `--<app>` to its user.
            name = self._legacy_name(app, worker)
            if instance:
                raise InvalidArgument(
                    f"SSH URL not found for instance '{instance}' of '{name or 'the environment'}'."
                )
            url = urls[""]
            scheme = "ssh://" if url.startswith("ssh://") else ""
            user, at, host = url[len(scheme) :].partition("@")
            return f"{scheme}{user}--{name}@{host}" if name and at else url
        names = sorted({key.split(":", 1)[0] for key in urls}, key=natural_key)
        apps = [n for n in names if "--" not in n]
        workers = [n for n in names if "--" in n]
        name = self._worker_name(workers, app, worker) if worker else self._app_name(apps, app, env)
        instances = {
            key.split(":", 1)[1]: href for key, href in urls.items() if key.startswith(f"{name}:")
        }
        if instance:
            if instance in instances:
                return instances[instance]
            message = f"SSH URL not found for instance '{instance}' of '{name}'."
            if instances:
                message += " Available instances: " + ", ".join(sorted(instances, key=natural_key))
            raise InvalidArgument(message)
        if name in urls:
            return urls[name]
        return instances[sorted(instances, key=natural_key)[0]]

    def _app_name(self, apps: list[str], app: str | None, env: Mapping[str, Any]) -> str:
        available = ", ".join(apps) or "none"
        if app:
            if app not in apps:
                raise InvalidArgument(f"Application not found: {app}\nAvailable apps: {available}")
            return app
        preset = self.env.get(self.config.env_prefix + "APPLICATION_NAME")
        if preset in apps:
            return preset
        if len(apps) == 1:
            return apps[0]
        if not apps:
            raise CommandFailed(
                f"No application SSH URL found on the environment {environment_label(env)}; "
                "choose a worker with --worker."
            )
        if self.console.interactive:
            return self.console.choose([(a, a) for a in apps], "Enter a number to choose an app:")
        raise InvalidArgument(
            f"The environment {environment_label(env)} runs more than one app: {available}\n"
            "Choose one with the --app (-A) or --worker option."
        )

    def _worker_name(self, workers: list[str], app: str | None, worker: str) -> str:
        available = ", ".join(workers) or "none"
        if "--" in worker or app:
            if app and "--" in worker and not worker.startswith(f"{app}--"):
                raise InvalidArgument(f"The worker {worker} does not belong to the app {app}")
            name = worker if "--" in worker else f"{app}--{worker}"
            if name not in workers:
                raise InvalidArgument(f"Worker not found: {worker}\nAvailable workers: {available}")
            return name
        matches = [w for w in workers if w.endswith(f"--{worker}")]
        if not matches:
            raise InvalidArgument(f"Worker not found: {worker}\nAvailable workers: {available}")
        if len(matches) == 1:
            return matches[0]
        if self.console.interactive:
            return self.console.choose(
                [(w, w) for w in matches], "Enter a number to choose a worker:"
            )
        raise InvalidArgument(
            f"More than one worker is called {worker}: {', '.join(matches)}\n"
            "Name it with its app, e.g. --worker APP--WORKER."
        )

    @staticmethod
    def _legacy_name(app: str | None, worker: str | None) -> str:
        if worker:
            return worker if "--" in worker or not app else f"{app}--{worker}"
        return app or ""

    # Running ssh -----------------------------------------------------------------------

    def _ssh_options(self) -> list[str]:
        """`-o` values: SendEnv, log level, identity, configured and given options."""
        options = ["SendEnv=TERM"]
        verbosity = self.console.verbosity
        if verbosity >= DEBUG:
            options.append("LogLevel=DEBUG")
        elif verbosity >= VERY_VERBOSE:
            options.append("LogLevel=VERBOSE")
        elif verbosity <= QUIET:
            options.append("LogLevel=QUIET")
        identity = self.input.str_opt("identity-file")
        if identity:
            if not os.path.isfile(identity):
                raise InvalidArgument(f"Identity file not found: {identity}")
            options += [f"IdentityFile={identity}", "IdentitiesOnly=yes"]
        configured = self.env.get("PLATFORMSH_CLI_SSH_OPTIONS") or self.config.get("ssh.options")
        if isinstance(configured, list):
            options += [str(o) for o in configured]
        elif configured:
            options += str(configured).splitlines()
        options += [str(o) for o in self.input.opt("option") or []]
        return [o.strip() for o in options if o.strip()]

    def _ssh_argv(self, dest: str, port: int | None, command: str | None) -> list[str]:
        argv = ["ssh"]
        if port is not None:
            argv += ["-p", str(port)]
        if command is None and self.env.stdin_isatty and self.env.stdout_isatty:
            argv.append("-t")
        for option in self._ssh_options():
            argv += ["-o", option]
        argv.append(dest)
        if command is not None:
            argv.append(command)
        return argv

    def _run(self, argv: list[str]) -> int:
        """Run ssh with the run's streams; returns its exit status."""
        import shutil
        import signal
        import subprocess

        program = shutil.which("ssh", path=self.env.get("PATH") or None)
        if not program:
            raise CommandFailed(
                "The ssh command was not found: install an OpenSSH client to connect "
                "to environments."
            )
        self.console.err("Running: " + " ".join(argv), VERY_VERBOSE)
        stdin_fd = _fileno(self.env.stdin)
        stdout_fd = _fileno(self.env.stdout)
        stderr_fd = _fileno(self.env.stderr)
        # Ctrl-C belongs to ssh (and the remote side) while it runs; a Python handler,
        # unlike SIG_IGN, is not inherited by the child.
        try:
            previous = signal.signal(signal.SIGINT, lambda *_: None)
        except ValueError:  # not the main thread
            previous = None
        try:
            proc = subprocess.run(
                [program, *argv[1:]],
                input=None if stdin_fd is not None else self.env.stdin.read(),
                stdin=stdin_fd,
                stdout=stdout_fd if stdout_fd is not None else subprocess.PIPE,
                stderr=stderr_fd if stderr_fd is not None else subprocess.PIPE,
                env=dict(self.env.environ),
                text=True,
                check=False,
            )
        except OSError as exc:
            raise CliError(f"Could not run ssh: {exc}") from exc
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if proc.stdout:
            self.env.stdout.write(proc.stdout)
            self.env.stdout.flush()
        if proc.stderr:
            self.env.stderr.write(proc.stderr)
            self.env.stderr.flush()
        code = proc.returncode
        return 128 - code if code < 0 else code

    # First interactive login ---------------------------------------------------------

    def _first_login_warning(self, env: Mapping[str, Any]) -> None:
        """Once per project and environment: env: variables can be read over SSH."""
        import json

        from homeport.cli.auth import writable_dir

        key = f"{self.select_project().get('id')}/{env.get('id')}"
        try:
            path = os.path.join(writable_dir(self.config, self.env.environ), WARNED_FILE)
        except CliError:
            path = ""
        seen: list[str] = []
        if path:
            try:
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if isinstance(data, dict) and isinstance(data.get("warned"), list):
                    seen = [str(k) for k in data["warned"]]
            except (OSError, ValueError):
                pass
        if key in seen:
            return
        self.console.warn(
            f"Warning: the env: variables of the environment {environment_label(env)} "
            "(for example an API token in env:PLATFORMSH_CLI_TOKEN)\n"
            "are readable by anyone with SSH access to it. "
            "Give such tokens only the access they need."
        )
        self.console.err("")
        if path:
            try:
                with open(path, "w", encoding="utf-8") as fh:
                    json.dump({"warned": [*seen, key]}, fh)
            except OSError:
                pass


def _fileno(stream: TextIO) -> int | None:
    """The stream's file descriptor (flushed first), or None for in-memory streams."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
    return fd
