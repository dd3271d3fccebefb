"""Keep git in step when environments change through the API or the console."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from homeport.git.repos import ZERO, GitError, branch_head, repo_path, update_branch


def branch_created(git_root: Path, project_id: str, child: str, parent: str) -> None:
    """An environment branched from ``parent``: its git branch starts at the parent's head."""
    repo = repo_path(git_root, project_id)
    head = branch_head(repo, parent)
    if head is None or branch_head(repo, child) is not None:
        return
    # Someone may have pushed that branch meanwhile: git's version stands.
    with suppress(GitError):
        update_branch(repo, child, head, ZERO)


def branch_deleted(git_root: Path, project_id: str, name: str) -> None:
    """An environment was deleted: so is its git branch."""
    repo = repo_path(git_root, project_id)
    head = branch_head(repo, name)
    if head is None:
        return
    with suppress(GitError):
        update_branch(repo, name, ZERO, head)
