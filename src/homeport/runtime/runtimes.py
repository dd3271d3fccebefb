"""Which app `type`s this server can build: the interpreters present on the host.

Only system directories are searched: the sandbox shows the app `/usr` and `/bin`
and nothing of the operator's home, so an interpreter found under a version
manager in `$HOME` would not run inside it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SYSTEM_BIN_DIRS = ("/usr/local/bin", "/usr/bin", "/bin")
LANGUAGES = ("python", "nodejs", "php")


class RuntimeUnavailable(Exception):
    """The app's type has no interpreter on this host (the message says what has)."""


@dataclass(frozen=True)
class Runtime:
    """One buildable type: `python:3.11` → `/usr/bin/python3.11`."""

    language: str
    version: str
    executable: str

    @property
    def type(self) -> str:
        """The `type:` value an app writes to get this runtime."""
        return f"{self.language}:{self.version}"


def _python(bin_dirs: tuple[str, ...]) -> list[Runtime]:
    found: dict[str, Runtime] = {}
    for directory in bin_dirs:
        for path in sorted(Path(directory).glob("python3.*")):
            match = re.fullmatch(r"python(3\.\d+)", path.name)
            if match and path.is_file() and match.group(1) not in found:
                found[match.group(1)] = Runtime("python", match.group(1), str(path))
    return list(found.values())


def _version_of(executable: str, args: list[str], pattern: str) -> str | None:
    try:
        out = subprocess.run(
            [executable, *args], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(pattern, out)
    return match.group(1) if match else None


def _first(bin_dirs: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    for directory in bin_dirs:
        for name in names:
            path = Path(directory) / name
            if path.is_file():
                return str(path)
    return None


def _nodejs(bin_dirs: tuple[str, ...]) -> list[Runtime]:
    node = _first(bin_dirs, ("node", "nodejs"))
    if node is None:
        return []
    major = _version_of(node, ["--version"], r"v(\d+)\.")
    return [Runtime("nodejs", major, node)] if major else []


def _php(bin_dirs: tuple[str, ...]) -> list[Runtime]:
    found: dict[str, Runtime] = {}
    for directory in bin_dirs:
        for path in sorted(Path(directory).glob("php*")):
            match = re.fullmatch(r"php(\d+\.\d+)", path.name)
            if match and path.is_file() and match.group(1) not in found:
                found[match.group(1)] = Runtime("php", match.group(1), str(path))
    if not found:
        php = _first(bin_dirs, ("php",))
        version = _version_of(php, ["-r", "echo PHP_VERSION;"], r"^(\d+\.\d+)") if php else None
        if php and version:
            found[version] = Runtime("php", version, php)
    return list(found.values())


def available(bin_dirs: tuple[str, ...] = SYSTEM_BIN_DIRS) -> list[Runtime]:
    """Every type this host can build, sorted by language then version."""
    runtimes = [*_python(bin_dirs), *_nodejs(bin_dirs), *_php(bin_dirs)]
    return sorted(runtimes, key=lambda r: (r.language, [int(p) for p in r.version.split(".")]))


def resolve(app_type: str, bin_dirs: tuple[str, ...] = SYSTEM_BIN_DIRS) -> Runtime:
    """The runtime for ``app_type``, or RuntimeUnavailable naming what is available."""
    runtimes = available(bin_dirs)
    for runtime in runtimes:
        if runtime.type == app_type:
            return runtime
    offered = ", ".join(r.type for r in runtimes) or "none"
    language = app_type.partition(":")[0]
    if language not in LANGUAGES:
        raise RuntimeUnavailable(
            f"Cannot build application of type {app_type}: Homeport builds "
            f"{', '.join(LANGUAGES)} apps; this server has: {offered}"
        )
    raise RuntimeUnavailable(
        f"Cannot build application of type {app_type}: no interpreter for it on this server; "
        f"available: {offered}"
    )
