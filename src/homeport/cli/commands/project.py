"""`project:*`: list, inspect, create and delete projects (§4.7)."""

from __future__ import annotations

import fnmatch

from homeport.cli.api import PROJECT_PAGE_MAX, embedded_activities, embedded_entity, link
from homeport.cli.commands.base import (
    Command,
    operation_link,
    project_label,
    public_properties,
)
from homeport.cli.errors import CliError, CommandFailed, MissingValue
from homeport.cli.inputdef import FLAG, OPTIONAL, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = [
    ("id", "ID"),
    ("title", "Title"),
    ("region", "Region"),
    ("organization_name", "Organization"),
    ("organization_id", "Organization ID"),
    ("organization_label", "Organization label"),
    ("organization_type", "Organization type"),
    ("status", "Status"),
    ("created_at", "Created"),
]
# Homeport has no organizations, so their (always empty) columns are not shown by default.
DEFAULT_COLUMNS = ["id", "title", "region"]
# Sort keys the server's `GET /projects` orders by itself (as `str(value).lower()` would
# for ASCII), so `project:list` asks it for one page only.
SERVER_SORTS = ("title", "id", "created_at", "updated_at")
WRITABLE = ("title", "default_branch", "timezone", "description")
PENDING_STATUSES = ("requested", "provisioning", "pending", "creating")


def _status(project: dict[str, Any]) -> str:
    status = project.get("status")
    if isinstance(status, dict):
        return str(status.get("code") or "")
    return str(status or "")


def _org(project: dict[str, Any], key: str) -> str:
    org = project.get("organization")
    if isinstance(org, dict):
        return str(org.get(key) or "")
    if key == "id" and isinstance(org, str):
        return org
    return str(project.get(f"organization_{key}") or "")


class ProjectList(Command):
    """`project:list` (aliases `projects`, `pro`)."""

    def configure(self, d: Definition) -> None:
        d.option("pipe", "", FLAG, "Output a simple list of project IDs")
        d.option("region", "", REQUIRED, "Filter by region (exact match; % or * wildcards)")
        d.option("host", "", REQUIRED, "Deprecated: replaced by --region", hidden=True)
        d.option("title", "", REQUIRED, "Filter by title (case-insensitive search)")
        d.option("my", "", FLAG, "Display only the projects you own")
        d.option("refresh", "", OPTIONAL, "Whether to refresh the list", default="1")
        d.option("sort", "", REQUIRED, "A property to sort by", default="title")
        d.option("reverse", "", FLAG, "Sort in reverse (descending) order")
        d.option("page", "", REQUIRED, "Page number (starting from 1)")
        d.option(
            "count",
            "c",
            REQUIRED,
            "The number of projects to display per page; 0 to disable pagination",
            default="20",
        )
        d.option("org", "o", REQUIRED, "Filter by organization name or ID")
        d.option("org-type", "", REQUIRED, "Filter by organization type", is_array=True)
        self.add_format_options(d, columns_shortcut=False)
        self.add_date_option(d)

    def execute(self) -> int:
        self.warn_deprecated(
            ["host"],
            "The option --%s is deprecated and replaced by --region. "
            "It will be removed in a future version.",
        )
        served = self._served_page()
        if served is not None:
            projects, total, page, count = served
            if total == 0:
                return self._none_yet()
            pages = max(1, -(-total // count))
            return self._show(projects, [], page, pages)
        projects = self.api.projects()
        filters = []
        region = self.input.str_opt("region")
        if region:
            filters.append("--region")
            pattern = region.replace("%", "*").lower()
            projects = [
                p
                for p in projects
                if fnmatch.fnmatchcase(str(p.get("region", "")).lower(), pattern)
            ]
        title = self.input.str_opt("title")
        if title:
            filters.append("--title")
            projects = [p for p in projects if title.lower() in str(p.get("title", "")).lower()]
        if self.input.opt("my"):
            filters.append("--my")
            me = self.api.auth.user_id() or str(self.api.me().get("id", ""))
            projects = [p for p in projects if str(p.get("owner", "")) == me]
        org = self.input.str_opt("org")
        if org:
            filters.append("--org")
            projects = [p for p in projects if org in (_org(p, "id"), _org(p, "name"))]
        if not projects:
            if filters:
                # An empty result is not an error: `set -e` scripts carry on (as in the PHP CLI).
                self.console.err(f"No projects found (filters in use: {', '.join(filters)}).")
                return 0
            return self._none_yet()
        key = str(self.input.opt("sort") or "title")
        projects.sort(
            key=lambda p: str(p.get(key) or "").lower(), reverse=bool(self.input.opt("reverse"))
        )
        if self.input.opt("pipe"):
            for project in projects:
                self.console.out(str(project.get("id")))
            return 0
        count_raw = str(self.input.opt("count"))
        if not count_raw.isdigit():
            raise CliError(f"Invalid --count: {count_raw}")
        count = int(count_raw)
        page_raw = self.input.str_opt("page") or "1"
        if not page_raw.isdigit() or int(page_raw) < 1:
            raise CliError(f"Invalid --page: {page_raw}")
        page, total = int(page_raw), len(projects)
        pages = 1 if count == 0 else max(1, -(-total // count))
        if count:
            projects = projects[(page - 1) * count : page * count]
        return self._show(projects, filters, page, pages)

    def _served_page(self) -> tuple[list[dict[str, Any]], int, int, int] | None:
        """(the page's projects, how many in all, page, count) asked of the server for
        just that page, when no option needs the whole list (filters, --pipe, --count 0
        or beyond a server page, another sort key); None otherwise."""
        if any(self.input.str_opt(o) for o in ("region", "title", "org")) or any(
            self.input.opt(o) for o in ("my", "pipe")
        ):
            return None
        key = str(self.input.opt("sort") or "title")
        count_raw = str(self.input.opt("count"))
        page_raw = self.input.str_opt("page") or "1"
        if key not in SERVER_SORTS or not count_raw.isdigit() or not page_raw.isdigit():
            return None
        count, page = int(count_raw), int(page_raw)
        if not 1 <= count <= PROJECT_PAGE_MAX or page < 1:
            return None
        sort = ("-" if self.input.opt("reverse") else "") + key
        served = self.api.projects_page(count, sort, page)
        if served is None:
            return None
        return served[0], served[1], page, count

    def _none_yet(self) -> int:
        self.console.err(f"You do not have any {self.config.service_name} projects yet.")
        self.console.err("")
        self.console.err(f"To create a new project, run: {self.exe} create")
        return 0

    def _show(
        self, projects: list[dict[str, Any]], filters: list[str], page: int, pages: int
    ) -> int:
        fmt = self.formatter
        rows = [
            {
                "id": str(p.get("id")),
                "title": str(p.get("title") or ""),
                "region": str(p.get("region") or ""),
                "organization_name": _org(p, "name"),
                "organization_id": _org(p, "id"),
                "organization_label": _org(p, "label"),
                "organization_type": _org(p, "type"),
                "status": _status(p),
                "created_at": fmt.date(p.get("created_at")),
            }
            for p in projects
        ]
        if not filters:
            self.table_hint("Your projects are:")
        self.print_table(
            COLUMNS,
            DEFAULT_COLUMNS,
            rows,
            replaced={"host": "region"},
            removed=("url", "ui_url", "endpoint", "region_label"),
        )
        if pages > 1:
            self.table_hint(
                f"Page {page} of {pages}. Use --page to see another page, or --count 0 to see all."
            )
        self.table_hint("")
        self.table_hint(f"Get a project's details by running: {self.exe} project:info -p [id]")
        self.table_hint(
            f"List a project's environments by running: {self.exe} environments -p [id]"
        )
        return 0


class ProjectInfo(Command):
    """`project:info [property] [value]`."""

    def configure(self, d: Definition) -> None:
        d.argument("property", "The name of the property")
        d.argument("value", "Set a new value for the property")
        d.option("refresh", "", FLAG, "Whether to refresh the cache")
        self.add_date_option(d)
        self.add_format_options(d)
        self.add_project_option(d)
        self.add_wait_options(d)

    def execute(self) -> int:
        project = self.select_project()
        prop, value = self.input.arg("property"), self.input.arg("value")
        if not prop:
            self.print_properties(public_properties(_with_https_url(project)))
            return 0
        if value is None:
            self.print_property(_with_https_url(project), str(prop))
            return 0
        prop, value = str(prop), str(value)
        if prop not in WRITABLE:
            raise CommandFailed(f"Property not writable: {prop}")
        if project.get(prop) == value:
            self.console.err(f"Property {prop} already set as: {value}")
            return 0
        href = operation_link(project, "edit")
        if not href:
            raise CommandFailed(
                f"Operation not available: The project {project_label(project)} can't be updated."
            )
        result = self.api.send("PATCH", href, {prop: value})
        self.console.err(f"Property {prop} set to: {value}")
        activities = embedded_activities(result)
        if activities and self.should_wait():
            return 0 if self.wait_for(activities) else 1
        return 0


class ProjectCreate(Command):
    """`project:create` (alias `create`): the new project's ID goes to stdout."""

    def configure(self, d: Definition) -> None:
        d.option("title", "", REQUIRED, "The initial project title")
        d.option("region", "", REQUIRED, "The region where the project will be hosted")
        d.option("default-branch", "", REQUIRED, "The default Git branch name for the project")
        d.option("timezone", "", REQUIRED, "The project's timezone")
        d.option("org", "o", REQUIRED, "The organization (not used by Homeport)")
        d.option(
            "set-remote",
            "",
            FLAG,
            "Set the new project as the remote for this repository (not implemented)",
        )
        d.option(
            "no-set-remote",
            "",
            FLAG,
            "Do not set the new project as the remote for this repository",
        )
        d.option(
            "check-timeout",
            "",
            REQUIRED,
            "The API timeout while checking the project status",
            default="30",
            hidden=True,
        )
        d.option(
            "timeout",
            "",
            REQUIRED,
            "The total timeout for all API checks waiting for the project to be created",
            default="900",
            hidden=True,
        )
        self.add_wait_options(d)

    def execute(self) -> int:
        console = self.console
        title = self.input.str_opt("title")
        if title is None:
            title = (
                console.ask("Project title:", "Untitled Project")
                if console.interactive
                else "Untitled Project"
            )
        region = self.input.str_opt("region")
        if region is None:
            if not console.interactive:
                raise MissingValue("--region is required")
            region = console.ask("Region:")
            if not region:
                raise MissingValue("--region is required")
        branch = self.input.str_opt("default-branch")
        if branch is None:
            branch = console.ask("Default branch:", "main") if console.interactive else "main"
        body: dict[str, Any] = {"title": title, "region": region, "default_branch": branch}
        if self.input.str_opt("timezone"):
            body["timezone"] = self.input.str_opt("timezone")
        if self.input.str_opt("org"):
            console.warn("Warning: organizations are not supported; --org is ignored.")
        console.err(f"Creating a project: {title}")
        result = self.api.send("POST", "/projects", body)
        project = embedded_entity(result)
        if project is None or not project.get("id"):
            raise CommandFailed("The server did not return the new project.")
        if self.should_wait():
            activities = embedded_activities(result)
            if activities and not self.wait_for(activities):
                return 1
            project = self._until_ready(project)
        console.err("")
        console.err(
            "The project is being created."
            if _status(project) in PENDING_STATUSES
            else "The project is now ready!"
        )
        console.err(f"Project ID: {project['id']}")
        console.err(f"Project title: {project.get('title', title)}")
        console.err(f"Region: {project.get('region', region)}")
        repository = project.get("repository")
        if isinstance(repository, dict) and repository.get("url"):
            console.err(f"Git URL: {repository['url']}")
        console.out(str(project["id"]))
        return 0

    def _until_ready(self, project: dict[str, Any]) -> dict[str, Any]:
        try:
            timeout = float(str(self.input.opt("timeout")))
        except ValueError:
            timeout = 900.0
        started = self.env.clock()
        while _status(project) in PENDING_STATUSES and self.env.clock() - started < timeout:
            self.env.sleep(3)
            project = self.api.get_project(str(project["id"])) or project
        return project


class ProjectDelete(Command):
    """`project:delete [project]` (the default answer is no)."""

    def configure(self, d: Definition) -> None:
        d.argument("project", "The project ID")
        self.add_project_option(d)

    def execute(self) -> int:
        argument = self.input.arg("project")
        if argument:
            if self.input.str_opt("project"):
                raise CliError(
                    "You cannot use both the <project> argument and the --project option"
                )
            self.input.options["project"] = argument
        project = self.select_project()
        label = project_label(project)
        href = operation_link(project, "delete")
        if not href:
            raise CommandFailed(f"Operation not available: The project {label} can't be deleted.")
        self.console.err(f"You are about to delete the project: {label}")
        self.console.err(
            "This action is irreversible: all environments, data and backups will be lost."
        )
        if not self.console.confirm("Are you sure you want to delete this project?", default=False):
            return 1
        self.api.send("DELETE", href)
        self.console.err(f"The project {label} was deleted.")
        return 0


def _with_https_url(project: dict[str, Any]) -> dict[str, Any]:
    """The project with its HTTPS remote shown beside the SSH one (`repository.https_url`)."""
    href = link(project, "git")
    repository = project.get("repository")
    if not href or not isinstance(repository, dict) or repository.get("url") == href:
        return project
    return {**project, "repository": {**repository, "https_url": href}}
