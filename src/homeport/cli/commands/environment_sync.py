"""`environment:merge` and `environment:synchronize`: an environment's code into its
parent, or the parent's code and/or data into the environment.

The server emits `#merge`/`#synchronize` only when the environment, its parent and
the caller's roles (admin on both types) allow them, so a missing link means
"Operation not available" without trying.
"""

from __future__ import annotations

from homeport.cli.api import embedded_activities
from homeport.cli.commands.base import Command, environment_label, operation_link
from homeport.cli.errors import CliError, CommandFailed
from homeport.cli.inputdef import FLAG, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SYNC_HELP = (
    "This command synchronizes to a child environment from its parent environment.\n\n"
    'Synchronizing "code" means there will be a Git merge from the parent to the child\n'
    "(or, with --rebase, the child's own commits replayed on top of the parent's).\n"
    'Synchronizing "data" means the files of the child\'s mounts and services are\n'
    "replaced by a copy of the parent's."
)
MERGE_HELP = (
    "This command will initiate a Git merge of the specified environment into its "
    "parent environment."
)
SYNC_WHAT = ("code", "data", "both")


def _unavailable(env: dict[str, Any], verb: str) -> str:
    message = f"Operation not available: The environment {environment_label(env)} can't be {verb}."
    if not env.get("parent"):
        message += "\nThe environment has no parent."
    elif env.get("status") != "active":
        message += "\nThe environment is not active."
    return message


class _ParentOperation(Command):
    """POST an operation link, wait for its activity, print the outcome."""

    def post_and_wait(
        self, href: str, body: dict[str, Any] | None, complete: str, failed: str
    ) -> int:
        """Send the operation and, unless told not to, wait for it."""
        result = self.api.send("POST", href, body)
        activities = embedded_activities(result)
        if not activities or not self.should_wait():
            return 0
        if self.wait_for(activities):
            self.console.err(complete)
            return 0
        self.console.err(failed)
        return 1


class EnvironmentMerge(_ParentOperation):
    """`environment:merge` (alias `merge`)."""

    help_text = MERGE_HELP

    def configure(self, d: Definition) -> None:
        d.argument("environment", "The environment to merge")
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        env = self.select_environment(required=True, argument=self.input.arg("environment"))
        assert env is not None
        href = operation_link(env, "merge")
        if not href:
            raise CommandFailed(_unavailable(env, "merged"))
        name, parent = env["id"], env.get("parent")
        if not self.console.confirm(
            f"Are you sure you want to merge {name} into its parent, {parent}?", default=True
        ):
            return 1
        self.console.err(f"Merging {name} into {parent}")
        return self.post_and_wait(href, None, "Merge complete", "Merge failed")


class EnvironmentSynchronize(_ParentOperation):
    """`environment:synchronize` (alias `sync`)."""

    help_text = SYNC_HELP

    def configure(self, d: Definition) -> None:
        d.argument("synchronize", 'What to synchronize: "code", "data" or both', is_array=True)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)
        d.option("rebase", "", FLAG, "Synchronize code by rebasing instead of merging")

    def execute(self) -> int:
        what = list(self.input.arg("synchronize") or [])
        if set(what) - set(SYNC_WHAT):
            raise CliError("Specify 'code', 'data', or 'both'")
        env = self.select_environment(required=True)
        assert env is not None
        href = operation_link(env, "synchronize")
        if not href:
            raise CommandFailed(_unavailable(env, "synchronized"))
        name, parent = env["id"], env.get("parent")
        if what:
            code = "code" in what or "both" in what
            data = "data" in what or "both" in what
            if not self.console.confirm(
                f"Are you sure you want to synchronize {parent} to {name}?", default=True
            ):
                return 1
        else:
            code = self.console.confirm(f"Synchronize code from {parent} to {name}?", default=False)
            data = self.console.confirm(f"Synchronize data from {parent} to {name}?", default=False)
        if not code and not data:
            raise CommandFailed("You must synchronize at least code or data.")
        rebase = bool(self.input.opt("rebase"))
        if rebase and not code:
            raise CliError("The --rebase option applies only when synchronizing code.")
        self.console.err(f"Synchronizing environment {name}")
        body = {"synchronize_code": code, "synchronize_data": data, "rebase": rebase}
        return self.post_and_wait(href, body, "Synchronization complete", "Synchronization failed")
