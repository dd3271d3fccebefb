"""SSH keys of the calling account: ``/ssh_keys``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from homeport.domain import policy, ssh_keys
from homeport.domain.errors import NotFound
from homeport.store.models import Account, SshKey
from homeport.web.deps import CurrentActor, DbSession
from homeport.web.routes.users import resolve_user
from homeport.web.schemas import SshKeyCreate, SshKeyPublic
from homeport.web.views import ssh_key_view

router = APIRouter(tags=["SSH Keys"])


@router.get("/ssh_keys", response_model=list[SshKeyPublic])
def list_ssh_keys(actor: CurrentActor, session: DbSession) -> list[SshKeyPublic]:
    """The caller's keys."""
    return [ssh_key_view(k) for k in ssh_keys.list_keys(session, actor.account)]


@router.post("/ssh_keys", status_code=201, response_model=SshKeyPublic)
def add_ssh_key(body: SshKeyCreate, actor: CurrentActor, session: DbSession) -> SshKeyPublic:
    """Add a key to the caller, or (``uuid``) to an account the caller manages."""
    owner = actor.account
    if body.uuid and body.uuid != owner.id:
        owner = resolve_user(session, actor.account, body.uuid)
        if not policy.may_manage_credentials(session, actor.account, owner):
            raise NotFound("User not found.")
    return ssh_key_view(ssh_keys.add_key(session, owner, body.value, body.title))


def _own_key(session: DbSession, actor: CurrentActor, key_id: int) -> SshKey:
    row = ssh_keys.get_key(session, key_id)
    owner = session.get(Account, row.account_id)
    if owner is None or not policy.may_manage_credentials(session, actor.account, owner):
        raise NotFound("SSH key not found.")
    return row


@router.get("/ssh_keys/{key_id}", response_model=SshKeyPublic)
def get_ssh_key(key_id: int, actor: CurrentActor, session: DbSession) -> SshKeyPublic:
    """One key of the caller's."""
    return ssh_key_view(_own_key(session, actor, key_id))


@router.delete("/ssh_keys/{key_id}", status_code=204)
def delete_ssh_key(key_id: int, actor: CurrentActor, session: DbSession) -> Response:
    """Remove one of the caller's keys."""
    session.delete(_own_key(session, actor, key_id))
    return Response(status_code=204)
