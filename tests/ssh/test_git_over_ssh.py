"""Git over SSH against a real ``homeport serve``, with the real OpenSSH client: the
seed's CI case (a reader clones with its key only and its push is refused with the
reason), no-wait through ``SendEnv``, refusals of anything but git, and the host key."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ServerProcess
from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class SshUser:
    """One account with its own key pair, running ssh and git like its owner would."""

    def __init__(self, target: Target, who: Person, home: Path) -> None:
        self.target, self.who, self.home = target, who, home
        home.mkdir(parents=True, exist_ok=True)
        self.key = home / "id_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who.email, "-f", str(self.key)],
            check=True,
        )
        status, body = target.call(
            "POST",
            "/ssh_keys",
            who.token,
            body={"value": (home / "id_ed25519.pub").read_text(), "title": "laptop"},
        )
        assert status == 201, body
        self.ssh = (
            f"ssh -i {self.key} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
            f"-p {target.server.ssh_port}"
        )

    def url(self, project: str) -> str:
        return f"ssh://{project}@127.0.0.1:{self.target.server.ssh_port}/{project}.git"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": os.environ["PATH"],
            "GIT_SSH_COMMAND": self.ssh,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": self.who.email,
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": self.who.email,
            **extra,
        }

    def git(
        self, *args: str, cwd: Path | None = None, check: bool = True, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, (args, done.stderr)
        return done

    def raw_ssh(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.ssh.split(), f"{self.who.id}@127.0.0.1", *command],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(tmp_path_factory.mktemp("ssh") / "data").start()
    try:
        yield Target(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def story(target: Target, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("ssh-clients")
    owner = SshUser(target, target.person("owner@example.com"), base / "owner")
    reader = SshUser(target, target.person("ci@example.com", machine=True), base / "reader")
    pid = target.project(owner.who, "Shop")
    target.grant(pid, reader.who, ["viewer", "production:viewer", "development:viewer"])
    work = base / "owner" / "work"
    owner.git("clone", "-q", owner.url(pid), str(work))
    (work / "README.md").write_text("hello over ssh")
    owner.git("add", "README.md", cwd=work)
    owner.git("commit", "-q", "-m", "first", cwd=work)
    pushed = owner.git("push", "origin", "HEAD:main", cwd=work)
    return {"pid": pid, "owner": owner, "reader": reader, "work": work, "pushed": pushed}


def test_owner_pushes_and_sees_the_activity(story: dict[str, Any]) -> None:
    assert "Processing activity:" in story["pushed"].stderr
    assert "Redeploying environment main" in story["pushed"].stderr


def test_reader_clones_with_its_key_and_cannot_push(story: dict[str, Any], tmp_path: Path) -> None:
    reader: SshUser = story["reader"]
    clone = tmp_path / "clone"
    reader.git("clone", "-q", reader.url(story["pid"]), str(clone))
    assert (clone / "README.md").read_text() == "hello over ssh"
    (clone / "x.txt").write_text("x")
    reader.git("add", "x.txt", cwd=clone)
    reader.git("commit", "-q", "-m", "x", cwd=clone)
    refused = reader.git("push", "origin", "HEAD:main", cwd=clone, check=False)
    assert refused.returncode != 0
    assert (
        "(Homeport: you need contributor on production environments to push to main)"
        in refused.stderr
    )


def test_no_wait_through_send_env(story: dict[str, Any]) -> None:
    owner: SshUser = story["owner"]
    work = story["work"]
    (work / "more.txt").write_text("more")
    owner.git("add", "more.txt", cwd=work)
    owner.git("commit", "-q", "-m", "more", cwd=work)
    pushed = owner.git(
        "push",
        "origin",
        "HEAD:main",
        cwd=work,
        GIT_SSH_COMMAND=owner.ssh + " -o SendEnv=PLATFORMSH_PUSH_NO_WAIT",
        PLATFORMSH_PUSH_NO_WAIT="1",
    )
    assert "Not waiting for activity" in pushed.stderr


def test_only_git_commands_and_visible_projects(
    target: Target, story: dict[str, Any], tmp_path: Path
) -> None:
    owner: SshUser = story["owner"]
    for command in (("ls", "/"), ("git-upload-pack",), ("sh", "-c", "id")):
        done = owner.raw_ssh(*command)
        assert done.returncode == 1, command
        assert done.stderr.strip() == (
            "Homeport: only git-upload-pack and git-receive-pack are allowed here."
        )
    shell = subprocess.run(
        [*owner.ssh.split(), "-tt", f"{story['pid']}@127.0.0.1"],
        env=owner.env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert shell.returncode == 1 and "only git-upload-pack" in shell.stdout + shell.stderr
    stranger = SshUser(target, target.person("stranger@example.com"), tmp_path / "stranger")
    denied = stranger.git("clone", stranger.url(story["pid"]), str(tmp_path / "no"), check=False)
    assert denied.returncode != 0 and "Homeport: repository not found." in denied.stderr
    escape = owner.raw_ssh("git-upload-pack", "'../../etc.git'")
    assert escape.returncode == 1 and "repository not found" in escape.stderr


def test_unknown_key_and_deactivated_account_are_refused(
    target: Target, story: dict[str, Any], tmp_path: Path
) -> None:
    leaver = SshUser(target, target.person("leaver@example.com"), tmp_path / "leaver")
    target.grant(story["pid"], leaver.who, ["viewer", "production:viewer"])
    leaver.git("clone", "-q", leaver.url(story["pid"]), str(tmp_path / "before"))
    assert target.server.homeport("user:deactivate", "leaver@example.com").returncode == 0
    after = leaver.git("clone", leaver.url(story["pid"]), str(tmp_path / "after"), check=False)
    assert after.returncode != 0 and "Permission denied (publickey)" in after.stderr
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(nobody / "k")], check=True
    )
    unknown = subprocess.run(
        [
            "ssh",
            "-i",
            str(nobody / "k"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-p",
            str(target.server.ssh_port),
            "x@127.0.0.1",
            "git-upload-pack",
            "'x.git'",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert unknown.returncode == 255 and "Permission denied (publickey)" in unknown.stderr


def test_host_key_is_private_stable_and_printed(target: Target) -> None:
    key = target.server.data_dir / "ssh" / "ssh_host_ed25519_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    shown = target.server.homeport("ssh:host-key")
    assert shown.returncode == 0
    fingerprint, public = shown.stdout.splitlines()
    assert fingerprint.startswith("SHA256:") and public.startswith("ssh-ed25519 ")
    assert f"host key {fingerprint}" in target.server.log()
    scanned = subprocess.run(
        ["ssh-keyscan", "-p", str(target.server.ssh_port), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert public.split()[1] in scanned.stdout
