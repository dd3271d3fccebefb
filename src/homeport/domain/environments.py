"""Environments: names, branching, activation, edits and deletion."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain import activities
from homeport.domain.activities import Phrase, env_markup, strong
from homeport.domain.errors import Conflict, Forbidden, Invalid, NotFound
from homeport.domain.ids import suffix
from homeport.domain.policy import ProjectGrants
from homeport.store.models import Account, Activity, Environment, Project
from homeport.store.types import utcnow

MAX_NAME = 64
# A conservative subset of git's ref rules that is also safe in URL paths and file
# names: letters, digits, '.', '_' and '-', starting with a letter or digit.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
BRANCHABLE_TYPES = ("development", "staging")


def validate_name(raw: str, field: str = "name") -> str:
    """A git-ref-safe environment (branch) name of at most 64 characters."""
    name = (raw or "").strip()
    if not name:
        raise Invalid.field(field, "This field is required.")
    if len(name) > MAX_NAME:
        raise Invalid.field(field, f"At most {MAX_NAME} characters.")
    if not _NAME.fullmatch(name) or ".." in name or name.endswith((".", ".lock")):
        raise Invalid.field(
            field,
            "Use letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(no '..', no trailing '.' or '.lock').",
        )
    return name


def machine_name(name: str) -> str:
    """The name, lowercased and made DNS-safe, plus a short random suffix."""
    base = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:56] or "env"
    return f"{base}-{suffix()}"


def new_environment(
    project_id: str, name: str, env_type: str, parent: str | None, title: str | None = None
) -> Environment:
    """An unsaved environment row."""
    return Environment(
        project_id=project_id,
        name=name,
        machine_name=machine_name(name),
        title=title or name,
        type=env_type,
        status="inactive",
        parent=parent,
        attributes={},
    )


def queue_key(project_id: str, env_name: str) -> str:
    """Activities with the same key run one at a time: one queue per environment."""
    return f"{project_id}:{env_name}"


def data_dir(environments_root: Path, env: Environment) -> Path:
    """The environment's data area (its mounts, later its services' data)."""
    return environments_root / env.project_id / env.machine_name / "data"


def ensure_data_dirs(session: Session, environments_root: Path, project: Project) -> None:
    """Every active environment has its data area from the moment it is active (the
    production one is active from the project's creation)."""
    for env in session.scalars(
        select(Environment).where(
            Environment.project_id == project.id, Environment.status == "active"
        )
    ):
        data_dir(environments_root, env).mkdir(parents=True, exist_ok=True)


def list_environments(session: Session, project: Project) -> Sequence[Environment]:
    """The project's environments, the main one first, then by name."""
    query = select(Environment).where(Environment.project_id == project.id)
    rows = session.scalars(query).all()
    return sorted(rows, key=lambda e: (not e.is_main, e.name))


def get_environment(session: Session, project: Project, name: str) -> Environment:
    """One environment by name (its id); raises NotFound."""
    env = session.scalar(
        select(Environment).where(Environment.project_id == project.id, Environment.name == name)
    )
    if env is None:
        raise NotFound("Environment not found.")
    return env


def _env_activity(
    session: Session,
    actor: Account,
    env: Environment,
    type_: str,
    phrase: Phrase,
    pending: bool,
    payload: dict[str, object] | None = None,
    parameters: dict[str, object] | None = None,
    log: Sequence[str] = (),
) -> Activity:
    return activities.record(
        session,
        project_id=env.project_id,
        type=type_,
        actor=actor,
        phrase=phrase,
        environments=[env.name],
        payload={
            "environment": {"id": env.name, "name": env.name, "title": env.title},
            # Production work jumps the worker's queue.
            "production": env.type == "production",
        }
        | (payload or {}),
        parameters={"environment": env.name} | (parameters or {}),
        pending=pending,
        queue_key=queue_key(env.project_id, env.name),
        log=log,
    )


def branch(
    session: Session,
    grants: ProjectGrants,
    parent: Environment,
    name: str,
    title: str | None,
    env_type: str,
    clone_parent: bool,
) -> tuple[Environment, Activity]:
    """Create a child environment; the worker prepares its data and activates it."""
    name = validate_name(name)
    if env_type not in BRANCHABLE_TYPES:
        raise Invalid.field("type", "The type must be 'development' or 'staging'.")
    if title is not None and len(title) > 256:
        raise Invalid.field("title", "At most 256 characters.")
    if not grants.can_branch(parent.type, env_type):
        raise Forbidden("You may not branch this environment.")
    if parent.status != "active":
        raise Conflict("Only an active environment can be branched.")
    exists = select(Environment.pk).where(
        Environment.project_id == parent.project_id, Environment.name == name
    )
    if session.scalar(exists) is not None:
        raise Conflict(f"The environment {name} already exists.", {"name": [name]})
    child = new_environment(parent.project_id, name, env_type, parent.name, title)
    child.status = "dirty"
    child.clone_parent_on_create = clone_parent
    child.head_commit = parent.head_commit
    child.has_code = parent.has_code
    session.add(child)
    session.flush()
    actor = grants.account
    activity = _env_activity(
        session,
        actor,
        child,
        "environment.branch",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" branched ")
        .add(env_markup(child.name, child.title))
        .add(" from ")
        .add(env_markup(parent.name, parent.title)),
        pending=True,
        payload={"parent": {"id": parent.name, "title": parent.title}},
        parameters={"parent": parent.name, "clone_parent": clone_parent},
    )
    return child, activity


def _require(grants: ProjectGrants, action: str, env: Environment) -> None:
    if not grants.can_env(action, env.type):  # type: ignore[arg-type]
        raise Forbidden(f"You may not {action.replace('_', ' ')} this environment.")


def activate(session: Session, grants: ProjectGrants, env: Environment) -> Activity:
    """Activate an inactive environment (the worker brings it up).

    Its data starts as a copy of the parent's only when the activating account may
    copy data out of the parent (the branch right on the parent's type, as branching
    needs); otherwise it starts empty and the log says why.
    """
    _require(grants, "activate", env)
    if env.status != "inactive":
        raise Conflict("Only an inactive environment can be activated.")
    clone, note = _clone_decision(session, grants, env)
    env.status = "dirty"
    actor = grants.account
    return _env_activity(
        session,
        actor,
        env,
        "environment.activate",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" activated ")
        .add(env_markup(env.name, env.title)),
        pending=True,
        parameters={"parent": env.parent, "clone_parent": clone, "clone_note": note},
    )


def _clone_decision(session: Session, grants: ProjectGrants, env: Environment) -> tuple[bool, str]:
    """Whether activating ``env`` copies its parent's data, and if not, why."""
    if not env.parent:
        return False, ""
    if not env.clone_parent_on_create:
        return False, "clone_parent_on_create is off, so the environment starts empty."
    parent = session.scalar(
        select(Environment).where(
            Environment.project_id == env.project_id, Environment.name == env.parent
        )
    )
    if parent is None:
        return False, f"Its parent {env.parent} no longer exists, so it starts empty."
    if not grants.can_env("branch", parent.type):
        return False, (
            f"Not copying data from {parent.name}: copying data out of {parent.type} "
            "environments needs contributor there, so the environment starts empty."
        )
    return True, ""


def deactivate(session: Session, grants: ProjectGrants, env: Environment) -> Activity:
    """Deactivate an environment: its data is removed, as on Platform.sh."""
    _require(grants, "deactivate", env)
    if env.is_main:
        raise Conflict("The production environment cannot be deactivated.")
    if env.status not in ("active", "paused"):
        raise Conflict("Only an active or paused environment can be deactivated.")
    env.status = "dirty"
    actor = grants.account
    return _env_activity(
        session,
        actor,
        env,
        "environment.deactivate",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" deactivated ")
        .add(env_markup(env.name, env.title)),
        pending=True,
    )


def redeploy(session: Session, grants: ProjectGrants, env: Environment) -> Activity:
    """Redeploy an active environment."""
    _require(grants, "redeploy", env)
    if env.status == "paused":
        raise Conflict(f"The environment {env.name} is paused; resume it to redeploy it.")
    if env.status != "active":
        raise Conflict("Only an active environment can be redeployed.")
    return _redeploy_activity(session, grants.account, env)


def pausable(status: str, is_main: bool, env_type: str) -> bool:
    """Only an active preview (not the main, production) environment can be paused."""
    return status == "active" and not is_main and env_type != "production"


def _not_queued(session: Session, env: Environment, type_: str, doing: str) -> None:
    busy = activities.queued_of_types(session, queue_key(env.project_id, env.name), [type_])
    if busy is not None:
        raise Conflict(f"The environment {env.name} is already {doing} ({busy.id}).")


def pause(session: Session, grants: ProjectGrants, env: Environment) -> Activity:
    """Pause an active preview environment: the worker stops its apps (data is kept)."""
    _require(grants, "pause", env)
    if env.is_main or env.type == "production":
        raise Conflict("The production environment cannot be paused.")
    if env.status == "paused":
        raise Conflict(f"The environment {env.name} is already paused.")
    if env.status != "active":
        raise Conflict("Only an active environment can be paused.")
    _not_queued(session, env, "environment.pause", "being paused")
    actor = grants.account
    return _env_activity(
        session,
        actor,
        env,
        "environment.pause",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" paused ")
        .add(env_markup(env.name, env.title)),
        pending=True,
    )


def resume(session: Session, grants: ProjectGrants, env: Environment) -> Activity:
    """Resume a paused environment: the worker makes it active and redeploys it."""
    _require(grants, "resume", env)
    if env.status != "paused":
        raise Conflict(
            f"The environment {env.name} is not paused. Only paused environments can be resumed."
        )
    _not_queued(session, env, "environment.resume", "being resumed")
    actor = grants.account
    return _env_activity(
        session,
        actor,
        env,
        "environment.resume",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" resumed ")
        .add(env_markup(env.name, env.title)),
        pending=True,
    )


def _redeploy_activity(
    session: Session, actor: Account, env: Environment, parameters: dict[str, object] | None = None
) -> Activity:
    return _env_activity(
        session,
        actor,
        env,
        "environment.redeploy",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" redeployed environment ")
        .add(env_markup(env.name, env.title)),
        pending=True,
        parameters=parameters,
    )


def redeploy_for_variables(session: Session, actor: Account, env: Environment) -> Activity | None:
    """An environment-level variable changed: redeploy that environment, as Platform.sh
    does (not its children). The caller already passed `manage_variables`, an admin
    right like `redeploy`. Inactive environments pick the change up when activated."""
    if env.status != "active":
        return None
    env.needs_redeploy = True
    return _redeploy_activity(session, actor, env, {"reason": "variables"})


def delete(
    session: Session, grants: ProjectGrants, env: Environment, environments_root: Path
) -> Activity:
    """Delete an inactive environment; its children move up to its parent."""
    _require(grants, "delete", env)
    if env.is_main:
        raise Conflict("The production environment cannot be deleted.")
    if env.status != "inactive":
        raise Conflict("Only an inactive environment can be deleted; deactivate it first.")
    busy = activities.queued_of_types(session, queue_key(env.project_id, env.name), None)
    if busy is not None:
        raise Conflict(
            f"{env.name} has an unfinished activity ({busy.id}, {busy.type}); "
            "wait for it or cancel it before deleting the environment."
        )
    for child in session.scalars(
        select(Environment).where(
            Environment.project_id == env.project_id, Environment.parent == env.name
        )
    ):
        child.parent = env.parent
    actor = grants.account
    activity = _env_activity(
        session,
        actor,
        env,
        "environment.delete",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" deleted environment ")
        .add(env_markup(env.name, env.title)),
        pending=False,
    )
    activity.queue_key = None
    area = data_dir(environments_root, env).parent
    session.delete(env)
    session.flush()
    shutil.rmtree(area, ignore_errors=True)
    return activity


def edit(
    session: Session,
    grants: ProjectGrants,
    env: Environment,
    title: str | None = None,
    env_type: str | None = None,
    parent: str | None = None,
    parent_given: bool = False,
) -> Activity | None:
    """Apply ``#edit``: title, type (admin on both types) and parent."""
    _require(grants, "edit", env)
    changes: list[str] = []
    if title is not None:
        title = title.strip()
        if not title or len(title) > 256:
            raise Invalid.field("title", "Between 1 and 256 characters.")
        if title != env.title:
            changes.append(f"title to {title}")
            env.title = title
    if env_type is not None and env_type != env.type:
        if env.is_main or env_type == "production":
            raise Invalid.field("type", "Only the default branch is of type production.")
        if env_type not in BRANCHABLE_TYPES:
            raise Invalid.field("type", "The type must be 'development' or 'staging'.")
        if not grants.can_change_type(env.type, env_type):
            raise Forbidden("You need admin rights on both environment types.")
        changes.append(f"type to {env_type}")
        env.type = env_type
    if parent_given and parent != env.parent:
        if env.is_main:
            raise Invalid.field("parent", "The default branch has no parent.")
        if parent is None:
            raise Invalid.field("parent", "Environments other than the default need a parent.")
        project_envs = {
            e.name: e
            for e in session.scalars(
                select(Environment).where(Environment.project_id == env.project_id)
            )
        }
        if parent not in project_envs:
            raise Invalid.field("parent", f"No environment named {parent!r}.")
        walk: str | None = parent
        while walk is not None:  # refuse cycles
            if walk == env.name:
                raise Invalid.field("parent", "An environment cannot descend from itself.")
            walk = project_envs[walk].parent
        changes.append(f"parent to {parent}")
        env.parent = parent
    if not changes:
        return None
    env.updated_at = utcnow()
    actor = grants.account
    return _env_activity(
        session,
        actor,
        env,
        "environment.update",
        Phrase()
        .add(activities.user_markup(actor))
        .add(" changed ")
        .add(env_markup(env.name, env.title))
        .add(": ")
        .add(strong(", ".join(changes))),
        pending=False,
        payload={"changes": changes},
    )
