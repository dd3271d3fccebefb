"""The `web` section: commands, upstream, locations (platform-runtime.md §4.3;
platform-deploy.md §4.3-§4.4), including the legacy top-level web keys."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from homeport.runtime.appconfig.context import Ctx, Path, relative_path
from homeport.runtime.appconfig.model import APP_DIR, Mount
from homeport.runtime.appconfig.sections import parse_commands, parse_mounts

# Keys of `web` before `web.locations` existed; they describe the `/` location.
LEGACY_KEYS = ("document_root", "passthru", "whitelist", "blacklist", "expires")
WEB_KEYS = frozenset(
    {
        "commands",
        "upstream",
        "locations",
        "move_to_root",
        "mounts",
        # per-instance overrides (platform-runtime.md §4.2 "Set in instance?")
        "size",
        "disk",
        "relationships",
        "access",
        "variables",
        "additional_hosts",
        "resources",
        *LEGACY_KEYS,
    }
)
# Passed through to the normalised `web` untouched: Homeport does not act on them.
PASSED_THROUGH = ("size", "disk", "relationships", "access", "variables", "additional_hosts")
LOCATION_KEYS = frozenset(
    {
        "root",
        "passthru",
        "index",
        "expires",
        "allow",
        "scripts",
        "headers",
        "request_buffering",
        "rules",
    }
)


@dataclass(frozen=True)
class Web:
    """The parsed `web` section."""

    start: str | None = None
    pre_start: str | None = None
    post_start: str | None = None
    socket_family: str = "tcp"
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    document_root: str = APP_DIR
    mounts: dict[str, Mount] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _legacy_location(ctx: Ctx, spec: dict[str, Any], path: Path) -> dict[str, Any]:
    """`web.document_root` & co. as the `/` location. The defaults are those of
    the old format, except that no `whitelist` means everything is allowed (the
    old implicit list of static file types is not carried over)."""
    root = ctx.string(spec.get("document_root"), (*path, "document_root"))
    if root is not None and relative_path(root) is None:
        ctx.error((*path, "document_root"), "may not leave the app")
    _check_passthru(ctx, spec.get("passthru"), (*path, "passthru"))
    _check_expires(ctx, spec.get("expires"), (*path, "expires"))
    location: dict[str, Any] = {
        "root": root if root is not None else "/public",
        "expires": spec.get("expires", 0),
        "passthru": spec.get("passthru", "/index.php"),
        "allow": True,
    }
    rules: dict[str, Any] = {}
    for key, allow in (("whitelist", True), ("blacklist", False)):
        patterns = spec.get(key)
        if patterns is None:
            continue
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            ctx.error((*path, key), "expected a list of strings")
            continue
        if allow:
            location["allow"] = False
        for pattern in patterns:
            rules[pattern] = {"allow": allow}
    if rules:
        location["rules"] = rules
    return location


def _check_passthru(ctx: Ctx, value: Any, at: Path) -> None:
    if value is not None and not isinstance(value, bool | str):
        ctx.error(at, "expected true, false or a path such as /index.php")


def _check_expires(ctx: Ctx, value: Any, at: Path) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
        ctx.error(at, "expected a duration such as 1h, or -1")


def _check_location(ctx: Ctx, spec: dict[str, Any], at: Path) -> None:
    ctx.known_keys(spec, at, LOCATION_KEYS)
    root = ctx.string(spec.get("root"), (*at, "root"))
    if root is not None and relative_path(root) is None:
        ctx.error((*at, "root"), "may not leave the app")
    _check_passthru(ctx, spec.get("passthru"), (*at, "passthru"))
    for key in ("allow", "scripts"):
        ctx.boolean(spec.get(key), (*at, key))
    index = spec.get("index")
    if index is not None and not (
        isinstance(index, str)
        or (isinstance(index, list) and all(isinstance(i, str) for i in index))
    ):
        ctx.error((*at, "index"), "expected a list of strings")
    _check_expires(ctx, spec.get("expires"), (*at, "expires"))
    for key in ("headers", "request_buffering"):
        ctx.mapping(spec.get(key), (*at, key))
    rules = ctx.mapping(spec.get("rules"), (*at, "rules"))
    for pattern, rule in (rules or {}).items():
        ctx.mapping(rule, (*at, "rules", pattern))


def _locations(ctx: Ctx, value: Any, path: Path) -> dict[str, dict[str, Any]]:
    spec = ctx.mapping(value, path)
    out: dict[str, dict[str, Any]] = {}
    for prefix, entry in (spec or {}).items():
        at = (*path, prefix)
        if not prefix.startswith("/"):
            ctx.error(at, "location paths start with /")
            continue
        location = ctx.mapping(entry, at)
        if location is None and entry is not None:
            continue
        location = copy.deepcopy(location or {})
        _check_location(ctx, location, at)
        out[prefix] = location
    return out


def document_root(locations: dict[str, dict[str, Any]]) -> str:
    """The absolute web root: `/app` plus the `/` location's `root`, if any."""
    root = locations.get("/", {}).get("root")
    rel = relative_path(root) if isinstance(root, str) else None
    return f"{APP_DIR}/{rel}" if rel else APP_DIR


def parse_web(ctx: Ctx, value: Any, language: str) -> Web:
    """The `web` section of an app of ``language`` (PHP needs no start command and
    listens on a Unix socket by default; "" = unknown, so no start is demanded)."""
    path: Path = ("web",)
    php = language == "php"
    spec = ctx.mapping(value, path) or {}
    ctx.known_keys(spec, path, WEB_KEYS)
    commands, _ = parse_commands(
        ctx, spec.get("commands"), (*path, "commands"), start_required=language not in ("php", "")
    )

    upstream_spec = ctx.mapping(spec.get("upstream"), (*path, "upstream")) or {}
    ctx.known_keys(upstream_spec, (*path, "upstream"), frozenset({"socket_family", "protocol"}))
    family = ctx.choice(
        upstream_spec.get("socket_family"), (*path, "upstream", "socket_family"), ("tcp", "unix")
    )
    protocol = ctx.choice(
        upstream_spec.get("protocol"), (*path, "upstream", "protocol"), ("http", "fastcgi")
    )
    family = family or ("unix" if php else "tcp")
    protocol = protocol or ("fastcgi" if php else "http")

    locations = _locations(ctx, spec.get("locations"), (*path, "locations"))
    legacy = [key for key in LEGACY_KEYS if key in spec]
    if legacy and locations:
        for key in legacy:
            ctx.warn((*path, key), "ignored: web.locations is set")
    elif legacy:
        locations = {"/": _legacy_location(ctx, spec, path)}

    move_to_root = ctx.boolean(spec.get("move_to_root"), (*path, "move_to_root"))
    raw: dict[str, Any] = {
        "locations": locations,
        "commands": commands,
        "upstream": {"socket_family": family, "protocol": protocol},
        "move_to_root": bool(move_to_root),
    }
    mounts: dict[str, Mount] | None = None
    if spec.get("mounts") is not None:
        mounts, raw["mounts"] = parse_mounts(ctx, spec["mounts"], (*path, "mounts"))
    for key in PASSED_THROUGH:
        if key in spec:
            raw[key] = copy.deepcopy(spec[key])
    return Web(
        commands.get("start"),
        commands.get("pre_start"),
        commands.get("post_start"),
        family,
        locations,
        document_root(locations),
        mounts,
        raw,
    )
