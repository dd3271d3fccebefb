"""Who may reach a project's repository, and the environment git runs under.

Fetching needs a role that lets the account view the project; pushing reaches the
repository on the same condition and is then decided per ref by the hook
(``homeport.git.refs``), from the one policy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sqlalchemy.orm import Session

from homeport.domain.errors import NotFound
from homeport.domain.policy import load_grants
from homeport.domain.projects import get_project
from homeport.settings import Settings
from homeport.store.models import Account, Project

SERVICES = ("git-upload-pack", "git-receive-pack")
# ``<project>.git``, as in ``ssh://<project>@host:port/<project>.git``.
_REPO_NAME = re.compile(r"/?([a-z0-9]{1,32})\.git/?")

# Variables the hook reads; nothing a client sends may set them.
ACCOUNT_VAR = "HOMEPORT_GIT_ACCOUNT"
PROJECT_VAR = "HOMEPORT_GIT_PROJECT"
NO_WAIT_VAR = "PLATFORMSH_PUSH_NO_WAIT"


def project_from_path(path: str) -> str | None:
    """The project id named by a repository path, or None."""
    match = _REPO_NAME.fullmatch(path.strip())
    return match.group(1) if match else None


def authorize(session: Session, account: Account, project_id: str) -> Project:
    """The project, if ``account`` may fetch from (and try to push to) its repository.

    Raises NotFound otherwise: a repository the account may not see does not exist.
    """
    if account.deactivated:
        raise NotFound("Repository not found.")
    try:
        project = get_project(session, project_id)
    except NotFound:
        raise NotFound("Repository not found.") from None
    if not load_grants(session, account, project).can_project("view"):
        raise NotFound("Repository not found.")
    return project


def git_env(
    base: Mapping[str, str], account_id: str, project_id: str, no_wait: bool
) -> dict[str, str]:
    """The environment of a ``git`` process serving ``account_id``: the server's own
    (its ``HOMEPORT_*`` settings reach the hook), without any inherited ``GIT_*``."""
    env = {k: v for k, v in base.items() if not k.startswith("GIT_") and k != NO_WAIT_VAR}
    # git runs the hook inside the repository: a relative data dir (the default
    # ./var) would point elsewhere there, so pass the server's own, resolved.
    settings = Settings.from_env(base)
    env["HOMEPORT_DATA_DIR"] = str(settings.data_dir)
    env["HOMEPORT_DATABASE_URL"] = settings.database_url
    env[ACCOUNT_VAR] = account_id
    env[PROJECT_VAR] = project_id
    if no_wait:
        env[NO_WAIT_VAR] = "1"
    env.setdefault("PATH", os.defpath)
    return env
