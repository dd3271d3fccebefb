"""One app's configuration mapping → `AppConfig` (platform-runtime.md §4.2, §5;
platform-deploy.md §3.1 for the legacy forms)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from homeport.domain import cronspec
from homeport.runtime.appconfig.context import Ctx, relative_path
from homeport.runtime.appconfig.model import LANGUAGES, SSH_ROLES, AppConfig
from homeport.runtime.appconfig.sections import (
    parse_crons,
    parse_mounts,
    parse_variables,
    parse_workers,
)
from homeport.runtime.appconfig.web import parse_web

APP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
MAX_NAME = 64
TYPE = re.compile(r"^([a-z]+):(\S+)$")
# Platform.sh keys Homeport accepts but does not act on; they are kept in `raw`
# so the API shows them as written.
PASSED_THROUGH = (
    "runtime",
    "preflight",
    "resources",
    "firewall",
    "additional_hosts",
    "container_profile",
    "operations",
    "stack",
)
TOP_KEYS = frozenset(
    {
        "name",
        "type",
        "toolstack",
        "size",
        "relationships",
        "disk",
        "mounts",
        "web",
        "workers",
        "timezone",
        "access",
        "variables",
        "build",
        "dependencies",
        "hooks",
        "crons",
        "source",
        *PASSED_THROUGH,
    }
)
HOOKS = ("build", "deploy", "post_deploy")
DEFAULT_FLAVOR = {"php": "composer", "nodejs": "default"}


@dataclass(frozen=True)
class ParsedApp:
    """The outcome for one app: its name and line when it could be read (to spot
    duplicates and check routes even when the rest is wrong), and the config if valid."""

    name: str | None
    file: str
    line: int
    config: AppConfig | None


def _name(ctx: Ctx, spec: dict[str, Any], from_key: str | None) -> str | None:
    if from_key is not None:
        given = spec.get("name")
        if given is not None and given != from_key:
            ctx.error(("name",), f"does not match the app's key {from_key!r}")
        name: str | None = from_key
        at: tuple[str, ...] = ()
    else:
        name = ctx.string(spec.get("name"), ("name",), required=True)
        at = ("name",)
    if name is None:
        return None
    if len(name) > MAX_NAME:
        ctx.error(at, f"at most {MAX_NAME} characters")
        return None
    if not APP_NAME.match(name):
        ctx.error(at, "use lowercase letters, digits and dashes, starting and ending alphanumeric")
        return None
    return name


def _type(ctx: Ctx, spec: dict[str, Any]) -> tuple[str, str, str, str | None] | None:
    """(type, language, version, flavor from `toolstack`), from `type` and/or the
    legacy `toolstack: "<language>:<flavor>"`."""
    given = ctx.string(spec.get("type"), ("type",))
    toolstack = ctx.string(spec.get("toolstack"), ("toolstack",))
    stack: tuple[str, str] | None = None
    if toolstack is not None:
        language, _, flavor = toolstack.partition(":")
        if not language or not flavor:
            ctx.error(("toolstack",), "expected <language>:<flavor>, such as php:composer")
            return None
        if language not in LANGUAGES:
            ctx.error(("toolstack",), f"unknown language {language!r}")
            return None
        stack = (language, flavor)
    if given is None:
        if stack is None:
            if "type" not in spec or spec["type"] is None:
                ctx.error(("type",), "required")
            return None
        # The old format had no version; the runtime reports that no `php` (say)
        # interpreter exists, which tells the user to set one.
        ctx.warn(("toolstack",), f"names no version: set type: {stack[0]}:<version>")
        return stack[0], stack[0], "", stack[1]
    match = TYPE.match(given)
    if match is None:
        ctx.error(("type",), "expected <language>:<version>, such as python:3.11")
        return None
    language, version = match.group(1), match.group(2)
    if language not in LANGUAGES:
        ctx.error(
            ("type",), f"unknown language {language!r} (expected one of {', '.join(LANGUAGES)})"
        )
        return None
    if stack is not None and stack[0] != language:
        ctx.error(("toolstack",), f"language {stack[0]!r} differs from type {given!r}")
        return None
    return given, language, version, stack[1] if stack else None


def _dependencies(ctx: Ctx, value: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for group, packages in (ctx.mapping(value, ("dependencies",)) or {}).items():
        at = ("dependencies", group)
        spec = ctx.mapping(packages, at)
        out[group] = {}
        for package, constraint in (spec or {}).items():
            # `gulp: 4` is a common spelling of a version; YAML makes it a number.
            text = ctx.text(constraint, (*at, package))
            if text is not None:
                out[group][package] = text
    return out


def _hooks(ctx: Ctx, value: Any) -> dict[str, str]:
    spec = ctx.mapping(value, ("hooks",)) or {}
    ctx.known_keys(spec, ("hooks",), frozenset(HOOKS))
    return {hook: ctx.string(spec.get(hook), ("hooks", hook)) or "" for hook in HOOKS}


def _relationships(ctx: Ctx, value: Any) -> dict[str, str]:
    """`name: "service:endpoint"`; the newer `{service, endpoint}` form and the empty
    form (a service of the relationship's own name) read the same way."""
    out: dict[str, str] = {}
    for name, target in (ctx.mapping(value, ("relationships",)) or {}).items():
        at = ("relationships", name)
        if target is None:
            out[name] = name
        elif isinstance(target, dict):
            service = ctx.string(target.get("service"), (*at, "service")) or name
            endpoint = ctx.string(target.get("endpoint"), (*at, "endpoint"))
            out[name] = f"{service}:{endpoint}" if endpoint else service
        else:
            text = ctx.string(target, at)
            if text is not None:
                out[name] = text
    return out


def _source(
    ctx: Ctx, value: Any, default_root: str, root_required: bool
) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    """(root, operations, normalised `source`). The root is repository-relative;
    `/` alone is accepted as the repository's top."""
    spec = ctx.mapping(value, ("source",)) or {}
    ctx.known_keys(spec, ("source",), frozenset({"root", "operations"}))
    root: str | None = default_root
    given = ctx.string(spec.get("root"), ("source", "root"))
    if given is None and root_required and spec.get("root") is None:
        ctx.error(("source", "root"), "required when applications.yaml defines several apps")
        root = None
    elif given is not None:
        rel = relative_path(given)
        if given.startswith("/") and given.strip("/"):
            ctx.error(("source", "root"), "must be relative to the repository")
            root = None
        elif rel is None:
            ctx.error(("source", "root"), "may not leave the repository")
            root = None
        else:
            root = rel
    operations: dict[str, str] = {}
    for name, op in (ctx.mapping(spec.get("operations"), ("source", "operations")) or {}).items():
        at = ("source", "operations", name)
        op_spec = ctx.mapping(op, at, required=True)
        if op_spec is not None:
            command = ctx.string(op_spec.get("command"), (*at, "command"), required=True)
            if command is not None:
                operations[name] = command
    raw = {
        "root": root or "",
        "operations": {name: {"command": command} for name, command in operations.items()},
    }
    return root, operations, raw


def parse_app(
    ctx: Ctx,
    value: Any,
    *,
    source_file: str,
    default_root: str,
    name_from_key: str | None = None,
    root_required: bool = False,
) -> ParsedApp:
    """Validate one app mapping; errors and warnings go to ``ctx``."""
    errors = len(ctx.issues.errors)
    spec = ctx.mapping(value, ()) if value is not None else {}
    if spec is None:
        return ParsedApp(None, source_file, ctx.line(), None)
    ctx.known_keys(spec, (), TOP_KEYS)
    name = _name(ctx, spec, name_from_key)
    typed = _type(ctx, spec)
    language = typed[1] if typed else ""

    build = ctx.mapping(spec.get("build"), ("build",)) or {}
    ctx.known_keys(build, ("build",), frozenset({"flavor", "caches"}))
    flavor = ctx.string(build.get("flavor"), ("build", "flavor"))
    if flavor is None:
        flavor = (typed[3] if typed else None) or DEFAULT_FLAVOR.get(language, "none")
    dependencies = _dependencies(ctx, spec.get("dependencies"))
    hooks = _hooks(ctx, spec.get("hooks"))
    web = parse_web(ctx, spec.get("web"), language)
    mounts, raw_mounts = parse_mounts(ctx, spec.get("mounts"), ("mounts",))
    variables = parse_variables(ctx, spec.get("variables"), ("variables",))
    workers, raw_workers = parse_workers(ctx, spec.get("workers"), ("workers",), mounts, variables)
    crons, raw_crons = parse_crons(ctx, spec.get("crons"), ("crons",))
    relationships = _relationships(ctx, spec.get("relationships"))
    access = ctx.mapping(spec.get("access"), ("access",)) or {}
    ctx.known_keys(access, ("access",), frozenset({"ssh"}))
    ssh = ctx.choice(access.get("ssh"), ("access", "ssh"), SSH_ROLES) or "contributor"
    timezone = ctx.string(spec.get("timezone"), ("timezone",))
    if timezone is not None:
        try:
            cronspec.zone(timezone)
        except cronspec.CronSpecError as exc:
            ctx.error(("timezone",), str(exc))
    disk = ctx.integer(spec.get("disk"), ("disk",), minimum=0)
    size = ctx.string(spec.get("size"), ("size",)) or "AUTO"
    root, operations, raw_source = _source(ctx, spec.get("source"), default_root, root_required)

    line = ctx.line(("name",)) if name_from_key is None else ctx.line()
    if len(ctx.issues.errors) != errors or name is None or typed is None or root is None:
        return ParsedApp(name, source_file, line, None)

    raw: dict[str, Any] = {
        "name": name,
        "type": typed[0],
        "size": size,
        "disk": disk,
        "access": {"ssh": ssh},
        "relationships": spec.get("relationships") or {},
        "mounts": raw_mounts,
        "timezone": timezone,
        "variables": variables,
        "build": {"flavor": flavor, **({"caches": build["caches"]} if "caches" in build else {})},
        "dependencies": dependencies,
        "hooks": hooks,
        "web": web.raw,
        "workers": raw_workers,
        "crons": raw_crons,
        "source": raw_source,
    }
    for key in PASSED_THROUGH:
        if key in spec:
            raw[key] = spec[key]
    # `raw` is handed to other code (the API document, PLATFORM_APPLICATION): it must
    # share nothing with the typed fields below.
    raw = copy.deepcopy(raw)
    config = AppConfig(
        name=name,
        type=typed[0],
        runtime_language=typed[1],
        runtime_version=typed[2],
        root=root,
        source_file=source_file,
        build_flavor=flavor,
        dependencies=dependencies,
        hooks_build=hooks["build"],
        hooks_deploy=hooks["deploy"],
        hooks_post_deploy=hooks["post_deploy"],
        web_commands_start=web.start,
        web_commands_pre_start=web.pre_start,
        web_commands_post_start=web.post_start,
        socket_family=web.socket_family,
        web_locations=web.locations,
        document_root=web.document_root,
        # The web instance's own mounts replace the app's when it sets them.
        mounts=web.mounts if web.mounts is not None else mounts,
        workers=workers,
        crons=crons,
        variables=variables,
        relationships=relationships,
        access_ssh=ssh,
        timezone=timezone,
        disk=disk,
        size=size,
        source_operations=operations,
        raw=raw,
    )
    return ParsedApp(name, source_file, line, config)
