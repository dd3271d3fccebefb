"""`user:*`: who may use a project, and with which roles (§4.4).

Access is read and changed through the centralized `/projects/{p}/user-access`
endpoints; new users are invited by email with `/projects/{p}/invitations`, as the
current Platform.sh CLI does.
"""

from __future__ import annotations

import fnmatch

from homeport.cli.api import link
from homeport.cli.commands.base import Command, project_label
from homeport.cli.errors import ApiError, CliError, CommandFailed
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROJECT_ROLES = ("admin", "viewer")
TYPE_ROLES = ("admin", "contributor", "viewer", "none")
ENV_TYPES = ("production", "staging", "development")
COLUMNS = [
    ("email", "Email address"),
    ("name", "Name"),
    ("role", "Project role"),
    ("id", "ID"),
    ("granted_at", "Granted at"),
    ("updated_at", "Updated at"),
    ("permissions", "Permissions"),
    ("kind", "Kind"),
]
DEFAULT_COLUMNS = ["email", "name", "role", "id"]


def match_role(value: str, roles: tuple[str, ...], what: str) -> str:
    """A role from a unique prefix (`v` -> viewer, `c` -> contributor)."""
    lowered = value.lower()
    found = [r for r in roles if lowered and r.startswith(lowered)]
    if len(found) != 1:
        raise CliError(f"Invalid {what} role: {value} (expected one of: {', '.join(roles)})")
    return found[0]


def split_permissions(permissions: list[str]) -> tuple[str, dict[str, str]]:
    """(project role, {type: role}) from a centralized permission list."""
    project_role = "admin" if "admin" in permissions else "viewer"
    types: dict[str, str] = {}
    for permission in permissions:
        env_type, sep, role = permission.partition(":")
        if sep:
            types[env_type] = role
    return project_role, types


def join_permissions(project_role: str, types: dict[str, str]) -> list[str]:
    """The centralized permission list; type roles only matter for viewers."""
    if project_role == "admin":
        return ["admin"]
    ordered = [t for t in ENV_TYPES if t in types] + sorted(t for t in types if t not in ENV_TYPES)
    return ["viewer"] + [f"{t}:{types[t]}" for t in ordered if types[t] != "none"]


def display_name(user: dict[str, Any]) -> str:
    """`First Last`, else the username; machine users are marked as such."""
    name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip()
    name = name or str(user.get("display_name") or user.get("username") or "")
    if user.get("kind") == "machine":
        name = f"{name} (machine user)" if name else "(machine user)"
    return name


class UserCommand(Command):
    """Shared loading of project access and role parsing."""

    def access_url(self) -> str:
        """The project's user-access collection."""
        return f"{self.api.project_url(self.select_project())}/user-access"

    def load_access(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(access item, user) pairs, following `next` pages and `ref:users:N` links."""
        items: list[dict[str, Any]] = []
        users: dict[str, dict[str, Any]] = {}
        href: str | None = self.access_url()
        pages = 0
        while href and pages < 100:
            data = self.api.get(href)
            pages += 1
            if isinstance(data, list):
                items.extend(i for i in data if isinstance(i, dict))
                break
            if not isinstance(data, dict):
                break
            items.extend(i for i in data.get("items") or [] if isinstance(i, dict))
            links = data.get("_links") or {}
            for rel in sorted(k for k in links if str(k).startswith("ref:users:")):
                ref = self.api.get(links[rel]["href"])
                if isinstance(ref, dict):
                    users.update({str(k): v for k, v in ref.items() if isinstance(v, dict)})
            next_href = link(data, "next")
            href = next_href if next_href and next_href != href else None
        missing = sorted({str(i.get("user_id")) for i in items} - set(users))
        for start in range(0, len(missing), 50):
            ref = self.api.get("/ref/users", {"in": ",".join(missing[start : start + 50])})
            if isinstance(ref, dict):
                users.update({str(k): v for k, v in ref.items() if isinstance(v, dict)})
        return [(item, users.get(str(item.get("user_id")), {})) for item in items]

    def find_user(
        self, identifier: str, access: list[tuple[dict[str, Any], dict[str, Any]]] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A project user by email, username or ID (case-insensitive), or None."""
        wanted = identifier.lower()
        for item, user in access if access is not None else self.load_access():
            keys = (user.get("email"), user.get("username"), item.get("user_id"), user.get("id"))
            if any(str(k).lower() == wanted for k in keys if k):
                return item, user
        return None

    def chosen_user(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user named by the `email` argument, or chosen from a menu when interactive."""
        access = self.load_access()
        email = self.input.arg("email")
        if not email:
            if not self.console.interactive:
                raise CommandFailed("An email address is required (in non-interactive mode).")
            email = self.console.choose(
                [(self.identifier(u, i), self.identifier(u, i)) for i, u in access],
                "Enter a number to choose a user:",
            )
        found = self.find_user(str(email), access)
        if found is None:
            raise CommandFailed(f"User not found: {email}")
        return found

    def parse_roles(self, values: list[str]) -> tuple[str | None, dict[str, str]]:
        """The project role and type roles from `-r` values (wildcards, abbreviations)."""
        project_role: str | None = None
        types: dict[str, str] = {}
        for value in values:
            if ":" not in value:
                project_role = match_role(value, PROJECT_ROLES, "project")
                continue
            pattern, _, role_text = value.rpartition(":")
            role = match_role(role_text, TYPE_ROLES, "environment type")
            matched = [t for t in ENV_TYPES if fnmatch.fnmatchcase(t, pattern.replace("%", "*"))]
            if not matched:
                matched = self._legacy_environment_role(pattern, role)
            for env_type in matched:
                types[env_type] = role
        return project_role, types

    def _legacy_environment_role(self, pattern: str, role: str) -> list[str]:
        envs = [
            e
            for e in self.environments()
            if fnmatch.fnmatchcase(str(e.get("id")), pattern.replace("%", "*"))
        ]
        if not envs:
            raise CliError(
                f"No environment type IDs match: {pattern}\nNo environment IDs match: {pattern}"
            )
        found = sorted({str(e.get("type")) for e in envs if e.get("type")})
        for env in envs:
            self.console.warn(
                f"Warning: roles are set on environment types, not environments: the role "
                f"'{role}' on {env.get('id')} applies to the type {env.get('type')}."
            )
        return found

    def ask_roles(
        self, current_project: str, current_types: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        """Interactive questions: the project role, then (for viewers) each type's role."""
        project_role = self.console.choose(
            [(r, r) for r in PROJECT_ROLES], "Project role", current_project
        )
        if project_role == "admin":
            return project_role, {}
        types: dict[str, str] = {}
        for env_type in ENV_TYPES:
            default = current_types.get(env_type, "none")
            answer = self.console.ask(
                f"Role on type {env_type} ({', '.join(TYPE_ROLES)}):",
                default,
                validator=lambda v: match_role(v, TYPE_ROLES, "environment type"),
            )
            types[env_type] = answer
        return project_role, types

    def summary(self, project_role: str, types: dict[str, str]) -> None:
        """The roles about to be granted, on stderr."""
        self.console.err(f"  Project role: {project_role}")
        if project_role != "admin":
            for env_type in ENV_TYPES:
                if types.get(env_type, "none") != "none":
                    self.console.err(f"  Role on type {env_type}: {types[env_type]}")

    def identifier(self, user: dict[str, Any], item: dict[str, Any]) -> str:
        """How a user is named in messages: email, else username, else ID."""
        return str(user.get("email") or user.get("username") or item.get("user_id"))

    def update_user(
        self,
        item: dict[str, Any],
        user: dict[str, Any],
        project_role: str | None,
        types: dict[str, str],
    ) -> int:
        """Change an existing user's permissions (used by user:update and user:add)."""
        who = self.identifier(user, item)
        current = [str(p) for p in item.get("permissions") or []]
        cur_project, cur_types = split_permissions(current)
        if project_role is None and not types and self.console.interactive:
            project_role, types = self.ask_roles(cur_project, cur_types)
        if project_role == "admin" and types:
            raise CliError(_conflict_message())
        new_project = project_role or cur_project
        new_types = {} if new_project == "admin" else {**cur_types, **types}
        new_types = {t: r for t, r in new_types.items() if r != "none"}
        if new_project == "viewer" and not new_types:
            raise CommandFailed(_no_types_message())
        permissions = join_permissions(new_project, new_types)
        if sorted(permissions) == sorted(current):
            self.console.err(f"There is nothing to change for the user {who}.")
            return 0
        self.console.err(f"Updating the user {who} on {project_label(self.select_project())}:")
        self.summary(new_project, new_types)
        if not self.console.confirm("Are you sure you want to make these change(s)?", default=True):
            return 1
        href = (
            link(item, "update")
            or link(item, "self")
            or f"{self.access_url()}/{self.api.quote(str(item.get('user_id')))}"
        )
        self.api.send("PATCH", href, {"permissions": permissions})
        self.console.err(f"User {who} updated")
        return 0


def _conflict_message() -> str:
    return (
        "An admin has full access to every environment type, so environment type roles "
        "cannot be given together with the admin project role."
    )


def _no_types_message() -> str:
    return (
        "No environment types selected.\n"
        "A non-admin user must be added to at least one environment type."
    )


class UserList(UserCommand):
    """`user:list` (alias `users`)."""

    def configure(self, d: Definition) -> None:
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)

    def execute(self) -> int:
        project = self.select_project()
        access = self.load_access()
        fmt = self.formatter
        rows = []
        for item, user in access:
            permissions = [str(p) for p in item.get("permissions") or []]
            rows.append(
                {
                    "email": str(user.get("email") or ""),
                    "name": display_name(user),
                    "role": split_permissions(permissions)[0],
                    "id": str(item.get("user_id") or user.get("id") or ""),
                    "granted_at": fmt.date(item.get("granted_at")),
                    "updated_at": fmt.date(item.get("updated_at")),
                    "permissions": ", ".join(permissions),
                    "kind": str(user.get("kind") or "human"),
                }
            )
        # The owner is listed first and marked, as in the PHP CLI.
        owner = str(project.get("owner") or "")
        for index, row in enumerate(rows):
            if owner and row["id"] == owner:
                row["role"] += " (owner)"
                rows.insert(0, rows.pop(index))
                break
        self.table_hint(f"Users on the project {project_label(project)}:")
        self.print_table(COLUMNS, DEFAULT_COLUMNS, rows)
        self.table_hint("")
        self.table_hint(f"To add a new user to the project, run: {self.exe} user:add")
        self.table_hint("")
        self.table_hint(f"To view a user's role(s), run: {self.exe} user:get")
        self.table_hint(f"To change a user's role(s), run: {self.exe} user:update")
        return 0


class UserGet(UserCommand):
    """`user:get [email]`: a user's roles."""

    def configure(self, d: Definition) -> None:
        d.argument("email", "The user's email address")
        d.option("level", "l", REQUIRED, "The role level ('project' or 'environment')")
        d.option("pipe", "", FLAG, "Output the role to stdout (after making any changes)")
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        self.select_project()
        item, user = self.chosen_user()
        permissions = [str(p) for p in item.get("permissions") or []]
        project_role, types = split_permissions(permissions)
        level = (self.input.str_opt("level") or "").lower()
        if level and not any(x.startswith(level) for x in ("project", "environment")):
            raise CliError(f"Invalid level: {level}")
        if level and "environment".startswith(level):
            env = self.select_environment(required=True)
            assert env is not None
            role = "admin" if project_role == "admin" else types.get(str(env.get("type")), "none")
            self.console.out(role)
            return 0
        if level or self.input.opt("pipe"):
            self.console.out(project_role)
            return 0
        self.print_properties(
            {
                "email": user.get("email"),
                "name": display_name(user),
                "id": item.get("user_id"),
                "kind": user.get("kind") or "human",
                "role": project_role,
                "permissions": ", ".join(permissions),
                "granted_at": item.get("granted_at"),
                "updated_at": item.get("updated_at"),
            }
        )
        return 0


class UserAdd(UserCommand):
    """`user:add [email]`: invite a new user by email (or update an existing one)."""

    def configure(self, d: Definition) -> None:
        d.argument("email", "The user's email address")
        d.option(
            "role",
            "r",
            REQUIRED,
            "The user's project role ('admin' or 'viewer') or environment type role "
            "(e.g. 'staging:contributor' or 'production:viewer'). The % or * characters "
            "can be used as wildcards for the environment type (e.g. '%:viewer').",
            is_array=True,
        )
        d.option("force-invite", "", FLAG, "Send an invitation, even if one has already been sent")
        self.add_project_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        project = self.select_project()
        email = self.input.arg("email")
        if not email:
            if not self.console.interactive:
                raise CommandFailed("An email address is required (in non-interactive mode).")
            email = self.console.ask("Enter the user's email address:", validator=_validate_email)
        email = _validate_email(str(email))
        project_role, types = self.parse_roles(self.input.list_opt("role"))
        found = self.find_user(email)
        if found is not None:
            return self.update_user(found[0], found[1], project_role, types)
        if project_role == "admin" and types:
            raise CliError(_conflict_message())
        if project_role is None:
            if self.console.interactive and not types:
                project_role, types = self.ask_roles("viewer", {})
            else:
                project_role = "viewer"
        types = {t: r for t, r in types.items() if r != "none"}
        if project_role == "viewer" and not types:
            raise CommandFailed(_no_types_message())
        self.console.err(f"Adding the user {email} to {project_label(project)}:")
        self.summary(project_role, types)
        if not self.console.confirm("Are you sure you want to add this user?", default=True):
            return 1
        body = {
            "email": email,
            "role": project_role,
            "permissions": []
            if project_role == "admin"
            else [{"type": t, "role": types[t]} for t in ENV_TYPES if t in types],
            "force": bool(self.input.opt("force-invite")),
        }
        href = link(project, "invitations") or f"{self.api.project_url(project)}/invitations"
        self.console.err("")
        self.console.err("Inviting the user to the project...")
        sent = "An invitation has been sent to"
        try:
            result = self.api.send("POST", href, body)
        except ApiError as exc:
            if exc.status != 409:
                raise
            # Already invited: resending is what the PHP CLI offers (and `-y` accepts).
            self.console.err("")
            self.console.err(f"An invitation has already been sent to {email}")
            if not self.console.confirm(
                "Do you want to send this invitation anyway?", default=True
            ):
                return 0
            result = self.api.send("POST", href, {**body, "force": True})
            sent = "A new invitation has been sent to"
        self.console.err("")
        if isinstance(result, dict) and result.get("state") == "accepted":
            # The server applied the access at once (the user already has an account).
            self.console.err("The user has been successfully added to the project.")
        else:
            self.console.err(f"{sent} {email}")
        return 0


def _validate_email(value: str) -> str:
    value = value.strip()
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain and " " not in value):
        raise CliError(f"Invalid email address: {value}")
    return value


class UserUpdate(UserCommand):
    """`user:update [email]`: change a user's roles."""

    def configure(self, d: Definition) -> None:
        d.argument("email", "The user's email address")
        d.option(
            "role",
            "r",
            REQUIRED,
            "The user's project role ('admin' or 'viewer') or environment type role "
            "(e.g. 'staging:contributor'); % or * are wildcards for the type.",
            is_array=True,
        )
        self.add_project_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        self.select_project()
        item, user = self.chosen_user()
        project_role, types = self.parse_roles(self.input.list_opt("role"))
        if project_role is None and not types and not self.console.interactive:
            raise CommandFailed("No changes were provided. Specify roles with --role (-r).")
        return self.update_user(item, user, project_role, types)


class UserDelete(UserCommand):
    """`user:delete <email>`."""

    def configure(self, d: Definition) -> None:
        d.argument("email", "The user's email address", required=True)
        self.add_project_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        project = self.select_project()
        email = str(self.input.arg("email"))
        found = self.find_user(email)
        if found is None:
            raise CommandFailed(f"User not found: {email}")
        item, user = found
        if project.get("owner") and str(project.get("owner")) == str(item.get("user_id")):
            raise CommandFailed("The project's owner cannot be deleted.")
        who = self.identifier(user, item)
        if not self.console.confirm(
            f"Are you sure you want to delete the user {who}?", default=True
        ):
            return 1
        href = (
            link(item, "delete")
            or link(item, "self")
            or f"{self.access_url()}/{self.api.quote(str(item.get('user_id')))}"
        )
        self.api.send("DELETE", href)
        self.console.err(f"User {who} deleted")
        return 0
