"""A project with every kind of actor, for role-matrix tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from homeport.domain import access, environments, projects, variables
from homeport.domain.policy import load_grants
from homeport.store.models import Account
from homeport.worker.runner import Worker
from homeport.worker.tasks import default_handlers
from tests.helpers import Api

ACTORS = (
    "anonymous",
    "other_admin",
    "dev_viewer",
    "dev_contributor",
    "dev_admin",
    "project_admin",
    "platform_admin",
    "machine",
)


@dataclass
class World:
    """Project ``pid`` with environments main (production), dev, stage, old (inactive)."""

    api: Api
    pid: str
    other_pid: str
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def token(self, actor: str) -> str | None:
        """The access token of an actor (None for anonymous)."""
        return self.tokens[actor]


def drain(api: Api) -> None:
    """Run every pending activity now (tests run without a worker thread)."""
    worker = Worker(api.state.db, api.state.settings, default_handlers(api.state.settings))
    while worker.run_once():
        pass


def build_world(api: Api) -> World:
    """Create the accounts, project, environments and roles."""
    accounts: dict[str, Account] = {}
    for name, kind, admin in (
        ("owner", "human", False),
        ("other_admin", "human", False),
        ("dev_viewer", "human", False),
        ("dev_contributor", "human", False),
        ("dev_admin", "human", False),
        ("project_admin", "human", False),
        ("platform_admin", "human", True),
        ("machine", "machine", False),
    ):
        accounts[name] = api.create_account(f"{name}@example.com", kind=kind, admin=admin)
    with api.state.db.session(write=True) as s:
        owner = s.get(Account, accounts["owner"].id)
        assert owner is not None
        project, _ = projects.create_project(s, owner, projects.NewProject(title="Shop"))
        other_owner = s.get(Account, accounts["other_admin"].id)
        assert other_owner is not None
        other, _ = projects.create_project(s, other_owner, projects.NewProject(title="Other"))
        main = environments.get_environment(s, project, "main")
        grants = load_grants(s, owner, project)
        environments.branch(s, grants, main, "dev", "Dev", "development", True)
        environments.branch(s, grants, main, "stage", "Stage", "staging", True)
        environments.branch(s, grants, main, "old", "Old", "development", True)
        roles = {
            "dev_viewer": ["viewer", "development:viewer"],
            "dev_contributor": ["viewer", "development:contributor"],
            "dev_admin": ["viewer", "development:admin"],
            "project_admin": ["admin"],
            "machine": ["viewer", "production:admin"],
        }
        for name, perms in roles.items():
            target = s.get(Account, accounts[name].id)
            assert target is not None
            access.set_roles(s, owner, project, target, access.parse_permissions(perms))
        pid, other_pid = project.id, other.id
    drain(api)
    with api.state.db.session(write=True) as s:
        project = projects.get_project(s, pid)
        owner = s.get(Account, accounts["owner"].id)
        assert owner is not None
        environments.deactivate(
            s, load_grants(s, owner, project), environments.get_environment(s, project, "old")
        )
    drain(api)
    with api.state.db.session(write=True) as s:
        project = projects.get_project(s, pid)
        owner = s.get(Account, accounts["owner"].id)
        assert owner is not None
        box = api.state.secret_box
        variables.create(
            s, box, owner, project, None, variables.VariableInput(name="pv", value="1")
        )
        for env_name in ("main", "dev"):
            env = environments.get_environment(s, project, env_name)
            variables.create(
                s, box, owner, project, env, variables.VariableInput(name="ev", value="1")
            )
    with api.state.db.session() as s:
        from homeport.domain import activities as acts

        [dev_branch] = acts.list_activities(
            s, pid, acts.ActivityFilter(types=["environment.branch"]), acts.env_condition(["dev"])
        )
        project_wide = acts.list_activities(
            s, pid, acts.ActivityFilter(types=["environment_type.access.*"]), acts.no_environment()
        )
        activity_ids = {"dev": dev_branch.id, "project": project_wide[0].id}
    world = World(api=api, pid=pid, other_pid=other_pid)
    world.ids["dev_activity"] = activity_ids["dev"]
    world.ids["project_activity"] = activity_ids["project"]
    world.tokens["anonymous"] = None
    for name, account in accounts.items():
        world.ids[name] = account.id
        world.tokens[name] = api.access_token(api.api_token(account.id))
    return world
