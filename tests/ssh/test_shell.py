"""Shells into environments over SSH (platform-deploy.md §7), for real: a `homeport
serve` that built and deployed two apps in bubblewrap, and the OpenSSH client with
each account's own key, on a local terminal when a person would have one."""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from homeport.ssh.shell import BUSY, UNKNOWN, ShellService, ShellTarget, parse_user, split_rest
from tests.e2e.server import BIN, ServerProcess
from tests.e2e.test_runtime_story import git, push
from tests.security.conftest import Target
from tests.ssh.test_git_over_ssh import SshUser

TOKEN = "hp-token-" + "7" * 20
APP = """name: app
type: 'python:3.11'
variables:
  env:
    GREETING: hello
web:
  commands:
    start: python3 -m http.server "$PORT" --bind 127.0.0.1
workers:
  queue:
    commands:
      start: sleep infinity
"""
# The same, but a viewer may open a shell on it.
OPEN = APP.replace("name: app", "name: open").replace(
    "variables:", "access:\n  ssh: viewer\nvariables:"
)
ROUTES = '"http://{default}/":\n  type: upstream\n  upstream: "app:http"\n'
ENVIRONMENT_FILE = "export FROM_ENV_FILE=sourced\nNOT_EXPORTED=plain\n"


# --- the username's parts: no server needed ------------------------------------------


def test_shell_usernames_and_git_usernames() -> None:
    target = parse_user("abcdefghijklm-main-x7k2qab--app")
    assert target is not None
    assert (target.project_id, target.rest) == ("abcdefghijklm", "main-x7k2qab--app")
    for git_user in ("abcdefghijklm", "git", "abc-def", "", "ABC-main-x--app", "a-b--"):
        assert parse_user(git_user) is None, git_user


def test_machine_names_with_dashes_and_double_dashes() -> None:
    machines = ["main-abcdefg", "a--b-hijklmn", "a-opqrstu"]
    assert split_rest("main-abcdefg--app", machines) == ("main-abcdefg", "app")
    assert split_rest("a--b-hijklmn--my-app", machines) == ("a--b-hijklmn", "my-app")
    assert split_rest("a-opqrstu--x--y", machines) == ("a-opqrstu", "x--y")
    assert split_rest("main-abcdefg--", machines) is None
    assert split_rest("other-zzzzzzz--app", machines) is None


class _Stream:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Process:
    """Just what a refused session touches."""

    def __init__(self) -> None:
        self.stderr = _Stream()
        self.command: str | None = None


def test_beyond_the_limit_sessions_are_refused_at_once() -> None:
    service = ShellService(cast(Any, None), cast(Any, None), limit=0)
    service.resolve = lambda account_id, target: cast(Any, object())  # type: ignore[method-assign]
    process = _Process()
    status = asyncio.run(service.serve(cast(Any, process), ShellTarget("p", "m-x--app"), "a"))
    assert status == 1 and process.stderr.data == (BUSY + "\n").encode()


# --- one server, one deployed project for the rest -------------------------------------


@dataclass
class Story:
    """The project, its environments' machine names and the people in it."""

    target: Target
    pid: str
    main: str
    idle: str
    owner: SshUser
    dev: SshUser
    viewer: SshUser
    stranger: SshUser

    def login(self, app: str = "app", machine: str | None = None) -> str:
        return f"{self.pid}-{machine or self.main}--{app}@127.0.0.1"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(tmp_path_factory.mktemp("shell") / "data").start()
    try:
        yield Target(server)
    finally:
        server.stop()


def machine_name(target: Target, who: SshUser, pid: str, env: str) -> str:
    status, body = target.call("GET", f"/projects/{pid}/environments/{env}", who.who.token)
    assert status == 200, body
    name: str = body["machine_name"]
    return name


@pytest.fixture(scope="module")
def story(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Story:
    base = tmp_path_factory.mktemp("shell-clients")
    owner = SshUser(target, target.person("owner@example.com"), base / "owner")
    dev = SshUser(target, target.person("dev@example.com"), base / "dev")
    viewer = SshUser(target, target.person("viewer@example.com"), base / "viewer")
    stranger = SshUser(target, target.person("stranger@example.com"), base / "stranger")
    pid = target.project(owner.who, "Shell shop")
    target.grant(pid, dev.who, ["viewer", "production:contributor", "development:contributor"])
    target.grant(pid, viewer.who, ["viewer", "production:viewer", "development:viewer"])
    status, body = target.call(
        "POST",
        f"/projects/{pid}/variables",
        owner.who.token,
        body={"name": "env:PLATFORMSH_CLI_TOKEN", "value": TOKEN, "is_sensitive": True},
    )
    assert status == 201, body
    repo = base / "repo"
    for path, text in {
        "app/.platform.app.yaml": APP,
        "app/.environment": ENVIRONMENT_FILE,
        "open/.platform.app.yaml": OPEN,
        ".platform/routes.yaml": ROUTES,
    }.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    assert git(repo, "add", "-A").returncode == 0
    assert git(repo, "commit", "-qm", "two apps").returncode == 0
    push(target, owner.who, repo, pid)
    status, body = target.call(
        "GET", f"/projects/{pid}/environments/main/deployments/current", owner.who.token
    )
    assert status == 200 and set(body["webapps"]) == {"app", "open"}, body
    # A branch pushed with git makes an inactive environment.
    url = f"http://t:{owner.who.api_token}@127.0.0.1:{target.server.port}/git/{pid}.git"
    assert git(repo, "push", url, "HEAD:refs/heads/idle").returncode == 0
    return Story(
        target,
        pid,
        machine_name(target, owner, pid, "main"),
        machine_name(target, owner, pid, "idle"),
        owner,
        dev,
        viewer,
        stranger,
    )


def set_terminal_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def ssh(
    user: SshUser, login: str, *command: str, stdin: bytes = b"", timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """The OpenSSH client without a terminal, as scripts and rsync run it."""
    return subprocess.run(
        [*user.ssh.split(), login, *command],
        env=user.env(),
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )


class Terminal:
    """The OpenSSH client on a local terminal of a given size, as a person runs it."""

    def __init__(self, user: SshUser, login: str, rows: int, cols: int) -> None:
        self.master, slave = os.openpty()
        set_terminal_size(slave, rows, cols)
        self.proc = subprocess.Popen(
            [*user.ssh.split(), "-tt", login],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**user.env(), "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        self.seen = b""

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, text: str, seconds: float = 30) -> str:
        """Read until ``text`` was printed; everything printed so far."""
        deadline = time.monotonic() + seconds
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r} in:\n{self.seen.decode(errors='replace')}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                assert chunk, f"closed before {text!r}:\n{self.seen.decode(errors='replace')}"
                self.seen += chunk
        return self.seen.decode(errors="replace")

    def resize(self, rows: int, cols: int) -> None:
        set_terminal_size(self.master, rows, cols)
        self.proc.send_signal(signal.SIGWINCH)

    def close(self) -> int:
        """Wait for the client to exit; its exit status."""
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        status = self.proc.wait(timeout=30)
        os.close(self.master)
        return status


@pytest.mark.slow
@pytest.mark.e2e
def test_a_contributor_gets_an_interactive_shell(story: Story) -> None:
    term = Terminal(story.dev, story.login(), rows=33, cols=101)
    try:
        shown = term.expect("readable by anyone with SSH access to this environment.")
        assert f"project Shell shop ({story.pid}), environment main ({story.main}" in shown
        assert "app app." in shown and "env:PLATFORMSH_CLI_TOKEN" in shown
        # Quotes split the markers so the terminal's echo of the line does not match.
        term.send(
            'echo "BR""ANCH=$PLATFORM_BRANCH TO""KEN=$PLATFORMSH_CLI_TOKEN '
            'GR""EETING=$GREETING FI""LE=$FROM_ENV_FILE PL""AIN=$NOT_EXPORTED TE""RM=$TERM"\n'
        )
        term.expect(
            f"BRANCH=main TOKEN={TOKEN} GREETING=hello FILE=sourced PLAIN=plain TERM=xterm-256color"
        )
        term.send('echo "SI""ZE=$(stty size)"; [ -t 0 ] && echo "T""TY=yes"; echo "BA""SH=$0"\n')
        term.expect("SIZE=33 101")
        term.expect("TTY=yes")
        term.expect("BASH=bash")
        term.resize(40, 120)
        time.sleep(0.5)
        term.send('echo "SI""ZE=$(stty size)"\n')
        term.expect("SIZE=40 120")
        # The pty is the controlling terminal: ^C interrupts the foreground job only.
        term.send("sleep 30; echo never\n")
        time.sleep(1)
        term.send("\x03")
        term.send('echo "BA""CK=$?"\n')
        term.expect("BACK=130")
        term.send("exit 3\n")
        assert term.close() == 3
        assert b"\nnever\r\n" not in term.seen
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


@pytest.mark.slow
@pytest.mark.e2e
def test_commands_without_a_terminal(story: Story) -> None:
    assert ssh(story.dev, story.login(), "false").returncode == 1
    done = ssh(story.dev, story.login(), "exit 2")
    assert done.returncode == 2 and done.stdout == b"" and done.stderr == b""
    done = ssh(story.dev, story.login(), 'echo "$PLATFORM_BRANCH $FROM_ENV_FILE"; echo oops >&2')
    assert (done.returncode, done.stdout, done.stderr) == (0, b"main sourced\n", b"oops\n")
    # stdin goes through, all of it, and the output comes back before the exit status.
    payload = os.urandom(300_000)
    done = ssh(story.dev, story.login(), "cat; exit 5", stdin=payload)
    assert done.returncode == 5 and done.stdout == payload
    # A shell without a terminal reads its commands from stdin; the welcome goes to
    # stderr so what the commands print stays clean.
    done = ssh(story.dev, story.login(), stdin=b'echo "in $PWD"\nexit 4\n')
    assert done.returncode == 4 and done.stdout == b"in /app\n"
    assert b"readable by anyone with SSH access" in done.stderr


@pytest.mark.slow
@pytest.mark.e2e
def test_a_viewer_needs_the_app_to_allow_viewers(story: Story) -> None:
    refused = ssh(story.viewer, story.login("app"), "true")
    assert refused.returncode == 1 and refused.stdout == b""
    assert refused.stderr.decode().splitlines() == [
        "Access denied: SSH to the app 'app' needs the contributor role (its access.ssh) "
        "on production environments."
    ]
    allowed = ssh(story.viewer, story.login("open"), "echo $PLATFORM_APPLICATION_NAME")
    assert (allowed.returncode, allowed.stdout) == (0, b"open\n")


@pytest.mark.slow
@pytest.mark.e2e
def test_no_role_looks_like_no_environment(story: Story) -> None:
    answers = {
        ssh(story.stranger, story.login(), "true").stderr,
        ssh(story.owner, story.login(machine="nosuch-abcdefg"), "true").stderr,
        ssh(story.owner, f"zzzzzzzzzzzzz-{story.main}--app@127.0.0.1", "true").stderr,
    }
    assert answers == {(UNKNOWN + "\n").encode()}
    missing = ssh(story.owner, story.login("nope"), "true")
    assert missing.returncode == 1
    assert missing.stderr == b"No application 'nope' is deployed on main.\n"


@pytest.mark.slow
@pytest.mark.e2e
def test_an_inactive_environment_has_no_shell(story: Story) -> None:
    done = ssh(story.dev, story.login(machine=story.idle), "true")
    assert done.returncode == 1
    assert done.stderr == (
        b"The environment idle is inactive, so an SSH connection is not possible.\n"
    )


@pytest.mark.slow
@pytest.mark.e2e
def test_git_usernames_still_speak_git_only(story: Story) -> None:
    done = ssh(story.owner, f"{story.pid}@127.0.0.1", "ls")
    assert done.returncode == 1
    assert b"only git-upload-pack and git-receive-pack" in done.stderr


def _running(marker: bytes) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if (entry / "cmdline").read_bytes() == marker:
                return True
        except OSError:
            continue
    return False


@pytest.mark.slow
@pytest.mark.e2e
def test_the_sandbox_dies_with_the_connection(story: Story) -> None:
    marker = b"sleep\x0031337\x00"
    client = subprocess.Popen(
        [*story.dev.ssh.split(), story.login(), "echo started; exec sleep 31337"],
        env=story.dev.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert client.stdout is not None
    try:
        ready, _, _ = select.select([client.stdout], [], [], 30)
        assert ready and client.stdout.readline() == b"started\n"
        # "started" is printed just before the shell execs sleep: give it a moment.
        deadline = time.monotonic() + 15
        while not _running(marker):
            assert time.monotonic() < deadline, "the program never started"
            time.sleep(0.05)
    finally:
        client.kill()
        client.wait()
    deadline = time.monotonic() + 15
    while _running(marker):
        assert time.monotonic() < deadline, "the sandboxed program outlived its session"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.e2e
def test_environment_links_name_the_shells(story: Story) -> None:
    port = story.target.server.ssh_port
    expected = {
        name: f"ssh://{story.pid}-{story.main}--{name}@127.0.0.1:{port}" for name in ("app", "open")
    }
    path = f"/projects/{story.pid}/environments/main"
    status, body = story.target.call("GET", path, story.dev.who.token)
    assert status == 200, body
    links = body["_links"]
    assert links["ssh"] == {"href": expected["app"]}
    assert links["pf:ssh:app"] == {"href": expected["app"]}
    assert links["pf:ssh:open"] == {"href": expected["open"]}
    # A viewer sees the one shell it may open; the inactive environment shows none.
    _, body = story.target.call("GET", path, story.viewer.who.token)
    assert body["_links"]["ssh"] == {"href": expected["open"]}
    assert "pf:ssh:app" not in body["_links"]
    _, body = story.target.call(
        "GET", f"/projects/{story.pid}/environments/idle", story.dev.who.token
    )
    assert not any(rel.startswith(("ssh", "pf:ssh")) for rel in body["_links"])
    # The link is what a client connects to.
    login = links["pf:ssh:open"]["href"].removeprefix("ssh://").rsplit(":", 1)[0]
    done = ssh(story.dev, login, "echo $PLATFORM_APPLICATION_NAME")
    assert (done.returncode, done.stdout) == (0, b"open\n")


def platform(user: SshUser, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The real `platform` command as ``user``, its SSH options set the way a user
    would set them (the key and this test server's throwaway host key)."""
    options = "\n".join(
        [
            f"IdentityFile={user.key}",
            "IdentitiesOnly=yes",
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
        ]
    )
    server = user.target.server
    return subprocess.run(
        [str(BIN / "platform"), *args],
        env={
            **user.env(),
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "PLATFORMSH_CLI_API_URL": server.url,
            "PLATFORMSH_CLI_TOKEN": user.who.api_token,
            "PLATFORMSH_CLI_SSH_OPTIONS": options,
        },
        input=stdin,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.e2e
def test_the_platform_command_opens_the_shells(story: Story) -> None:
    where = ["-p", story.pid, "-e", "main", "--app", "app"]
    done = platform(story.dev, "ssh", *where, "--", "echo $PLATFORM_BRANCH")
    assert (done.returncode, done.stdout) == (0, b"main\n"), done.stderr
    # The remote exit status is the command's.
    assert platform(story.dev, "ssh", *where, "--", "exit 3").returncode == 3
    # `--pipe` prints the address that `ssh` takes as it is.
    piped = platform(story.dev, "ssh", *where, "--pipe")
    port = story.target.server.ssh_port
    assert piped.stdout.decode().strip() == f"ssh://{story.login()}:{port}"
    # A viewer sees no address for the app it may not enter, and the one it may.
    refused = platform(story.viewer, "ssh", *where, "--", "true")
    assert refused.returncode != 0
    assert b"main" not in refused.stdout
    allowed = platform(
        story.viewer,
        "ssh",
        "-p",
        story.pid,
        "-e",
        "main",
        "--app",
        "open",
        "--",
        "echo $PLATFORM_APPLICATION_NAME",
    )
    assert (allowed.returncode, allowed.stdout) == (0, b"open\n"), allowed.stderr
    # A worker's shell is its app's sandbox; unknown workers are refused.
    worker = platform(story.dev, "ssh", *where, "--worker", "queue", "--", "echo $PORT-worker")
    assert worker.returncode == 0 and worker.stdout.endswith(b"-worker\n"), worker.stderr
    login = story.login("app--queue")
    assert ssh(story.dev, login, "true").returncode == 0
    status, env = story.target.call(
        "GET", f"/projects/{story.pid}/environments/main", story.dev.who.token
    )
    assert status == 200
    assert env["_links"]["pf:ssh:app--queue"]["href"] == f"ssh://{login}:{port}"
    assert env["_links"]["ssh"] == env["_links"]["pf:ssh:app"]
    nope = ssh(story.dev, story.login("app--nope"), "true")
    assert nope.returncode == 1 and b"No worker 'nope' of the app 'app'" in nope.stderr
    # Inactive environments: Platform.sh's message, before any connection.
    idle = platform(story.dev, "ssh", "-p", story.pid, "-e", "idle", "--", "true")
    assert idle.returncode == 1
    assert b"The environment idle is inactive, so an SSH connection is not possible." in idle.stderr
