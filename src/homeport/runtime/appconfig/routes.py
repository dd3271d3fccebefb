"""routes.yaml templates → the environment's routes, keyed by absolute URL, in the
`PLATFORM_ROUTES` shape (platform-deploy.md §5.2-§5.3, platform-runtime.md §3)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from homeport.runtime.appconfig.model import ProjectConfig
from homeport.runtime.appconfig.routecheck import CACHE_KEYS, TEMPLATE

HTTPS = "https://"
HTTP = "http://"


def _cache(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "enabled": True,
        "default_ttl": 0,
        "cookies": ["*"],
        "headers": ["Accept", "Accept-Language"],
    }
    if isinstance(spec, dict):
        out.update(copy.deepcopy({k: v for k, v in spec.items() if k in CACHE_KEYS}))
    return out


def _ssi(spec: Any) -> dict[str, Any]:
    # The reference table calls `ssi` a boolean, the SSI page a mapping: take both.
    if isinstance(spec, bool):
        return {"enabled": spec}
    if isinstance(spec, dict):
        return {"enabled": spec.get("enabled") is True}
    return {"enabled": False}


def _tls(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "strict_transport_security": {"enabled": None, "include_subdomains": None, "preload": None},
        "min_version": None,
        "client_authentication": None,
        "client_certificate_authorities": [],
    }
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "strict_transport_security" and isinstance(value, dict):
                out[key].update(copy.deepcopy(value))
            else:
                out[key] = copy.deepcopy(value)
    return out


def _redirects(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"expires": "-1s", "paths": {}}
    if isinstance(spec, dict):
        out.update(copy.deepcopy(spec))
    return out


def expand_url(template: str, default_host: str) -> str:
    """``template`` with ``{default}`` and ``{all}`` filled in (both are the default
    host: custom domains are not Homeport's), and ``/`` after a bare host."""
    if TEMPLATE.match(template) is None:
        return template  # not a template (validation refuses these); leave it be
    scheme, _, rest = template.partition("://")
    rest = rest.replace("{default}", default_host).replace("{all}", default_host)
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/{path}"


def _downgrade(url: str) -> str:
    return HTTP + url[len(HTTPS) :] if url.startswith(HTTPS) else url


@dataclass
class _Candidate:
    url: str
    order: tuple[int, int]  # (template position, 0 = itself | 1 = its generated redirect)
    # Lowest wins a URL claimed twice: written before generated, a {default} (or
    # literal) host before {all}, an https template before an http one.
    rank: tuple[int, int, int]
    route: dict[str, Any]


def _route(template: str, spec: dict[str, Any], default_host: str) -> dict[str, Any]:
    kind = spec.get("type", "upstream")
    route: dict[str, Any] = {
        "primary": spec.get("primary") is True,
        "id": spec.get("id"),
        "attributes": copy.deepcopy(spec.get("attributes") or {}),
        "type": kind,
        "original_url": template,
        "restrict_robots": True,
        "tls": _tls(spec.get("tls")),
        "redirects": _redirects(spec.get("redirects")),
    }
    if kind == "upstream":
        # PLATFORM_ROUTES names the app alone; the API adds `:http` back.
        route["upstream"] = str(spec.get("upstream", "")).partition(":")[0]
        route["cache"] = _cache(spec.get("cache"))
        route["ssi"] = _ssi(spec.get("ssi"))
    else:
        route["to"] = expand_url(str(spec.get("to", "")), default_host)
    return route


def _generated_redirect(template: str, target: str) -> dict[str, Any]:
    return {
        "primary": False,
        "id": None,
        "attributes": {},
        "type": "redirect",
        "to": target,
        "original_url": HTTP + template[len(HTTPS) :],
        "restrict_robots": True,
        "tls": _tls(None),
        "redirects": _redirects(None),
    }


def _templates(config: ProjectConfig) -> dict[str, dict[str, Any]]:
    """routes.yaml, or the documented default: the first app at ``https://{default}/``."""
    if config.routes:
        return config.routes
    if not config.apps:
        return {}
    return {f"{HTTPS}{{default}}/": {"type": "upstream", "upstream": f"{config.apps[0].name}:http"}}


def expand_routes(
    config: ProjectConfig, default_host: str, *, tls: bool = False
) -> dict[str, dict[str, Any]]:
    """The final routes keyed by absolute URL.

    Every https route gets an ``http://`` twin redirecting to it unless the file
    defines that URL itself. Without ``tls`` the https routes are served as http
    instead: their twins are not made, redirects to a served host are rewritten to
    http, and a redirect that would now point at itself is dropped (``original_url``
    stays as written). ``primary`` is the route marked so, else the first upstream.
    """
    candidates: list[_Candidate] = []
    for index, (template, spec) in enumerate(_templates(config).items()):
        url = expand_url(template, default_host)
        secure = url.startswith(HTTPS)
        uses_all = int("{all}" in template)
        route = _route(template, spec, default_host)
        candidates.append(
            _Candidate(
                url if tls else _downgrade(url), (index, 0), (0, uses_all, int(not secure)), route
            )
        )
        if secure and tls:
            twin = _generated_redirect(template, url)
            candidates.append(_Candidate(_downgrade(url), (index, 1), (1, uses_all, 0), twin))

    winners: dict[str, _Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: (c.rank, c.order)):
        winners.setdefault(candidate.url, candidate)
    chosen = sorted(winners.values(), key=lambda c: c.order)

    if not tls:
        served = {urlsplit(c.url).netloc for c in chosen}
        kept: list[_Candidate] = []
        for candidate in chosen:
            target = candidate.route.get("to")
            if isinstance(target, str) and urlsplit(target).netloc in served:
                candidate.route["to"] = target = _downgrade(target)
            if candidate.route["type"] == "redirect" and target == candidate.url:
                continue
            kept.append(candidate)
        chosen = kept

    if not any(c.route["primary"] for c in chosen):
        for candidate in chosen:
            if candidate.route["type"] == "upstream":
                candidate.route["primary"] = True
                break
    return {candidate.url: candidate.route for candidate in chosen}
