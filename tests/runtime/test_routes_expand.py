"""routes.yaml templates → final URLs in the PLATFORM_ROUTES shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeport.runtime.appconfig import ProjectConfig, expand_routes, load_project_config

FIXTURES = Path(__file__).parent / "fixtures" / "appconfig"
HOST = "main-abc1234-proj.example.test"
APP_TEXT = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: run\n"


def config(routes: str | None = None, apps: tuple[str, ...] = ("app",)) -> ProjectConfig:
    files = {
        f"{name}/.platform.app.yaml": APP_TEXT.replace("name: app", f"name: {name}").encode()
        for name in apps
    }
    if routes is not None:
        files[".platform/routes.yaml"] = routes.encode()
    return load_project_config(files)


def fixture_config() -> ProjectConfig:
    return load_project_config(
        {
            ".platform/applications.yaml": (FIXTURES / "applications.yaml").read_bytes(),
            ".platform/routes.yaml": (FIXTURES / "routes.yaml").read_bytes(),
        }
    )


def test_default_route_with_tls_has_its_http_redirect() -> None:
    routes = expand_routes(config(apps=("web", "api")), HOST, tls=True)
    assert list(routes) == [f"https://{HOST}/", f"http://{HOST}/"]
    main = routes[f"https://{HOST}/"]
    assert main["type"] == "upstream" and main["upstream"] == "api"  # first app by name
    assert main["primary"] is True and main["original_url"] == "https://{default}/"
    redirect = routes[f"http://{HOST}/"]
    assert redirect["type"] == "redirect" and redirect["to"] == f"https://{HOST}/"
    assert redirect["primary"] is False and redirect["original_url"] == "http://{default}/"


def test_default_route_without_tls_is_served_over_http() -> None:
    routes = expand_routes(config(), HOST)
    assert list(routes) == [f"http://{HOST}/"]
    route = routes[f"http://{HOST}/"]
    assert route["original_url"] == "https://{default}/" and route["primary"] is True


def test_route_shape() -> None:
    route = expand_routes(config(), HOST)[f"http://{HOST}/"]
    assert route == {
        "primary": True,
        "id": None,
        "attributes": {},
        "type": "upstream",
        "upstream": "app",
        "original_url": "https://{default}/",
        "restrict_robots": True,
        "cache": {
            "enabled": True,
            "default_ttl": 0,
            "cookies": ["*"],
            "headers": ["Accept", "Accept-Language"],
        },
        "ssi": {"enabled": False},
        "tls": {
            "strict_transport_security": {
                "enabled": None,
                "include_subdomains": None,
                "preload": None,
            },
            "min_version": None,
            "client_authentication": None,
            "client_certificate_authorities": [],
        },
        "redirects": {"expires": "-1s", "paths": {}},
    }


def test_no_apps_no_routes() -> None:
    assert expand_routes(ProjectConfig(), HOST, tls=True) == {}


def test_fixture_routes_with_tls() -> None:
    routes = expand_routes(fixture_config(), HOST, tls=True)
    assert list(routes) == [
        f"https://{HOST}/",
        f"http://{HOST}/",
        f"https://api.{HOST}/",
        f"http://api.{HOST}/",
        f"https://www.{HOST}/",
        f"http://www.{HOST}/",
    ]
    assert routes[f"https://{HOST}/"]["upstream"] == "frontend"
    assert routes[f"https://{HOST}/"]["primary"] is True
    assert routes[f"https://api.{HOST}/"]["cache"]["enabled"] is False
    assert routes[f"https://api.{HOST}/"]["primary"] is False
    assert routes[f"https://www.{HOST}/"]["to"] == f"https://{HOST}/"
    assert routes[f"http://www.{HOST}/"]["to"] == f"https://www.{HOST}/"
    assert sum(route["primary"] for route in routes.values()) == 1


def test_fixture_routes_without_tls() -> None:
    routes = expand_routes(fixture_config(), HOST)
    assert list(routes) == [f"http://{HOST}/", f"http://api.{HOST}/", f"http://www.{HOST}/"]
    # The redirect follows its target down to http; original_url stays as written.
    assert routes[f"http://www.{HOST}/"]["to"] == f"http://{HOST}/"
    assert routes[f"http://www.{HOST}/"]["original_url"] == "https://www.{default}/"


def test_written_http_to_https_redirect_is_dropped_without_tls() -> None:
    text = (
        '"https://{default}/":\n  type: upstream\n  upstream: "app:http"\n'
        '"http://{default}/":\n  type: redirect\n  to: "https://{default}/"\n'
    )
    assert list(expand_routes(config(text), HOST)) == [f"http://{HOST}/"]
    with_tls = expand_routes(config(text), HOST, tls=True)
    assert list(with_tls) == [f"https://{HOST}/", f"http://{HOST}/"]
    assert with_tls[f"http://{HOST}/"]["original_url"] == "http://{default}/"


def test_written_http_route_beats_the_generated_redirect() -> None:
    text = (
        '"https://{default}/":\n  type: upstream\n  upstream: app\n'
        '"http://{default}/":\n  type: upstream\n  upstream: app\n'
    )
    routes = expand_routes(config(text), HOST, tls=True)
    assert routes[f"http://{HOST}/"]["type"] == "upstream"
    assert routes[f"https://{HOST}/"]["primary"] is True
    assert routes[f"http://{HOST}/"]["primary"] is False


def test_placeholders_hosts_and_paths() -> None:
    text = (
        '"https://{all}/shop":\n  type: upstream\n  upstream: app\n'
        '"https://static.example.org":\n  type: upstream\n  upstream: app\n'
        '"https://www.{default}/blog/":\n  type: upstream\n  upstream: app\n'
    )
    routes = expand_routes(config(text), HOST, tls=True)
    assert [url for url in routes if url.startswith("https://")] == [
        f"https://{HOST}/shop",
        "https://static.example.org/",
        f"https://www.{HOST}/blog/",
    ]
    assert routes[f"http://{HOST}/shop"]["to"] == f"https://{HOST}/shop"
    assert routes["https://static.example.org/"]["original_url"] == "https://static.example.org"


def test_default_beats_all_on_the_same_url() -> None:
    text = (
        '"https://{all}/":\n  type: upstream\n  upstream: one\n'
        '"https://{default}/":\n  type: upstream\n  upstream: two\n'
    )
    routes = expand_routes(config(text, apps=("one", "two")), HOST, tls=True)
    assert routes[f"https://{HOST}/"]["upstream"] == "two"
    assert routes[f"https://{HOST}/"]["original_url"] == "https://{default}/"


def test_primary_defaults_to_the_first_upstream_route() -> None:
    text = (
        '"https://www.{default}/":\n  type: redirect\n  to: "https://{default}/"\n'
        '"https://{default}/":\n  type: upstream\n  upstream: app\n'
        '"https://api.{default}/":\n  type: upstream\n  upstream: app\n'
    )
    routes = expand_routes(config(text), HOST)
    primaries = [url for url, route in routes.items() if route["primary"]]
    assert primaries == [f"http://{HOST}/"]


def test_route_options_are_kept() -> None:
    text = (
        '"https://{default}/":\n  type: upstream\n  upstream: app\n  id: main\n'
        "  attributes: {team: web}\n  ssi: {enabled: true}\n  cache: {default_ttl: 60}\n"
        "  tls: {min_version: TLSv1.2, strict_transport_security: {enabled: true}}\n"
        '"https://old.{default}/":\n  type: redirect\n  to: "https://elsewhere.example.org/"\n'
    )
    routes: dict[str, dict[str, Any]] = expand_routes(config(text), HOST)
    route = routes[f"http://{HOST}/"]
    assert (route["id"], route["attributes"], route["ssi"]) == (
        "main",
        {"team": "web"},
        {"enabled": True},
    )
    assert route["cache"]["default_ttl"] == 60 and route["cache"]["enabled"] is True
    assert route["tls"]["min_version"] == "TLSv1.2"
    assert route["tls"]["strict_transport_security"]["enabled"] is True
    assert route["tls"]["strict_transport_security"]["preload"] is None
    # A redirect off-site keeps https even when this server serves plain http.
    assert routes[f"http://old.{HOST}/"]["to"] == "https://elsewhere.example.org/"
