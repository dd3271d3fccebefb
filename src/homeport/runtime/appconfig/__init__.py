"""A repository's app configuration: `.platform.app.yaml` files,
`.platform/applications.yaml`, `routes.yaml` and `services.yaml`, parsed safely,
validated with file:line messages and normalised for the build and deploy steps.

Modules: `yamlload` (bounded YAML with line numbers), `context` (error reporting
and typed reads), `app`/`web`/`sections` (one app), `routecheck` (routes.yaml),
`project` (the whole commit), `buildid` (build-time view and id), `routes`
(final URLs).
"""

from homeport.runtime.appconfig.buildid import build_config_id, build_time_application
from homeport.runtime.appconfig.model import (
    AppConfig,
    ConfigError,
    CronConfig,
    Mount,
    ProjectConfig,
    WorkerConfig,
)
from homeport.runtime.appconfig.project import (
    CONFIG_FILE_NAMES,
    is_config_path,
    load_project_config,
)
from homeport.runtime.appconfig.routes import expand_routes, expand_url

__all__ = [
    "CONFIG_FILE_NAMES",
    "AppConfig",
    "ConfigError",
    "CronConfig",
    "Mount",
    "ProjectConfig",
    "WorkerConfig",
    "build_config_id",
    "build_time_application",
    "expand_routes",
    "expand_url",
    "is_config_path",
    "load_project_config",
]
