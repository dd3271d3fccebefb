"""Local checkout detection (`homeport.cli.local`)."""

from __future__ import annotations

from pathlib import Path

from homeport.cli.local import Checkout, parse_git_config, project_from_remote

API = "http://homeport.example:8000"


def make_repo(root: Path, config: str = "", head: str = "ref: refs/heads/main\n") -> Path:
    git = root / ".git"
    git.mkdir(parents=True)
    (git / "config").write_text(config)
    (git / "HEAD").write_text(head)
    return root


def test_parse_git_config() -> None:
    sections = parse_git_config(
        '[core]\n\tbare = false\n[remote "origin"]\n\turl = https://x/git/p.git\n'
        '[branch "feature/a"]\n\tremote = platform\n\tmerge = refs/heads/env-a\n'
    )
    assert sections['remote "origin"']["url"] == "https://x/git/p.git"
    assert sections['branch "feature/a"']["merge"] == "refs/heads/env-a"


def test_project_from_remote() -> None:
    assert project_from_remote("http://homeport.example:8000/git/abc123.git", API) == "abc123"
    ssh = "ssh://abc123@homeport.example:2222/abc123.git"
    assert project_from_remote(ssh, API) == "abc123"
    assert project_from_remote("ssh://abc123@elsewhere.example:2222/abc123.git", API) == ""
    assert project_from_remote("ssh://other@homeport.example:2222/abc123.git", API) == ""
    assert project_from_remote("ssh://git@homeport.example:2222/git/abc123.git", API) == "abc123"
    assert project_from_remote("git@homeport.example:git/abc123.git", API) == "abc123"
    assert project_from_remote("https://elsewhere.example/git/abc123.git", API) == ""
    assert (
        project_from_remote("abcdefghijkl@git.eu-3.platform.sh:abcdefghijkl.git", API)
        == "abcdefghijkl"
    )
    assert project_from_remote("", API) == ""


def test_checkout_project_yaml_wins(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        '[remote "platform"]\n\turl = http://homeport.example:8000/git/fromgit.git\n',
    )
    (root / ".platform" / "local").mkdir(parents=True)
    (root / ".platform" / "local" / "project.yaml").write_text(
        "id: fromyaml\nmapping:\n  main: prod\n"
    )
    sub = root / "src" / "deep"
    sub.mkdir(parents=True)
    checkout = Checkout.find(str(sub))
    assert checkout is not None
    assert checkout.root == str(root)
    assert checkout.project_id(API, ("platform", "origin")) == "fromyaml"
    assert checkout.project_config["mapping"] == {"main": "prod"}


def test_checkout_remote_and_branches(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path,
        '[remote "origin"]\n\turl = http://homeport.example:8000/git/p1.git\n'
        '[branch "topic"]\n\tremote = origin\n\tmerge = refs/heads/env-topic\n',
        head="ref: refs/heads/topic\n",
    )
    checkout = Checkout.find(str(root))
    assert checkout is not None
    assert checkout.project_id(API, ("platform", "origin")) == "p1"
    assert checkout.current_branch() == "topic"
    assert checkout.upstream_branch("topic", "origin") == "env-topic"
    assert checkout.upstream_branch("topic", "platform") == ""


def test_worktree_git_file_and_detached_head(tmp_path: Path) -> None:
    real = make_repo(tmp_path / "real", head="0123456789abcdef\n")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {real / '.git'}\n")
    checkout = Checkout.find(str(worktree))
    assert checkout is not None
    assert checkout.current_branch() == ""


def test_no_checkout(tmp_path: Path) -> None:
    assert Checkout.find(str(tmp_path)) is None
