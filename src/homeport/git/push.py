"""A push, ref by ref: ask the policy, move the ref, make git and environments agree,
and record ``environment.push`` under the pusher's name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from homeport.domain import activities, cronspec
from homeport.domain import environments as envs
from homeport.domain.activities import Phrase, env_markup
from homeport.domain.errors import DomainError, NotFound
from homeport.domain.policy import ProjectGrants
from homeport.git.refs import PushOptions, RefUpdate, refusal
from homeport.git.repos import GitError, git, update_branch
from homeport.runtime.appconfig import ConfigError
from homeport.runtime.repo_config import load_commit_config
from homeport.store.models import Activity, Environment, Project

MAX_COMMITS_LISTED = 100


@dataclass(frozen=True)
class Scan:
    """What reading the pushed objects found for one ref (slow: done before the write
    transaction, so no one waits for it)."""

    too_large: str | None
    commits: list[dict[str, Any]]
    count: int


def scan(repo: Path, update: RefUpdate, max_file_size: int, cron_min_interval: int = 300) -> Scan:
    """Read the objects a ref update brings: an oversized file, invalid app
    configuration, and the commits."""
    oversized = too_large(repo, update, max_file_size)
    if oversized is not None:
        return Scan(oversized, [], 0)
    invalid = invalid_config(repo, update, cron_min_interval)
    if invalid is not None:
        return Scan(invalid, [], 0)
    listed, count = commits(repo, update)
    return Scan(None, listed, count)


def invalid_config(repo: Path, update: RefUpdate, cron_min_interval: int = 300) -> str | None:
    """Why the pushed commit's app configuration is refused, or None (platform-deploy.md
    §2.1: invalid configuration changes nothing on the server). Crons that would run
    more often than ``cron_min_interval`` seconds are refused too."""
    if update.deleting:
        return None
    try:
        config = load_commit_config(repo, update.new)
    except ConfigError as exc:
        errors = exc.errors
    else:
        errors = [
            f"{app.source_file}: crons.{cron.name}.spec: {problem}"
            for app in config.apps
            for cron in app.crons.values()
            if (problem := cronspec.interval_error(cron.spec, cron_min_interval)) is not None
        ]
    if not errors:
        return None
    first, more = errors[0], len(errors) - 1
    extra = f" (and {more} more)" if more else ""
    return f"Homeport: invalid configuration: {first}{extra}"


@dataclass
class RefResult:
    """What happened to one ref: ``reason`` is None when it was accepted."""

    update: RefUpdate
    reason: str | None = None
    activity_ids: list[str] = field(default_factory=list)


def _span(update: RefUpdate) -> list[str]:
    # Before the ref moves, a new branch brings what no existing branch reaches.
    if update.creating:
        return [update.new, "--not", "--branches"]
    return [update.new, f"^{update.old}"]


def commits(repo: Path, update: RefUpdate) -> tuple[list[dict[str, Any]], int]:
    """The commits a push brings (newest first, at most 100 listed) and their count."""
    if update.deleting:
        return [], 0
    # Before the ref moves, "new" is everything reachable from new and from no branch.
    span = (
        [update.new, "--not", "--branches"] if update.creating else [f"{update.old}..{update.new}"]
    )
    count = int(git(repo, "rev-list", "--count", *span).strip() or 0)
    out = git(
        repo,
        "log",
        f"--max-count={MAX_COMMITS_LISTED}",
        "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%s%x1e",
        *span,
    )
    listed = []
    for record in out.split("\x1e"):
        fields = record.strip("\n").split("\x00")
        if len(fields) != 6:
            continue
        sha, parents, name, email, date, message = fields
        listed.append(
            {
                "sha": sha,
                "parents": parents.split(),
                "author": {"name": name, "email": email, "date": int(date or 0)},
                "message": message,
            }
        )
    return listed, count


def too_large(repo: Path, update: RefUpdate, limit: int) -> str | None:
    """The first file over ``limit`` bytes the push brings, as a refusal, or None."""
    if update.deleting:
        return None
    span = (
        [update.new, "--not", "--branches"] if update.creating else [update.new, f"^{update.old}"]
    )
    objects = git(repo, "rev-list", "--objects", *span)
    checked = git(
        repo,
        "cat-file",
        "--batch-check=%(objecttype) %(objectsize) %(rest)",
        input=objects.encode(),
    )
    for line in checked.splitlines():
        kind, _, rest = line.partition(" ")
        size, _, path = rest.partition(" ")
        if kind == "blob" and size.isdigit() and int(size) > limit:
            mb = limit // (1024 * 1024)
            return (
                f"Homeport: {path or 'a file'} is {int(size) / 1048576:.0f} MB; files over "
                f"{mb} MB cannot be pushed (the push was rejected)"
            )
    return None


def _phrase(grants: ProjectGrants, env: Environment) -> Phrase:
    return (
        Phrase()
        .add(activities.user_markup(grants.account))
        .add(" pushed to ")
        .add(env_markup(env.name, env.title))
    )


def _record_push(
    session: Session,
    grants: ProjectGrants,
    env: Environment,
    update: RefUpdate,
    listed: list[dict[str, Any]],
    count: int,
    deploy: bool,
    log: list[str],
) -> Activity:
    actor = grants.account
    found = f"Found {count} new commit{'s' if count != 1 else ''}"
    return activities.record(
        session,
        project_id=env.project_id,
        type="environment.push",
        actor=actor,
        phrase=_phrase(grants, env),
        environments=[env.name],
        payload={
            "environment": {"id": env.name, "name": env.name, "title": env.title},
            "production": env.type == "production",
            "commits": listed,
            "commits_count": count,
        },
        parameters={
            "user": actor.id,
            "environment": env.name,
            "old_commit": None if update.creating else update.old,
            "new_commit": update.new,
        },
        pending=deploy,
        queue_key=envs.queue_key(env.project_id, env.name),
        log=[found, *log],
    )


def apply_update(
    session: Session,
    grants: ProjectGrants,
    project: Project,
    repo: Path,
    update: RefUpdate,
    options: PushOptions,
    scanned: Scan,
    environments_root: Path,
) -> RefResult:
    """Decide, move the ref and record, for one ref; never raises for a refusal."""
    try:
        env: Environment | None = envs.get_environment(session, project, update.branch)
    except (NotFound, DomainError):
        env = None
    reason = refusal(grants, project, update, env, options, repo)
    parent: Environment | None = None
    if reason is None and env is None and not update.deleting:
        parent_name = options.parent or project.default_branch
        try:
            parent = envs.get_environment(session, project, parent_name)
        except (NotFound, DomainError):
            parent = None
        # A parent named in a push option that the pusher cannot see is treated as
        # missing (no existence leak); the default environment is always the parent.
        named = options.parent is not None
        if parent is None or (named and not grants.can_env("view", parent.type)):
            parent = None
            reason = f"Homeport: there is no environment {parent_name} to be the parent"
    if reason is None:
        reason = scanned.too_large
    if reason is not None:
        return RefResult(update, reason)
    listed, count = scanned.commits, scanned.count
    result = RefResult(update)
    try:
        # The records first, in a savepoint; the ref moves last, and a ref that cannot
        # move (another push got there first) takes its records back with it.
        with session.begin_nested():
            result.activity_ids = _record(
                session,
                grants,
                project,
                env,
                parent,
                update,
                options,
                listed,
                count,
                environments_root,
            )
            session.flush()  # anything the database refuses, it refuses before git moves
            update_branch(repo, update.branch, update.new, update.old)
    except GitError:
        return RefResult(update, "non-fast-forward")
    except DomainError as exc:
        return RefResult(update, f"Homeport: {exc.message}")
    return result


def _record(
    session: Session,
    grants: ProjectGrants,
    project: Project,
    env: Environment | None,
    parent: Environment | None,
    update: RefUpdate,
    options: PushOptions,
    listed: list[dict[str, Any]],
    count: int,
    environments_root: Path,
) -> list[str]:
    """Make the environments agree with the ref update; the ids of the activities."""
    if update.deleting:
        if env is None:
            return []
        return [envs.delete(session, grants, env, environments_root).id]
    if env is None:
        assert parent is not None
        env = envs.new_environment(
            project.id, update.branch, options.env_type or "development", parent.name, options.title
        )
        env.clone_parent_on_create = options.clone_parent
        session.add(env)
    env.head_commit, env.has_code = update.new, True
    session.flush()
    if env.status == "inactive":
        note = "The environment is inactive: the code is stored, nothing is deployed."
        ids = [_record_push(session, grants, env, update, listed, count, False, [note]).id]
        if options.activate:
            ids.append(envs.activate(session, grants, env).id)
        return ids
    if env.status == "paused":
        note = "The environment is paused: the code is stored and deploys when it is resumed."
        return [_record_push(session, grants, env, update, listed, count, False, [note]).id]
    return [_record_push(session, grants, env, update, listed, count, True, []).id]
