"""The tree id is Platform.sh's (checked against git itself) and the build key
changes exactly when a build must be redone."""

from __future__ import annotations

import subprocess
from pathlib import Path

from homeport.runtime.build import build_key, export_tree, tree_id


def _git(repo: Path, *args: str, input: str | None = None) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, input=input, capture_output=True, text=True, check=True
    ).stdout


def _repo(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "work"
    (work / "backend" / "src").mkdir(parents=True)
    (work / ".platform").mkdir()
    (work / ".platform" / "routes.yaml").write_text("{}\n")
    (work / ".platform.app.yaml").write_text("name: app\n")
    (work / "index.py").write_text("print('hi')\n")
    (work / "run.sh").write_text("#!/bin/sh\n")
    (work / "run.sh").chmod(0o755)
    (work / "backend" / ".platform.app.yaml").write_text("name: api\n")
    (work / "backend" / "src" / "main.py").write_text("x = 1\n")
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "one")
    return work, _git(work, "rev-parse", "HEAD").strip()


def _reference(work: Path, path: str) -> str:
    """platform-deploy.md §3.1, run literally: ls-tree, drop the two, mktree."""
    listing = _git(work, "ls-tree", f"HEAD:{path}" if path else "HEAD")
    kept = [
        line
        for line in listing.splitlines()
        if not line.endswith("\t.platform") and not line.endswith("\t.platform.app.yaml")
    ]
    return _git(work, "mktree", input="\n".join(kept) + "\n").strip()


def test_tree_id_matches_git_for_the_root_and_a_subdirectory_app(tmp_path: Path) -> None:
    work, commit = _repo(tmp_path)
    repo = work / ".git"
    assert tree_id(repo, commit, "") == _reference(work, "")
    assert tree_id(repo, commit, "backend") == _reference(work, "backend")
    assert tree_id(repo, commit, "") != tree_id(repo, commit, "backend")


def test_config_files_do_not_change_the_tree_id(tmp_path: Path) -> None:
    work, first = _repo(tmp_path)
    (work / ".platform.app.yaml").write_text("name: app\ntype: 'python:3.11'\n")
    (work / ".platform" / "routes.yaml").write_text('"https://{default}/": {type: upstream}\n')
    _git(work, "commit", "-qam", "config only")
    second = _git(work, "rev-parse", "HEAD").strip()
    assert tree_id(work / ".git", first, "") == tree_id(work / ".git", second, "")
    (work / "index.py").write_text("print('changed')\n")
    _git(work, "commit", "-qam", "code")
    third = _git(work, "rev-parse", "HEAD").strip()
    assert tree_id(work / ".git", third, "") != tree_id(work / ".git", first, "")


def test_build_key_covers_tree_config_variables_and_runtime() -> None:
    base = build_key("t1", "c1", {"A": "1"}, "python:3.11")
    assert base == build_key("t1", "c1", {"A": "1"}, "python:3.11")
    assert base != build_key("t2", "c1", {"A": "1"}, "python:3.11")
    assert base != build_key("t1", "c2", {"A": "1"}, "python:3.11")
    assert base != build_key("t1", "c1", {"A": "2"}, "python:3.11")
    assert base != build_key("t1", "c1", {"A": "1"}, "python:3.12")


def test_export_writes_only_the_app_directory(tmp_path: Path) -> None:
    work, commit = _repo(tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    export_tree(work / ".git", commit, "backend", dest)
    assert (dest / "src" / "main.py").read_text() == "x = 1\n"
    assert not (dest / "index.py").exists()
