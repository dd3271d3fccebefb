"""The rules the hardening added to the one access policy."""

from __future__ import annotations

from homeport.domain import access, policy
from homeport.store.models import Account, Project
from tests.helpers import Api


def _project(api: Api, admin: str, title: str) -> str:
    body = api.post("/projects", admin, json={"title": title}).json()
    return str(body["_embedded"]["entity"]["id"])


def _grant(api: Api, pid: str, account: Account, role: str, types: dict[str, str]) -> None:
    with api.state.db.session(write=True) as s:
        project = s.get(Project, pid)
        target = s.get(Account, account.id)
        assert project is not None and target is not None
        access.set_roles(s, None, project, target, access.validated_roles(role, types))


def test_creator_manages_a_machine_user_only_while_admin_wherever_it_holds_a_role(
    api: Api, admin: str
) -> None:
    a, b = _project(api, admin, "A"), _project(api, admin, "B")
    alice = api.create_account("alice@example.com")
    bot = api.create_account("bot@example.com", kind="machine", created_by=alice.id)
    stranger = api.create_account("eve@example.com")
    with api.state.db.session() as s:
        assert policy.may_manage_credentials(s, alice, bot)  # no roles anywhere yet
        assert not policy.may_manage_credentials(s, stranger, bot)
    _grant(api, a, bot, "admin", {})
    with api.state.db.session() as s:
        assert not policy.may_manage_credentials(s, alice, bot)  # Alice holds nothing on A
    _grant(api, a, alice, "admin", {})
    with api.state.db.session() as s:
        assert policy.may_manage_credentials(s, alice, bot)
    _grant(api, b, bot, "viewer", {"development": "viewer"})
    with api.state.db.session() as s:
        assert not policy.may_manage_credentials(s, alice, bot)  # B is beyond her
        assert policy.may_view_account(alice, bot)  # seeing is not managing
        root = s.query(Account).filter(Account.is_admin.is_(True)).one()
        assert policy.may_manage_credentials(s, root, bot)
        assert policy.may_manage_credentials(s, bot, bot)  # and itself


def test_who_claims_invitations(api: Api, admin: str) -> None:
    alice = api.create_account("alice@example.com")
    with api.state.db.session() as s:
        root = s.query(Account).filter(Account.is_admin.is_(True)).one()
    human = api.create_account("h@example.com", created_by=root.id)
    operator_made = api.create_account("op-bot@example.com", kind="machine")
    admin_made = api.create_account("admin-bot@example.com", kind="machine", created_by=root.id)
    alice_made = api.create_account("alice-bot@example.com", kind="machine", created_by=alice.id)
    bob = api.create_account("bob@example.com")
    with api.state.db.session() as s:
        assert policy.may_claim_invitation(s, human, bob)
        assert policy.may_claim_invitation(s, operator_made, bob)
        assert policy.may_claim_invitation(s, admin_made, bob)
        assert not policy.may_claim_invitation(s, alice_made, bob)
        assert not policy.may_claim_invitation(s, alice_made, None)
        assert policy.may_claim_invitation(s, alice_made, alice)  # her own, she manages it


def test_restore_needs_backup_on_the_source_and_admin_on_the_target(api: Api, admin: str) -> None:
    pid = _project(api, admin, "R")
    dave = api.create_account("dave@example.com")
    _grant(api, pid, dave, "viewer", {"production": "viewer", "development": "admin"})
    with api.state.db.session() as s:
        project = s.get(Project, pid)
        assert project is not None
        grants = policy.load_grants(s, s.get(Account, dave.id) or dave, project)
    assert grants.can_restore("development", "development")
    assert not grants.can_restore("production", "development")
    assert not grants.can_restore("development", "production")
    assert not grants.can_restore("production", "production")
