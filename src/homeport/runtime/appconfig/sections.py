"""The app configuration's nested sections: `mounts`, `variables`, `crons`,
`workers` (platform-runtime.md §4.4-§4.6). Each parser returns the typed view and
the normalised mapping that `AppConfig.raw` shows."""

from __future__ import annotations

import re
from typing import Any

from homeport.domain import cronspec
from homeport.runtime.appconfig.context import Ctx, Path, relative_path
from homeport.runtime.appconfig.model import (
    CRON_SHUTDOWN_TIMEOUT,
    CRON_TIMEOUT,
    MOUNT_SOURCES,
    CronConfig,
    Mount,
    WorkerConfig,
)

MOUNT_KEYS = frozenset({"source", "source_path", "service"})
CRON_KEYS = frozenset({"spec", "commands", "cmd", "shutdown_timeout", "timeout"})
COMMAND_KEYS = frozenset({"start", "pre_start", "post_start"})
# What a worker may set: its commands plus the per-instance properties
# (platform-runtime.md §4.2 "Set in instance?") and the sizing keys Homeport ignores.
WORKER_KEYS = frozenset(
    {
        "commands",
        "size",
        "disk",
        "mounts",
        "relationships",
        "access",
        "variables",
        "additional_hosts",
        "resources",
        "container_profile",
        "firewall",
    }
)
# Workers become `<app>--<worker>` in container and SSH user names.
WORKER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
# A cron's name is a URL path segment (`…/crons/{name}/run`) and an activity parameter.
CRON_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
MAX_CRON_SPEC = 256
# `shared:files/<dir>`: the mount form older repositories still carry.
LEGACY_MOUNT = re.compile(r"^shared:files(?:/(.*))?$")


def parse_mounts(ctx: Ctx, value: Any, path: Path) -> tuple[dict[str, Mount], dict[str, Any]]:
    """Mounts keyed by their normalised path, and their `{"/path": {...}}` form."""
    spec = ctx.mapping(value, path)
    mounts: dict[str, Mount] = {}
    raw: dict[str, Any] = {}
    if spec is None:
        return mounts, raw
    for key, entry in spec.items():
        at = (*path, key)
        rel = relative_path(key)
        if not rel:
            ctx.error(at, "a mount must be a directory inside the app")
            continue
        mount = _mount(ctx, entry, at, rel)
        if mount is None:
            continue
        if rel in mounts:
            ctx.error(at, f"mounts the same directory as another entry ({rel!r})")
            continue
        mounts[rel] = mount
        shown: dict[str, Any] = {"source": mount.source, "source_path": mount.source_path}
        if mount.service is not None:
            shown["service"] = mount.service
        raw["/" + rel] = shown
    return mounts, raw


def _mount(ctx: Ctx, entry: Any, at: Path, rel: str) -> Mount | None:
    if isinstance(entry, str):
        legacy = LEGACY_MOUNT.match(entry)
        if legacy is None:
            ctx.error(at, "expected a mapping (source, source_path) or 'shared:files/<path>'")
            return None
        inner = relative_path(legacy.group(1) or "")
        if inner is None:
            ctx.error(at, "source_path may not leave the mount's storage")
            return None
        return Mount(rel, "local", inner or rel)
    spec = ctx.mapping(entry, at, required=True)
    if spec is None:
        return None
    ctx.known_keys(spec, at, MOUNT_KEYS)
    source = ctx.choice(spec.get("source"), (*at, "source"), MOUNT_SOURCES, required=True)
    given = ctx.string(spec.get("source_path"), (*at, "source_path"))
    service = ctx.string(spec.get("service"), (*at, "service"))
    source_path = relative_path(given) if given else rel
    if source_path is None:
        ctx.error((*at, "source_path"), "may not leave the mount's storage")
    if source == "service" and service is None:
        ctx.error((*at, "service"), "required for a service mount")
        return None
    if source is None or source_path is None:
        return None
    # `source_path: /` (or "") would share the storage's top with every other mount.
    return Mount(rel, source, source_path or rel, service)


def parse_variables(ctx: Ctx, value: Any, path: Path) -> dict[str, dict[str, Any]]:
    """`prefix → name → value`; every top-level entry must be a prefix mapping."""
    spec = ctx.mapping(value, path)
    out: dict[str, dict[str, Any]] = {}
    if spec is None:
        return out
    for prefix, names in spec.items():
        if names is None:
            out[prefix] = {}
        elif isinstance(names, dict):
            out[prefix] = dict(names)
        else:
            ctx.error((*path, prefix), "variables must be nested under a prefix such as env")
    return out


def parse_commands(
    ctx: Ctx, value: Any, path: Path, *, start_required: bool
) -> tuple[dict[str, str], bool]:
    """`{start, pre_start, post_start}` as given (strings only), and whether it was valid."""
    errors = len(ctx.issues.errors)
    spec = ctx.mapping(value, path) or {}
    ctx.known_keys(spec, path, COMMAND_KEYS)
    out: dict[str, str] = {}
    for key in ("start", "pre_start", "post_start"):
        required = start_required and key == "start"
        text = ctx.string(spec.get(key), (*path, key), required=required)
        if text is not None:
            out[key] = text
    return out, len(ctx.issues.errors) == errors


def _cron_spec(ctx: Ctx, value: Any, at: Path) -> str | None:
    spec = ctx.string(value, at, required=True)
    if spec is None:
        return None
    if len(spec) > MAX_CRON_SPEC:
        ctx.error(at, f"at most {MAX_CRON_SPEC} characters")
        return None
    fields = spec.split()
    if len(fields) != 5:
        ctx.error(at, f"expected 5 fields (minute hour day month weekday), found {len(fields)}")
        return None
    joined = " ".join(fields)
    try:
        cronspec.validate(joined)
    except cronspec.CronSpecError as exc:
        ctx.error(at, str(exc))
        return None
    return joined


def _cron_commands(ctx: Ctx, spec: dict[str, Any], at: Path) -> tuple[str | None, str | None]:
    """start and stop from `commands: {start, stop}`, `commands: "<start>"` (seen in
    real templates) or the deprecated `cmd: "<start>"`; `commands` wins over `cmd`."""
    commands = spec.get("commands")
    start: str | None = None
    stop: str | None = None
    if isinstance(commands, str):
        start = commands
    elif commands is not None:
        mapping = ctx.mapping(commands, (*at, "commands"))
        if mapping is None:
            return None, None
        ctx.known_keys(mapping, (*at, "commands"), frozenset({"start", "stop"}))
        start = ctx.string(mapping.get("start"), (*at, "commands", "start"), required=True)
        stop = ctx.string(mapping.get("stop"), (*at, "commands", "stop"))
        if start is None:
            return None, None
    cmd = ctx.string(spec.get("cmd"), (*at, "cmd"))
    if start is None and cmd is not None:
        start = cmd
    if start is None and "cmd" not in spec:
        ctx.error((*at, "commands", "start"), "required")
    return start, stop


def parse_crons(ctx: Ctx, value: Any, path: Path) -> tuple[dict[str, CronConfig], dict[str, Any]]:
    """Crons, and their normalised `{spec, commands{start, stop?}, shutdown_timeout,
    timeout}` form."""
    spec = ctx.mapping(value, path)
    crons: dict[str, CronConfig] = {}
    raw: dict[str, Any] = {}
    if spec is None:
        return crons, raw
    for name, entry in spec.items():
        at = (*path, name)
        if not isinstance(name, str) or not CRON_NAME.match(name):
            ctx.error(at, "a cron's name has 1 to 64 letters, digits, '_', '.' or '-'")
            continue
        cron = ctx.mapping(entry, at, required=True)
        if cron is None:
            continue
        errors = len(ctx.issues.errors)
        ctx.known_keys(cron, at, CRON_KEYS)
        schedule = _cron_spec(ctx, cron.get("spec"), (*at, "spec"))
        start, stop = _cron_commands(ctx, cron, at)
        timeout = ctx.integer(cron.get("timeout"), (*at, "timeout"), minimum=1)
        if timeout is not None and timeout > CRON_TIMEOUT:
            ctx.error((*at, "timeout"), f"must be at most {CRON_TIMEOUT}")
        shutdown = ctx.integer(cron.get("shutdown_timeout"), (*at, "shutdown_timeout"), minimum=0)
        if len(ctx.issues.errors) != errors or schedule is None or start is None:
            continue
        job = CronConfig(
            name,
            schedule,
            start,
            stop,
            CRON_TIMEOUT if timeout is None else timeout,
            CRON_SHUTDOWN_TIMEOUT if shutdown is None else shutdown,
        )
        crons[name] = job
        commands: dict[str, str] = {"start": job.start}
        if job.stop is not None:
            commands["stop"] = job.stop
        raw[name] = {
            "spec": job.spec,
            "commands": commands,
            "shutdown_timeout": job.shutdown_timeout,
            "timeout": job.timeout,
        }
    return crons, raw


def parse_workers(
    ctx: Ctx,
    value: Any,
    path: Path,
    app_mounts: dict[str, Mount],
    app_variables: dict[str, dict[str, Any]],
) -> tuple[dict[str, WorkerConfig], dict[str, Any]]:
    """Workers, with the app's mounts and variables unless they set their own."""
    spec = ctx.mapping(value, path)
    workers: dict[str, WorkerConfig] = {}
    raw: dict[str, Any] = {}
    if spec is None:
        return workers, raw
    for name, entry in spec.items():
        at = (*path, name)
        if not WORKER_NAME.match(name):
            ctx.error(at, "worker names are letters, digits, - and _ (at most 64)")
            continue
        worker = ctx.mapping(entry, at, required=True)
        if worker is None:
            continue
        ctx.known_keys(worker, at, WORKER_KEYS)
        if worker.get("commands") is None:
            ctx.error((*at, "commands", "start"), "required")
            continue
        commands, ok = parse_commands(
            ctx, worker["commands"], (*at, "commands"), start_required=True
        )
        shown: dict[str, Any] = {k: v for k, v in worker.items() if k in WORKER_KEYS}
        shown["commands"] = commands
        mounts = app_mounts
        if worker.get("mounts") is not None:
            mounts, shown["mounts"] = parse_mounts(ctx, worker["mounts"], (*at, "mounts"))
        variables = app_variables
        if worker.get("variables") is not None:
            variables = parse_variables(ctx, worker["variables"], (*at, "variables"))
            shown["variables"] = variables
        if not ok:
            continue
        workers[name] = WorkerConfig(
            name,
            commands["start"],
            dict(mounts),
            dict(variables),
            commands.get("pre_start"),
            commands.get("post_start"),
        )
        raw[name] = shown
    return workers, raw
