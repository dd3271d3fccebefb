"""Endpoints real clients call beyond the core API: the accounts-style ``/platform/me``
and ``/platform/profiles``, environment access, project capabilities and settings,
extended access, users by email and ``/ref/projects``.

Every answer is decided by the one policy (``ProjectCtx``, ``policy.may_view_account``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from homeport.domain import access, accounts, policy
from homeport.domain.errors import Invalid, NotFound
from homeport.domain.ssh_keys import list_keys
from homeport.settings import Settings
from homeport.store.models import Account, Project, ProjectAccess
from homeport.web.deps import CurrentActor, DbSession, State
from homeport.web.hal import env_path, link, project_path
from homeport.web.project_deps import ProjectContext, ProjectCtx, base_url
from homeport.web.schemas import iso
from homeport.web.views import picture_url, ssh_key_view, user_view, with_uris

router = APIRouter(tags=["Compatibility"])
P = "/projects/{project_id}"

# The deprecated ``subscription.plan`` every Homeport project reports (see hal.py).
PLAN = "development"
# Git refuses a pack over 4 GiB (docs/design.md, "Limits").
PUSH_SIZE_LIMIT = 4 * 1024**3


def _projects_held(session: Session, account: Account) -> Sequence[Project]:
    """Projects where ``account`` itself holds a role (not all a platform admin sees)."""
    held = policy.projects_held(session, account.id)
    query = select(Project).where(Project.id.in_(held)).order_by(Project.created_at, Project.id)
    return session.scalars(query).all()


def _me_project(project: Project, base: str) -> dict[str, Any]:
    endpoint = f"{base}{project_path(project.id)}"
    return {
        "id": project.id,
        "name": project.id,
        "title": project.title,
        # An integer here (``CurrentUser``); Homeport has no subscriptions.
        "subscription_id": 0,
        "endpoint": endpoint,
        "uri": endpoint,
        "region": project.region,
        "region_label": project.region,
        "cluster": project.region,
        "cluster_label": project.region,
        "owner": project.owner_id or "",
        "status": "active",
        "vendor": "homeport",
        "vendor_label": "Homeport",
        "plan": PLAN,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
    }


@router.get("/platform/me")
def platform_me(
    request: Request, actor: CurrentActor, session: DbSession, state: State
) -> dict[str, Any]:
    """The accounts-style current user the JS client's ``Me`` model reads."""
    account = actor.account
    keys = [ssh_key_view(k).model_dump() for k in list_keys(session, account)]
    base = base_url(request, state)
    return {
        "id": account.id,
        "uuid": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "status": 0 if account.deactivated else 1,
        "mail": account.email,
        "mail_confirmed": True,
        "picture": picture_url(request, state),
        "website": "",
        "company_role": "",
        "company_type": "",
        "roles": ["administrator"] if account.is_admin else [],
        "ssh_keys": keys,
        "has_key": bool(keys),
        "projects": [_me_project(p, base) for p in _projects_held(session, account)],
        "organizations": [],
        "teams": [],
        "tickets": {},
        "newsletter": False,
        "plaintext": False,
        "trial": False,
        "current_trial": [],
        "sequence": 0,
        "kind": account.kind,
        "created_at": iso(account.created_at),
        "updated_at": iso(account.updated_at),
        "_links": {"self": link("/platform/me")},
    }


def _visible_account(session: Session, actor: Account, user_id: str) -> Account:
    """``me`` or an account the caller may view; anything else is 404 (ids do not leak)."""
    if user_id == "me":
        return actor
    target = session.get(Account, user_id)
    if target is None or not policy.may_view_account(actor, target):
        raise NotFound("User not found.")
    return target


@router.get("/platform/profiles/{user_id}")
def platform_profile(
    user_id: str, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> dict[str, Any]:
    """A profile (``Profile``), visible as ``GET /users/{id}`` is; the email only to
    oneself and platform admins."""
    me = actor.account
    target = _visible_account(session, me, user_id)
    path = f"/platform/profiles/{target.id}"
    body: dict[str, Any] = {
        "id": target.id,
        "type": "user",
        "display_name": target.display_name,
        "username": target.username,
        "picture": picture_url(request, state),
        "company_type": "",
        "company_name": "",
        "company_role": "",
        "website_url": "",
        "new_ui": True,
        "marketing": False,
        "created_at": iso(target.created_at),
        "updated_at": iso(target.updated_at),
        "_links": {"self": link(path)},
    }
    if target.id == me.id or policy.may_manage_accounts(me):
        body["email"] = target.email
    return body


# --- environment access (legacy shape) ------------------------------------------------


@router.get(P + "/environments/{environment_id}/access")
def environment_access(
    environment_id: str, ctx: ProjectCtx, session: DbSession
) -> list[dict[str, Any]]:
    """Who holds which effective role on this environment's type."""
    env = ctx.environment(session, environment_id)
    path = f"{env_path(ctx.project.id, env.name)}/access"
    out = []
    for row in session.scalars(
        select(ProjectAccess)
        .where(ProjectAccess.project_id == ctx.project.id)
        .order_by(ProjectAccess.granted_at, ProjectAccess.pk)
    ):
        roles = access.current_roles(session, ctx.project, row.account_id)
        role = roles.effective().get(env.type) if roles else None
        account = session.get(Account, row.account_id)
        if role is None or account is None:
            continue
        out.append(
            {
                "id": account.id,
                "user": account.id,
                "email": account.email,
                "role": role,
                "project": ctx.project.id,
                "environment": env.name,
                "_links": {"self": link(f"{path}/{account.id}")},
                "_embedded": {
                    "users": [
                        {
                            "id": account.id,
                            "display_name": account.display_name,
                            "email": account.email,
                            "username": account.username,
                            "created_at": iso(account.created_at),
                            "updated_at": iso(account.updated_at),
                        }
                    ]
                },
            }
        )
    return out


# --- capabilities and settings --------------------------------------------------------


def _off() -> dict[str, bool]:
    return {"enabled": False}


@router.get(P + "/capabilities")
def project_capabilities(ctx: ProjectCtx) -> dict[str, Any]:
    """What a self-hosted server offers (``ProjectCapabilities``): no metrics, log
    forwarding, custom domains, autoscaling or integrations; one instance per app.

    The schema forbids other fields, so there are no ``_links``.
    """
    return {
        "custom_domains": {"enabled": False, "environments_with_domains_limit": 0},
        "source_operations": _off(),
        "runtime_operations": _off(),
        "outbound_firewall": _off(),
        "metrics": {"max_range": ""},
        "logs_forwarding": {"max_extra_payload_size": 0},
        "guaranteed_resources": {"enabled": False, "instance_limit": 0},
        "images": {},
        "instance_limit": 1,
        "build_resources": {"enabled": False, "max_cpu": 0.0, "max_memory": 0},
        "data_retention": _off(),
        "autoscaling": _off(),
        "integrations": {"enabled": False, "config": {}, "allowed_integrations": []},
    }


def settings_view(ctx: ProjectContext, settings: Settings) -> dict[str, Any]:
    """``ProjectSettings``: what Homeport does, all read-only (see docs/design.md); the
    schema forbids other fields, so there are no ``_links``."""
    return {
        "initialize": {},
        "product_name": "Homeport",
        "product_code": "homeport",
        "ui_uri_template": f"{ctx.base_url}/console/projects/{{project}}",
        "variables_prefix": "PLATFORM_",
        "bot_email": "",
        "application_config_file": ".platform.app.yaml",
        "project_config_dir": ".platform",
        "use_drupal_defaults": False,
        "use_legacy_subdomains": False,
        "development_service_size": "S",
        "development_application_size": "S",
        "enable_certificate_provisioning": False,
        "certificate_style": "ecdsa",
        "certificate_renewal_activity": False,
        "development_domain_template": None,
        "enable_state_api_deployments": False,
        "temporary_disk_size": None,
        "local_disk_size": None,
        # Platform.sh counts these in minutes; Homeport's setting is in seconds.
        "cron_minimum_interval": max(1, settings.cron_min_interval // 60),
        "cron_maximum_jitter": 0,
        "cron_production_expiry_interval": 0,
        "cron_non_production_expiry_interval": 0,
        "concurrency_limits": {},
        "flexible_build_cache": False,
        "strict_configuration": True,
        "has_sleepy_crons": False,
        "crons_in_git": True,
        "custom_error_template": None,
        "app_error_page_template": None,
        "environment_name_strategy": "name-and-hash",
        "data_retention": None,
        "enable_codesource_integration_push": False,
        "enforce_mfa": False,
        "systemd": False,
        "router_gen2": False,
        "build_resources": {"cpu": 0.0, "memory": 0},
        "outbound_restrictions_default_policy": "allow",
        "self_upgrade": False,
        "additional_hosts": {},
        "max_allowed_routes": 0,
        "max_allowed_redirects_paths": 0,
        "enable_incremental_backups": False,
        "sizing_api_enabled": False,
        "enable_cache_grace_period": False,
        "enable_zero_downtime_deployments": False,
        "enable_admin_agent": False,
        "certifier_url": "",
        "centralized_permissions": True,
        "glue_server_max_request_size": settings.max_body_bytes,
        "persistent_endpoints_ssh": False,
        "persistent_endpoints_ssl_certificates": False,
        "enable_disk_health_monitoring": False,
        "enable_paused_environments": False,
        "enable_unified_configuration": False,
        "enable_routes_tracing": False,
        "image_deployment_validation": False,
        "support_generic_images": False,
        "enable_github_app_token_exchange": False,
        "continuous_profiling": {"supported_runtimes": []},
        "disable_agent_error_reporter": True,
        "requires_domain_ownership": False,
        "enable_guaranteed_resources": False,
        "git_server": {"push_size_hard_limit": PUSH_SIZE_LIMIT},
        "activity_logs_max_size": 0,
        "allow_manual_deployments": False,
        "allow_rolling_deployments": False,
        "allow_burst": False,
        "router_resources": {
            "baseline_cpu": 0.0,
            "baseline_memory": 0,
            "max_cpu": 0.0,
            "max_memory": 0,
        },
    }


class SettingsPatch(BaseModel):
    """``ProjectSettingsPatch``: the spec's three fields; anything else is refused."""

    model_config = ConfigDict(extra="forbid")

    initialize: dict[str, Any] | None = None
    data_retention: dict[str, Any] | None = None
    build_resources: dict[str, Any] | None = None


@router.get(P + "/settings")
def get_settings(ctx: ProjectCtx, state: State) -> dict[str, Any]:
    """The project's settings (read-only in Homeport)."""
    return settings_view(ctx, state.settings)


@router.patch(P + "/settings")
def patch_settings(
    body: SettingsPatch, ctx: ProjectCtx, session: DbSession, state: State
) -> dict[str, Any]:
    """Project admins only; no patchable setting is honoured yet, so any field is a 400
    (nothing is stored that Homeport would then ignore) and ``{}`` changes nothing."""
    ctx.require("edit")
    given = sorted(body.model_fields_set)
    if given:
        message = "Homeport does not support changing this setting."
        raise Invalid(message, {name: [message] for name in given})
    return ctx.accepted(session, 200, settings_view(ctx, state.settings), [])


# --- users: extended access, by email -------------------------------------------------


@router.get("/users/email={email}")
def user_by_email(
    email: str, request: Request, actor: CurrentActor, session: DbSession, state: State
) -> dict[str, Any]:
    """The account with this email: oneself, or anyone for platform admins; else 404."""
    me = actor.account
    target = accounts.find_by_email(session, email)
    if target is None or not (target.id == me.id or policy.may_manage_accounts(me)):
        raise NotFound("User not found.")
    return with_uris(user_view(target), request, state).model_dump()


@router.get("/users/{user_id}/extended-access")
def extended_access(
    user_id: str,
    actor: CurrentActor,
    session: DbSession,
    resource_type: str | None = Query(None, alias="filter[resource_type]", max_length=64),
) -> dict[str, Any]:
    """The projects and permissions the user holds; oneself and platform admins only."""
    me = actor.account
    target = _visible_account(session, me, user_id)
    if target.id != me.id and not policy.may_manage_accounts(me):
        raise NotFound("User not found.")
    items: list[dict[str, Any]] = []
    if resource_type in (None, "", "project"):
        rows = session.scalars(
            select(ProjectAccess)
            .where(ProjectAccess.account_id == target.id)
            .order_by(ProjectAccess.granted_at, ProjectAccess.pk)
        )
        for row in rows:
            project = session.get(Project, row.project_id)
            roles = access.current_roles(session, project, target.id) if project else None
            if roles is None:
                continue
            items.append(
                {
                    "user_id": target.id,
                    "resource_id": row.project_id,
                    "resource_type": "project",
                    "organization_id": "",
                    "permissions": roles.permissions(),
                    "granted_at": iso(row.granted_at),
                    "updated_at": iso(row.updated_at),
                }
            )
    ids = ",".join(i["resource_id"] for i in items)
    return {
        "items": items,
        "_links": {
            "self": link(f"/users/{target.id}/extended-access"),
            "ref:projects:0": link(f"/ref/projects?in={ids}"),
        },
    }


# --- references -----------------------------------------------------------------------


@router.get("/ref/projects")
def ref_projects(
    actor: CurrentActor, session: DbSession, in_: str = Query("", alias="in", max_length=8192)
) -> dict[str, Any]:
    """``ProjectReference`` of each listed project the caller may view; others omitted."""
    ids = [i for i in in_.split(",") if i][:200]
    me = actor.account
    out: dict[str, Any] = {}
    for project in session.scalars(select(Project).where(Project.id.in_(ids))):
        if not policy.load_grants(session, me, project).can_project("view"):
            continue
        out[project.id] = {
            "id": project.id,
            "organization_id": "",
            "subscription_id": "",
            "region": project.region,
            "title": project.title,
            "type": "grid",
            "plan": PLAN,
            "status": "active",
            "vendor": "homeport",
            "agency_site": False,
            "support_tier": "none",
            "created_at": iso(project.created_at),
            "updated_at": iso(project.updated_at),
        }
    return out
