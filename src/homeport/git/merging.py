"""Merges and rebases inside a bare repository, for ``#merge`` and ``#synchronize``.

Real git does the work: ``git merge-tree --write-tree`` (git 2.38 and later) computes
a merge's tree without a work tree, ``commit-tree`` records it, a rebase runs ``git
rebase`` in a throwaway work tree, and ``update-ref`` moves the branch only if nobody
moved it meanwhile. A conflict changes nothing.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from homeport.git.repos import (
    GitError,
    branch_head,
    git,
    is_ancestor,
    plain_env,
    update_branch,
)

# Past this many commits a rebase is refused: each one is a merge of its own.
MAX_REBASE_COMMITS = 500


class UnrelatedHistories(Exception):
    """The two branches share no commit: git refuses to merge them."""


class MergeConflict(Exception):
    """The two histories touch the same lines; ``paths`` are the conflicted files."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
        super().__init__(f"Merge conflict in {shown or 'the tree'}")


@dataclass(frozen=True)
class Author:
    """Who a new commit is recorded under."""

    name: str
    email: str


@dataclass(frozen=True)
class Outcome:
    """What happened to the target branch: ``how`` is ``up-to-date``, ``fast-forward``,
    ``merge``, ``rebase`` or ``created``; ``old``/``new`` its commits (old may be None)."""

    how: str
    old: str | None
    new: str | None

    @property
    def changed(self) -> bool:
        """Whether the branch moved."""
        return self.old != self.new


def _env(author: Author) -> dict[str, str]:
    env = plain_env()
    env.update(
        GIT_AUTHOR_NAME=author.name,
        GIT_AUTHOR_EMAIL=author.email,
        GIT_COMMITTER_NAME=author.name,
        GIT_COMMITTER_EMAIL=author.email,
    )
    return env


def _merge_tree(repo: Path, ours: str, theirs: str) -> str:
    """The tree of merging ``theirs`` into ``ours``; MergeConflict when they clash."""
    args = ["git", "--git-dir", str(repo), "merge-tree", "--write-tree", "--name-only"]
    done = subprocess.run(
        [*args, ours, theirs],
        capture_output=True,
        env=plain_env(),
        check=False,
    )
    out = done.stdout.decode(errors="replace")
    if done.returncode == 1:
        # The tree id, then the conflicted paths, then a blank line and messages.
        paths = out.split("\n\n", 1)[0].splitlines()[1:]
        raise MergeConflict(sorted(set(paths)))
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        if "unrelated histories" in error:
            raise UnrelatedHistories()
        raise GitError(error)
    return out.splitlines()[0].strip()


def _commit(repo: Path, tree: str, parents: list[str], message: str, author: Author) -> str:
    args = ["git", "--git-dir", str(repo), "commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    done = subprocess.run(
        args,
        input=message.encode(),
        capture_output=True,
        env=_env(author),
        check=False,
    )
    if done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip())
    return done.stdout.decode().strip()


def _without_new_commit(repo: Path, old: str | None, incoming: str | None) -> Outcome | None:
    """The outcome when bringing ``incoming`` to a branch at ``old`` needs no new commit
    (nothing to bring, a new branch, already contained, a fast-forward), else None."""
    if incoming is None:
        return Outcome("up-to-date", old, old)
    if old is None:
        return Outcome("created", None, incoming)
    if is_ancestor(repo, incoming, old):
        return Outcome("up-to-date", old, old)
    if is_ancestor(repo, old, incoming):
        return Outcome("fast-forward", old, incoming)
    return None


def merged_commit(repo: Path, target: str, source: str, author: Author) -> Outcome:
    """The commit ``target`` would point at after merging ``source`` into it
    (a fast-forward when possible, else a merge commit); nothing moves yet."""
    new_source = branch_head(repo, source)
    old = branch_head(repo, target)
    trivial = _without_new_commit(repo, old, new_source)
    if trivial is not None:
        return trivial
    assert old is not None and new_source is not None
    tree = _merge_tree(repo, old, new_source)
    message = f"Merge branch '{source}' into {target}\n"
    return Outcome("merge", old, _commit(repo, tree, [old, new_source], message, author))


def rebased_commit(repo: Path, target: str, onto: str, author: Author) -> Outcome:
    """The commit ``target`` would point at after replaying its own commits (merges
    left out, as ``git rebase`` does) on top of ``onto``; nothing moves yet."""
    base = branch_head(repo, onto)
    old = branch_head(repo, target)
    trivial = _without_new_commit(repo, old, base)
    if trivial is not None:
        return trivial
    assert old is not None and base is not None
    count = len(git(repo, "rev-list", "--no-merges", f"{base}..{old}").split())
    if count > MAX_REBASE_COMMITS:
        raise GitError(
            f"{count} commits to rebase; at most {MAX_REBASE_COMMITS} are replayed "
            "(synchronize by merging instead)"
        )
    return Outcome("rebase", old, _rebase_in_worktree(repo, old, base, author))


def _rebase_in_worktree(repo: Path, old: str, base: str, author: Author) -> str:
    # git rebase needs a work tree: a throwaway one, detached, that nothing serves;
    # authors and dates are kept, the committer is who synced.
    with tempfile.TemporaryDirectory(prefix="homeport-rebase-") as scratch:
        tree = Path(scratch) / "tree"
        env = _env(author)
        quiet = ["-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false"]

        def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
            where = ["-C", str(cwd)] if cwd else ["--git-dir", str(repo)]
            return subprocess.run(
                ["git", *where, *quiet, *args],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )

        added = run("worktree", "add", "--detach", "--quiet", str(tree), old)
        if added.returncode != 0:
            raise GitError(added.stderr.strip())
        try:
            done = run("rebase", "--quiet", base, cwd=tree)
            if done.returncode != 0:
                conflicted = run("diff", "--name-only", "--diff-filter=U", cwd=tree)
                paths = sorted(set(conflicted.stdout.split()))
                run("rebase", "--abort", cwd=tree)
                if paths:
                    raise MergeConflict(paths)
                raise GitError(done.stderr.strip())
            return run("rev-parse", "HEAD", cwd=tree).stdout.strip()
        finally:
            run("worktree", "remove", "--force", str(tree))
            run("worktree", "prune")


def move(repo: Path, branch: str, outcome: Outcome) -> None:
    """Point ``branch`` at the outcome's commit, only if it still is where it was
    (GitError when someone pushed meanwhile)."""
    if outcome.changed and outcome.new is not None:
        update_branch(repo, branch, outcome.new, outcome.old or "0" * 40)
