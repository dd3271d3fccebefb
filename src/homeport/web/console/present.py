"""Shapes the console's templates read: activities with their actor, environment trees,
roles per environment type, crons with their last and next runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from homeport.domain.access import Roles
from homeport.domain.policy import ENV_TYPES
from homeport.store.models import Activity, CronJob, Environment


@dataclass(frozen=True)
class ActivityItem:
    """One line of an activity feed."""

    id: str
    type: str
    state: str
    result: str | None
    text: str
    percent: int
    environments: Sequence[str]
    actor_name: str
    actor_kind: str
    created_at: datetime
    completed_at: datetime | None

    @property
    def by_machine(self) -> bool:
        """Whether a machine user did it (the feed marks these visibly)."""
        return self.actor_kind == "machine"

    @property
    def running(self) -> bool:
        """Still pending or in progress."""
        return self.state in ("pending", "in_progress")


def activity_item(activity: Activity) -> ActivityItem:
    """The feed's view of an activity; the actor comes from ``payload.user``."""
    user = activity.payload.get("user") if isinstance(activity.payload, dict) else None
    user = user if isinstance(user, dict) else {}
    return ActivityItem(
        id=activity.id,
        type=activity.type,
        state=activity.state,
        result=activity.result,
        text=activity.text,
        percent=activity.completion_percent,
        environments=list(activity.environments),
        actor_name=str(user.get("display_name") or "someone"),
        actor_kind=str(user.get("kind") or "human"),
        created_at=activity.created_at,
        completed_at=activity.completed_at,
    )


@dataclass(frozen=True)
class EnvNode:
    """An environment and its children, for the tree on the project page."""

    env: Environment
    children: list[EnvNode]


def environment_tree(envs: Sequence[Environment]) -> list[EnvNode]:
    """Nest environments under their parents. One whose parent the person cannot see
    becomes a root, so nothing visible is lost and nothing invisible is revealed."""
    names = {e.name for e in envs}
    children: dict[str, list[Environment]] = {}
    roots: list[Environment] = []
    for env in envs:
        if env.parent is None or env.parent not in names:
            roots.append(env)
        else:
            children.setdefault(env.parent, []).append(env)

    def node(env: Environment) -> EnvNode:
        return EnvNode(env, [node(c) for c in children.get(env.name, [])])

    return [node(r) for r in roots]


def type_roles(roles: Roles) -> dict[str, str]:
    """The role shown for each environment type (``—`` for none)."""
    effective = roles.effective()
    return {t: effective.get(t, "—") for t in ENV_TYPES}


@dataclass(frozen=True)
class CronItem:
    """One cron row of the environment page: what it runs, when it ran and runs next."""

    app: str
    name: str
    spec: str
    timezone: str
    command: str
    last: ActivityItem | None
    next_run_at: datetime | None  # None: paused (the environment is not active)

    @property
    def last_at(self) -> datetime | None:
        """When the last run was queued (or ran, under a scheduler that was late)."""
        return self.last.created_at if self.last else None


def cron_item(job: CronJob, last: Activity | None, env_active: bool) -> CronItem:
    """The page's view of a cron and its latest activity."""
    commands = job.definition.get("commands") if isinstance(job.definition, dict) else None
    start = commands.get("start") if isinstance(commands, dict) else None
    return CronItem(
        app=job.app,
        name=job.name,
        spec=job.spec,
        timezone=job.timezone or "UTC",
        command=str(start or ""),
        last=activity_item(last) if last is not None else None,
        next_run_at=job.next_run_at if env_active else None,
    )
