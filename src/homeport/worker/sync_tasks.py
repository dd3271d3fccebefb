"""The worker's side of ``environment.merge`` and ``environment.synchronize``: move
the git branch (merge, fast-forward or rebase), copy the parent's data, redeploy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from homeport.domain import environments as envs
from homeport.domain.projects import get_project
from homeport.git import merging
from homeport.git.merging import Author, MergeConflict, Outcome, UnrelatedHistories
from homeport.git.push import invalid_config
from homeport.git.refs import RefUpdate
from homeport.git.repos import ZERO, GitError, repo_path
from homeport.runtime.sandbox import give_to_sandbox
from homeport.store.models import Account
from homeport.worker.context import ActivityContext, TaskFailed

Step = Callable[[ActivityContext], None]

_HOW = {
    "fast-forward": "Fast-forwarded {target} to {commit}",
    "merge": "Merged {source} into {target}: new commit {commit}",
    "rebase": "Rebased {target} onto {source}: now at {commit}",
    "created": "{target} now starts at {commit}",
}


def _author(ctx: ActivityContext) -> Author:
    with ctx.session() as session:
        actor = session.get(Account, ctx.activity.actor_id) if ctx.activity.actor_id else None
        if actor is None:
            return Author("Homeport", "homeport@localhost")
        return Author(actor.display_name, actor.email)


def _apply(ctx: ActivityContext, repo: Path, branch: str, outcome: Outcome, source: str) -> bool:
    """Check the new commit's configuration and move ``branch``; whether it moved."""
    if not outcome.changed or outcome.new is None:
        ctx.log(f"{branch} is already up to date with {source}")
        return False
    update = RefUpdate(outcome.old or ZERO, outcome.new, f"refs/heads/{branch}")
    reason = invalid_config(repo, update, ctx.settings.cron_min_interval)
    if reason is not None:
        raise TaskFailed(f"{reason}\nNothing was changed.")
    ctx.check_cancelled()
    try:
        merging.move(repo, branch, outcome)
    except GitError:
        raise TaskFailed(
            f"The branch {branch} moved while this ran (a push?); nothing was changed. Try again."
        ) from None
    with ctx.session() as session:
        env = envs.get_environment(session, get_project(session, ctx.activity.project_id), branch)
        env.head_commit, env.has_code = outcome.new, True
    ctx.log(_HOW[outcome.how].format(target=branch, source=source, commit=outcome.new[:7]))
    return True


def _conflict(exc: MergeConflict, hint: str) -> TaskFailed:
    return TaskFailed(f"{exc}. Nothing was changed.\n{hint}")


def _unrelated(child: str, parent: str) -> TaskFailed:
    return TaskFailed(f"{child} and {parent} have no commit in common; nothing was changed.")


def merge(ctx: ActivityContext, deploy: Step) -> None:
    """Merge the child's branch into the parent's, then deploy the parent."""
    params = ctx.activity.parameters
    source, target = str(params["from"]), str(params["into"])
    repo = repo_path(ctx.settings.git_dir, ctx.activity.project_id)
    ctx.log(f"Merging {source} into {target}")
    try:
        outcome = merging.merged_commit(repo, target, source, _author(ctx))
    except MergeConflict as exc:
        hint = (
            f"Bring {target} into {source} first (platform sync code -e {source}, or a "
            "git merge pushed to it), resolve the conflicts, then merge again."
        )
        raise _conflict(exc, hint) from None
    except UnrelatedHistories:
        raise _unrelated(source, target) from None
    except GitError as exc:
        raise TaskFailed(f"git could not merge: {exc}") from None
    ctx.progress(30)
    if _apply(ctx, repo, target, outcome, source):
        deploy(ctx)


def synchronize(ctx: ActivityContext, deploy: Step, stop: Step | None = None) -> None:
    """Bring the parent's code and/or data into the environment, then redeploy it."""
    params = ctx.activity.parameters
    target, source = ctx.activity.environments[0], str(params["from"])
    changed = False
    if params.get("synchronize_code"):
        changed = _sync_code(ctx, target, source, rebase=bool(params.get("rebase")))
    if params.get("synchronize_data"):
        if stop is not None:
            stop(ctx)  # nothing may write to the data while it is replaced
        _sync_data(ctx, target, source)
        changed = True
    if changed:
        deploy(ctx)


def _sync_code(ctx: ActivityContext, target: str, source: str, *, rebase: bool) -> bool:
    repo = repo_path(ctx.settings.git_dir, ctx.activity.project_id)
    ctx.log(f"Synchronizing the code of {target} from {source}" + (" (rebase)" if rebase else ""))
    author = _author(ctx)
    try:
        if rebase:
            outcome = merging.rebased_commit(repo, target, source, author)
        else:
            outcome = merging.merged_commit(repo, target, source, author)
    except MergeConflict as exc:
        hint = f"Merge {source} into {target} with git, resolve the conflicts and push."
        raise _conflict(exc, hint) from None
    except UnrelatedHistories:
        raise _unrelated(target, source) from None
    except GitError as exc:
        raise TaskFailed(f"git could not synchronize: {exc}") from None
    ctx.progress(30)
    return _apply(ctx, repo, target, outcome, source)


def _sync_data(ctx: ActivityContext, target: str, source: str) -> None:
    with ctx.session() as session:
        project = get_project(session, ctx.activity.project_id)
        root = ctx.settings.environments_dir
        target_dir = envs.data_dir(root, envs.get_environment(session, project, target))
        source_dir = envs.data_dir(root, envs.get_environment(session, project, source))
    ctx.log(f"Copying the data of {source} into {target}")
    fresh = target_dir.with_name("data.sync-new")
    old = target_dir.with_name("data.sync-old")
    for leftover in (fresh, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    # Copy aside, then swap: a failure midway leaves the environment's data as it was.
    if source_dir.is_dir():
        shutil.copytree(source_dir, fresh, symlinks=True)
    else:
        fresh.mkdir(parents=True)
    give_to_sandbox(fresh / "mounts")
    ctx.check_cancelled()
    if target_dir.exists():
        target_dir.rename(old)
    fresh.rename(target_dir)
    shutil.rmtree(old, ignore_errors=True)
    ctx.progress(70)
    ctx.log(f"The data of {target} is now a copy of {source}'s")
