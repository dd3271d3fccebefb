"""The client runs on a bare interpreter: only the standard library and its own files.

The package is copied alone (with the import-free `homeport/__init__.py`) into a temp
dir and run with `python -I -S`, which ignores site-packages, user site and PYTHON*
variables; any import outside the standard library would fail, and the test also
checks every loaded module's top-level name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import homeport
import homeport.cli

from .conftest import ALICE_TOKEN
from .fake_api import FakeApiServer

RUNNER = """
import sys
sys.path.insert(0, sys.argv[1])
from homeport.cli.main import main
code = main(sys.argv[2:])
allowed = set(sys.stdlib_module_names) | {"homeport", "__main__"}
foreign = sorted({m.split(".")[0] for m in sys.modules} - allowed)
if foreign:
    print("NON-STDLIB MODULES:", foreign, file=sys.stderr)
    code = 99
loaded = sorted(m for m in sys.modules if m.startswith("homeport"))
print("LOADED:", ",".join(loaded), file=sys.stderr)
raise SystemExit(code)
"""

VERSION_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
before = set(sys.modules)
from homeport.cli.main import main
main(["--version"])
print(",".join(sorted(set(sys.modules) - before)))
"""


def loaded(stderr: str) -> list[str]:
    line = next(x for x in stderr.splitlines() if x.startswith("LOADED: "))
    return line[len("LOADED: ") :].split(",")


def bare_copy(tmp_path: Path) -> Path:
    root = tmp_path / "bare"
    package = root / "homeport"
    package.mkdir(parents=True)
    shutil.copy(Path(homeport.__file__), package / "__init__.py")
    shutil.copytree(
        Path(homeport.cli.__file__).parent,
        package / "cli",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return root


def run_bare(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUNNER, str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )


def test_version_and_a_command_on_a_bare_interpreter(tmp_path: Path, fake: FakeApiServer) -> None:
    root = bare_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "PLATFORMSH_CLI_API_URL": fake.url,
        "PLATFORMSH_CLI_TOKEN": ALICE_TOKEN,
        "COLUMNS": "120",
        "TZ": "UTC",
    }
    version = run_bare(root, "--version", env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"Homeport CLI {homeport.__version__}\n"
    listing = run_bare(
        root, "variable:list", "-p", "proj1", "-e", "main", "--format", "csv", env=env
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0] == "Name,Level,Value,Enabled"
    assert "env:FOO,environment,bar,true" in listing.stdout
    commands = [m for m in loaded(listing.stderr) if m.startswith("homeport.cli.commands.")]
    # The lazy registry: only the command that ran (and the shared base) was imported.
    assert commands == ["homeport.cli.commands.base", "homeport.cli.commands.variable"]
    waited = run_bare(root, "backup:create", "-p", "proj1", "-e", "main", "-y", env=env)
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.startswith("Backup name: ")


def test_version_imports_almost_nothing(tmp_path: Path) -> None:
    root = bare_copy(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-I", "-S", "-c", VERSION_PROBE, str(root)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[0] == f"Homeport CLI {homeport.__version__}"
    new_modules = set(lines[1].split(","))
    assert new_modules <= {"__future__", "homeport", "homeport.cli", "homeport.cli.main"}
