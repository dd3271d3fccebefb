"""The local checkout: project config, git remotes and the current branch.

Git's files are read directly instead of running `git`, which keeps project
detection fast and works where git is not installed (app containers, CI images).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROJECT_CONFIG = os.path.join(".platform", "local", "project.yaml")
# Platform.sh's own remote format: <project>@git.<region>.platform.sh:<project>.git
_PLATFORM_REMOTE = re.compile(r"^([a-z0-9]{12,})@git\.(([a-z0-9\-]+\.)?platform\.sh):\1\.git$")
_GIT_PATH = re.compile(r"(?:^|/)git/([A-Za-z0-9][A-Za-z0-9_-]*)\.git/?$")
_SSH_PATH = re.compile(r"/?([a-z0-9]+)\.git/?")


def parse_git_config(text: str) -> dict[str, dict[str, str]]:
    """Sections of a git config file: `remote "origin"` -> {"url": ...} (last value wins)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = re.match(r'^\[\s*([^\]\s"]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]$', line)
        if match:
            name = match.group(1).lower()
            if match.group(2) is not None:
                name += f' "{match.group(2)}"'
            current = sections.setdefault(name, {})
            continue
        if current is None:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        current[key.strip().lower()] = value
    return sections


class Checkout:
    """A git working tree, possibly linked to a project."""

    def __init__(self, root: str, git_dir: str) -> None:
        self.root = root
        self.git_dir = git_dir
        self._config: dict[str, dict[str, str]] | None = None
        self._project_config: dict[str, Any] | None = None

    @classmethod
    def find(cls, start: str) -> Checkout | None:
        """The nearest ancestor of `start` containing `.git`, or None."""
        path = os.path.abspath(start)
        while True:
            dot_git = os.path.join(path, ".git")
            if os.path.isdir(dot_git):
                return cls(path, dot_git)
            if os.path.isfile(dot_git):
                # Worktrees and submodules: `.git` is a file naming the real git dir.
                try:
                    with open(dot_git, encoding="utf-8") as fh:
                        content = fh.read().strip()
                except OSError:
                    content = ""
                if content.startswith("gitdir:"):
                    target = content[len("gitdir:") :].strip()
                    return cls(path, os.path.normpath(os.path.join(path, target)))
            parent = os.path.dirname(path)
            if parent == path:
                return None
            path = parent

    def _common_dir(self) -> str:
        try:
            with open(os.path.join(self.git_dir, "commondir"), encoding="utf-8") as fh:
                return os.path.normpath(os.path.join(self.git_dir, fh.read().strip()))
        except OSError:
            return self.git_dir

    @property
    def git_config(self) -> dict[str, dict[str, str]]:
        """The repository's parsed `config` file."""
        if self._config is None:
            try:
                with open(os.path.join(self._common_dir(), "config"), encoding="utf-8") as fh:
                    self._config = parse_git_config(fh.read())
            except OSError:
                self._config = {}
        return self._config

    @property
    def project_config(self) -> dict[str, Any]:
        """`.platform/local/project.yaml` (empty when absent or unreadable)."""
        if self._project_config is None:
            self._project_config = {}
            path = os.path.join(self.root, PROJECT_CONFIG)
            if os.path.isfile(path):
                from homeport.cli.miniyaml import YamlError, loads

                try:
                    with open(path, encoding="utf-8") as fh:
                        data = loads(fh.read())
                except (OSError, YamlError, UnicodeDecodeError):
                    data = None
                if isinstance(data, dict):
                    self._project_config = data
        return self._project_config

    def remote_url(self, name: str) -> str:
        """The URL of a git remote ('' when not configured)."""
        return self.git_config.get(f'remote "{name}"', {}).get("url", "")

    def current_branch(self) -> str:
        """The checked-out branch ('' when detached or unknown)."""
        try:
            with open(os.path.join(self.git_dir, "HEAD"), encoding="utf-8") as fh:
                head = fh.read().strip()
        except OSError:
            return ""
        prefix = "ref: refs/heads/"
        return head[len(prefix) :] if head.startswith(prefix) else ""

    def upstream_branch(self, branch: str, remote: str) -> str:
        """The branch tracked on `remote` by a local branch ('' when none)."""
        section = self.git_config.get(f'branch "{branch}"', {})
        merge = section.get("merge", "")
        if section.get("remote") == remote and merge.startswith("refs/heads/"):
            return merge[len("refs/heads/") :]
        return ""

    def project_id(self, api_url: str, remote_names: tuple[str, ...]) -> str:
        """The project this checkout belongs to: project.yaml `id`, else a git remote."""
        configured = self.project_config.get("id")
        if configured:
            return str(configured)
        for name in remote_names:
            found = project_from_remote(self.remote_url(name), api_url)
            if found:
                return found
        return ""


def project_from_remote(url: str, api_url: str) -> str:
    """The project ID in a remote URL pointing at the server, or ''.

    Homeport serves git at `<server>/git/<project>.git` over HTTP(S) and at
    `ssh://<project>@<server>:<port>/<project>.git` over SSH; the host must be
    the API's, so a remote on some other forge with the same path shape is ignored.
    Platform.sh's `<id>@git.<region>.platform.sh:<id>.git` form is recognised too.
    """
    if not url:
        return ""
    match = _PLATFORM_REMOTE.match(url)
    if match:
        return match.group(1)
    api_host = (urlsplit(api_url).hostname or "").lower()
    if "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path
    else:
        # scp-like syntax: user@host:path
        target, _, path = url.partition(":")
        host = target.rpartition("@")[2].lower()
    if host != api_host:
        return ""
    found = _GIT_PATH.search(path)
    if found:
        return found.group(1)
    # The SSH remote: ssh://<project>@<host>:<port>/<project>.git
    ssh = _SSH_PATH.fullmatch(path)
    if ssh and url.startswith("ssh://") and urlsplit(url).username == ssh.group(1):
        return ssh.group(1)
    return ""
