"""The lazy command registry: names, aliases and descriptions, without importing commands.

Each entry names the module and class implementing a command, so a run imports only
the command it runs (like pip). `find` resolves names the way Symfony Console 3.4
does: exact names and aliases first, then each colon-separated segment as a prefix.
"""

from __future__ import annotations

import re

from homeport.cli.errors import CommandNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


class Spec:
    """One command: where it lives and what it is called."""

    __slots__ = ("aliases", "description", "hidden_aliases", "name", "target")

    def __init__(
        self,
        name: str,
        target: str,
        description: str,
        aliases: tuple[str, ...] = (),
        hidden_aliases: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.target = target
        self.description = description
        self.aliases = aliases
        self.hidden_aliases = hidden_aliases


_C = "homeport.cli.commands."

COMMANDS: tuple[Spec, ...] = (
    Spec("help", _C + "help:Help", "Displays help for a command"),
    Spec("list", _C + "help:ListCommands", "Lists commands"),
    Spec(
        "activity:cancel",
        _C + "activity:ActivityCancel",
        "Cancel an activity",
    ),
    Spec(
        "activity:get",
        _C + "activity:ActivityGet",
        "View detailed information on a single activity",
    ),
    Spec(
        "activity:list",
        _C + "activity:ActivityList",
        "Get a list of activities for an environment or project",
        ("activities", "act"),
    ),
    Spec("activity:log", _C + "activity:ActivityLog", "Display the log for an activity"),
    Spec(
        "api:curl",
        _C + "curl:ApiCurl",
        "Run an authenticated request on the Homeport API",
        ("api",),
    ),
    Spec(
        "app:config-get",
        _C + "app:AppConfigGet",
        "Show the configuration of an app",
    ),
    Spec(
        "app:list",
        _C + "app:AppList",
        "List the apps deployed on an environment",
        ("apps",),
    ),
    Spec(
        "auth:api-token-login", _C + "auth:ApiTokenLogin", "Log in to Homeport using an API token"
    ),
    Spec(
        "auth:git-credential",
        _C + "git:GitCredential",
        "Hand git the CLI's access token (a git credential helper)",
    ),
    Spec("auth:info", _C + "auth:AuthInfo", "Display your account information"),
    Spec("auth:logout", _C + "auth:Logout", "Log out of Homeport", ("logout",)),
    Spec(
        "auth:password-login",
        _C + "auth:PasswordLogin",
        "Log in to Homeport using an email address (or username) and password",
        ("login",),
    ),
    Spec(
        "auth:token",
        _C + "auth:AuthToken",
        "Obtain an OAuth 2 access token for requests to the API",
    ),
    Spec(
        "backup:create",
        _C + "backup:BackupCreate",
        "Make a backup of an environment",
        ("backup",),
        ("snapshot:create", "environment:backup"),
    ),
    Spec("backup:delete", _C + "backup:BackupDelete", "Delete an environment backup"),
    Spec("backup:get", _C + "backup:BackupGet", "View an environment backup"),
    Spec(
        "backup:list",
        _C + "backup:BackupList",
        "List available backups of an environment",
        ("backups",),
        ("snapshots", "snapshot:list"),
    ),
    Spec(
        "backup:restore",
        _C + "backup:BackupRestore",
        "Restore an environment backup",
        (),
        ("environment:restore", "snapshot:restore"),
    ),
    Spec(
        "cron:list",
        _C + "cron:CronList",
        "List the crons of an environment, with their last and next runs",
        ("crons",),
    ),
    Spec("cron:run", _C + "cron:CronRun", "Run a cron on an environment now"),
    Spec(
        "environment:activate",
        _C + "environment:EnvironmentActivate",
        "Activate an environment",
    ),
    Spec(
        "environment:branch",
        _C + "environment:EnvironmentBranch",
        "Branch an environment",
        ("branch",),
    ),
    Spec(
        "environment:curl",
        _C + "curl:EnvironmentCurl",
        "Run an authenticated request on an environment's API",
    ),
    Spec(
        "environment:deactivate",
        _C + "environment:EnvironmentDeactivate",
        "Deactivate an environment",
    ),
    Spec(
        "environment:delete",
        _C + "environment:EnvironmentDelete",
        "Delete one or more environments",
    ),
    Spec(
        "environment:info",
        _C + "environment:EnvironmentInfo",
        "Read or set properties for an environment",
        (),
        ("environment:metadata",),
    ),
    Spec(
        "environment:list",
        _C + "environment:EnvironmentList",
        "Get a list of environments",
        ("environments", "env"),
    ),
    Spec(
        "environment:logs",
        _C + "logs:EnvironmentLogs",
        "Read the logs of an app on an environment",
        ("log",),
        ("logs",),
    ),
    Spec(
        "environment:merge",
        _C + "environment_sync:EnvironmentMerge",
        "Merge an environment",
        ("merge",),
    ),
    Spec(
        "environment:pause",
        _C + "environment:EnvironmentPause",
        "Pause an environment",
    ),
    Spec(
        "environment:push",
        _C + "git:EnvironmentPush",
        "Push code to an environment",
        ("push",),
    ),
    Spec(
        "environment:redeploy",
        _C + "environment:EnvironmentRedeploy",
        "Redeploy an environment",
        ("redeploy",),
    ),
    Spec(
        "environment:resume",
        _C + "environment:EnvironmentResume",
        "Resume a paused environment",
    ),
    Spec(
        "environment:synchronize",
        _C + "environment_sync:EnvironmentSynchronize",
        "Synchronize an environment's code and/or data from its parent",
        ("sync",),
    ),
    Spec(
        "environment:ssh",
        _C + "ssh:EnvironmentSsh",
        "SSH to the current environment",
        ("ssh",),
    ),
    Spec(
        "environment:url",
        _C + "deployment:EnvironmentUrl",
        "Show the public URLs of an environment",
        ("url",),
    ),
    Spec(
        "mount:list",
        _C + "app:MountList",
        "List the mounts of an app",
        ("mounts",),
    ),
    Spec("project:create", _C + "project:ProjectCreate", "Create a new project", ("create",)),
    Spec(
        "project:curl",
        _C + "curl:ProjectCurl",
        "Run an authenticated request on a project's API",
    ),
    Spec("project:delete", _C + "project:ProjectDelete", "Delete a project"),
    Spec(
        "project:get",
        _C + "git:ProjectGet",
        "Clone a project locally",
        ("get",),
    ),
    Spec(
        "project:info",
        _C + "project:ProjectInfo",
        "Read or set properties for a project",
        (),
        ("project:metadata",),
    ),
    Spec(
        "project:list",
        _C + "project:ProjectList",
        "Get a list of all active projects",
        ("projects", "pro"),
    ),
    Spec("route:get", _C + "deployment:RouteGet", "Show one route of an environment"),
    Spec(
        "route:list",
        _C + "deployment:RouteList",
        "List the routes of an environment",
        ("routes",),
        ("environment:routes",),
    ),
    Spec("ssh-key:add", _C + "ssh_key:SshKeyAdd", "Add a new SSH key"),
    Spec("ssh-key:delete", _C + "ssh_key:SshKeyDelete", "Delete an SSH key"),
    Spec(
        "ssh-key:list",
        _C + "ssh_key:SshKeyList",
        "Get a list of SSH keys in your account",
        ("ssh-keys",),
    ),
    Spec("user:add", _C + "user:UserAdd", "Add a user to the project"),
    Spec("user:delete", _C + "user:UserDelete", "Delete a user from the project"),
    Spec(
        "user:get",
        _C + "user:UserGet",
        "View a user's role(s)",
        (),
        ("user:role",),
    ),
    Spec("user:list", _C + "user:UserList", "List project users", ("users",)),
    Spec("user:update", _C + "user:UserUpdate", "Update user role(s) on a project"),
    Spec("variable:create", _C + "variable:VariableCreate", "Create a variable"),
    Spec("variable:delete", _C + "variable:VariableDelete", "Delete a variable"),
    Spec(
        "variable:disable",
        _C + "variable:VariableDisable",
        "Disable an enabled environment-level variable",
    ),
    Spec(
        "variable:enable",
        _C + "variable:VariableEnable",
        "Enable a disabled environment-level variable",
    ),
    Spec("variable:get", _C + "variable:VariableGet", "View a variable", ("vget",)),
    Spec(
        "variable:list",
        _C + "variable:VariableList",
        "List variables",
        ("variables", "var"),
    ),
    Spec("variable:update", _C + "variable:VariableUpdate", "Update a variable"),
)

BY_NAME = {spec.name: spec for spec in COMMANDS}


def _names() -> dict[str, str]:
    """Every name and alias (hidden ones included) mapped to its command name."""
    names: dict[str, str] = {}
    for spec in COMMANDS:
        names[spec.name] = spec.name
    for spec in COMMANDS:
        for alias in spec.aliases + spec.hidden_aliases:
            names.setdefault(alias, spec.name)
    return names


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def alternatives(name: str, collection: Iterable[str]) -> list[str]:
    """Names close to `name`, scored per colon segment and as a whole (Symfony's way)."""
    threshold = 1000
    collection = list(collection)
    scores: dict[str, int] = {}
    parts_of = {item: item.split(":") for item in collection}
    for index, sub in enumerate(name.split(":")):
        for item, parts in parts_of.items():
            exists = item in scores
            if index >= len(parts):
                if exists:
                    scores[item] += threshold
                continue
            distance = levenshtein(sub, parts[index])
            if distance <= len(sub) / 3 or (sub and sub in parts[index]):
                scores[item] = scores[item] + distance if exists else distance
            elif exists:
                scores[item] += threshold
    for item in collection:
        distance = levenshtein(name, item)
        if distance <= len(name) / 3 or name in item:
            scores[item] = scores[item] - distance if item in scores else distance
    kept = [item for item, score in scores.items() if score < 2 * threshold]
    return sorted(kept, key=str.lower)


def _visible_names() -> list[str]:
    out = []
    for spec in COMMANDS:
        out.append(spec.name)
        out.extend(spec.aliases)
    return out


def _expression(name: str) -> str:
    return ":".join(re.escape(seg) + "[^:]*" for seg in name.split(":"))


def find(name: str) -> Spec:
    """The command for `name` (exact, alias or abbreviation), else `CommandNotFound`."""
    names = _names()
    if name in names:
        return BY_NAME[names[name]]
    expr = _expression(name)
    candidates = [n for n in names if re.match(expr, n)]
    if not candidates:
        candidates = [n for n in names if re.match(expr, n, re.IGNORECASE)]
    whole = [n for n in candidates if re.fullmatch(expr, n, re.IGNORECASE)]
    if not candidates or not whole:
        if ":" in name:
            _check_namespace(name.rpartition(":")[0])
        message = f'Command "{name}" is not defined.'
        found = alternatives(name, _visible_names())
        if found:
            heading = "Did you mean this?" if len(found) == 1 else "Did you mean one of these?"
            message += f"\n\n{heading}\n    " + "\n    ".join(found)
        raise CommandNotFound(message)
    # Aliases of a command already matched collapse into it; more than one left is ambiguous.
    resolved = sorted({names[c] for c in candidates})
    if len(resolved) > 1:
        width = max(len(c) for c in resolved)
        lines = [f"    {c.ljust(width)} {BY_NAME[c].description}" for c in resolved]
        raise CommandNotFound(
            f'Command "{name}" is ambiguous.\nDid you mean one of these?\n' + "\n".join(lines)
        )
    return BY_NAME[resolved[0]]


def _check_namespace(namespace: str) -> None:
    spaces = sorted({spec.name.rpartition(":")[0] for spec in COMMANDS if ":" in spec.name})
    expr = _expression(namespace)
    if any(re.match(expr, ns, re.IGNORECASE) for ns in spaces):
        return
    message = f'There are no commands defined in the "{namespace}" namespace.'
    found = alternatives(namespace, spaces)
    if found:
        heading = "Did you mean this?" if len(found) == 1 else "Did you mean one of these?"
        message += f"\n\n{heading}\n    " + "\n    ".join(found)
    raise CommandNotFound(message)
