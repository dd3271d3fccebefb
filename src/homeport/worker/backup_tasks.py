"""Worker handlers for ``environment.backup`` and ``environment.restore``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import select

from homeport.domain import backups
from homeport.domain import environments as envs
from homeport.domain.backup_archive import (
    ArchiveError,
    Progress,
    restore_archive,
    write_archive,
)
from homeport.domain.projects import get_project
from homeport.git.repos import ZERO, GitError, branch_head, git, repo_path, update_branch
from homeport.runtime.sandbox import give_to_sandbox
from homeport.store.blobstore import BlobStore, ChecksumMismatch
from homeport.store.models import Backup, Deployment
from homeport.store.types import utcnow
from homeport.worker import metrics
from homeport.worker.context import ActivityContext, TaskFailed

MiB = 1024 * 1024


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB"


_VERBS = {"backup": "Archived", "verify": "Verified", "restore": "Restored"}


def _reporter(
    ctx: ActivityContext,
    verb: str,
    low: int,
    high: int,
    phases: Mapping[str, tuple[int, int]] | None = None,
) -> Callable[[Progress], None]:
    """Log files and bytes, and move completion_percent between ``low`` and ``high``
    (or, per phase, within ``phases[phase]``, so it never goes back)."""
    last = [0.0]
    slow = ctx.settings.test_slow_progress

    def report(p: Progress) -> None:
        if slow:
            time.sleep(slow)  # TEST ONLY slowdown (HOMEPORT_TEST_SLOW_PROGRESS)
        if p.note:
            ctx.log(p.note)
        now = time.monotonic()
        if now - last[0] < 0.5 and p.files_done < p.files_total:
            return
        last[0] = now
        ctx.log(
            f"{_VERBS.get(p.phase, verb)} {p.files_done} of {p.files_total} files, "
            f"{_size(p.bytes_done)} of {_size(p.bytes_total)}"
        )
        lo, hi = (phases or {}).get(p.phase, (low, high))
        ctx.progress(lo + (hi - lo) * p.percent // 100)
        ctx.check_cancelled()

    return report


def scratch_dir(data_dir: Path, backup_id: str) -> Path:
    """Where a backup's archive is written before it is stored (removed after a crash)."""
    return data_dir / "tmp" / f"backup-{backup_id}"


def _interval(ctx: ActivityContext) -> float:
    """Seconds between progress reports (every file under the test-only slowdown)."""
    return 0.0 if ctx.settings.test_slow_progress else 0.5


def make_backup_handler(blobs: BlobStore, quota: int) -> Callable[[ActivityContext], None]:
    """The ``environment.backup`` handler over ``blobs``."""

    def backup(ctx: ActivityContext) -> None:
        began = time.monotonic()
        params = ctx.activity.parameters
        backup_id = str(params["backup_name"])
        safe = bool(params.get("safe", True))
        with ctx.session() as session:
            project = get_project(session, ctx.activity.project_id)
            env = envs.get_environment(session, project, ctx.activity.environments[0])
            if env.status != "active":
                raise TaskFailed("The environment is no longer active.")
            data_dir = envs.data_dir(ctx.settings.environments_dir, env)
            metadata = {
                "project": project.id,
                "environment": env.name,
                "backup_id": backup_id,
                "head_commit": env.head_commit,
                "safe": safe,
                "variables": backups.variables_snapshot(session, project, env),
            }
            key = backups.blob_key(project.id, env, backup_id)
            # The code of a backup is what runs, else what was pushed last.
            deployed = session.scalar(
                select(Deployment.commit).where(Deployment.environment_pk == env.pk)
            )
            env_pk, env_name, commit = env.pk, env.name, deployed or env.head_commit
        data_dir.mkdir(parents=True, exist_ok=True)
        area = data_dir.parent
        if safe:
            ctx.log("Safe backup: pausing the environment's writers for the copy.")
        else:
            ctx.log("Live backup: the environment keeps running during the copy.")
        scratch = scratch_dir(ctx.settings.data_dir, backup_id)
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            archive = scratch / f"{backup_id}.tar.zst"
            with backups.writers_paused(area) if safe else nullcontext():
                info = write_archive(data_dir, archive, metadata, _reporter(ctx, "Archived", 0, 90))
            if safe:
                ctx.log("The environment's writers are running again.")
            ctx.log(f"Archive written: {info.files} files, {_size(info.archive_bytes)} compressed.")
            # The store checks what it received against the digest of the bytes written
            # (and stores nothing on a mismatch), so the archive is not read back: its
            # manifest was built from the very bytes archived, and restoring verifies the
            # whole archive again before anything is replaced.
            try:
                blobs.put(key, archive, move=True, sha256=info.archive_sha256)
            except ChecksumMismatch as exc:
                raise TaskFailed(f"The archive was not stored intact: {exc}") from exc
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        ctx.progress(95)
        ctx.log(f"Stored and checked: SHA-256 {info.archive_sha256}.")
        if ctx.settings.test_slow_progress:
            # TEST ONLY (HOMEPORT_TEST_SLOW_PROGRESS): a window between storing the
            # archive and recording the backup, the worst moment to be killed.
            time.sleep(ctx.settings.test_slow_progress * 40)
        with ctx.session() as session:
            session.add(
                Backup(
                    id=backup_id,
                    project_id=ctx.activity.project_id,
                    environment_pk=env_pk,
                    environment_name=env_name,
                    status="CREATED",
                    restorable=True,
                    safe=safe,
                    automated=False,
                    commit_id=commit,
                    blob_key=key,
                    manifest_sha256=info.manifest_sha256,
                    files=info.files,
                    size_of_volumes=info.bytes,
                    size_used=blobs.size(key),
                    activity_id=ctx.activity.id,
                )
            )
            session.flush()
            project = get_project(session, ctx.activity.project_id)
            env = envs.get_environment(session, project, env_name)
            env.last_backup_at = utcnow()
            removed = backups.enforce_quota(session, env, quota, blobs)
        for old in removed:
            ctx.log(f"Deleted the oldest manual backup {old} (quota: {quota}).")
        ctx.log(f"Backup {backup_id} is complete and restorable.")
        metrics.backup_written(info.archive_bytes, time.monotonic() - began)

    return backup


def _code_to_restore(ctx: ActivityContext, branch: str, commit: str | None) -> str | None:
    """Reset the branch to the backup's commit; the deploy that follows runs it."""
    if not commit:
        ctx.log("Code: the backup recorded no commit; the code was left as it is.")
        return None
    repo = repo_path(ctx.settings.git_dir, ctx.activity.project_id)
    current = branch_head(repo, branch)
    if current == commit:
        ctx.log(f"Code: {branch} is already at the backup's commit {commit[:7]}.")
        return None
    try:
        git(repo, "cat-file", "-e", f"{commit}^{{commit}}")
        update_branch(repo, branch, commit, current or ZERO)
    except GitError:
        ctx.log(f"Code: commit {commit[:7]} is no longer in the repository; the code was kept.")
        return None
    ctx.log(f"Code: {branch} was reset to the backup's commit {commit[:7]}.")
    return commit


def make_restore_handler(blobs: BlobStore) -> Callable[[ActivityContext], None]:
    """The ``environment.restore`` handler over ``blobs``."""

    def restore(ctx: ActivityContext) -> None:
        params = ctx.activity.parameters
        with ctx.session() as session:
            project = get_project(session, ctx.activity.project_id)
            target = envs.get_environment(session, project, ctx.activity.environments[0])
            row = (
                session.query(Backup).filter(Backup.id == str(params["backup_name"])).one_or_none()
            )
            if row is None or not row.restorable:
                raise TaskFailed("The backup is gone or not restorable.")
            if target.status not in ("active", "dirty"):
                raise TaskFailed(f"{target.name} is no longer active; nothing was restored.")
            key, digest, commit = row.blob_key, row.manifest_sha256, row.commit_id
            data_dir = envs.data_dir(ctx.settings.environments_dir, target)
        ctx.log(f"Restoring backup {params['backup_name']} into {target.name}.")
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            restore_archive(
                lambda: blobs.open(key),
                data_dir,
                _reporter(ctx, "Restored", 0, 95, {"verify": (0, 45), "restore": (45, 95)}),
                expected_manifest_sha256=digest,
                progress_interval=_interval(ctx),
            )
        except ArchiveError as exc:
            ctx.log(f"The archive failed verification; nothing was changed: {exc}")
            raise
        # Restored files belong to whoever wrote them: hand the mounts back to the apps.
        give_to_sandbox(data_dir / "mounts")
        reset_to = (
            _code_to_restore(ctx, target.name, commit) if params.get("restore_code", True) else None
        )
        with ctx.session() as session:
            project = get_project(session, ctx.activity.project_id)
            target = envs.get_environment(session, project, ctx.activity.environments[0])
            if target.status == "dirty":
                target.status = "active"
            if reset_to is not None:
                target.head_commit = reset_to
            target.needs_redeploy = True
        ctx.log("The data was restored.")

    return restore
