"""Reading an environment's app configuration out of its git commit."""

from __future__ import annotations

from pathlib import Path

from homeport.git.repos import git_bytes
from homeport.runtime.appconfig import (
    ConfigError,
    ProjectConfig,
    is_config_path,
    load_project_config,
)

# A configuration file larger than this is refused before it is read.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_FILES = 200


def config_files(repo: Path, commit: str) -> dict[str, bytes]:
    """Every configuration file of ``commit`` (path → bytes), bounded in size and count."""
    listing = git_bytes(repo, "ls-tree", "-r", "-z", "--long", commit).split(b"\0")
    files: dict[str, bytes] = {}
    errors: list[str] = []
    for entry in listing:
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        path = raw_path.decode("utf-8", "replace")
        if not is_config_path(path):
            continue
        _mode, kind, sha, size = meta.split()
        if kind != b"blob":
            continue
        if int(size) > MAX_CONFIG_BYTES:
            errors.append(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB")
            continue
        if len(files) >= MAX_CONFIG_FILES:
            errors.append(f"more than {MAX_CONFIG_FILES} configuration files")
            break
        files[path] = git_bytes(repo, "cat-file", "blob", sha.decode())
    if errors:
        raise ConfigError(errors)
    return files


def load_commit_config(repo: Path, commit: str) -> ProjectConfig:
    """The validated configuration of ``commit`` (ConfigError says what is wrong)."""
    return load_project_config(config_files(repo, commit))
