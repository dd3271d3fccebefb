"""`environment:url`, `route:*`, `app:*`, `mount:list` and `environment:logs`."""

from __future__ import annotations

import base64
import io
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from homeport.cli.commands.deployment import (
    local_app_paths,
    natural_key,
    normalize_mounts,
    service_type,
    sort_routes,
)
from homeport.cli.env import Environment
from homeport.cli.main import main
from homeport.cli.registry import find

from ..conftest import Cli
from ..fake_api import FakeApiServer
from ..goldens import assert_golden

MAIN = ("-p", "proj1", "-e", "main")
STAGING = ("-p", "proj1", "-e", "staging")

# platform-deploy.md §9.1: both routes primary, the redirect first in the document.
FIXTURE_ROUTES = {
    "http://main.example.com/": {
        "primary": True,
        "id": None,
        "type": "redirect",
        "to": "https://main.example.com/",
        "original_url": "http://{default}",
    },
    "https://main.example.com/": {
        "primary": True,
        "id": None,
        "type": "upstream",
        "upstream": "app:http",
        "original_url": "https://{default}",
    },
}
# One primary route, listed out of order on purpose.
SITE_ROUTES = {
    "http://www.site.test/": {
        "primary": False,
        "type": "redirect",
        "to": "https://www.site.test/",
        "original_url": "http://www.{default}/",
    },
    "https://www.site.test/": {
        "primary": False,
        "type": "redirect",
        "to": "https://site.test/",
        "original_url": "https://www.{default}/",
    },
    "http://site.test/": {
        "primary": False,
        "type": "redirect",
        "to": "https://site.test/",
        "original_url": "http://{default}/",
    },
    "https://site.test/blog/": {
        "primary": False,
        "id": "blog",
        "type": "upstream",
        "upstream": "web:http",
        "original_url": "https://{default}/blog/",
    },
    "https://site.test/": {
        "primary": True,
        "id": "main",
        "type": "upstream",
        "upstream": "api:http",
        "original_url": "https://{default}/",
    },
}
SITE_ORDER = [
    "https://site.test/",
    "https://www.site.test/",
    "https://site.test/blog/",
    "http://site.test/",
    "http://www.site.test/",
]
MAIN_APP = {
    "name": "app",
    "type": "python:3.11",
    "size": "M",
    "disk": 512,
    "mounts": {"/public/sites/default/files": {"source": "local", "source_path": "files"}},
    "web": {"commands": {"start": "gunicorn app:app"}},
}


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.fixture(autouse=True)
def deployments(fake: FakeApiServer) -> None:
    fake.add_deployment("proj1", "main", webapps={"app": MAIN_APP}, routes=FIXTURE_ROUTES)
    fake.add_deployment(
        "proj1",
        "staging",
        webapps={
            "web": {"name": "web", "type": "nodejs:20", "size": "S", "disk": 256, "mounts": {}},
            "api": {
                "name": "api",
                "type": "php:8.2:fpm",
                "size": "L",
                "disk": 1024,
                "mounts": {"/var/": "shared:files/cache/"},
            },
        },
        workers={
            "web--queue": {
                "name": "web--queue",
                "type": "nodejs:20",
                "mounts": {"queue": {"source": "local", "source_path": "/queue/"}},
            },
            "api--queue": {"name": "api--queue", "type": "php:8.2", "mounts": {}},
        },
        services={"db": {"type": "postgresql:15"}},
        routes=SITE_ROUTES,
    )
    fake.add_deployment("proj1", "feature-x")
    fake.app_logs[("proj1", "main", "app", "app")] = [f"line {i}" for i in range(1, 6)]
    fake.app_logs[("proj1", "main", "deploy", "app")] = ["deployed"]
    fake.app_logs[("proj1", "staging", "cron", "web--queue")] = ["queue cron ran"]


def deployment_calls(fake: FakeApiServer) -> list[Any]:
    return fake.calls("GET", r".*/deployments/current")


# Helpers ---------------------------------------------------------------------------


def test_sort_routes_primary_https_then_shorter() -> None:
    assert [r["url"] for r in sort_routes(SITE_ROUTES)] == SITE_ORDER
    # Several primaries keep their document order (the PHP CLI's usort does too).
    assert [r["url"] for r in sort_routes(FIXTURE_ROUTES)] == [
        "http://main.example.com/",
        "https://main.example.com/",
    ]
    reversed_fixture = dict(reversed(list(FIXTURE_ROUTES.items())))
    assert sort_routes(reversed_fixture)[0]["url"] == "https://main.example.com/"
    # Defaults are filled in and the final URL added.
    route = sort_routes({"https://x.test/": {"type": "upstream"}})[0]
    assert route == {"id": None, "primary": False, "type": "upstream", "url": "https://x.test/"}


def test_small_helpers() -> None:
    assert sorted(["app10", "app2", "app1"], key=natural_key) == ["app1", "app2", "app10"]
    assert service_type("php:8.2:fpm") == "php:8.2"
    assert service_type("python:3.11") == "python:3.11"
    assert service_type(None) == ""
    assert normalize_mounts(
        {" /web/files/ ": {"source": "local", "source_path": "/files/"}, "tmp": "shared:files/t"}
    ) == {
        "web/files": {"source": "local", "source_path": "files"},
        "tmp": {"source": "local", "source_path": "t"},
    }
    assert normalize_mounts(None) == {}


def test_local_app_paths(tmp_path: Path) -> None:
    (tmp_path / ".platform.app.yaml").write_text("name: root\ntype: 'php:8.2'\n")
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / ".platform.app.yaml").write_text("name: api\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / ".platform.app.yaml").write_text("name: ignored\n")
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "applications.yaml").write_text(
        "- name: front\n  source:\n    root: /frontend/\n- name: bad\n"
    )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ".platform.app.yaml").write_text("name: [unclosed\n")
    assert local_app_paths(str(tmp_path)) == {
        "front": "frontend",
        "bad": ".",
        "root": ".",
        "api": "backend",
    }


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("url", "environment:url"),
        ("routes", "route:list"),
        ("environment:routes", "route:list"),
        ("apps", "app:list"),
        ("mounts", "mount:list"),
        ("log", "environment:logs"),
        ("logs", "environment:logs"),
        ("route:g", "route:get"),
        ("app:config", "app:config-get"),
    ],
)
def test_names_and_aliases(name: str, command: str) -> None:
    assert find(name).name == command


def test_listed_with_aliases(cli: Cli) -> None:
    out = cli("list").out
    for line in (
        "environment:url (url)",
        "route:list (routes)",
        "app:list (apps)",
        "mount:list (mounts)",
        "environment:logs (log)",
        "route:get ",
        "app:config-get ",
    ):
        assert f"  {line}" in out
    assert "environment:routes" not in out and "logs," not in out
    hidden = cli("list", "--all").out
    assert "route:list (routes, environment:routes)" in hidden
    assert "environment:logs (log, logs)" in hidden


# environment:url -------------------------------------------------------------------


def test_url_non_interactive_prints_only_the_first(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("url", *STAGING)
    assert result.code == 0, result
    assert result.out == "https://site.test/\n"
    assert result.err == ""
    # Through the environment's `#deployments` link.
    assert [r.path for r in deployment_calls(fake)] == [
        "/projects/proj1/environments/staging/deployments/current"
    ]


def test_url_pipe_and_browser_zero_print_all_sorted(cli: Cli) -> None:
    expected = "".join(f"{u}\n" for u in SITE_ORDER)
    assert cli("url", "--pipe", *STAGING).out == expected
    assert cli("environment:url", "--browser", "0", *STAGING).out == expected
    fixture = cli("url", "--pipe", *MAIN)
    assert fixture.out == "http://main.example.com/\nhttps://main.example.com/\n"


def test_url_primary(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("url", "-1", *STAGING).out == "https://site.test/\n"
    assert cli("url", "--primary", "--pipe", *STAGING).out == "https://site.test/\n"
    fake.deployments[("proj1", "staging")]["routes"] = {
        url: {**route, "primary": False} for url, route in SITE_ROUTES.items()
    }
    none = cli("url", "--primary", *STAGING)
    assert none.code == 1
    assert none.err == "No primary route found.\n" and none.out == ""
    # Without a primary route, https and shorter URLs come first.
    assert cli("url", *STAGING).out == "https://site.test/\n"


def test_url_none_found(cli: Cli) -> None:
    empty = cli("url", "-p", "proj1", "-e", "feature-x")
    assert empty.code == 1
    assert empty.err == "No URLs found.\n" and empty.out == ""
    # An environment without a deployment (404) has no URLs either.
    inactive = cli("url", "-p", "proj1", "-e", "old")
    assert inactive.code == 1 and inactive.err == "No URLs found.\n"


def test_url_browser_command_runs_with_the_url(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text("import pathlib, sys\npathlib.Path(sys.argv[1]).write_text(sys.argv[2])\n")
    command = " ".join(shlex.quote(p) for p in (sys.executable, str(script), str(target)))
    result = cli("url", "--browser", command, *STAGING)
    assert result.code == 0, result
    assert target.read_text() == "https://site.test/"
    assert result.out == "https://site.test/\n"
    primary = cli("url", "-1", "--browser", command, *MAIN)
    assert primary.code == 0
    assert target.read_text() == "http://main.example.com/"


def test_url_browser_command_not_found(cli: Cli) -> None:
    result = cli("url", "--browser", "no-such-browser --new-window", *STAGING)
    assert result.code == 0
    assert result.err == "Command not found: no-such-browser\n"
    assert result.out == "https://site.test/\n"


def test_url_interactive_without_a_display_prints_all(cli: Cli) -> None:
    result = cli("url", *STAGING, tty=True)
    assert result.code == 0
    assert result.out.splitlines() == SITE_ORDER


def test_url_interactive_opens_the_chosen_url(cli: Cli, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    target = tmp_path / "opened.txt"
    opener = bindir / "xdg-open"
    opener.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\n"
        f"pathlib.Path({str(target)!r}).write_text(sys.argv[1])\n"
    )
    opener.chmod(0o755)
    result = cli("url", *STAGING, tty=True, stdin="2\n", env={"DISPLAY": ":0", "PATH": str(bindir)})
    assert result.code == 0, result
    assert "Enter a number to open a URL" in result.err
    assert "[4] http://www.site.test/" in result.err
    assert target.read_text() == SITE_ORDER[2]
    assert result.out == f"{SITE_ORDER[2]}\n"


def test_url_from_platform_routes_in_a_container(cli: Cli, fake: FakeApiServer) -> None:
    container = {
        "PLATFORM_PROJECT": "proj1",
        "PLATFORM_BRANCH": "main",
        "PLATFORM_ROUTES": b64(SITE_ROUTES),
    }
    result = cli("url", "--pipe", env=container)
    assert result.code == 0, result
    assert result.out.splitlines() == SITE_ORDER
    # Naming the container's own project and environment still reads the variable.
    same = cli("url", "-1", "-p", "proj1", "-e", "main", env=container)
    assert same.out == "https://site.test/\n"
    assert fake.requests == []
    # Another environment: the API is asked.
    other = cli(
        "url", "--pipe", "-e", "main", "-p", "proj1", env={**container, "PLATFORM_BRANCH": "x"}
    )
    assert other.out == "http://main.example.com/\nhttps://main.example.com/\n"
    assert len(deployment_calls(fake)) == 1
    broken = cli("url", env={**container, "PLATFORM_ROUTES": "not base64 json"})
    assert broken.code == 1
    assert "PLATFORM_ROUTES environment variable does not hold base64-encoded JSON" in broken.err


def test_platform_routes_ignored_outside_a_container(cli: Cli) -> None:
    result = cli("url", "--pipe", *MAIN, env={"PLATFORM_ROUTES": b64(SITE_ROUTES)})
    assert result.out == "http://main.example.com/\nhttps://main.example.com/\n"


# route:list / route:get ------------------------------------------------------------


def test_route_list_fixture_golden(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("routes", *MAIN)
    assert result.code == 0, result
    assert result.out == (
        "+-------------------+----------+---------------------------+\n"
        "| Route             | Type     | To                        |\n"
        "+-------------------+----------+---------------------------+\n"
        "| http://{default}  | redirect | https://main.example.com/ |\n"
        "| https://{default} | upstream | app:http                  |\n"
        "+-------------------+----------+---------------------------+\n"
    )
    assert result.err == (
        "Routes on the project Demo Project (proj1), environment Main (main):\n"
        "\n"
        "To view a single route, run: platform route:get <route>\n"
    )
    assert_golden("route_list.table", f"{result.out}--- stderr ---\n{result.err}")


def test_route_list_argument_columns_and_formats(cli: Cli) -> None:
    result = cli("route:list", "staging", "-p", "proj1", "--format", "csv", "-c", "+url")
    assert result.code == 0, result
    assert result.err == ""
    assert result.out.splitlines() == [
        "Route,Type,To,URL",
        "https://{default}/,upstream,api:http,https://site.test/",
        "https://www.{default}/,redirect,https://site.test/,https://www.site.test/",
        "https://{default}/blog/,upstream,web:http,https://site.test/blog/",
        "http://{default}/,redirect,https://site.test/,http://site.test/",
        "http://www.{default}/,redirect,https://www.site.test/,http://www.site.test/",
    ]
    hidden = cli("environment:routes", "-p", "proj1", "-e", "staging", "--format", "plain")
    assert hidden.code == 0 and hidden.out.startswith("Route\tType\tTo\n")
    both = cli("routes", "staging", *STAGING)
    assert both.code == 1
    assert "You cannot use both the <environment> argument and the --environment option" in (
        both.err
    )


def test_route_list_none(cli: Cli) -> None:
    for env_id in ("feature-x", "old"):
        result = cli("routes", "-p", "proj1", "-e", env_id)
        assert result.code == 0
        assert result.err == "No routes found\n" and result.out == ""


def test_route_list_from_platform_routes(cli: Cli, fake: FakeApiServer) -> None:
    env = {
        "PLATFORM_PROJECT": "proj1",
        "PLATFORM_BRANCH": "main",
        "PLATFORM_ROUTES": b64(SITE_ROUTES),
    }
    result = cli("routes", env=env)
    assert result.code == 0, result
    assert result.err.startswith("Routes from the PLATFORM_ROUTES environment variable:\n")
    assert "| https://{default}/      | upstream | api:http               |" in result.out
    assert fake.requests == []
    # A different environment argument goes to the API.
    assert cli("routes", "feature-x", "-p", "proj1", env=env).err == "No routes found\n"


def test_route_get_yaml_and_property(cli: Cli) -> None:
    result = cli("route:get", "https://{default}", *MAIN)
    assert result.code == 0, result
    # All properties (with `id` and `primary` defaults) and the final URL, as YAML.
    assert result.out == (
        "id: null\n"
        "primary: true\n"
        "type: upstream\n"
        "upstream: app:http\n"
        "original_url: https://{default}\n"
        "url: https://main.example.com/\n"
    )
    assert cli("route:get", "https://{default}", "-P", "type", *MAIN).out == "upstream\n"
    assert (
        cli("route:get", "https://{default}", "-P", "url", *MAIN).out
        == "https://main.example.com/\n"
    )
    missing_prop = cli("route:get", "https://{default}", "-P", "nope", *MAIN)
    assert missing_prop.code == 1 and "Property not found: nope" in missing_prop.err


def test_route_get_by_id_and_primary(cli: Cli) -> None:
    assert cli("route:get", "--id", "blog", "-P", "upstream", *STAGING).out == "web:http\n"
    assert cli("route:get", "-1", "-P", "url", *STAGING).out == "https://site.test/\n"
    missing = cli("route:get", "--id", "nope", *STAGING)
    assert missing.code == 1
    assert missing.err == "No route found with ID: nope\n"
    no_primary = cli("route:get", "--primary", "-p", "proj1", "-e", "feature-x")
    assert no_primary.code == 1 and no_primary.err == "No primary route found.\n"


def test_route_get_not_found_and_missing_argument(cli: Cli) -> None:
    missing = cli("route:get", "https://nope/", *MAIN)
    assert missing.code == 1
    assert missing.err == "No route found for original URL: https://nope/\n"
    bare = cli("route:get", *MAIN)
    assert bare.code == 1
    assert "the --id option or the --primary option" in bare.err


def test_route_get_interactive_choice(cli: Cli) -> None:
    result = cli("route:get", "-P", "url", *STAGING, tty=True, stdin="\n")
    assert result.code == 0, result
    assert "Enter a number to choose a route:" in result.err
    assert "https://{default}/ (main) - primary" in result.err
    assert result.out == "https://site.test/\n"


def test_route_get_from_platform_routes(cli: Cli, fake: FakeApiServer) -> None:
    env = {"PLATFORM_PROJECT": "proj1", "PLATFORM_BRANCH": "b", "PLATFORM_ROUTES": b64(SITE_ROUTES)}
    result = cli("route:get", "--id", "blog", "-P", "original_url", env=env)
    assert result.out == "https://{default}/blog/\n"
    assert fake.requests == []


# app:list ----------------------------------------------------------------------------


def test_app_list_tsv_golden(cli: Cli) -> None:
    result = cli("apps", *MAIN, "--format", "tsv")
    assert result.code == 0, result
    assert result.out == "Name\tType\napp\tpython:3.11\n"
    assert result.err == ""
    assert_golden("app_list.tsv", f"{result.out}--- stderr ---\n{result.err}")


def test_app_list_table_columns_and_hints(cli: Cli) -> None:
    result = cli("app:list", *STAGING, "-c", "name,type,disk,size")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[1] == "| Name | Type      | Disk | Size |"
    # Sorted as in the deployment document; the third part of the type is dropped.
    assert lines[3] == "| web  | nodejs:20 | 256  | S    |"
    assert lines[4] == "| api  | php:8.2   | 1024 | L    |"
    # No hints for commands this client lacks (service:list, worker:list).
    assert result.err == "Applications on the project Demo Project (proj1), environment staging:\n"


def test_app_list_pipe(cli: Cli) -> None:
    assert cli("apps", "--pipe", *STAGING).out == "api\nweb\n"


def test_app_list_none_and_no_deployment(cli: Cli) -> None:
    empty = cli("apps", "-p", "proj1", "-e", "feature-x")
    assert empty.code == 0
    assert empty.err == "No applications found.\n" and empty.out == ""
    missing = cli("apps", "-p", "proj1", "-e", "old", "--refresh")
    assert missing.code == 1
    assert missing.err == "Unable to find deployment information for the environment: old\n"


def test_app_list_path_column_in_a_checkout(cli: Cli, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (checkout / ".git" / "config").write_text(
        f'[remote "platform"]\n\turl = {cli.environ["PLATFORMSH_CLI_API_URL"]}/git/proj1.git\n'
    )
    (checkout / ".platform" / "local").mkdir(parents=True)
    (checkout / ".platform" / "local" / "project.yaml").write_text("id: proj1\n")
    (checkout / "src").mkdir()
    (checkout / "src" / ".platform.app.yaml").write_text("name: app\ntype: 'python:3.11'\n")
    result = cli("apps", "-e", "main", cwd=checkout)
    assert result.code == 0, result
    assert result.out.splitlines()[1] == "| Name | Type        | Path |"
    assert result.out.splitlines()[3] == "| app  | python:3.11 | src  |"


# app:config-get ----------------------------------------------------------------------


def test_app_config_get(cli: Cli) -> None:
    result = cli("app:config-get", *MAIN)
    assert result.code == 0, result
    assert result.out == (
        "name: app\n"
        "type: python:3.11\n"
        "size: M\n"
        "disk: 512\n"
        "mounts:\n"
        "    /public/sites/default/files:\n"
        "        source: local\n"
        "        source_path: files\n"
        "web:\n"
        "    commands:\n"
        "        start: gunicorn app:app\n"
    )
    assert cli("app:config-get", "-P", "type", *MAIN).out == "python:3.11\n"
    assert cli("app:config-get", "-P", "web.commands.start", *MAIN).out == "gunicorn app:app\n"
    assert cli("app:config-get", "-A", "api", "-P", "size", *STAGING).out == "L\n"


def test_app_config_get_several_apps_non_interactive(cli: Cli) -> None:
    result = cli("app:config-get", *STAGING)
    assert result.code == 1
    assert "runs more than one app: api, web" in result.err
    assert "--app (-A) option" in result.err
    unknown = cli("app:config-get", "-A", "nope", *STAGING)
    assert unknown.code == 1
    assert "Application not found: nope" in unknown.err and "Apps: api, web" in unknown.err


def test_app_config_get_interactive_choice(cli: Cli) -> None:
    result = cli("app:config-get", "-P", "name", *STAGING, tty=True, stdin="1\n")
    assert result.code == 0, result
    assert "Enter a number to choose an app:" in result.err
    assert result.out == "web\n"


def test_app_config_get_missing_deployment(cli: Cli) -> None:
    result = cli("app:config-get", "-p", "proj1", "-e", "old")
    assert result.code == 1
    assert result.err == "Unable to find deployment information for the environment: old\n"


def test_app_config_get_from_platform_application(cli: Cli, fake: FakeApiServer) -> None:
    config = {"name": "app", "type": "golang:1.23", "size": "M", "disk": 2048, "mounts": {}}
    env = {
        "PLATFORM_PROJECT": "proj1",
        "PLATFORM_BRANCH": "main",
        "PLATFORM_APPLICATION_NAME": "app",
        "PLATFORM_APPLICATION": b64(config),
    }
    result = cli("app:config-get", env=env)
    assert result.code == 0, result
    assert result.out == "name: app\ntype: golang:1.23\nsize: M\ndisk: 2048\nmounts: {  }\n"
    assert cli("app:config-get", "-P", "type", env=env).out == "golang:1.23\n"
    assert fake.requests == []
    # Another app: read from the API.
    other = cli("app:config-get", "-A", "api", "-P", "type", "-e", "staging", env=env)
    assert other.out == "php:8.2:fpm\n"
    not_object = cli("app:config-get", env={**env, "PLATFORM_APPLICATION": b64([1])})
    assert not_object.code == 1 and "is not a JSON object" in not_object.err


def test_platform_application_name_preselects_the_app(cli: Cli) -> None:
    result = cli("app:config-get", "-P", "name", *STAGING, env={"PLATFORM_APPLICATION_NAME": "web"})
    assert result.code == 0 and result.out == "web\n"


# mount:list --------------------------------------------------------------------------


def test_mount_list_tsv_golden(cli: Cli) -> None:
    result = cli("mounts", *MAIN, "--format", "tsv")
    assert result.code == 0, result
    assert result.out == (
        'Mount path\tDefinition\npublic/sites/default/files\t"source: local\nsource_path: files"\n'
    )
    assert result.err == ""
    assert_golden("mount_list.tsv", f"{result.out}--- stderr ---\n{result.err}")


def test_mount_list_table_and_paths(cli: Cli) -> None:
    table = cli("mount:list", *MAIN)
    assert table.code == 0
    assert table.err == "Mounts on environment Main (main), app app:\n"
    assert "| public/sites/default/files | source: local      |" in table.out
    assert "|                            | source_path: files |" in table.out
    assert cli("mounts", "--paths", *MAIN).out == "public/sites/default/files\n"


def test_mount_list_apps_and_workers(cli: Cli) -> None:
    legacy = cli("mounts", "-A", "api", "--format", "plain", "--no-header", *STAGING)
    assert legacy.out == "var\tsource: local source_path: cache\n"
    worker = cli("mounts", "--worker", "web--queue", "--paths", *STAGING)
    assert worker.out == "queue\n"
    by_app = cli("mounts", "-A", "web", "--worker", "queue", "--format", "csv", *STAGING)
    assert by_app.out == 'Mount path,Definition\nqueue,"source: local\nsource_path: queue"\n'
    ambiguous = cli("mounts", "--worker", "queue", *STAGING)
    assert ambiguous.code == 1
    assert "More than one worker is called queue: api--queue, web--queue" in ambiguous.err
    missing = cli("mounts", "--worker", "nope", *STAGING)
    assert missing.code == 1 and "Worker not found: nope" in missing.err
    mismatch = cli("mounts", "-A", "api", "--worker", "web--queue", *STAGING)
    assert mismatch.code == 1
    assert "The worker web--queue does not belong to the app api" in mismatch.err
    several = cli("mounts", *STAGING)
    assert several.code == 1 and "--app (-A) or --worker option" in several.err


def test_mount_list_none(cli: Cli) -> None:
    result = cli("mounts", "-A", "web", *STAGING)
    assert result.code == 0
    assert result.err == "No mounts found on environment staging, app web\n"
    worker = cli("mounts", "--worker", "api--queue", *STAGING)
    assert worker.code == 0
    assert worker.err == "No mounts found on environment staging, worker api--queue\n"


def test_mount_list_missing_deployment(cli: Cli) -> None:
    result = cli("mounts", "-p", "proj1", "-e", "old")
    assert result.code == 1
    assert result.err == "Unable to find deployment information for the environment: old\n"


def test_mount_list_from_platform_application(cli: Cli, fake: FakeApiServer) -> None:
    config = {"name": "app", "mounts": {"/data/": {"source": "local", "source_path": "data"}}}
    env = {
        "PLATFORM_PROJECT": "proj1",
        "PLATFORM_BRANCH": "main",
        "PLATFORM_APPLICATION": b64(config),
    }
    assert cli("mounts", "--paths", env=env).out == "data\n"
    empty = cli("mounts", env={**env, "PLATFORM_APPLICATION": b64({"name": "app"})})
    assert empty.err == "No mounts found on environment main, app app\n"
    assert fake.requests == []


# environment:logs --------------------------------------------------------------------


def test_logs_last_lines(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("log", "app", "--lines", "2", *MAIN)
    assert result.code == 0, result
    assert result.out == "line 4\nline 5\n"
    assert result.err == "Reading log file app.log of app app on environment Main (main)\n"
    (call,) = fake.calls("GET", r".*/logs/app")
    assert call.path == "/projects/proj1/environments/main/logs/app"
    assert call.query == {"app": ["app"], "lines": ["2"]}
    default = cli("environment:logs", "deploy.log", *MAIN)
    assert default.out == "deployed\n"
    assert fake.calls("GET", r".*/logs/deploy")[0].query["lines"] == ["100"]


def test_logs_worker(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("logs", "cron", "-A", "web", "--worker", "queue", *STAGING)
    assert result.code == 0, result
    assert result.out == "queue cron ran\n"
    assert "Reading log file cron.log of worker web--queue on environment staging" in result.err
    assert fake.calls("GET", r".*/logs/cron")[0].query["app"] == ["web--queue"]


def test_logs_errors(cli: Cli, fake: FakeApiServer) -> None:
    no_type = cli("log", *MAIN)
    assert no_type.code == 1 and no_type.err == "No log type specified.\n"
    unknown = cli("log", "access", *MAIN)
    assert unknown.code == 1
    assert unknown.err == "Unknown log type: access. Available: app, cron, deploy, post-deploy\n"
    bad_lines = cli("log", "app", "--lines", "0", *MAIN)
    assert bad_lines.code == 1 and "--lines option must be a positive whole number" in bad_lines.err
    assert fake.requests == []
    missing = cli("log", "app", "-p", "proj1", "-e", "old")
    assert missing.code == 1
    assert missing.err == "Unable to find deployment information for the environment: old\n"
    several = cli("log", "app", *STAGING)
    assert several.code == 1 and "runs more than one app" in several.err


def test_logs_interactive_type_choice(cli: Cli) -> None:
    result = cli("log", *MAIN, tty=True, stdin="2\n")
    assert result.code == 0, result
    assert "Enter a number to choose a log:" in result.err
    assert "[3] post-deploy" in result.err
    assert result.out == "deployed\n"


def test_logs_tail_until_the_stream_ends(cli: Cli, fake: FakeApiServer) -> None:
    fake.log_follow_lines = ["new 1", "new 2"]
    fake.log_follow_ends = True
    result = cli("log", "app", "--tail", "--lines", "1", *MAIN)
    assert result.out == "line 5\nnew 1\nnew 2\n"
    assert result.code == 1
    assert result.err.endswith("The server closed the log stream.\n")
    assert fake.calls("GET", r".*/logs/app")[0].query == {
        "app": ["app"],
        "lines": ["1"],
        "follow": ["true"],
    }


class InterruptedAfter(io.StringIO):
    """stdout that raises KeyboardInterrupt (as Ctrl-C would) once `marker` is written."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def write(self, text: str) -> int:
        count = super().write(text)
        if self.marker in text:
            raise KeyboardInterrupt
        return count


def test_logs_tail_streams_until_ctrl_c(cli: Cli, fake: FakeApiServer) -> None:
    fake.log_follow_lines = ["new 1", "new 2", "never shown"]
    fake.log_delay = 0.05
    out, err = InterruptedAfter("new 2"), io.StringIO()
    env = Environment(
        stdin=io.StringIO(),
        stdout=out,
        stderr=err,
        environ=dict(cli.environ),
        cwd=str(cli.cwd),
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=False,
    )
    code = main(["log", "app", "--tail", *MAIN], env=env)
    assert code == 0, err.getvalue()
    assert out.getvalue() == "line 1\nline 2\nline 3\nline 4\nline 5\nnew 1\nnew 2\n"
    assert err.getvalue() == "Reading log file app.log of app app on environment Main (main)\n"
