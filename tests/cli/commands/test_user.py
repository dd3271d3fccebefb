"""`user:*` commands."""

from __future__ import annotations

from ..conftest import BOB_TOKEN, Cli
from ..fake_api import FakeApiServer

P = ("-p", "proj1")


def test_list_marks_machine_users(cli: Cli) -> None:
    result = cli("users", *P, "--format", "plain", "-c", "+permissions,kind")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "Email address\tName\tProject role\tID\tPermissions\tKind"
    bob = "bob@example.com\tBob Viewer\tviewer\tu-bob\t"
    assert bob + "viewer, development:admin, staging:viewer\thuman" in lines
    machine = "ci@example.com\tci-bot (machine user)\tviewer\tu-ci\t"
    assert machine + "viewer, production:contributor\tmachine" in lines


def test_list_marks_the_owner_first(cli: Cli) -> None:
    result = cli("users", *P, "--format", "csv", "-c", "email,role")
    assert result.out.splitlines()[:2] == [
        "Email address,Project role",
        "alice@example.com,admin (owner)",
    ]
    table = cli("users", *P)
    assert table.err.startswith("Users on the project Demo Project (proj1):\n")
    assert "| alice@example.com | Alice Admin" in table.out.splitlines()[3]


def test_get(cli: Cli) -> None:
    assert cli("user:get", "bob@example.com", *P, "--pipe").out == "viewer\n"
    assert (
        cli("user:get", "bob@example.com", *P, "-l", "environment", "-e", "feature-x").out
        == "admin\n"
    )
    assert cli("user:get", "bob@example.com", *P, "-l", "e", "-e", "main").out == "none\n"
    assert cli("user:role", "ci-bot", *P, "-l", "project").out == "viewer\n"
    missing = cli("user:get", "zed@example.com", *P)
    assert missing.code == 1 and "User not found: zed@example.com" in missing.err


def test_add_invites(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("user:add", "new@example.com", "-r", "viewer", "-r", "development:c,%:v", *P, "-y")
    assert result.code == 0, result
    assert "Adding the user new@example.com to Demo Project (proj1):" in result.err
    assert "  Role on type development: viewer" in result.err
    assert "An invitation has been sent to new@example.com" in result.err
    assert fake.invitations["proj1"][0] == {
        "email": "new@example.com",
        "role": "viewer",
        "force": False,
        "permissions": [
            {"type": "production", "role": "viewer"},
            {"type": "staging", "role": "viewer"},
            {"type": "development", "role": "viewer"},
        ],
    }
    forced = cli("user:add", "new@example.com", "-r", "admin", "--force-invite", *P, "-y")
    assert forced.code == 0 and fake.invitations["proj1"][1]["force"] is True


def test_add_again_resends(cli: Cli, fake: FakeApiServer) -> None:
    assert cli("user:add", "new@example.com", "-r", "admin", *P, "-y").code == 0
    # Provisioning scripts re-run: a second invitation is resent (as the PHP CLI does).
    again = cli("user:add", "new@example.com", "-r", "admin", *P, "-y")
    assert again.code == 0, again
    assert "An invitation has already been sent to new@example.com\n" in again.err
    assert "Do you want to send this invitation anyway? [Y/n] y" in again.err
    assert again.err.endswith("\nA new invitation has been sent to new@example.com\n")
    posts = fake.calls("POST", "/projects/proj1/invitations")
    assert [p.json()["force"] for p in posts] == [False, False, True]


def test_add_existing_account_applies_at_once(cli: Cli, fake: FakeApiServer) -> None:
    fake.accepting.add("carol@example.com")
    result = cli("user:add", "carol@example.com", "-r", "admin", *P, "-y")
    assert result.code == 0, result
    assert result.err.endswith("\nThe user has been successfully added to the project.\n")
    assert "An invitation has been sent" not in result.err


def test_add_refusals(cli: Cli, fake: FakeApiServer) -> None:
    no_email = cli("user:add", *P, "-y")
    assert (
        no_email.code == 1
        and "An email address is required (in non-interactive mode)." in no_email.err
    )
    no_types = cli("user:add", "x@example.com", *P, "-y")
    assert no_types.code == 1
    assert "No environment types selected.\nA non-admin user must be added" in no_types.err
    conflict = cli("user:add", "x@example.com", "-r", "admin,staging:admin", *P, "-y")
    assert (
        conflict.code == 1
        and "cannot be given together with the admin project role" in conflict.err
    )
    bad = cli("user:add", "x@example.com", "-r", "project:admin", *P, "-y")
    assert bad.code == 1
    assert "No environment type IDs match: project\n" in bad.err
    assert "No environment IDs match: project" in bad.err
    assert fake.invitations["proj1"] == []
    denied = cli(
        "user:add",
        "x@example.com",
        "-r",
        "admin",
        *P,
        "-y",
        env={"PLATFORMSH_CLI_TOKEN": BOB_TOKEN},
    )
    assert denied.code == 6 and "Permission denied." in denied.err


def test_legacy_environment_role_becomes_type_role(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("user:add", "y@example.com", "-r", "staging:admin,feature-x:contributor", *P, "-y")
    assert result.code == 0, result
    assert "applies to the type development" in result.err
    assert {"type": "development", "role": "contributor"} in fake.invitations["proj1"][0][
        "permissions"
    ]


def test_update_existing_user(cli: Cli, fake: FakeApiServer) -> None:
    result = cli("user:update", "bob@example.com", "-r", "production:v,development:none", *P, "-y")
    assert result.code == 0, result
    assert "Are you sure you want to make these change(s)? [Y/n] y" in result.err
    assert fake.access["proj1"]["u-bob"]["permissions"] == [
        "viewer",
        "production:viewer",
        "staging:viewer",
    ]
    via_add = cli("user:add", "bob@example.com", "-r", "admin", *P, "-y")
    assert via_add.code == 0
    assert fake.access["proj1"]["u-bob"]["permissions"] == ["admin"]
    same = cli("user:update", "bob@example.com", "-r", "admin", *P, "-y")
    assert same.code == 0 and "There is nothing to change for the user bob@example.com." in same.err


def test_delete(cli: Cli, fake: FakeApiServer) -> None:
    owner = cli("user:delete", "alice@example.com", *P, "-y")
    assert owner.code == 1 and "The project's owner cannot be deleted." in owner.err
    result = cli("user:delete", "ci-bot", *P, "-y")
    assert result.code == 0
    assert "Are you sure you want to delete the user ci@example.com? [Y/n] y" in result.err
    assert "User ci@example.com deleted" in result.err
    assert "u-ci" not in fake.access["proj1"]


def test_add_interactive_questions(cli: Cli, fake: FakeApiServer) -> None:
    answers = "new@example.com\n\n\nv\nc\ny\n"
    result = cli("user:add", *P, stdin=answers, tty=True)
    assert result.code == 0, result
    assert "Enter the user's email address:" in result.err
    assert "Project role" in result.err
    assert "Role on type development (admin, contributor, viewer, none): [none]" in result.err
    assert fake.invitations["proj1"][0]["permissions"] == [
        {"type": "staging", "role": "viewer"},
        {"type": "development", "role": "contributor"},
    ]
