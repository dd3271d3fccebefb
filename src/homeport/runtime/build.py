"""Building one app: export its tree, reuse an earlier build of the same tree and
build configuration, else install its language environment and run the build hook.

A finished build is a directory `builds/<key>/app` that never changes again; the
key covers the tree id, the build-time app configuration, the build-visible
variables and the runtime, which is Platform.sh's reuse rule (across branches).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from homeport.git.repos import git_bytes
from homeport.runtime.appconfig import AppConfig, build_config_id, build_time_application
from homeport.runtime.contract import AppFacts, build_environment
from homeport.runtime.processes import Outcome, StepFailed, run
from homeport.runtime.runtimes import Runtime, RuntimeUnavailable, resolve
from homeport.runtime.sandbox import Sandbox, chown_tree, prepare_writable

COMPLETE = "build.json"
MAX_HOOK = 100_000  # bytes: a hook is passed to dash as one argument
CACHE_MOUNT = "/run/cache"
# Unused builds younger than this are kept: a concurrent deploy may be about to use one.
FRESH_BUILD_SECONDS = 600


@dataclass(frozen=True)
class BuildResult:
    """A finished build: where it lives and the ids the API shows."""

    key: str
    path: Path  # the app tree
    tree_id: str
    config_id: str
    slug_id: str
    reused: bool


def tree_id(repo: Path, commit: str, root: str) -> str:
    """Platform.sh's tree id: the app directory's tree without `.platform` and
    `.platform.app.yaml`, hashed as git would hash that tree (nothing is written)."""
    spec = f"{commit}:{root}" if root else f"{commit}^{{tree}}"
    entries = git_bytes(repo, "ls-tree", "-z", "--full-tree", spec).split(b"\0")
    body = b""
    for entry in entries:
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        if name in (b".platform", b".platform.app.yaml"):
            continue
        mode, _kind, sha = meta.split(b" ")
        if mode == b"040000":  # ls-tree pads directory modes; tree objects do not
            mode = b"40000"
        body += mode + b" " + name + b"\0" + bytes.fromhex(sha.decode())
    header = f"tree {len(body)}\0".encode()
    return hashlib.sha1(header + body, usedforsecurity=False).hexdigest()


def build_key(tree: str, config_id: str, variables: Mapping[str, str], runtime: str) -> str:
    """What makes two builds interchangeable."""
    material = json.dumps(
        {"tree": tree, "config": config_id, "variables": dict(variables), "runtime": runtime},
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:40]


def export_tree(repo: Path, commit: str, root: str, dest: Path) -> None:
    """Write the app's files at ``commit`` into ``dest`` (nothing above its root)."""
    spec = f"{commit}:{root}" if root else commit
    archive = git_bytes(repo, "archive", "--format=tar", spec)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


class BuildLog:
    """Lines for the activity log, with Platform.sh's indentation and `W: ` prefix."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def step(self, text: str) -> None:
        """A phase line, two spaces in."""
        self.write(f"  {text}")

    def output(self, tag: str, text: str) -> None:
        """A line the step printed; its standard error is marked `W: `."""
        self.write(f"    {'W: ' if tag == 'err' else ''}{text}")


@dataclass(frozen=True)
class BuildInputs:
    """Everything a build reads."""

    repo: Path
    commit: str
    app: AppConfig
    facts: AppFacts
    variables: Mapping[str, str]  # build-visible: `env:` ones by name + PLATFORM_VARIABLES
    # The build may be shared by every environment (sandboxed) or kept to one (no sandbox).
    scope: str = ""


class Builder:
    """Makes and reuses builds under ``runtime_dir``."""

    def __init__(self, runtime_dir: Path, sandbox_mode: str, timeout: float) -> None:
        self.builds = runtime_dir / "builds"
        self.caches = runtime_dir / "cache"
        self.templates = runtime_dir / "templates"
        self.mode = sandbox_mode
        self.timeout = timeout

    def build(
        self, inputs: BuildInputs, log: BuildLog, cancelled: Callable[[], bool]
    ) -> BuildResult:
        """The app's build, reused or made now; StepFailed says why it could not be."""
        app = inputs.app
        tree = tree_id(inputs.repo, inputs.commit, app.root)
        config_id = build_config_id(app)
        key = build_key(tree, config_id, inputs.variables, app.type + inputs.scope)
        slug = f"{inputs.facts.project_id}-{app.name}-{tree}-{key}"
        log.write(f"Building application '{app.name}' (runtime type: {app.type}, tree: {tree[:7]})")
        final = self.builds / key
        if (final / COMPLETE).is_file():
            log.step("Reusing existing build for this tree ID")
            return BuildResult(key, final / "app", tree, config_id, slug, True)
        try:
            runtime = resolve(app.type)
        except RuntimeUnavailable as exc:
            raise StepFailed(f"E: {exc}") from None
        work = self.builds / f".{key}.{secrets.token_hex(4)}"
        app_dir = work / "app"
        app_dir.mkdir(parents=True)
        try:
            export_tree(inputs.repo, inputs.commit, app.root, app_dir)
            cache = self.caches / inputs.facts.project_id
            prepare_writable(cache)
            chown_tree(app_dir)
            facts = replace(inputs.facts, tree_id=tree)
            if self.mode == "none":
                facts = replace(facts, app_dir=str(app_dir))
            env = build_environment(
                facts,
                build_time_application(app),
                inputs.variables,
                CACHE_MOUNT if self.mode != "none" else str(cache),
            )
            sandbox = Sandbox(app_dir, True, extra_rw={CACHE_MOUNT: cache}, env=env)
            log.step("Generating runtime configuration.")
            self._language(sandbox, runtime, app, facts.app_dir, log, cancelled)
            if app.hooks_build.strip():
                log.write("")
                log.step("Executing build hook...")
                self._run(sandbox, app.hooks_build, log, cancelled, "Build hook")
            for mount in app.mounts.values():
                (app_dir / mount.path).mkdir(parents=True, exist_ok=True)
            meta = {"tree_id": tree, "config_id": config_id, "slug_id": slug, "type": app.type}
            (work / COMPLETE).write_text(json.dumps(meta))
            if final.exists():  # another worker finished the same build first
                shutil.rmtree(work, ignore_errors=True)
            else:
                os.rename(work, final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return BuildResult(key, final / "app", tree, config_id, slug, False)

    def _language(
        self,
        sandbox: Sandbox,
        runtime: Runtime,
        app: AppConfig,
        app_dir: str,
        log: BuildLog,
        cancelled: Callable[[], bool],
    ) -> None:
        """The app's own language environment in `.global`, its `dependencies`, and
        the build flavor's install step."""
        scripts: list[tuple[str, str]] = []
        glob = f"{app_dir}/.global"
        if runtime.language == "python":
            self._python_environment(sandbox, runtime, app_dir, log, cancelled)
            for group, packages in app.dependencies.items():
                if group.startswith("python"):
                    specs = " ".join(_shell_quote(_pip_spec(n, v)) for n, v in packages.items())
                    if specs:
                        scripts.append(
                            ("Installing build dependencies", f"{glob}/bin/pip install -q {specs}")
                        )
        elif runtime.language == "nodejs":
            for group, packages in app.dependencies.items():
                if group.startswith("nodejs"):
                    specs = " ".join(_shell_quote(f"{n}@{v}") for n, v in packages.items())
                    if specs:
                        scripts.append(
                            (
                                "Installing build dependencies",
                                f"npm install -g --prefix {glob} {specs}",
                            )
                        )
            if app.build_flavor == "default":
                scripts.append(
                    (
                        "Installing dependencies (npm)",
                        "if [ -f package.json ]; then npm prune && npm install; fi",
                    )
                )
        elif runtime.language == "php" and app.build_flavor == "composer":
            scripts.append(
                (
                    "Installing dependencies (composer)",
                    "if [ -f composer.json ]; then composer --no-ansi --no-interaction install"
                    " --no-progress --prefer-dist --optimize-autoloader; fi",
                )
            )
        for title, script in scripts:
            log.step(f"{title}...")
            self._run(sandbox, script, log, cancelled, title)

    def _python_environment(
        self,
        sandbox: Sandbox,
        runtime: Runtime,
        app_dir: str,
        log: BuildLog,
        cancelled: Callable[[], bool],
    ) -> None:
        """A virtual environment at `.global`, copied from one made once per interpreter:
        `python -m venv` with pip takes seconds, a copy a fraction of one. The copy is
        exact because every build sees its app at the same path, /app."""
        target = sandbox.app_dir / ".global"
        template = self.templates / f"python{runtime.version}" / ".global"
        if self.mode != "none" and template.is_dir() and not target.exists():
            shutil.copytree(template, target, symlinks=True)
            chown_tree(target)
            return
        log.step("Creating the Python environment...")
        self._run(
            sandbox, f"{runtime.executable} -m venv {app_dir}/.global", log, cancelled, "venv"
        )
        if self.mode != "none" and not template.exists():
            template.parent.mkdir(parents=True, exist_ok=True)
            partial = template.with_name(f".global.{secrets.token_hex(4)}")
            shutil.copytree(target, partial, symlinks=True)
            try:
                os.rename(partial, template)
            except OSError:  # another build made it first
                shutil.rmtree(partial, ignore_errors=True)

    def _run(
        self,
        sandbox: Sandbox,
        script: str,
        log: BuildLog,
        cancelled: Callable[[], bool],
        what: str,
    ) -> None:
        if len(script.encode()) > MAX_HOOK:
            raise StepFailed(f"E: {what} is longer than {MAX_HOOK} bytes")
        outcome: Outcome = run(
            sandbox,
            ["dash", "-c", script],
            self.mode,
            log.output,
            timeout=self.timeout,
            cancelled=cancelled,
        )
        if outcome.cancelled:
            raise StepFailed("E: The build was cancelled")
        if outcome.timed_out:
            raise StepFailed(f"E: Error building project: the build exceeded {self.timeout:g} s")
        if outcome.returncode != 0:
            raise StepFailed(
                f"E: Error building project: {what} failed with exit status {outcome.returncode}"
            )

    def remove_unused(self, in_use: set[str]) -> int:
        """Delete finished builds no deployment uses; returns how many went."""
        removed = 0
        if not self.builds.is_dir():
            return 0
        recent = time.time() - FRESH_BUILD_SECONDS
        for entry in self.builds.iterdir():
            if entry.name.startswith(".") or entry.name in in_use:
                continue
            if entry.stat().st_mtime > recent:
                continue  # just built, perhaps for a deploy that has not recorded it yet
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        return removed


def _pip_spec(name: str, version: Any) -> str:
    version = str(version).strip()
    if version in ("", "*"):
        return name
    return f"{name}=={version}" if version[0].isdigit() else f"{name}{version}"


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
