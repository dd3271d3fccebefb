"""Bare repositories, one per project, under ``<data dir>/git``; real ``git`` does the work.

Every ref update of a push goes through the ``proc-receive`` hook (``homeport.git.hook``),
which asks the one policy per ref, updates the refs itself and records the push: git
runs it for every ``refs/heads/*`` update because of ``receive.procReceiveRefs``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ZERO = "0" * 40
_HOOK = """#!/bin/sh
# Homeport: every branch update is checked by the access policy and recorded, by the
# running server (the client hands it this hook's pipes), else by this process alone.
exec {python} -I -S {client}
"""
_CLIENT = Path(__file__).with_name("hook_client.py")


class GitError(Exception):
    """A git command failed; ``message`` is git's own, for the server log."""


def repo_path(git_root: Path, project_id: str) -> Path:
    """Where the project's bare repository lives."""
    return git_root / f"{project_id}.git"


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    """Run ``git`` in ``repo``; its stdout, or GitError with its stderr."""
    return git_bytes(repo, *args, input=input).decode(errors="replace")


def git_bytes(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    """Run ``git`` in ``repo``; its stdout as bytes (trees, blobs, archives)."""
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=input,
        capture_output=True,
        env=plain_env(),
        check=False,
    )
    if done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip())
    return done.stdout


def plain_env() -> dict[str, str]:
    """The environment without any GIT_* a caller (or a hook) may have inherited."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def create_repo(git_root: Path, project_id: str, default_branch: str) -> Path:
    """Create (or repair) the bare repository of a project, with Homeport's hook."""
    path = repo_path(git_root, project_id)
    git_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (path / "HEAD").exists():
        subprocess.run(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
            check=True,
            capture_output=True,
            env=plain_env(),
        )
    for key, value in (
        ("receive.procReceiveRefs", "refs/heads"),
        ("receive.advertisePushOptions", "true"),
        # The hook decides about deletes and non-fast-forwards, per the policy.
        ("receive.denyDeletes", "false"),
        ("receive.denyNonFastForwards", "false"),
        ("receive.denyDeleteCurrent", "false"),
        ("http.receivepack", "true"),
        ("uploadpack.allowFilter", "true"),
        ("core.logAllRefUpdates", "true"),
        ("gc.auto", "0"),
        # A push's pack may be large, not endless.
        ("receive.maxInputSize", "4g"),
    ):
        git(path, "config", key, value)
    install_hook(path)
    return path


def install_hook(path: Path) -> None:
    """(Re)write the repository's `proc-receive` hook for this installation."""
    hook = path / "hooks" / "proc-receive"
    text = _HOOK.format(python=sys.executable, client=_CLIENT)
    if hook.is_file() and hook.read_text() == text:
        return  # every start checks every repository: write only what changed
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(text)
    hook.chmod(0o700)


def delete_repo(git_root: Path, project_id: str) -> None:
    """Remove the project's repository (the project is gone)."""
    shutil.rmtree(repo_path(git_root, project_id), ignore_errors=True)


def branch_head(repo: Path, branch: str) -> str | None:
    """The commit a branch points at, or None."""
    try:
        return git(
            repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"
        ).strip()
    except GitError:
        return None


def update_branch(repo: Path, branch: str, new: str, old: str) -> None:
    """Move (or create, or with ``new`` = ZERO delete) a branch, only if it is at ``old``."""
    if new == ZERO:
        git(repo, "update-ref", "-d", f"refs/heads/{branch}", old)
    else:
        git(repo, "update-ref", f"refs/heads/{branch}", new, old)


def is_ancestor(repo: Path, old: str, new: str) -> bool:
    """Whether ``new`` contains ``old`` (a fast-forward)."""
    done = subprocess.run(
        ["git", "--git-dir", str(repo), "merge-base", "--is-ancestor", old, new],
        capture_output=True,
        env=plain_env(),
        check=False,
    )
    return done.returncode == 0
