"""`environment:ssh`, run against a FAKE `ssh` that records its arguments."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from homeport.cli.env import Environment
from homeport.cli.main import main

from ..conftest import Cli
from ..fake_api import FakeApiServer

HOST = "ssh.homeport.test"
MAIN_APP = f"ssh://proj1-main-abc123--app@{HOST}:2222"

# A stand-in for OpenSSH: it appends its argv to $FAKE_SSH_LOG, optionally copies stdin
# to stdout, prints $FAKE_SSH_OUTPUT and exits with $FAKE_SSH_EXIT.
FAKE_SSH = """#!{python}
# FAKE ssh for the CLI's tests: connects nowhere.
import json, os, sys
with open(os.environ["FAKE_SSH_LOG"], "a", encoding="utf-8") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_SSH_CAT"):
    sys.stdout.write(sys.stdin.read())
sys.stdout.write(os.environ.get("FAKE_SSH_OUTPUT", ""))
sys.stderr.write(os.environ.get("FAKE_SSH_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_SSH_EXIT", "0")))
"""


class FakeSsh:
    """The fake `ssh` on PATH, and the argument lists it was called with."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "fake-ssh-bin"
        self.bin.mkdir()
        script = self.bin / "ssh"
        script.write_text(FAKE_SSH.format(python=sys.executable), encoding="utf-8")
        script.chmod(0o755)
        self.log = root / "fake-ssh-calls.jsonl"
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_SSH_LOG": str(self.log),
        }

    @property
    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def ssh(cli: Cli, fake: FakeApiServer, tmp_path: Path) -> FakeSsh:
    fake_ssh = FakeSsh(tmp_path)
    cli.environ.update(fake_ssh.env)
    for rel, user in [
        ("pf:ssh:app", "main-abc123--app"),
        ("pf:ssh:api", "main-abc123--api"),
        ("pf:ssh:app--queue", "main-abc123--app--queue"),
        ("pf:ssh:api:0", "main-abc123--api--0"),
        ("pf:ssh:api:1", "main-abc123--api--1"),
    ]:
        fake.add_ssh_link("proj1", "main", rel, f"ssh://proj1-{user}@{HOST}:2222")
    fake.add_ssh_link("proj1", "staging", "pf:ssh:app", f"ssh://proj1-staging-abc123--app@{HOST}")
    fake.add_ssh_link("proj1", "old", "pf:ssh:app", f"ssh://proj1-old-abc123--app@{HOST}:2222")
    return fake_ssh


PS = ("-p", "proj1", "-e", "staging")
PM = ("-p", "proj1", "-e", "main")


def test_command_runs_and_its_status_passes_through(cli: Cli, ssh: FakeSsh) -> None:
    result = cli(
        "ssh",
        *PM,
        "-A",
        "app",
        "--",
        "echo $PLATFORM_BRANCH",
        env={"FAKE_SSH_EXIT": "3", "FAKE_SSH_OUTPUT": "main\n"},
    )
    assert result.code == 3, result
    assert result.out == "main\n"
    assert ssh.calls == [
        [
            "-p",
            "2222",
            "-o",
            "SendEnv=TERM",
            f"proj1-main-abc123--app@{HOST}",
            "echo $PLATFORM_BRANCH",
        ]
    ]
    assert "Warning" not in result.err


def test_several_arguments_are_quoted_into_one(cli: Cli, ssh: FakeSsh) -> None:
    result = cli("environment:ssh", *PS, "--", "ls", "-la", "my file", "$HOME")
    assert result.code == 0, result
    assert ssh.calls[0][-1] == "ls -la 'my file' '$HOME'"
    # No port in the link: no -p.
    assert ssh.calls[0][:3] == ["-o", "SendEnv=TERM", f"proj1-staging-abc123--app@{HOST}"]


def test_connection_failure_is_255_and_stdin_passes(cli: Cli, ssh: FakeSsh) -> None:
    failed = cli("ssh", *PS, "true", env={"FAKE_SSH_EXIT": "255", "FAKE_SSH_STDERR": "refused\n"})
    assert failed.code == 255
    assert failed.err.endswith("refused\n")
    piped = cli("ssh", *PS, "--", "cat", stdin="hello\n", env={"FAKE_SSH_CAT": "1"})
    assert piped.code == 0 and piped.out == "hello\n"


def test_pipe_and_all(cli: Cli, ssh: FakeSsh) -> None:
    with_port = cli("ssh", *PM, "-A", "app", "--pipe")
    assert with_port.code == 0
    assert with_port.out == MAIN_APP
    without_port = cli("ssh", *PS, "--pipe")
    assert without_port.out == f"proj1-staging-abc123--app@{HOST}"
    everything = cli("ssh", *PM, "--all")
    assert everything.code == 0
    assert everything.out.splitlines() == [
        MAIN_APP,
        f"ssh://proj1-main-abc123--api@{HOST}:2222",
        f"ssh://proj1-main-abc123--app--queue@{HOST}:2222",
        f"ssh://proj1-main-abc123--api--0@{HOST}:2222",
        f"ssh://proj1-main-abc123--api--1@{HOST}:2222",
    ]
    assert ssh.calls == []


def test_app_worker_and_instance_selection(cli: Cli, ssh: FakeSsh) -> None:
    several = cli("ssh", *PM, "--pipe")
    assert several.code == 1
    assert "The environment Main (main) runs more than one app: api, app" in several.err
    unknown = cli("ssh", *PM, "-A", "nope", "--pipe")
    assert unknown.code == 1
    assert "Application not found: nope\n  Available apps: api, app" in unknown.err
    chosen = cli("ssh", *PM, "--pipe", tty=True, stdin="1\n")
    assert chosen.out == MAIN_APP
    preset = cli("ssh", *PM, "--pipe", env={"PLATFORM_APPLICATION_NAME": "app"})
    assert preset.out == MAIN_APP
    api = cli("ssh", *PM, "-A", "api", "--pipe")
    assert api.out == f"ssh://proj1-main-abc123--api@{HOST}:2222"
    worker = cli("ssh", *PM, "--worker", "queue", "--pipe")
    assert worker.out == f"ssh://proj1-main-abc123--app--queue@{HOST}:2222"
    assert cli("ssh", *PM, "-A", "app", "--worker", "queue", "--pipe").out == worker.out
    no_worker = cli("ssh", *PM, "--worker", "mail", "--pipe")
    assert no_worker.code == 1
    assert "Worker not found: mail\n  Available workers: app--queue" in no_worker.err
    instance = cli("ssh", *PM, "-A", "api", "-I", "1", "--pipe")
    assert instance.out == f"ssh://proj1-main-abc123--api--1@{HOST}:2222"
    missing = cli("ssh", *PM, "-A", "api", "-I", "2", "--pipe")
    assert missing.code == 1
    assert "SSH URL not found for instance '2' of 'api'. Available instances: 0, 1" in missing.err
    assert ssh.calls == []


def test_inactive_and_paused_environments(cli: Cli, fake: FakeApiServer, ssh: FakeSsh) -> None:
    inactive = cli("ssh", "-p", "proj1", "-e", "old", "--", "ls")
    assert inactive.code == 1
    assert (
        inactive.err == "The environment old is inactive, so an SSH connection is not possible.\n"
    )
    fake.envs["proj1"]["old"]["has_code"] = False
    no_code = cli("ssh", "-p", "proj1", "-e", "old")
    assert no_code.err == (
        "The environment old is inactive, so an SSH connection is not possible.\n"
        "\n"
        "Push code to the environment to activate it.\n"
    )
    fake.envs["proj1"]["staging"]["status"] = "paused"
    paused = cli("ssh", *PS, "--pipe")
    assert paused.code == 1
    assert "The environment staging is paused, so an SSH connection is not possible." in paused.err
    assert ssh.calls == []


def test_legacy_ssh_link_and_no_link(cli: Cli, fake: FakeApiServer, ssh: FakeSsh) -> None:
    none = cli("ssh", "-p", "proj1", "-e", "feature-x", "--pipe")
    assert none.code == 1
    assert none.err.strip() == (
        "No SSH URL found for the environment Feature X (feature-x). "
        "You may not have permission to SSH."
    )
    fake.add_ssh_link("proj1", "feature-x", "ssh", f"ssh://proj1-feature-x-abc123@{HOST}")
    plain = cli("ssh", "-p", "proj1", "-e", "feature-x", "--pipe")
    assert plain.out == f"proj1-feature-x-abc123@{HOST}"
    suffixed = cli("ssh", "-p", "proj1", "-e", "feature-x", "-A", "web", "--pipe")
    assert suffixed.out == f"proj1-feature-x-abc123--web@{HOST}"


def test_unsafe_url_is_refused(cli: Cli, fake: FakeApiServer, ssh: FakeSsh) -> None:
    fake.add_ssh_link("proj1", "feature-x", "pf:ssh:app", f"ssh://-oProxyCommand=x@{HOST}")
    result = cli("ssh", "-p", "proj1", "-e", "feature-x", "--", "ls")
    assert result.code == 1
    assert "Invalid SSH URL" in result.err
    assert ssh.calls == []


def test_ssh_not_installed(cli: Cli, ssh: FakeSsh, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = cli("ssh", *PS, "--", "ls", env={"PATH": str(empty)})
    assert result.code == 1
    assert result.err == (
        "The ssh command was not found: install an OpenSSH client to connect to environments.\n"
    )


def test_options_log_level_and_configured_options(cli: Cli, ssh: FakeSsh) -> None:
    result = cli(
        "ssh",
        *PS,
        "-q",
        "-o",
        "ConnectTimeout 5",
        "--",
        "ls",
        env={"PLATFORMSH_CLI_SSH_OPTIONS": "StrictHostKeyChecking no\nPort 22"},
    )
    assert result.code == 0, result
    assert ssh.calls[0] == [
        "-o",
        "SendEnv=TERM",
        "-o",
        "LogLevel=QUIET",
        "-o",
        "StrictHostKeyChecking no",
        "-o",
        "Port 22",
        "-o",
        "ConnectTimeout 5",
        f"proj1-staging-abc123--app@{HOST}",
        "ls",
    ]


def test_first_interactive_login_warns_once_per_environment(cli: Cli, ssh: FakeSsh) -> None:
    with_command = cli("ssh", *PS, "--", "ls", tty=True)
    assert with_command.code == 0 and "Warning" not in with_command.err
    first = cli("ssh", *PS, tty=True)
    assert first.code == 0, first
    assert first.err.startswith(
        "Warning: the env: variables of the environment staging "
        "(for example an API token in env:PLATFORMSH_CLI_TOKEN)\n"
        "are readable by anyone with SSH access to it."
    )
    # stdout is not a terminal here: no -t.
    assert ssh.calls[1] == ["-o", "SendEnv=TERM", f"proj1-staging-abc123--app@{HOST}"]
    again = cli("ssh", *PS, tty=True)
    assert again.code == 0 and "Warning" not in again.err
    other = cli("ssh", *PM, "-A", "app", tty=True)
    assert "environment Main (main)" in other.err
    stored = json.loads((cli.home / ".platformsh" / "ssh-env-warnings.json").read_text())
    assert stored == {"warned": ["proj1/staging", "proj1/main"]}


def test_terminal_gets_a_tty(cli: Cli, ssh: FakeSsh) -> None:
    out, err = io.StringIO(), io.StringIO()
    env = Environment(
        stdin=io.StringIO(""),
        stdout=out,
        stderr=err,
        environ={**cli.environ},
        cwd=str(cli.cwd),
        stdin_isatty=True,
        stdout_isatty=True,
        stderr_isatty=False,
        sleep=lambda _: None,
    )
    assert main(["ssh", *PM, "-A", "app", "--no-interaction"], env=env) == 0
    assert ssh.calls[0][:3] == ["-p", "2222", "-t"]
    assert main(["ssh", *PM, "-A", "app", "--", "ls"], env=env) == 0
    assert "-t" not in ssh.calls[1]


def test_listed_with_alias(cli: Cli) -> None:
    listed = cli("list").out
    assert "environment:ssh (ssh)" in listed
    assert "cron:list (crons)" in listed and "cron:run" in listed
    help_text = cli("help", "ssh").out
    assert "--pipe" in help_text and "--instance" in help_text and "--worker" in help_text
