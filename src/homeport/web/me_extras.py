"""The project list of the legacy ``/me``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from homeport.domain.projects import projects_of
from homeport.store.models import Account
from homeport.web.hal import project_path
from homeport.web.schemas import iso


def me_projects(session: Session, account: Account, base_url: str) -> list[dict[str, Any]]:
    """The projects ``account`` can see, in ``/me``'s shape (with ``endpoint``)."""
    return [
        {
            "id": p.id,
            "name": p.title,
            "title": p.title,
            "cluster": p.region,
            "cluster_label": p.region,
            "region": p.region,
            "region_label": p.region,
            "uri": f"{base_url}{project_path(p.id)}",
            "endpoint": f"{base_url}{project_path(p.id)}",
            "owner": p.owner_id,
            "status": "active",
            "vendor": "homeport",
            "created_at": iso(p.created_at),
        }
        for p in projects_of(session, account)
    ]
