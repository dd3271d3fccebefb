"""What of an app's configuration its build may see, and the id that decides
whether a build can be reused (platform-runtime.md §3, platform-deploy.md §3.4)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from homeport.runtime.appconfig.model import AppConfig

# Runtime-only keys: changing them redeploys the app without rebuilding it.
_RUNTIME_ONLY = ("access", "relationships", "crons")


def build_time_application(app: AppConfig) -> dict[str, Any]:
    """The build-time `PLATFORM_APPLICATION`: the normalised config without
    `access`, `relationships`, `crons`, the deploy and post_deploy hooks, `web`
    (but for `web.mounts`) and `workers` (but for each worker's `mounts`)."""
    out = copy.deepcopy(app.raw)
    for key in _RUNTIME_ONLY:
        out.pop(key, None)
    hooks = out.get("hooks")
    if isinstance(hooks, dict):
        out["hooks"] = {"build": hooks.get("build", "")}
    web = out.pop("web", None)
    if isinstance(web, dict) and "mounts" in web:
        out["web"] = {"mounts": web["mounts"]}
    workers = out.pop("workers", None)
    if isinstance(workers, dict):
        # A worker without its own mounts contributes nothing: adding one must not
        # force a rebuild.
        kept = {
            name: {"mounts": worker["mounts"]}
            for name, worker in workers.items()
            if isinstance(worker, dict) and "mounts" in worker
        }
        if kept:
            out["workers"] = kept
    return out


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build_config_id(app: AppConfig) -> str:
    """sha256 (hex) of the canonical JSON of ``build_time_application(app)``."""
    return hashlib.sha256(canonical_json(build_time_application(app)).encode()).hexdigest()
