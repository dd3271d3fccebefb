"""`curl URL/cli/installer | sh` and `| php` against a real HTTP server, as an app would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

import homeport
from homeport.web.cli_installer import make_router

pytestmark = [pytest.mark.slow]

VERSION_LINE = f"Homeport CLI {homeport.__version__}"
PATH_LINE = 'export PATH="$HOME/.platformsh/bin:$PATH"'

for _tool in ("curl", "dash", "php", "sh"):
    if shutil.which(_tool) is None:
        pytest.skip(f"needs {_tool}", allow_module_level=True)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The router served by uvicorn in a background thread on a free port."""
    app = FastAPI()
    app.include_router(make_router())
    sock = socket.socket()
    # Bound here and handed to uvicorn, so no other test can take the port in between.
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def python_dir(tmp_path: Path) -> Path:
    """A directory whose `python3` is the interpreter without Homeport installed."""
    bin_dir = tmp_path / "pybin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    return bin_dir


class App:
    """A user's home and an app directory, as a build hook sees them."""

    def __init__(self, root: Path, python_dir: Path) -> None:
        self.home = root / "home"
        self.app_dir = root / "app"
        self.home.mkdir()
        self.app_dir.mkdir()
        self.bin = self.home / ".platformsh" / "bin"
        # Our python3 first; no PYTHONPATH or anything else from the test's environment.
        self.env = {
            "HOME": str(self.home),
            "PLATFORM_APP_DIR": str(self.app_dir),
            "PATH": f"{python_dir}:/usr/local/bin:/usr/bin:/bin",
        }

    def run(self, command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        raw = subprocess.run(
            ["dash", "-c", command],
            cwd=cwd or self.home,
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        # Decoded by hand: text mode would turn the carriage returns php prints into "\n".
        return subprocess.CompletedProcess(
            raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode()
        )

    def install(self, url: str, interpreter: str) -> subprocess.CompletedProcess[str]:
        result = self.run(f"curl -fsS {url}/cli/installer | {interpreter}")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stderr == ""
        return result

    def environment_lines(self) -> list[str]:
        return (self.app_dir / ".environment").read_text().splitlines()


def rendered(text: str) -> str:
    """What a terminal shows: each carriage return moves back to the line's start."""
    lines = []
    for line in text.split("\n"):
        cells: list[str] = []
        column = 0
        for char in line:
            if char == "\r":
                column = 0
                continue
            cells[column : column + 1] = [char]
            column += 1
        lines.append("".join(cells))
    return "\n".join(lines)


def assert_installed(app: App) -> None:
    assert sorted(p.name for p in app.bin.iterdir()) == ["platform", "platform.pyz"]
    for name in ("platform", "platform.pyz"):
        assert (app.bin / name).stat().st_mode & 0o777 == 0o755
    result = app.run(f"{app.bin}/platform --version")
    assert (result.returncode, result.stdout, result.stderr) == (0, VERSION_LINE + "\n", "")


def test_sh_then_php_install_once_and_put_platform_on_path(
    server_url: str, tmp_path: Path, python_dir: Path
) -> None:
    app = App(tmp_path, python_dir)
    # An existing .environment without a final newline keeps its line intact.
    (app.app_dir / ".environment").write_text("export FOO=1")

    first = app.install(server_url, "sh")
    assert VERSION_LINE in first.stdout
    assert_installed(app)
    assert app.environment_lines() == ["export FOO=1", PATH_LINE]

    again = app.install(server_url, "php")
    assert "already adds" in again.stdout
    assert_installed(app)
    assert app.environment_lines() == ["export FOO=1", PATH_LINE]

    app.install(server_url, "sh")
    assert app.environment_lines() == ["export FOO=1", PATH_LINE]

    # What the runtime does before each hook or command: source .environment in sh.
    found = app.run(". ./.environment; command -v platform; platform --version", app.app_dir)
    assert found.returncode == 0, found.stderr
    assert found.stdout == f"{app.bin}/platform\n{VERSION_LINE}\n"


def test_php_installs_from_scratch_printing_nothing_of_its_own(
    server_url: str, tmp_path: Path, python_dir: Path
) -> None:
    app = App(tmp_path, python_dir)
    result = app.install(server_url, "php")
    assert_installed(app)
    assert app.environment_lines() == [PATH_LINE]
    # Only what the sh code says shows on a terminal: the "#" php echoes is blanked.
    shown = rendered(result.stdout).splitlines()
    assert shown[0] == f"Downloading the Homeport CLI from {server_url}/cli/platform.pyz"
    assert shown[1] == f"Installed {VERSION_LINE} as {app.bin}/platform"


def test_without_an_app_the_installer_prints_hints(
    server_url: str, tmp_path: Path, python_dir: Path
) -> None:
    app = App(tmp_path, python_dir)
    del app.env["PLATFORM_APP_DIR"]
    result = app.install(server_url, "sh")
    assert_installed(app)
    assert not (app.app_dir / ".environment").exists()
    assert f"    {PATH_LINE}\n" in result.stdout
    assert f"export PLATFORMSH_CLI_API_URL='{server_url}'" in result.stdout
    # The client then reaches this server through the variable it already reads.
    app.env["PLATFORMSH_CLI_API_URL"] = server_url
    assert "PLATFORMSH_CLI_API_URL" not in app.install(server_url, "sh").stdout
