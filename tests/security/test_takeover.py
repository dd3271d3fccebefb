"""Findings 1 and 2: creating or keeping a machine user never grants more than its
creator may grant, now.

Before the fix, Alice (admin of project A only) created a machine user on A with the
email Bob had invited to B, minted it a token and was admin of B; and a creator removed
from A could still mint tokens for the admin machine user she had made there.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import Person, Target

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _machine_user(target: Target, creator: Person, project: str, email: str) -> dict[str, Any]:
    status, body = target.call(
        "POST",
        f"/projects/{project}/machine-users",
        creator.token,
        body={"email": email, "name": "Build bot", "role": "admin"},
    )
    assert status == 201, body
    entity: dict[str, Any] = body["_embedded"]["entity"]
    return entity


def _mint(target: Target, who: Person, user_id: str) -> tuple[int, Any]:
    return target.call("POST", f"/users/{user_id}/api-tokens", who.token, body={"name": "mine"})


def _invite(target: Target, who: Person, project: str, email: str) -> dict[str, Any]:
    status, body = target.call(
        "POST",
        f"/projects/{project}/invitations",
        who.token,
        body={"email": email, "role": "admin"},
    )
    assert status == 201, body
    invitation: dict[str, Any] = body
    return invitation


def _roles_on(target: Target, project: str, user_id: str) -> int:
    status, _ = target.call("GET", f"/projects/{project}/user-access/{user_id}", target.admin_token)
    return status


def _invitation_state(target: Target, project: str, invitation_id: str) -> str:
    status, body = target.call("GET", f"/projects/{project}/invitations", target.admin_token)
    assert status == 200, body
    return "pending" if invitation_id in [i["id"] for i in body] else "not pending"


def _activity_texts(target: Target, project: str) -> str:
    status, body = target.call("GET", f"/projects/{project}/activities", target.admin_token)
    assert status == 200, body
    return "\n".join(a.get("description", "") + a.get("text", "") for a in body)


def test_invite_then_machine_user_claims_nothing(target: Target) -> None:
    alice, bob = target.person("alice1@example.com"), target.person("bob1@example.com")
    a, b = target.project(alice, "A1"), target.project(bob, "B1")
    invitation = _invite(target, bob, b, "newhire1@example.com")
    assert invitation["state"] == "pending"

    bot = _machine_user(target, alice, a, "newhire1@example.com")
    status, minted = _mint(target, alice, bot["id"])
    assert status == 201, minted
    bot_token = target.server.exchange(minted["token"])

    assert target.call("GET", f"/projects/{b}", bot_token)[0] == 404
    assert (
        target.call(
            "POST", f"/projects/{b}/variables", bot_token, body={"name": "x", "value": "y"}
        )[0]
        == 404
    )
    assert _roles_on(target, b, bot["id"]) == 404
    assert _invitation_state(target, b, invitation["id"]) == "pending"
    assert "newhire1" not in _activity_texts(target, b)


def test_machine_user_then_invite_claims_nothing(target: Target) -> None:
    alice, bob = target.person("alice2@example.com"), target.person("bob2@example.com")
    a, b = target.project(alice, "A2"), target.project(bob, "B2")
    bot = _machine_user(target, alice, a, "newhire2@example.com")
    status, minted = _mint(target, alice, bot["id"])
    assert status == 201, minted

    invitation = _invite(target, bob, b, "newhire2@example.com")
    assert invitation["state"] == "pending"
    bot_token = target.server.exchange(minted["token"])
    assert target.call("GET", f"/projects/{b}", bot_token)[0] == 404
    assert _roles_on(target, b, bot["id"]) == 404
    # Adding "by email" through the legacy access routes is refused the same way.
    for path in (f"/projects/{b}/access", f"/projects/{b}/environment-types/production/access"):
        status, body = target.call(
            "POST", path, bob.token, body={"email": "newhire2@example.com", "role": "admin"}
        )
        assert status == 400, (path, body)
    assert _roles_on(target, b, bot["id"]) == 404


def test_the_person_invited_still_claims_the_invitation(target: Target) -> None:
    bob = target.person("bob3@example.com")
    b = target.project(bob, "B3")
    invitation = _invite(target, bob, b, "newhire3@example.com")
    hired = target.person("newhire3@example.com")  # created by the operator
    assert target.call("GET", f"/projects/{b}", hired.token)[0] == 200
    assert _invitation_state(target, b, invitation["id"]) == "not pending"
    assert "newhire3" in _activity_texts(target, b)


def test_a_machine_user_of_ones_own_is_added_at_once(target: Target) -> None:
    """Inviting a machine user the inviter manages is no escalation: it applies."""
    carol = target.person("carol4@example.com")
    a, c = target.project(carol, "A4"), target.project(carol, "C4")
    bot = _machine_user(target, carol, a, "bot4@example.com")
    invitation = _invite(target, carol, c, "bot4@example.com")
    assert invitation["state"] == "accepted"
    assert _roles_on(target, c, bot["id"]) == 200


def test_creator_removed_from_the_project_loses_the_machine_user(target: Target) -> None:
    alice = target.person("alice5@example.com")
    a = target.project(alice, "A5")
    bot = _machine_user(target, alice, a, "bot5@example.com")
    status, minted = _mint(target, alice, bot["id"])
    assert status == 201, minted
    assert target.call("GET", f"/users/{bot['id']}", alice.token)[0] == 200

    status, _ = target.call("DELETE", f"/projects/{a}/user-access/{alice.id}", target.admin_token)
    assert status == 204
    assert _mint(target, alice, bot["id"])[0] in (403, 404)
    assert target.call("GET", f"/users/{bot['id']}/api-tokens", alice.token)[0] in (403, 404)
    assert target.call("POST", "/ssh_keys", alice.token, body={"value": _KEY, "uuid": bot["id"]})[
        0
    ] in (403, 404)
    # Seeing the account she created is not managing it.
    assert target.call("GET", f"/users/{bot['id']}", alice.token)[0] == 200
    # Demoted to viewer is no better than removed.
    target.grant(a, alice, ["viewer", "production:viewer"])
    assert _mint(target, alice, bot["id"])[0] in (403, 404)
    # Made admin again, the creator manages it again.
    target.grant(a, alice, ["admin"])
    assert _mint(target, alice, bot["id"])[0] == 201


def test_creator_must_be_admin_wherever_the_machine_user_holds_a_role(target: Target) -> None:
    alice, bob = target.person("alice6@example.com"), target.person("bob6@example.com")
    a, b = target.project(alice, "A6"), target.project(bob, "B6")
    bot = _machine_user(target, alice, a, "bot6@example.com")
    # The platform admin makes the machine user admin of B too, where Alice is nobody.
    target.grant(b, Person("bot6@example.com", bot["id"], "", ""), ["admin"])
    assert _mint(target, alice, bot["id"])[0] in (403, 404)
    assert _mint(target, target_admin(target), bot["id"])[0] == 201


def target_admin(target: Target) -> Person:
    """The platform admin as a Person (only its token is used)."""
    return Person("admin@example.com", "", "", target.admin_token)


_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBDfgWPJg5/FLox/snyhYUhYZ4qWbvVTvHAjKtkyc+TJ attack"
