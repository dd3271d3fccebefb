"""`activity:*`: list, inspect, follow and cancel activities (platform-cli.md §4.3)."""

from __future__ import annotations

from homeport.cli import activities as acts
from homeport.cli.api import link
from homeport.cli.commands.base import Command, environment_label, project_label, public_properties
from homeport.cli.errors import CliError, CommandFailed
from homeport.cli.inputdef import FLAG, REQUIRED, Definition

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = [
    ("id", "ID"),
    ("created", "Created"),
    ("completed", "Completed"),
    ("description", "Description"),
    ("type", "Type"),
    ("progress", "Progress"),
    ("state", "State"),
    ("result", "Result"),
    ("environments", "Environment(s)"),
    ("time_execute", "Exec time (s)"),
    ("time_wait", "Wait time (s)"),
    ("time_build", "Build time (s)"),
    ("time_deploy", "Deploy time (s)"),
]
DEFAULT_COLUMNS = ["id", "created", "description", "progress", "state", "result"]
STATES = ("pending", "in_progress", "complete", "cancelled", "staged", "scheduled")


def add_filter_options(d: Definition, type_shortcut: bool = True) -> None:
    """Filters shared by activity commands."""
    d.option(
        "type",
        "t" if type_shortcut else "",
        REQUIRED,
        "Filter activities by type. The % or * characters can be used as wildcards.",
        is_array=True,
    )
    d.option("exclude-type", "x", REQUIRED, "Exclude activities by type.", is_array=True)
    d.option(
        "state", "", REQUIRED, "Filter activities by state: " + ", ".join(STATES), is_array=True
    )
    d.option("result", "", REQUIRED, "Filter activities by result: success or failure")
    d.option(
        "incomplete",
        "i",
        FLAG,
        "Only list incomplete activities (an alias of --state in_progress,pending)",
    )
    d.option("all", "a", FLAG, "Check activities on all environments")


class ActivityCommand(Command):
    """Shared filters and look-ups."""

    def scope(self) -> tuple[str, dict[str, Any] | None]:
        """The activities URL: the selected environment's, or the project's with --all."""
        project = self.select_project()
        env = None if self.input.opt("all") else self.select_environment(required=False)
        if env is not None:
            href = (
                link(env, "#activities") or f"{self.api.environment_url(project, env)}/activities"
            )
            return href, env
        return f"{self.api.project_url(project)}/activities", None

    def filters(self) -> dict[str, Any]:
        """The query filters from -t, -x, --state, --result and -i."""
        types = acts.resolve_types(
            self.input.list_opt("type"), self.input.list_opt("exclude-type"), self.console.warn
        )
        states = self.input.list_opt("state")
        for state in states:
            if state not in STATES:
                raise CliError(f"Invalid state: {state} (expected one of: {', '.join(STATES)})")
        if self.input.opt("incomplete"):
            states = states + [s for s in ("in_progress", "pending") if s not in states]
        result = self.input.str_opt("result")
        if result is not None and result not in ("success", "failure"):
            raise CliError(f"Invalid result: {result} (expected success or failure)")
        return {"types": types, "states": states, "results": [result] if result else []}

    def find_activity(self, activity_id: str, href: str) -> dict[str, Any]:
        """An activity by ID, or by a unique prefix among the latest 25."""
        project = self.select_project()
        found = self.api.get_optional(
            f"{self.api.project_url(project)}/activities/{self.api.quote(activity_id)}"
        )
        if isinstance(found, dict):
            return found
        recent = acts.load(self.api, href, limit=25)
        matches = [a for a in recent if str(a.get("id", "")).startswith(activity_id)]
        if len(matches) == 1:
            return matches[0]
        raise CommandFailed(f"Activity not found: {activity_id}")

    def chosen_activity(self) -> dict[str, Any]:
        """The activity named by the argument, else the most recent matching the filters."""
        href, _ = self.scope()
        activity_id = self.input.arg("id")
        if activity_id:
            return self.find_activity(str(activity_id), href)
        items = acts.load(self.api, href, limit=1, **self.filters())
        if not items:
            raise CommandFailed("No activities found")
        return items[0]


class ActivityList(ActivityCommand):
    """`activity:list` (aliases `activities`, `act`)."""

    def configure(self, d: Definition) -> None:
        add_filter_options(d)
        d.option("limit", "", REQUIRED, "Limit the number of results displayed", default="10")
        d.option("start", "", REQUIRED, "Only activities created before this date will be listed")
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        raw_limit = str(self.input.opt("limit"))
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise CliError(f"Invalid --limit: {raw_limit}")
        limit = int(raw_limit)
        starts_at = None
        if self.input.str_opt("start"):
            from homeport.cli.formatting import parse_datetime

            parsed = parse_datetime(self.input.str_opt("start"))
            if parsed is None:
                raise CliError(f"Invalid --start date: {self.input.str_opt('start')}")
            starts_at = parsed.isoformat()
        href, env = self.scope()
        items = acts.load(self.api, href, limit=limit, starts_at=starts_at, **self.filters())
        if not items:
            raise CommandFailed("No activities found")
        project = self.select_project()
        if env is not None:
            self.table_hint(
                f"Activities on the project {project_label(project)}, "
                f"environment {environment_label(env)}:"
            )
        else:
            self.table_hint(f"Activities on the project {project_label(project)}:")
        fmt = self.formatter
        rows = []
        for activity in items:
            timings = activity.get("timings") if isinstance(activity.get("timings"), dict) else {}
            assert isinstance(timings, dict)
            rows.append(
                {
                    "id": str(activity.get("id")),
                    "created": fmt.date(activity.get("created_at")),
                    "completed": fmt.date(activity.get("completed_at")),
                    "description": acts.described(activity),
                    "type": str(activity.get("type", "")),
                    "progress": acts.progress_of(activity),
                    "state": acts.state_of(activity),
                    "result": acts.result_of(activity),
                    "environments": ", ".join(str(e) for e in activity.get("environments") or []),
                    "time_execute": _seconds(timings.get("execute")),
                    "time_wait": _seconds(timings.get("wait")),
                    "time_build": _seconds(timings.get("build")),
                    "time_deploy": _seconds(timings.get("deploy")),
                }
            )
        defaults = DEFAULT_COLUMNS + ([] if env is not None else ["environments"])
        self.print_table(COLUMNS, defaults, rows)
        if len(items) >= limit:
            self.table_hint("")
            self.table_hint("More activities may be available.")
            self.table_hint(
                f"To display older activities, increase --limit above {limit}, "
                "or set --start to a date in the past."
            )
        self.table_hint("")
        self.table_hint(f"To view the log for an activity, run: {self.exe} activity:log [id]")
        self.table_hint(
            f"To view more information about an activity, run: {self.exe} activity:get [id]"
        )
        self.table_hint("")
        self.table_hint(f"For more information, run: {self.exe} activity:list -h")
        return 0


def _seconds(value: Any) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


class ActivityGet(ActivityCommand):
    """`activity:get [id]`."""

    def configure(self, d: Definition) -> None:
        d.argument("id", "The activity ID. Defaults to the most recent activity.")
        d.option("property", "P", REQUIRED, "The property to view")
        add_filter_options(d)
        self.add_format_options(d)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        activity = self.chosen_activity()
        prop = self.input.str_opt("property")
        if prop:
            self.print_property(activity, prop)
            return 0
        props = public_properties(activity)
        props.setdefault("description", activity.get("description"))
        self.print_properties(props)
        return 0


class ActivityLog(ActivityCommand):
    """`activity:log [id]`: the log on stdout, followed while the activity runs."""

    def configure(self, d: Definition) -> None:
        d.argument("id", "The activity ID. Defaults to the most recent activity.")
        d.option(
            "refresh",
            "",
            REQUIRED,
            "Activity refresh interval (seconds). Set to 0 to disable refreshing.",
            default="3",
        )
        d.option("timestamps", "t", FLAG, "Display a timestamp next to each message")
        add_filter_options(d, type_shortcut=False)
        self.add_date_option(d)
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        try:
            refresh = float(str(self.input.opt("refresh")))
        except ValueError:
            raise CliError(f"Invalid --refresh value: {self.input.opt('refresh')}") from None
        activity = self.chosen_activity()
        fmt = self.formatter
        console = self.console
        console.err(f"Activity ID: {activity.get('id')}")
        console.err(f"Type: {activity.get('type', '')}")
        console.err(f"Description: {acts.text_of(activity)}")
        console.err(f"Created: {fmt.date(activity.get('created_at'))}")
        console.err(f"State: {acts.state_of(activity)}")
        console.err("Log:")
        follow = refresh > 0 and not acts.is_final(activity)
        monitor = acts.Monitor(self.api, console, self.env, interval=refresh or acts.POLL_INTERVAL)
        stamps = fmt.date if self.input.opt("timestamps") else None

        def write(text: str) -> None:
            console.out(text, newline=False)

        monitor.stream_log(activity, write, follow=follow, timestamps=stamps)
        return 0


class ActivityCancel(ActivityCommand):
    """`activity:cancel [id]`."""

    def configure(self, d: Definition) -> None:
        d.argument("id", "The activity ID. Defaults to the most recent cancellable activity.")
        d.option(
            "type",
            "t",
            REQUIRED,
            "Filter by type (when selecting a default activity).",
            is_array=True,
        )
        d.option(
            "exclude-type",
            "x",
            REQUIRED,
            "Exclude by type (when selecting a default activity).",
            is_array=True,
        )
        d.option(
            "all",
            "a",
            FLAG,
            "Check recent activities on all environments (when selecting a default activity)",
        )
        self.add_project_option(d)
        self.add_environment_option(d)

    def execute(self) -> int:
        href, _ = self.scope()
        activity_id = self.input.arg("id")
        if activity_id:
            activity = self.find_activity(str(activity_id), href)
        else:
            types = acts.resolve_types(
                self.input.list_opt("type"), self.input.list_opt("exclude-type"), self.console.warn
            )
            recent = acts.load(
                self.api, href, limit=25, types=types, states=["in_progress", "pending"]
            )
            cancellable = [a for a in recent if link(a, "#cancel")]
            if not cancellable:
                raise CommandFailed("No cancellable activities found")
            fmt = self.formatter
            choices = [
                (str(a["id"]), f"{fmt.date(a.get('created_at'))}: {acts.label(a)}")
                for a in cancellable
            ]
            chosen = self.console.choose(
                choices,
                "Enter a number to choose an activity to cancel:",
                str(cancellable[0]["id"]),
            )
            activity = next(a for a in cancellable if str(a["id"]) == chosen)
        cancel = link(activity, "#cancel")
        if not cancel:
            state = acts.state_of(activity)
            raise CommandFailed(f"The activity cannot be cancelled in its current state ({state}).")
        self.console.err(f"Cancelling the activity {acts.label(activity)}")
        self.api.send("POST", cancel)
        self.console.err("The activity was successfully cancelled.")
        return 0
