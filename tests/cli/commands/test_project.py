"""`project:*` commands."""

from __future__ import annotations

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer


def test_list(cli: Cli, fake: FakeApiServer) -> None:
    fake.add_project("proj2", "Another", "u-bob")
    fake.grant("proj2", "u-alice", ["viewer"])
    assert cli("projects", "--pipe").out == "proj2\nproj1\n"
    assert cli("projects", "--pipe", "--my").out == "proj1\n"
    assert cli("projects", "--pipe", "--title", "demo").out == "proj1\n"
    paged = cli("pro", "--count", "1", "--page", "2", "--format", "plain", "--no-header")
    assert paged.out == "proj1\tDemo Project\tlocal\n"
    none = cli("projects", "--title", "zzz")
    # An empty filtered list is not an error (the PHP CLI exits 0), so `set -e` carries on.
    assert none.code == 0 and none.out == ""
    assert none.err == "No projects found (filters in use: --title).\n"


def test_list_empty_suggests_create(cli: Cli, fake: FakeApiServer) -> None:
    fake.projects.clear()
    result = cli("projects")
    assert result.code == 0 and result.out == ""
    assert result.err == (
        "You do not have any Homeport projects yet.\n"
        "\n"
        "To create a new project, run: platform create\n"
    )


def test_list_deprecated_host_option_and_columns(cli: Cli) -> None:
    host = cli("projects", "--host", "eu.platform.sh", "--pipe")
    assert host.code == 0 and host.out == "proj1\n"
    assert host.err == (
        "DEPRECATED The option --host is deprecated and replaced by --region. "
        "It will be removed in a future version.\n"
    )
    cols = cli("projects", "--format", "csv", "--columns", "id,host,url,endpoint,created")
    assert cols.code == 0, cols
    assert cols.out.splitlines() == [
        "ID,Region,[Deprecated],Created",
        f"proj1,local,,{cols.out.splitlines()[1].rsplit(',', 1)[1]}",
    ]
    assert cols.err == (
        "DEPRECATED The column host has been replaced by region.\n"
        "DEPRECATED The column url has been removed.\n"
        "DEPRECATED The column endpoint has been removed.\n"
    )


def test_list_falls_back_to_legacy_me(cli: Cli, fake: FakeApiServer) -> None:
    original = fake.route

    def without_projects(req, h):
        if req.path == "/projects" and req.method == "GET":
            from ..fake_api import error

            raise error(404, "Not here")
        original(req, h)

    fake.route = without_projects  # type: ignore[method-assign]
    assert cli("projects", "--pipe").out == "proj1\n"


def test_info(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("project:info", "title", "-p", "proj1").out == "Demo Project\n"
    assert cli("project:info", "status.code", "-p", "proj1").out == "active\n"
    table = cli("project:info", "-p", "proj1").out
    assert "| default_branch | main" in table and "_links" not in table
    changed = cli("project:info", "title", "Renamed", "-p", "proj1")
    assert changed.code == 0 and "Property title set to: Renamed" in changed.err
    assert fake.projects["proj1"]["title"] == "Renamed"
    readonly = cli("project:info", "owner", "x", "-p", "proj1")
    assert readonly.code == 1 and "Property not writable: owner" in readonly.err
    viewer = cli(
        "project:info", "title", "X", "-p", "proj1", env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN}
    )
    assert viewer.code == 1 and "Operation not available" in viewer.err


def test_create(cli: Cli, fake: FakeApiServer) -> None:
    missing = cli("project:create", "--title", "New")
    assert missing.code == 1 and "--region is required" in missing.err
    result = cli("create", "--title", "New", "--region", "eu", "--default-branch", "trunk")
    assert result.code == 0, result
    project_id = result.out.strip()
    assert fake.projects[project_id]["title"] == "New"
    assert fake.calls("POST", "/projects")[0].json() == {
        "title": "New",
        "region": "eu",
        "default_branch": "trunk",
    }
    assert f"Project ID: {project_id}" in result.err
    assert "The project is now ready!" in result.err


def test_delete(cli: Cli, fake: FakeApiServer) -> None:
    refused = cli("project:delete", "proj1", "--no-interaction")
    assert refused.code == 1 and "proj1" in fake.projects
    result = cli("project:delete", "proj1", "-y")
    assert result.code == 0
    assert "The project Demo Project (proj1) was deleted." in result.err
    assert "proj1" not in fake.projects


def test_list_asks_the_server_for_its_page_only(cli: Cli, fake: FakeApiServer) -> None:
    for n in range(12):
        fake.add_project(f"p{n:02d}", f"Title {(n * 7) % 12:02d}", "u-alice")
    everything = cli("projects", "--count", "0", "--format", "plain", "--no-header").out
    rows = everything.splitlines()
    assert len(rows) == 13  # proj1 and the twelve
    for reverse in ([], ["--reverse"]):
        expected = rows[::-1] if reverse else rows
        fake.requests.clear()
        page = cli("pro", "--count", "5", "--page", "2", "--format", "plain", *reverse)
        assert page.code == 0, page
        assert page.out.splitlines()[1:] == expected[5:10]
        asked = fake.calls("GET", "/projects")
        # The first page, then its `next` link: five projects each, never the whole list.
        assert [r.query["page[size]"] for r in asked] == [["5"], ["5"]]
        assert asked[0].query["sort"] == ["-title" if reverse else "title"]
    assert "Page 2 of 3." in cli("pro", "--count", "5", "--page", "2").err
    # Filters and --pipe still read every project (page after page).
    fake.requests.clear()
    assert cli("projects", "--pipe").out.count("\n") == 13
    assert [r.query["page[size]"] for r in fake.calls("GET", "/projects")] == [["200"]]


def test_environment_option_is_one_direct_request(cli: Cli, fake: FakeApiServer) -> None:
    fake.requests.clear()
    result = cli("environment:info", "-p", "proj1", "-e", "staging", "title")
    assert result.code == 0, result
    assert fake.calls("GET", "/projects/proj1/environments") == []
    assert len(fake.calls("GET", "/projects/proj1/environments/staging")) == 1
