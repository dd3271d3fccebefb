"""A commit's configuration files → `ProjectConfig` (platform-deploy.md §3.1,
platform-runtime.md §4.1)."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from typing import Any

from homeport.runtime.appconfig.app import ParsedApp, parse_app
from homeport.runtime.appconfig.context import Ctx, Document, Issues
from homeport.runtime.appconfig.model import ConfigError, ProjectConfig
from homeport.runtime.appconfig.routecheck import check_routes
from homeport.runtime.appconfig.yamlload import load_yaml

APP_FILE = ".platform.app.yaml"
APPLICATIONS_FILE = ".platform/applications.yaml"
ROUTES_FILE = ".platform/routes.yaml"
SERVICES_FILE = ".platform/services.yaml"
# `.platform.app.yaml` counts at any depth; the `.platform/` files only at the top.
CONFIG_FILE_NAMES = (APP_FILE, APPLICATIONS_FILE, ROUTES_FILE, SERVICES_FILE)


def is_config_path(path: str) -> bool:
    """Whether the file at repository path ``path`` is one ``load_project_config``
    reads (the caller supplies exactly these)."""
    return (
        path == APP_FILE
        or path.endswith("/" + APP_FILE)
        or path in (APPLICATIONS_FILE, ROUTES_FILE, SERVICES_FILE)
    )


def _applications(doc: Document, issues: Issues) -> list[ParsedApp]:
    """The apps of `.platform/applications.yaml`: a list of app mappings, or a
    mapping of name → app. With several apps each must say where it lives."""
    ctx = Ctx(doc, issues)
    data = doc.data
    if data is None:
        return []
    if isinstance(data, list):
        several = len(data) > 1
        return [
            parse_app(
                ctx.sub(index),
                item,
                source_file=doc.file,
                default_root="",
                root_required=several,
            )
            for index, item in enumerate(data)
        ]
    if isinstance(data, dict):
        several = len(data) > 1
        return [
            parse_app(
                ctx.sub(name),
                item,
                source_file=doc.file,
                default_root="",
                name_from_key=name,
                root_required=several,
            )
            for name, item in data.items()
        ]
    ctx.error((), "expected a list of apps or a mapping of app name to app")
    return []


def _services(doc: Document, issues: Issues) -> dict[str, dict[str, Any]]:
    """services.yaml as written, checked only for shape: Homeport runs no services
    yet, and the deploy step says so."""
    ctx = Ctx(doc, issues)
    out: dict[str, dict[str, Any]] = {}
    for name, value in (ctx.mapping(doc.data, ()) or {}).items():
        spec = ctx.mapping(value, (name,), required=True)
        if spec is None:
            continue
        ctx.string(spec.get("type"), (name, "type"), required=True)
        out[name] = copy.deepcopy(spec)
    return out


def load_project_config(files: Mapping[str, bytes]) -> ProjectConfig:
    """Parse and validate a commit's configuration.

    ``files`` maps repository paths to contents: every ``.platform.app.yaml`` and the
    ``.platform/`` files present (see ``is_config_path``; other paths are ignored).
    Raises ConfigError listing every problem, each with file, line and key path.
    """
    issues = Issues()
    docs: dict[str, Document] = {}
    for path in sorted(files):
        if is_config_path(path):
            doc = load_yaml(path, files[path], issues)
            if doc is not None:
                docs[path] = doc

    parsed: list[ParsedApp] = []
    for path, doc in docs.items():
        if path == APPLICATIONS_FILE:
            parsed.extend(_applications(doc, issues))
        elif path not in (ROUTES_FILE, SERVICES_FILE):
            parsed.append(
                parse_app(
                    Ctx(doc, issues),
                    doc.data,
                    source_file=path,
                    default_root=posixpath.dirname(path),
                )
            )

    seen: dict[str, ParsedApp] = {}
    for app in parsed:
        if app.name is None:
            continue
        first = seen.get(app.name)
        if first is None:
            seen[app.name] = app
            continue
        issues.errors.append(
            f"{app.file}:{app.line}: name: app {app.name!r} is defined twice "
            f"(also in {first.file}:{first.line})"
        )

    routes: dict[str, dict[str, Any]] = {}
    if ROUTES_FILE in docs:
        routes = check_routes(Ctx(docs[ROUTES_FILE], issues), docs[ROUTES_FILE].data, set(seen))
    services = _services(docs[SERVICES_FILE], issues) if SERVICES_FILE in docs else {}

    if issues.errors:
        raise ConfigError(issues.errors)
    apps = sorted((p.config for p in parsed if p.config is not None), key=lambda a: a.name)
    return ProjectConfig(apps, routes, services, issues.warnings)
