"""``#merge`` and ``#synchronize``: an environment's code into its parent, or the
parent's code and data into it. Both need admin on both environment types."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain import activities
from homeport.domain.activities import Phrase, env_markup, strong
from homeport.domain.environments import queue_key
from homeport.domain.errors import Conflict, Forbidden, Invalid
from homeport.domain.policy import ProjectGrants, env_refusal
from homeport.store.models import Activity, Environment


def parent_of(session: Session, env: Environment) -> Environment | None:
    """The environment's parent, if it has one that still exists."""
    if not env.parent:
        return None
    return session.scalar(
        select(Environment).where(
            Environment.project_id == env.project_id, Environment.name == env.parent
        )
    )


def state_problem(env: Environment, parent: Environment | None, verb: str) -> str | None:
    """Why ``env`` cannot be merged or synchronized now (``verb``: "merged" or
    "synchronized"), or None."""
    if parent is None:
        return f"The environment {env.name} has no parent, so it cannot be {verb}."
    for one in (env, parent):
        if one.status != "active":
            state = "paused" if one.status == "paused" else "not active"
            return f"The environment {one.name} is {state}, so {env.name} cannot be {verb}."
    return None


def _check(
    session: Session, grants: ProjectGrants, action: str, env: Environment, verb: str
) -> Environment:
    parent = parent_of(session, env)
    for one in (env, parent):
        if one is not None and not grants.can_env(action, one.type):  # type: ignore[arg-type]
            raise Forbidden(env_refusal(action, one.type))
    problem = state_problem(env, parent, verb)
    if problem is not None:
        raise Conflict(problem)
    assert parent is not None
    return parent


def merge(session: Session, grants: ProjectGrants, env: Environment) -> Activity:
    """Merge ``env``'s code into its parent; the worker merges with git and deploys
    the parent, whose data stays as it is."""
    parent = _check(session, grants, "merge", env, "merged")
    actor = grants.account
    return activities.record(
        session,
        project_id=env.project_id,
        type="environment.merge",
        actor=actor,
        phrase=Phrase()
        .add(activities.user_markup(actor))
        .add(" merged ")
        .add(env_markup(env.name, env.title))
        .add(" into ")
        .add(env_markup(parent.name, parent.title)),
        # The parent first: it is the environment the activity changes and deploys.
        environments=[parent.name, env.name],
        payload={
            "environment": {"id": parent.name, "name": parent.name, "title": parent.title},
            "from": {"id": env.name, "title": env.title},
            "production": parent.type == "production",
        },
        parameters={"environment": parent.name, "from": env.name, "into": parent.name},
        pending=True,
        queue_key=queue_key(parent.project_id, parent.name),
    )


def synchronize(
    session: Session,
    grants: ProjectGrants,
    env: Environment,
    *,
    code: bool,
    data: bool,
    rebase: bool = False,
) -> Activity:
    """Bring the parent's code (merged, or with ``rebase`` the child's commits replayed
    on top) and/or data into ``env``; the worker does it and redeploys ``env``."""
    if not code and not data:
        raise Invalid("You must synchronize at least code or data.")
    if rebase and not code:
        raise Invalid.field("rebase", "Rebasing applies to synchronizing code.")
    parent = _check(session, grants, "synchronize", env, "synchronized")
    actor = grants.account
    phrase = (
        Phrase()
        .add(activities.user_markup(actor))
        .add(" synchronized ")
        .add(env_markup(env.name, env.title))
        .add("'s ")
    )
    if code:
        phrase.add(strong("code"))
    if code and data:
        phrase.add(" and ")
    if data:
        phrase.add(strong("data"))
    return activities.record(
        session,
        project_id=env.project_id,
        type="environment.synchronize",
        actor=actor,
        phrase=phrase.add(" from ").add(env_markup(parent.name, parent.title)),
        environments=[env.name],
        payload={
            "environment": {"id": env.name, "name": env.name, "title": env.title},
            "parent": {"id": parent.name, "title": parent.title},
            "production": env.type == "production",
        },
        parameters={
            "environment": env.name,
            "from": parent.name,
            "synchronize_code": code,
            "synchronize_data": data,
            "rebase": rebase,
        },
        pending=True,
        queue_key=queue_key(env.project_id, env.name),
    )
