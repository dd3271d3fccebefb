"""`project:get` (`get`), `environment:push` (`push`) and git's credential helper.

`get` clones over HTTPS by default, authenticated by the CLI's own credentials through
`auth:git-credential` (nothing is written into the URL or `.git/config` but the helper
command); `--ssh` clones the SSH remote with the user's own key instead.
"""

from __future__ import annotations

import os
import sys

from homeport.cli import gitops
from homeport.cli.api import link
from homeport.cli.commands.base import Command, environment_label, project_label
from homeport.cli.errors import CliError, CommandFailed
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REMOTE = "platform"


def https_url(project: dict[str, Any]) -> str:
    """The project's HTTPS remote (the `git` link; `repository.url` without SSH)."""
    href = link(project, "git")
    if href:
        return href
    repository = project.get("repository") or {}
    return str(repository.get("url") or "")


def ssh_url(project: dict[str, Any]) -> str:
    """The project's SSH remote, or ''."""
    url = str((project.get("repository") or {}).get("url") or "")
    return url if url.startswith("ssh://") or "@" in url.split("/")[0] else ""


class ProjectGet(Command):
    """`project:get [project] [directory]`: clone a project's repository."""

    def configure(self, d: Definition) -> None:
        d.argument("project", "The project ID")
        d.argument("directory", "The directory to clone to. Defaults to the project ID")
        self.add_project_option(d)
        self.add_environment_option(d)
        d.option("depth", "", REQUIRED, "Create a shallow clone: limit the number of commits")
        d.option("build", "", FLAG, "Build the project after cloning (not available yet)")
        d.option("ssh", "", FLAG, "Clone over SSH with your own key instead of HTTPS")

    def execute(self) -> int:
        argument = self.input.arg("project")
        if argument and not self.input.str_opt("project"):
            self.input.options["project"] = str(argument)
        project = self.select_project()
        directory = str(self.input.arg("directory") or project["id"])
        target = os.path.abspath(os.path.join(self.env.cwd, directory))
        if os.path.exists(target) and os.listdir(target):
            raise CommandFailed(f"The directory already exists: {directory}")
        depth = self.input.str_opt("depth")
        if depth is not None and (not depth.isdigit() or int(depth) < 1):
            raise CliError("The --depth value must be a positive integer")
        use_ssh = bool(self.input.opt("ssh"))
        url = ssh_url(project) if use_ssh else https_url(project)
        if not url:
            raise CommandFailed("This project has no Git URL.")
        self.console.err(f"Downloading project {project_label(project)}")
        config = [] if use_ssh else gitops.https_config(url)
        env_id = self.input.str_opt("environment") or str(project.get("default_branch") or "")
        heads = gitops.quiet_git([*config, "ls-remote", "--heads", url])
        if heads.returncode != 0:
            self.console.err(heads.stderr.strip())
            raise CommandFailed("Failed to clone Git repository")
        args = [*config, "clone", "--origin", REMOTE, url, target]
        if self._branch_exists(config, url, env_id):
            args[len(config) + 1 : len(config) + 1] = ["--branch", env_id]
        if depth:
            args[len(config) + 1 : len(config) + 1] = ["--depth", depth]
        cloned = gitops.run_git(args)
        if cloned.returncode != 0:
            raise CommandFailed("Failed to clone Git repository")
        if not use_ssh:
            # The helper (a command, no secret) stays, so later fetches and pushes work.
            base = url.split("/git/", 1)[0]
            gitops.run_git(
                ["config", f"credential.{base}.helper", gitops.credential_helper()], cwd=target
            )
        if self.input.opt("build"):
            self.console.err("Building locally is not available yet; the code is cloned.")
        self.console.err(
            f"The project {project_label(project)} was successfully downloaded to: {directory}"
        )
        return 0

    def _branch_exists(self, config: list[str], url: str, branch: str) -> bool:
        if not branch:
            return False
        done = gitops.quiet_git([*config, "ls-remote", "--exit-code", "--heads", url, branch])
        return done.returncode == 0


class EnvironmentPush(Command):
    """`environment:push [source]` (alias `push`): push code to an environment."""

    def configure(self, d: Definition) -> None:
        d.argument("source", "The Git source ref, e.g. a branch name or a commit hash.")
        d.option("target", "", REQUIRED, "The target branch name. Defaults to the current branch.")
        d.option("force", "f", FLAG, "Allow non-fast-forward updates")
        d.option(
            "force-with-lease",
            "",
            FLAG,
            "Allow non-fast-forward updates, if the remote branch is as expected",
        )
        d.option(
            "set-upstream",
            "u",
            FLAG,
            "Set the target environment as the upstream for the source branch",
        )
        d.option(
            "activate", "", FLAG, "Activate the environment. Paused environments will be resumed."
        )
        d.option("parent", "", REQUIRED, "Set the environment parent (only used with --activate)")
        d.option("type", "", REQUIRED, "Set the environment type (only used with --activate )")
        d.option(
            "no-clone-parent",
            "",
            FLAG,
            "Do not clone the parent branch's data (only used with --activate)",
        )
        self.add_wait_options(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        checkout = self.checkout
        if checkout is None:
            raise CommandFailed("This command can only be run from inside a Git repository.")
        project = self.select_project()
        source = str(self.input.arg("source") or "HEAD")
        check = gitops.run_git(["rev-parse", "--verify", "--quiet", source], cwd=checkout.root)
        if check.returncode != 0:
            raise CommandFailed(f"Invalid source ref: {source}")
        target = (
            self.input.str_opt("target")
            or self.input.str_opt("environment")
            or (checkout.current_branch() if source == "HEAD" else source)
        )
        if not target:
            raise CommandFailed("Could not determine the target: use --target.")
        existing = self.api.get_environment(project, target)
        if existing is not None:
            self.console.err(f"Pushing {source} to the environment {environment_label(existing)}.")
        else:
            self.console.err(
                f"Pushing {source} to the branch {target} of project {project_label(project)}"
            )
        activate = bool(self.input.opt("activate"))
        if activate and (existing is None or existing.get("status") == "inactive"):
            self.console.err("It will be created as an active environment.")
        if not self.console.confirm("Are you sure you want to continue?"):
            return 1
        options = []
        if activate:
            options.append("environment.status=active")
            for key, name in (("parent", "environment.parent"), ("type", "environment.type")):
                value = self.input.str_opt(key)
                if value:
                    options.append(f"{name}={value}")
            if self.input.opt("no-clone-parent"):
                options.append("environment.clone_parent_on_create=false")
        if not self.should_wait():
            options.append("no-wait")
        url, env = self._remote(checkout.root, project)
        args = ["push", url, f"{source}:refs/heads/{target}"]
        if self.input.opt("force"):
            args.append("--force")
        if self.input.opt("force-with-lease"):
            args.append("--force-with-lease")
        if self.input.opt("set-upstream"):
            args.append("--set-upstream")
        args += [f"--push-option={o}" for o in options]
        config = gitops.https_config(url) if url.startswith(("http://", "https://")) else []
        pushed = gitops.run_git([*config, *args], cwd=checkout.root, env=env, capture=True)
        if pushed.returncode != 0:
            return pushed.returncode
        if gitops.deploy_failed(pushed.stderr or ""):
            return gitops.PUSH_FAILURE_EXIT
        return 0

    def _remote(self, root: str, project: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """The URL to push to (the checkout's `platform` remote, else HTTPS) and git's env."""
        got = gitops.quiet_git(["remote", "get-url", REMOTE], cwd=root)
        url = got.stdout.strip() if got.returncode == 0 else https_url(project)
        env = dict(os.environ)
        if not self.should_wait():
            env["PLATFORMSH_PUSH_NO_WAIT"] = "1"
            if url.startswith("ssh://"):
                ssh = env.get("GIT_SSH_COMMAND", "ssh")
                env["GIT_SSH_COMMAND"] = f"{ssh} -o SendEnv=PLATFORMSH_PUSH_NO_WAIT"
        return url, env


class GitCredential(Command):
    """`auth:git-credential <get|store|erase>`: git's credential helper protocol.

    `get` answers the CLI's fresh access token as the password; `store` and `erase`
    keep nothing (the token belongs to the CLI's own session).
    """

    def configure(self, d: Definition) -> None:
        d.argument("operation", "get, store or erase")

    def execute(self) -> int:
        operation = str(self.input.arg("operation") or "")
        request: dict[str, str] = {}
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line:
                break
            key, _, value = line.partition("=")
            request[key] = value
        if operation != "get":
            return 0
        token = self.api.auth.access_token()
        sys.stdout.write(f"username=platform\npassword={token}\n\n")
        sys.stdout.flush()
        return 0
