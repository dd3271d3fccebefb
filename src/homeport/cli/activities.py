"""Activities: type filters, paged loading, display helpers and waiting with the log.

Paging follows the PHP `ActivityLoader`: the list is re-requested with `starts_at` set
to the `created_at` of the last item received (an inclusive upper bound), until a page
brings no new IDs or the limit is reached.
"""

from __future__ import annotations

import json
import re

from homeport.cli.api import link
from homeport.cli.errors import CliError, ConnectionFailed
from homeport.cli.formatting import strip_tags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from homeport.cli.api import Api
    from homeport.cli.console import Console
    from homeport.cli.env import Environment

KNOWN_TYPES = (
    "environment.access.add",
    "environment.access.remove",
    "environment.activate",
    "environment.backup",
    "environment.backup.delete",
    "environment.branch",
    "environment.certificate.renewal",
    "environment.cron",
    "environment.deactivate",
    "environment.delete",
    "environment.deploy",
    "environment.domain.create",
    "environment.domain.delete",
    "environment.domain.update",
    "environment.initialize",
    "environment.merge",
    "environment.merge-pr",
    "environment.operation",
    "environment.pause",
    "environment.push",
    "environment.redeploy",
    "environment.restore",
    "environment.resume",
    "environment.route.create",
    "environment.route.delete",
    "environment.route.update",
    "environment.source-operation",
    "environment.subscription.update",
    "environment.synchronize",
    "environment.update.http_access",
    "environment.update.restrict_robots",
    "environment.update.smtp",
    "environment.variable.create",
    "environment.variable.delete",
    "environment.variable.update",
    "environment_type.access.create",
    "environment_type.access.delete",
    "environment_type.access.update",
    "integration.bitbucket.fetch",
    "integration.bitbucket.register_hooks",
    "integration.bitbucket_server.fetch",
    "integration.bitbucket_server.register_hooks",
    "integration.github.fetch",
    "integration.gitlab.fetch",
    "integration.health.email",
    "integration.health.pagerduty",
    "integration.health.slack",
    "integration.health.webhook",
    "integration.script",
    "integration.webhook",
    "maintenance.upgrade",
    "project.clear_build_cache",
    "project.create",
    "project.domain.create",
    "project.domain.delete",
    "project.domain.update",
    "project.modify.title",
    "project.variable.create",
    "project.variable.delete",
    "project.variable.update",
)

FINAL_STATES = ("complete", "cancelled", "staged")
# Seconds between polls of an activity, and the log stream's limits (platform-cli.md §5.3).
POLL_INTERVAL = 3.0
STREAM_READ_TIMEOUT = 10.0
STREAM_RETRY_DELAY = 0.5
STREAM_GIVE_UP_AFTER = 120.0


def _type_pattern(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"([%*])", pattern)
    return re.compile("".join(".*" if p in ("%", "*") else re.escape(p) for p in parts))


def match_types(pattern: str) -> list[str]:
    """Known types matching `pattern` (`%`/`*` wildcards; the first segment may be omitted)."""
    regex = _type_pattern(pattern)
    return [t for t in KNOWN_TYPES if regex.fullmatch(t) or regex.fullmatch(t.partition(".")[2])]


def resolve_types(
    includes: Sequence[str], excludes: Sequence[str], warn: Callable[[str], None]
) -> list[str]:
    """The `type` query values for `-t` / `-x` (an empty list means no filter)."""
    chosen: list[str] = []
    for pattern in includes:
        found = match_types(pattern)
        if not found:
            warn(f"Unrecognized activity type to include: {pattern}")
            found = [pattern]
        chosen.extend(t for t in found if t not in chosen)
    if excludes:
        excluded: set[str] = set()
        for pattern in excludes:
            found = match_types(pattern)
            if not found:
                warn(f"Unrecognized activity type to exclude: {pattern}")
            excluded.update(found)
        base = chosen or list(KNOWN_TYPES)
        chosen = [t for t in base if t not in excluded]
    return chosen


def load(
    api: Api,
    href: str,
    *,
    limit: int,
    types: Sequence[str] = (),
    states: Sequence[str] = (),
    results: Sequence[str] = (),
    starts_at: str | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` activities, newest first, paging with `starts_at`."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    cursor = starts_at
    while len(items) < limit:
        params: list[tuple[str, Any]] = [("type", t) for t in types]
        params += [("state", s) for s in states]
        params += [("result", r) for r in results]
        if cursor:
            params.append(("starts_at", cursor))
        params.append(("count", limit))
        page = api.get(href, params)
        fresh = [a for a in page or [] if isinstance(a, dict) and str(a.get("id")) not in seen]
        if not fresh:
            break
        for activity in fresh:
            seen.add(str(activity.get("id")))
            items.append(activity)
        cursor = str(fresh[-1].get("created_at") or "")
        if not cursor:
            break
    return items[:limit]


def text_of(activity: dict[str, Any]) -> str:
    """The activity's plain-text description."""
    text = activity.get("text")
    if isinstance(text, str) and text:
        return text
    description = activity.get("description")
    return strip_tags(description) if isinstance(description, str) else ""


def described(activity: dict[str, Any]) -> str:
    """The description with its actor marked when a machine user did it, so a list
    tells automation from people at a glance."""
    text = text_of(activity)
    payload = activity.get("payload")
    user = payload.get("user") if isinstance(payload, dict) else None
    if not isinstance(user, dict) or user.get("kind") != "machine":
        return text
    name = str(user.get("display_name") or "")
    if name and text.startswith(name):
        return f"{name} (machine user){text[len(name) :]}"
    return f"{text} (by machine user {name or user.get('id')})"


def state_of(activity: dict[str, Any]) -> str:
    """The state as shown (`in_progress` becomes `in progress`)."""
    return str(activity.get("state") or "").replace("_", " ")


def result_of(activity: dict[str, Any]) -> str:
    """`success`, `failure`, or '' while unfinished; any failed command means failure."""
    commands = activity.get("commands")
    if isinstance(commands, list):
        for command in commands:
            if isinstance(command, dict) and int(command.get("exit_code") or 0) > 0:
                return "failure"
    return str(activity.get("result") or "")


def progress_of(activity: dict[str, Any]) -> str:
    """`N%`."""
    return f"{int(activity.get('completion_percent') or 0)}%"


def is_final(activity: dict[str, Any]) -> bool:
    """True when the activity will not change any more."""
    return str(activity.get("state")) in FINAL_STATES


def label(activity: dict[str, Any]) -> str:
    """`[id] text`, as in waiting messages."""
    return f"[{activity.get('id')}] {text_of(activity)}"


class Monitor:
    """Waits for activities, streaming their logs."""

    def __init__(
        self, api: Api, console: Console, env: Environment, interval: float = POLL_INTERVAL
    ) -> None:
        self.api = api
        self.console = console
        self.env = env
        self.interval = interval
        # The activities as they ended, after a wait (e.g. to read `payload.backup_name`).
        self.finished: list[dict[str, Any]] = []

    def poll(self, activity: dict[str, Any]) -> dict[str, Any]:
        """Refresh until the activity is complete, cancelled or staged."""
        while not is_final(activity):
            self.env.sleep(self.interval)
            activity = self.api.refresh(activity)
        return activity

    def stream_log(
        self,
        activity: dict[str, Any],
        write: Callable[[str], None],
        *,
        follow: bool = True,
        timestamps: Callable[[str], str] | None = None,
    ) -> dict[str, Any]:
        """Write the activity's log lines; with `follow`, until sealed and finished.

        Lines are deduplicated by `_id` because the stream is re-opened (from the
        number of lines seen so far) whenever it ends before the seal.
        """
        href = link(activity, "log")
        if not href:
            return self.poll(activity) if follow else activity
        seen: set[str] = set()
        count = 0
        started = self.env.clock()
        # Messages are concatenated as sent; remember whether the last one ended a line.
        ended_line = True

        def emit(text: str) -> None:
            nonlocal ended_line
            if text:
                write(text)
                ended_line = text.endswith("\n")

        while True:
            sealed = False
            try:
                stream = self.api.stream(
                    href, params={"start_at": count} if count else None, timeout=STREAM_READ_TIMEOUT
                )
                try:
                    for raw in stream.lines():
                        try:
                            item = json.loads(raw)
                        except ValueError:
                            continue
                        if not isinstance(item, dict):
                            continue
                        if item.get("seal"):
                            sealed = True
                            break
                        key = str(item.get("_id", ""))
                        if key and key in seen:
                            continue
                        seen.add(key)
                        count += 1
                        data = item.get("data")
                        if not isinstance(data, dict):
                            continue
                        message, stamp = data.get("message"), data.get("timestamp")
                        if not isinstance(message, str) or stamp is None:
                            continue
                        emit(_with_timestamps(message, str(stamp), timestamps))
                finally:
                    stream.close()
            except (ConnectionFailed, TimeoutError, OSError):
                if self.env.clock() - started > STREAM_GIVE_UP_AFTER:
                    raise CliError(
                        f"Failed to open activity log stream: {self.api.url(href)}"
                    ) from None
                self.env.sleep(STREAM_RETRY_DELAY)
                continue
            if sealed or not follow:
                break
            # The stream ended before its seal: if the activity is over, stop reading.
            activity = self.api.refresh(activity)
            if is_final(activity):
                break
            self.env.sleep(STREAM_RETRY_DELAY)
        if not ended_line:
            write("\n")
        return self.poll(activity) if follow else activity

    def report(self, activity: dict[str, Any]) -> bool:
        """Print the outcome line; True when the activity succeeded."""
        state, result = str(activity.get("state")), result_of(activity)
        if state == "cancelled":
            self.console.err(f"The activity was cancelled: {label(activity)}")
            return False
        if result == "success":
            self.console.err(
                self.console.style(f"The activity succeeded: {label(activity)}", "info")
            )
            if state == "staged":
                exe = self.api.config.executable
                self.console.err(f"To deploy staged changes, run: {exe} environment:deploy")
            return True
        if result == "failure":
            self.console.err(self.console.style(f"The activity failed: {label(activity)}", "error"))
            return False
        self.console.err(f"The activity finished with an unknown result: {label(activity)}")
        return False

    def wait_and_log(self, activity: dict[str, Any]) -> bool:
        """Wait for one activity, streaming its log to stderr; True on success."""
        self.console.err(f"Waiting for the activity: {label(activity)}")

        def write(text: str) -> None:
            self.console.err(text, newline=False)

        activity = self.stream_log(activity, write)
        self.finished = [activity]
        return self.report(activity)

    def wait_multiple(self, activities: Sequence[dict[str, Any]]) -> bool:
        """Wait for several activities; True only when all succeeded."""
        if not activities:
            return True
        if len(activities) == 1:
            return self.wait_and_log(activities[0])
        self.console.err(f"Waiting for {len(activities)} activities:")
        for number, activity in enumerate(activities, 1):
            self.console.err(f"  {number}. {label(activity)}")
        done: list[dict[str, Any]] = []
        for activity in activities:
            if str(activity.get("type", "")).startswith("integration."):
                done.append(self.poll(activity))
            else:
                done.append(self.stream_log(activity, lambda t: self.console.err(t, newline=False)))
        self.finished = done
        good = [a for a in done if result_of(a) == "success" and a.get("state") != "cancelled"]
        bad = [a for a in done if a not in good]
        total = len(done)
        if good:
            self.console.err(f"{len(good)}/{total} activities succeeded:")
            for activity in good:
                self.console.err(f"  {label(activity)}")
        if bad:
            self.console.err(f"{len(bad)}/{total} activities failed:")
            for activity in bad:
                self.console.err(
                    f"  {label(activity)} ({result_of(activity) or state_of(activity)})"
                )
        return not bad


def _with_timestamps(message: str, stamp: str, fmt: Callable[[str], str] | None) -> str:
    if fmt is None:
        return message
    prefix = f"[{fmt(stamp)}] "
    lines = message.split("\n")
    tail = lines.pop() if lines and lines[-1] == "" else None
    text = "\n".join(prefix + line for line in lines)
    return text + ("\n" if tail is not None else "")
