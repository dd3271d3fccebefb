"""App configuration: real fixtures parse, legacy forms normalise, every validation
error names its file, line and key, and reading is bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeport.runtime.appconfig import (
    CONFIG_FILE_NAMES,
    ConfigError,
    Mount,
    ProjectConfig,
    build_config_id,
    build_time_application,
    is_config_path,
    load_project_config,
)

FIXTURES = Path(__file__).parent / "fixtures" / "appconfig"
APP = ".platform.app.yaml"
APPS = ".platform/applications.yaml"
ROUTES = ".platform/routes.yaml"
# A valid app in five lines; cases append to it, so their lines start at 6.
BASE = "name: app\ntype: python:3.11\nweb:\n  commands:\n    start: run\n"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(files: dict[str, str]) -> ProjectConfig:
    return load_project_config({path: text.encode() for path, text in files.items()})


def errors(files: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(files)
    return caught.value.errors


# --- the real fixtures ---------------------------------------------------------------


def test_django_fixture() -> None:
    config = load_project_config({APP: fixture("django.platform.app.yaml")})
    assert config.warnings == []
    (app,) = config.apps
    assert (app.name, app.type, app.runtime_language, app.runtime_version) == (
        "app",
        "python:3.8",
        "python",
        "3.8",
    )
    assert app.root == "" and app.source_file == APP
    assert app.build_flavor == "none"
    assert app.dependencies == {"python3": {"pipenv": "2018.10.13"}}
    assert app.socket_family == "unix"
    assert app.web_commands_start == "gunicorn -w 4 -b unix:$SOCKET myapp.wsgi:application"
    assert app.web_commands_pre_start is None
    assert list(app.web_locations) == ["/", "/static"]
    assert app.web_locations["/static"]["expires"] == "1h"
    assert app.document_root == "/app"
    assert app.mounts == {"logs": Mount("logs", "local", "logs")}
    assert app.raw["mounts"] == {"/logs": {"source": "local", "source_path": "logs"}}
    assert app.disk == 512 and app.size == "AUTO"
    assert app.relationships == {"database": "db:postgresql"}
    assert app.hooks_build.startswith("pipenv install --system --deploy\n")
    assert app.hooks_deploy == "python manage.py migrate\n"
    assert app.hooks_post_deploy == ""
    assert app.raw["hooks"]["post_deploy"] == ""
    assert list(app.source_operations) == ["auto-update"]
    assert app.access_ssh == "contributor" and app.crons == {} and app.workers == {}


def test_express_fixture() -> None:
    (app,) = load_project_config({APP: fixture("express.platform.app.yaml")}).apps
    assert app.type == "nodejs:14" and app.build_flavor == "default"
    assert app.socket_family == "tcp" and app.web_commands_start == "node index.js"
    assert app.hooks_build == "" and app.document_root == "/app"
    assert app.raw["web"]["upstream"] == {"socket_family": "tcp", "protocol": "http"}


def test_pimcore_fixture() -> None:
    config = load_project_config({APP: fixture("pimcore.platform.app.yaml")})
    assert config.warnings == []
    (app,) = config.apps
    assert app.type == "php:7.4"
    assert app.build_flavor == "none"  # build.flavor beats PHP's composer default
    assert app.web_commands_start is None and app.socket_family == "unix"
    assert app.document_root == "/app/web"
    assert app.web_locations["/"]["passthru"] == "/app.php"
    assert list(app.mounts) == [
        "var",
        "web/var",
        "pimcore",
        "web/pimcore",
        "web/bundles",
        "app/config/local",
    ]
    assert app.mounts["web/var"].source_path == "web_var"
    assert app.variables == {"php": {"memory_limit": "128M"}}
    cron = app.crons["pimcore_cron"]
    assert (cron.spec, cron.start, cron.stop) == ("*/5 * * * *", "bin/console maintenance", None)
    assert (cron.timeout, cron.shutdown_timeout) == (86400, 10)
    assert app.raw["crons"] == {
        "pimcore_cron": {
            "spec": "*/5 * * * *",
            "commands": {"start": "bin/console maintenance"},
            "shutdown_timeout": 10,
            "timeout": 86400,
        }
    }
    assert app.raw["runtime"]["extensions"][0] == "iconv"  # ignored keys stay visible
    assert app.relationships == {"database": "db:mysql", "redis": "cache:redis"}


def test_list_form_applications_and_routes_fixture() -> None:
    config = load_project_config(
        {APPS: fixture("applications.yaml"), ROUTES: fixture("routes.yaml")}
    )
    api, frontend = config.apps
    assert (api.name, api.root, api.source_file) == ("api", "api", APPS)
    assert (frontend.name, frontend.root) == ("frontend", "frontend")
    assert api.build_flavor == "composer" and api.web_commands_start is None
    assert api.document_root == "/app/public"
    assert api.crons["cleanup"].start == "php bin/console app:cleanup"
    assert frontend.crons["sitemap"].spec == "*/30 * * * *"
    assert frontend.raw["crons"]["sitemap"]["commands"] == {"start": "node scripts/sitemap.js"}
    assert api.mounts == {"var/cache": Mount("var/cache", "local", "cache")}
    assert list(config.routes) == [
        "https://{default}/",
        "https://api.{default}/",
        "https://www.{default}/",
    ]


# --- where apps come from ------------------------------------------------------------


def test_mapping_form_takes_the_name_from_the_key() -> None:
    (app,) = load({APPS: "web:\n  type: python:3.11\n  web: {commands: {start: run}}\n"}).apps
    assert (app.name, app.root) == ("web", "")


def test_mapping_form_with_several_apps_needs_source_root() -> None:
    text = (
        "api:\n  type: php:8.2\n"
        "site:\n  type: nodejs:20\n  source: {root: site}\n  web: {commands: {start: x}}\n"
    )
    assert errors({APPS: text}) == [
        ".platform/applications.yaml:1: api.source.root: "
        "required when applications.yaml defines several apps"
    ]


def test_mapping_form_name_must_match_its_key() -> None:
    text = "api:\n  name: other\n  type: php:8.2\n"
    assert errors({APPS: text}) == [
        ".platform/applications.yaml:2: api.name: does not match the app's key 'api'"
    ]


def test_app_root_is_the_file_directory_unless_source_root_says_otherwise() -> None:
    config = load(
        {
            "backend/.platform.app.yaml": BASE.replace("app", "api"),
            "services/worker/.platform.app.yaml": BASE.replace("app", "jobs")
            + "source:\n  root: shared/jobs/\n",
            APP: BASE + "source:\n  root: /\n",
        }
    )
    roots = {app.name: app.root for app in config.apps}
    assert roots == {"api": "backend", "jobs": "shared/jobs", "app": ""}
    assert [app.name for app in config.apps] == ["api", "app", "jobs"]


def test_duplicate_app_names_name_both_files() -> None:
    assert errors({APP: BASE, "backend/.platform.app.yaml": BASE}) == [
        "backend/.platform.app.yaml:1: name: app 'app' is defined twice "
        "(also in .platform.app.yaml:1)"
    ]


def test_config_paths() -> None:
    assert CONFIG_FILE_NAMES == (APP, APPS, ROUTES, ".platform/services.yaml")
    for path in (APP, "a/b/.platform.app.yaml", APPS, ROUTES, ".platform/services.yaml"):
        assert is_config_path(path)
    for path in ("x.platform.app.yaml", "sub/.platform/routes.yaml", ".platform/other.yaml"):
        assert not is_config_path(path)
    # Other paths handed in are ignored.
    assert len(load({APP: BASE, "README.md": "# not: [yaml"}).apps) == 1


def test_services_are_kept_as_written() -> None:
    config = load({APP: BASE, ".platform/services.yaml": "db:\n  type: postgresql:15\n"})
    assert config.services == {"db": {"type": "postgresql:15"}}


# --- legacy forms --------------------------------------------------------------------


def test_toolstack_gives_type_language_and_flavor() -> None:
    (app,) = load({APP: "name: app\ntype: php:8.1\ntoolstack: 'php:symfony'\n"}).apps
    assert (app.type, app.build_flavor) == ("php:8.1", "symfony")
    config = load({APP: "name: app\ntoolstack: 'php:composer'\n"})
    assert (config.apps[0].type, config.apps[0].runtime_language) == ("php", "php")
    assert config.apps[0].build_flavor == "composer"
    assert config.warnings == [
        ".platform.app.yaml:2: toolstack: names no version: set type: php:<version>"
    ]


def test_legacy_web_keys_become_the_root_location() -> None:
    text = (
        "name: app\ntype: php:8.1\nweb:\n  document_root: /web\n  passthru: /app.php\n"
        "  whitelist: ['\\.css$']\n  blacklist: ['\\.sql$']\n"
    )
    (app,) = load({APP: text}).apps
    assert app.web_locations == {
        "/": {
            "root": "/web",
            "expires": 0,
            "passthru": "/app.php",
            "allow": False,
            "rules": {"\\.css$": {"allow": True}, "\\.sql$": {"allow": False}},
        }
    }
    assert app.document_root == "/app/web"
    assert "document_root" not in app.raw["web"]


def test_legacy_mount_string_and_cron_forms() -> None:
    text = BASE + (
        "mounts:\n  '/web/files/': 'shared:files/files'\n  tmp: 'shared:files'\n"
        "crons:\n  a:\n    spec: '0 * * * *'\n    cmd: 'drush cron'\n"
        "  b:\n    spec: '0 * * * *'\n    commands: 'bin/console maintenance'\n"
        "  c:\n    spec: '0 * * * *'\n    commands: {start: run, stop: halt}\n"
        "    timeout: 60\n    shutdown_timeout: 3\n"
    )
    (app,) = load({APP: text}).apps
    assert app.mounts == {
        "web/files": Mount("web/files", "local", "files"),
        "tmp": Mount("tmp", "local", "tmp"),
    }
    assert app.raw["mounts"]["/web/files"] == {"source": "local", "source_path": "files"}
    assert {name: cron.start for name, cron in app.crons.items()} == {
        "a": "drush cron",
        "b": "bin/console maintenance",
        "c": "run",
    }
    c = app.crons["c"]
    assert (c.stop, c.timeout, c.shutdown_timeout) == ("halt", 60, 3)
    assert app.raw["crons"]["c"]["commands"] == {"start": "run", "stop": "halt"}


def test_workers_inherit_mounts_and_variables_unless_they_set_them() -> None:
    text = BASE + (
        "mounts: {data: {source: local}}\nvariables: {env: {A: '1'}}\n"
        "workers:\n  queue:\n    commands: {start: python worker.py}\n"
        "  mail:\n    commands: {start: mailer}\n    mounts: {spool: {source: tmp}}\n"
        "    variables: {env: {B: '2'}}\n"
    )
    (app,) = load({APP: text}).apps
    queue, mail = app.workers["queue"], app.workers["mail"]
    assert (queue.start, list(queue.mounts), queue.variables) == (
        "python worker.py",
        ["data"],
        {"env": {"A": "1"}},
    )
    assert (list(mail.mounts), mail.variables) == (["spool"], {"env": {"B": "2"}})
    assert app.raw["workers"]["mail"]["mounts"] == {
        "/spool": {"source": "tmp", "source_path": "spool"}
    }


def test_php_needs_no_start_command_and_defaults() -> None:
    (app,) = load({APP: "name: app\ntype: php:8.2\n"}).apps
    assert (app.web_commands_start, app.socket_family, app.build_flavor) == (
        None,
        "unix",
        "composer",
    )


# --- validation errors ---------------------------------------------------------------

ERROR_CASES = [
    (BASE.replace("start: run", "start: [a, b]"), ":5: web.commands.start: expected a string"),
    (BASE + "disk: lots\n", ":6: disk: expected an integer"),
    (BASE + "hooks: build\n", ":6: hooks: expected a mapping"),
    (
        BASE + "crons:\n  c:\n    spec: '* * *'\n    cmd: x\n",
        ":8: crons.c.spec: expected 5 fields (minute hour day month weekday), found 3",
    ),
    (BASE + "crons:\n  c:\n    spec: '* * * * *'\n", ":7: crons.c.commands.start: required"),
    (
        BASE + "crons:\n  c:\n    spec: '* * * * *'\n    cmd: x\n    timeout: 90000\n",
        ":10: crons.c.timeout: must be at most 86400",
    ),
    (
        BASE + "mounts:\n  '../up': {source: local}\n",
        ":7: mounts['../up']: a mount must be a directory inside the app",
    ),
    (BASE + "mounts:\n  '/': {source: local}\n", ":7: mounts['/']: a mount must be a directory"),
    (
        BASE + "mounts:\n  data: {source: nfs}\n",
        ":7: mounts.data.source: expected one of local, tmp, service, storage, instance",
    ),
    (
        BASE + "mounts:\n  data:\n    source: local\n    source_path: ../../etc\n",
        ":9: mounts.data.source_path: may not leave the mount's storage",
    ),
    (BASE + "mounts:\n  data: {source: service}\n", ":7: mounts.data.service: required"),
    (
        BASE + "variables:\n  FOO: bar\n",
        ":7: variables.FOO: variables must be nested under a prefix such as env",
    ),
    (BASE + "access:\n  ssh: root\n", ":7: access.ssh: expected one of admin, contributor"),
    (BASE + "source:\n  root: ../elsewhere\n", ":7: source.root: may not leave the repository"),
    (BASE + "source:\n  root: /srv/app\n", ":7: source.root: must be relative to the repository"),
    (
        BASE + "workers:\n  queue:\n    commands: {}\n",
        ":8: workers.queue.commands.start: required",
    ),
    (
        BASE + "  locations:\n    static: {}\n",
        ":7: web.locations.static: location paths start with /",
    ),
    (
        BASE + "  locations:\n    /:\n      root: ../../etc\n",
        ":8: web.locations['/'].root: may not leave the app",
    ),
    (BASE + "timezone: 3\n", ":6: timezone: expected a string"),
    ("name: app\ntype: python\n", ":2: type: expected <language>:<version>, such as python:3.11"),
    ("name: app\ntype: cobol:85\n", ":2: type: unknown language 'cobol' (expected one of python"),
    ("name: app\ntype: nodejs:20\n", ":1: web.commands.start: required"),
    ("name: My_App\ntype: php:8.2\n", ":1: name: use lowercase letters, digits and dashes"),
    (f"name: {'a' * 65}\ntype: php:8.2\n", ":1: name: at most 64 characters"),
    ("name: -app\ntype: php:8.2\n", ":1: name: use lowercase letters"),
    ("type: php:8.2\n", ":1: name: required"),
    ("name: app\ntype: php:8.2\nbuild: {flavor: [a]}\n", ":3: build.flavor: expected a string"),
    ("name: app\ntype: php:8.2\nname: again\n", ":3: duplicate key 'name'"),
    ("name: app\ntype: php:8.2\nhooks:\n  build: !include build.sh\n", ":4: unsupported YAML tag"),
    ("- name: app\n", ":1: expected a mapping"),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_validation_errors_name_file_line_and_key(text: str, expected: str) -> None:
    found = errors({APP: text})
    assert len(found) == 1, found
    assert found[0].startswith(APP + expected), found


def test_missing_type_is_reported_at_the_mapping_in_a_subdirectory_file() -> None:
    text = "# the API\n# (no type yet)\nname: api\n"
    assert errors({"backend/.platform.app.yaml": text}) == [
        "backend/.platform.app.yaml:3: type: required"
    ]


def test_all_errors_are_reported_together_and_str_joins_them() -> None:
    with pytest.raises(ConfigError) as caught:
        load({APP: "name: app\ntype: python:3.11\ndisk: x\n", "b/.platform.app.yaml": "x: 1\n"})
    assert len(caught.value.errors) == 4
    assert str(caught.value) == "\n".join(caught.value.errors)
    assert ".platform.app.yaml:3: disk: expected an integer" in caught.value.errors
    assert "b/.platform.app.yaml:1: type: required" in caught.value.errors


ROUTE_ERROR_CASES = [
    (
        '"https://{default}/":\n  type: upstream\n  upstream: "api:http"\n',
        ":3:",
        "['https://{default}/'].upstream: no application named 'api'",
    ),
    ('"https://{default}/":\n  type: upstream\n  upstream: "app:tcp"\n', ":3:", "<app>:http"),
    ('"https://{default}/":\n  type: redirect\n', ":1:", ".to: required"),
    ('"https://{default}/":\n  type: teleport\n', ":2:", ".type: expected one of upstream"),
    ('"https://{default}/":\n  upstream: "app:http"\n', ":1:", ".type: required"),
    ('"“https://{default}/“":\n  type: upstream\n', ":1:", "expected a URL template"),
    ('"https://{branch}/":\n  type: upstream\n', ":1:", "unknown placeholder {branch}"),
    (
        '"https://{default}/":\n  type: upstream\n  upstream: app\n  cache: {enabled: 1}\n',
        ":4:",
        ".cache.enabled: expected true or false",
    ),
    (
        '"https://{default}/":\n  type: upstream\n  upstream: app\n  primary: true\n'
        '"https://www.{default}/":\n  type: upstream\n  upstream: app\n  primary: true\n',
        ":8:",
        "only one route may be primary",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ROUTE_ERROR_CASES)
def test_route_errors(text: str, line: str, fragment: str) -> None:
    found = errors({APP: BASE, ROUTES: text})
    assert len(found) == 1, found
    assert found[0].startswith(ROUTES + line) and fragment in found[0], found


def test_upstream_may_name_the_app_without_endpoint() -> None:
    config = load({APP: BASE, ROUTES: '"https://{default}/":\n  type: upstream\n  upstream: app\n'})
    assert config.routes == {"https://{default}/": {"type": "upstream", "upstream": "app"}}


# --- warnings ------------------------------------------------------------------------


def test_unknown_keys_warn_and_known_ignored_keys_are_silent() -> None:
    text = BASE + (
        "  frobnicate: yes\n"
        "hooks:\n  build: make\n  pre_build: nope\n"
        "foo: 1\n"
        "preflight: {enabled: false}\nruntime: {extensions: [redis]}\n"
        "resources: {base_memory: 64}\n"
        "firewall: {outbound: []}\nadditional_hosts: {api.local: 10.0.0.1}\n"
        "container_profile: HIGH_CPU\noperations: {}\nbuild: {caches: {}}\nsize: S\ndisk: 256\n"
        "relationships: {db: 'db:postgresql'}\n"
    )
    config = load({APP: text})
    assert config.warnings == [
        ".platform.app.yaml:10: unknown key 'foo' (ignored)",
        ".platform.app.yaml:9: hooks: unknown key 'pre_build' (ignored)",
        ".platform.app.yaml:6: web: unknown key 'frobnicate' (ignored)",
    ]
    app = config.apps[0]
    assert "foo" not in app.raw and app.raw["container_profile"] == "HIGH_CPU"
    assert (app.size, app.disk) == ("S", 256)


# --- reading is bounded --------------------------------------------------------------


def test_yaml_syntax_error_has_its_line() -> None:
    found = errors({APP: "name: app\ntype: python:3.11\nweb:\n  commands: [start\n"})
    assert len(found) == 1 and found[0].startswith(".platform.app.yaml:5: YAML syntax error:")
    found = errors({APP: "name: app\n  type: x\n"})
    assert found[0].startswith(".platform.app.yaml:2: YAML syntax error:")


def test_not_utf8_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"\.platform\.app\.yaml:2: not valid UTF-8"):
        load_project_config({APP: b"name: app\ntype: \xff\n"})


def test_file_larger_than_one_mib_is_refused() -> None:
    big = (BASE + "# " + "x" * (1024 * 1024) + "\n").encode()
    with pytest.raises(ConfigError, match=r"\.platform\.app\.yaml:1: larger than 1 MiB"):
        load_project_config({APP: big})


def test_nesting_deeper_than_64_is_refused() -> None:
    def nested(lists: int) -> str:
        # The top mapping, variables and env are three levels; the lists the rest.
        return BASE + "variables:\n  env:\n    X: " + "[" * lists + "1" + "]" * lists + "\n"

    value = load({APP: nested(61)}).apps[0].variables["env"]["X"]
    for _ in range(61):
        value = value[0]
    assert value == 1
    assert errors({APP: nested(62)}) == [".platform.app.yaml:8: nested deeper than 64 levels"]


def test_many_aliases_are_refused() -> None:
    text = BASE + "variables:\n  env:\n    A: &a x\n    L: [" + ", ".join(["*a"] * 1001) + "]\n"
    assert errors({APP: text}) == [".platform.app.yaml:9: more than 1000 YAML aliases"]


def test_billion_laughs_is_refused() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    text = BASE + "variables:\n  env:\n" + "".join(f"    {line}\n" for line in lines)
    found = errors({APP: text})
    assert len(found) == 1 and "more than 100000 values (aliases counted as expanded)" in found[0]


def test_self_referencing_alias_is_refused() -> None:
    found = errors({APP: BASE + "variables:\n  env:\n    X: &x [*x]\n"})
    assert found == [".platform.app.yaml:8: nested deeper than 64 levels"]


def test_merge_keys_work() -> None:
    text = (
        "name: app\ntype: python:3.11\n"
        "web:\n  commands: &cmds {start: run, pre_start: prep}\n"
        "workers:\n  w:\n    commands:\n      <<: *cmds\n      start: work\n"
    )
    (app,) = load({APP: text}).apps
    assert (app.workers["w"].start, app.workers["w"].pre_start) == ("work", "prep")


# --- build-time view and build id ----------------------------------------------------

BUILD_APP = BASE + (
    "access: {ssh: admin}\nrelationships: {db: 'db:postgresql'}\n"
    "mounts: {data: {source: local}}\n"
    "hooks:\n  build: make\n  deploy: migrate\n  post_deploy: warm\n"
    "crons:\n  c: {spec: '0 * * * *', commands: {start: tick}}\n"
    "workers:\n  q: {commands: {start: q}, mounts: {spool: {source: tmp}}}\n"
    "  r: {commands: {start: r}}\n"
)


def _app(text: str) -> str:
    return build_config_id(load({APP: text}).apps[0])


def test_build_time_application_drops_runtime_only_keys() -> None:
    view = build_time_application(load({APP: BUILD_APP}).apps[0])
    for key in ("access", "relationships", "crons", "web"):
        assert key not in view
    assert view["hooks"] == {"build": "make"}
    assert view["workers"] == {
        "q": {"mounts": {"/spool": {"source": "tmp", "source_path": "spool"}}}
    }
    assert view["mounts"] == {"/data": {"source": "local", "source_path": "data"}}
    assert view["name"] == "app" and view["type"] == "python:3.11"


def test_build_config_id_follows_only_build_inputs() -> None:
    base = _app(BUILD_APP)
    assert len(base) == 64 and base == _app(BUILD_APP)
    assert _app(BUILD_APP.replace("build: make", "build: make all")) != base
    assert _app(BUILD_APP.replace("type: python:3.11", "type: python:3.12")) != base
    assert _app(BUILD_APP + "variables: {env: {X: '1'}}\n") != base
    assert _app(BUILD_APP.replace("deploy: migrate", "deploy: migrate --all")) == base
    assert _app(BUILD_APP.replace("post_deploy: warm", "post_deploy: cool")) == base
    assert _app(BUILD_APP.replace("start: tick", "start: tock")) == base
    assert _app(BUILD_APP.replace("'0 * * * *'", "'5 * * * *'")) == base
    assert _app(BUILD_APP.replace("start: run", "start: serve")) == base
    assert _app(BUILD_APP.replace("ssh: admin", "ssh: viewer")) == base
    assert _app(BUILD_APP.replace("start: r}", "start: rr}")) == base


@pytest.mark.parametrize(
    ("crons", "expected"),
    [
        ("  'a b':\n    spec: '0 5 * * *'\n    cmd: x\n", "crons['a b']: a cron's name"),
        ("  " + "n" * 65 + ":\n    spec: '0 5 * * *'\n    cmd: x\n", "a cron's name has 1 to 64"),
        ("  ok:\n    spec: '" + "1," * 200 + "1 * * * *'\n    cmd: x\n", "at most 256 characters"),
    ],
)
def test_cron_names_and_specs_are_bounded(crons: str, expected: str) -> None:
    app = "name: app\ntype: 'python:3.11'\ncrons:\n" + crons
    found = errors({".platform.app.yaml": app})
    assert any(expected in e for e in found), found
