"""The one access policy: may this actor do this action on this resource?

Routes, ``_links``, git, SSH and the console all ask here, so a link is shown exactly
when the call would pass.
"""

from __future__ import annotations

from homeport.store.models import Account


def may_view_account(actor: Account, target: Account) -> bool:
    """Oneself, platform admins, and a machine user's creator see an account."""
    if actor.deactivated:
        return False
    return actor.id == target.id or actor.is_admin or target.created_by_id == actor.id


def may_manage_credentials(actor: Account, owner: Account) -> bool:
    """API tokens and SSH keys: oneself, a platform admin, or a machine user's creator."""
    if actor.deactivated:
        return False
    if actor.id == owner.id or actor.is_admin:
        return True
    return owner.kind == "machine" and owner.created_by_id == actor.id


def may_manage_accounts(actor: Account) -> bool:
    """Creating and deactivating arbitrary accounts is for platform admins."""
    return actor.is_admin and not actor.deactivated
