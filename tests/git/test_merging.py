"""Merges and rebases in a bare repository with real git: fast-forwards, merge
commits, replayed commits, conflicts that change nothing, and refs that moved."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from homeport.git import merging
from homeport.git.merging import Author, MergeConflict
from homeport.git.repos import GitError, branch_head, git, is_ancestor

SYNCER = Author("Sam Sync", "sam@example.com")


def _git(cwd: Path, *args: str, name: str = "Dev") -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=f"{name.lower()}@example.com",
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=f"{name.lower()}@example.com",
    )
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Repo:
    """A bare repository and a work tree that pushes into it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "bare.git"
        self.work = root / "work"
        _git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        _git(root, "init", "-q", "-b", "main", str(self.work))
        _git(self.work, "remote", "add", "origin", str(self.bare))

    def commit(self, branch: str, path: str, text: str, name: str = "Dev") -> str:
        """Commit ``text`` into ``path`` on ``branch`` and push it."""
        exists = _git(self.work, "branch", "--list", branch).strip()
        _git(self.work, "checkout", "-q", *([] if exists else ["-b"]), branch)
        (self.work / path).write_text(text)
        _git(self.work, "add", path)
        _git(self.work, "commit", "-qm", f"{path}: {text}", name=name)
        _git(self.work, "push", "-q", "origin", branch)
        return _git(self.work, "rev-parse", "HEAD").strip()

    def show(self, commit: str, path: str) -> str:
        return git(self.bare, "show", f"{commit}:{path}")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    made = Repo(tmp_path)
    made.commit("main", "a.txt", "one")
    _git(made.work, "checkout", "-qb", "feature")
    return made


def test_a_child_ahead_fast_forwards_its_parent(repo: Repo) -> None:
    tip = repo.commit("feature", "b.txt", "feature work")
    outcome = merging.merged_commit(repo.bare, "main", "feature", SYNCER)
    assert (outcome.how, outcome.new) == ("fast-forward", tip)
    assert branch_head(repo.bare, "main") != tip  # nothing moves before `move`
    merging.move(repo.bare, "main", outcome)
    assert branch_head(repo.bare, "main") == tip


def test_diverged_branches_get_a_merge_commit_by_the_actor(repo: Repo) -> None:
    main = repo.commit("main", "m.txt", "hotfix")
    feature = repo.commit("feature", "f.txt", "feature")
    outcome = merging.merged_commit(repo.bare, "main", "feature", SYNCER)
    assert outcome.how == "merge" and outcome.old == main and outcome.new
    merging.move(repo.bare, "main", outcome)
    head = branch_head(repo.bare, "main")
    parents = git(repo.bare, "show", "-s", "--format=%P", "HEAD").split()
    assert parents == [main, feature]
    assert git(repo.bare, "show", "-s", "--format=%an <%ae>|%s", "main").strip() == (
        "Sam Sync <sam@example.com>|Merge branch 'feature' into main"
    )
    assert head and repo.show(head, "m.txt") == "hotfix" and repo.show(head, "f.txt") == "feature"


def test_up_to_date_and_missing_branches_change_nothing(repo: Repo) -> None:
    main = branch_head(repo.bare, "main")
    outcome = merging.merged_commit(repo.bare, "main", "feature", SYNCER)
    # `feature` was never pushed: nothing to merge.
    assert (outcome.how, outcome.changed) == ("up-to-date", False)
    repo.commit("feature", "b.txt", "x")
    behind = merging.merged_commit(repo.bare, "feature", "main", SYNCER)
    assert (behind.how, behind.changed) == ("up-to-date", False)
    merging.move(repo.bare, "feature", behind)  # a no-op
    assert branch_head(repo.bare, "main") == main


def test_a_conflict_names_the_files_and_moves_nothing(repo: Repo) -> None:
    main = repo.commit("main", "a.txt", "main's line")
    feature = repo.commit("feature", "a.txt", "feature's line")
    with pytest.raises(MergeConflict) as caught:
        merging.merged_commit(repo.bare, "main", "feature", SYNCER)
    assert caught.value.paths == ["a.txt"] and "a.txt" in str(caught.value)
    with pytest.raises(MergeConflict):
        merging.rebased_commit(repo.bare, "feature", "main", SYNCER)
    assert branch_head(repo.bare, "main") == main
    assert branch_head(repo.bare, "feature") == feature


def test_rebase_replays_the_childs_commits_keeping_their_authors(repo: Repo) -> None:
    repo.commit("feature", "f1.txt", "first", name="Ada")
    old = repo.commit("feature", "f2.txt", "second", name="Ada")
    main = repo.commit("main", "m.txt", "upstream")
    outcome = merging.rebased_commit(repo.bare, "feature", "main", SYNCER)
    assert outcome.how == "rebase" and outcome.old == old and outcome.new
    merging.move(repo.bare, "feature", outcome)
    log = git(repo.bare, "log", "--format=%an|%cn|%s", "main..feature").splitlines()
    assert log == ["Ada|Sam Sync|f2.txt: second", "Ada|Sam Sync|f1.txt: first"]
    assert is_ancestor(repo.bare, main, outcome.new)  # linear on top of main
    assert git(repo.bare, "rev-list", "--merges", "main..feature") == ""
    assert repo.show(outcome.new, "m.txt") == "upstream"
    assert repo.show(outcome.new, "f2.txt") == "second"


def test_a_branch_that_moved_meanwhile_is_not_overwritten(repo: Repo) -> None:
    repo.commit("feature", "b.txt", "feature")
    repo.commit("main", "m.txt", "main")
    outcome = merging.merged_commit(repo.bare, "main", "feature", SYNCER)
    pushed = repo.commit("main", "n.txt", "a push got there first")
    with pytest.raises(GitError):
        merging.move(repo.bare, "main", outcome)
    assert branch_head(repo.bare, "main") == pushed
