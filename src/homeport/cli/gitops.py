"""Running the real `git` for `platform get` and `platform push`.

Over HTTPS git asks `platform auth:git-credential` for a password, which answers the
CLI's own fresh access token: no token is ever written into a URL or `.git/config`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Lines of a push's output that mean the deploy failed (the push itself succeeded).
PUSH_FAILURE_LINES = (
    "Environment creation failed",
    "Environment redeployment failed",
    "Error building project",
    "Unable to build application",
    "Unknown error building the application",
    "Unable to find stack",
    "Cannot build application of type",
    "Invalid deployment",
    "Could not perform a rolling deployment",
)
PUSH_FAILURE_EXIT = 87


def platform_command() -> str:
    """How git should call this very `platform` back (absolute, quoted for a shell)."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "platform"
    path = os.path.abspath(argv0) if os.sep in argv0 else argv0
    if path.endswith(".py") or os.path.basename(path) == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m homeport.cli"
    return shlex.quote(path)


def credential_helper() -> str:
    """The `credential.helper` value that hands git the CLI's token."""
    return f"!{platform_command()} auth:git-credential"


def https_config(url: str) -> list[str]:
    """`-c` options for one git run over HTTPS: only our helper, for that server."""
    base = url.split("/git/", 1)[0]
    return [
        "-c",
        f"credential.{base}.helper=",
        "-c",
        f"credential.{base}.helper={credential_helper()}",
    ]


def run_git(
    args: Sequence[str],
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run git; with `capture`, stderr is collected (and echoed) so it can be searched."""
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("GIT_TERMINAL_PROMPT", "0")
    if not capture:
        return subprocess.run(["git", *args], cwd=cwd, env=full_env, text=True, check=False)
    proc = subprocess.Popen(
        ["git", *args], cwd=cwd, env=full_env, text=True, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        sys.stderr.write(line)
        sys.stderr.flush()
        lines.append(line)
    proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, None, "".join(lines))


def quiet_git(args: Sequence[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run git with its output captured (for questions, not for the user to watch)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def deploy_failed(output: str) -> bool:
    """Whether a push's output says the deploy failed (exit 87)."""
    return any(line in output for line in PUSH_FAILURE_LINES)
