"""Project and environment variables: validation, secrecy, inheritance, and the view
the runtime gives processes (``env:`` variables and ``PLATFORM_VARIABLES``)."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from sqlalchemy import BindParameter, Select, bindparam, literal, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, aliased

from homeport.domain import activities
from homeport.domain.activities import Phrase, env_markup
from homeport.domain.errors import Conflict, Invalid, NotFound
from homeport.domain.secretbox import SecretBox
from homeport.store.models import Account, Activity, Environment, Project, Variable

MAX_NAME = 256
MAX_VALUE = 64 * 1024
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_APP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
Phase = Literal["build", "runtime"]


@dataclass
class VariableInput:
    """Fields of a create or patch; None means "not given"."""

    name: str | None = None
    value: str | None = None
    is_json: bool | None = None
    is_sensitive: bool | None = None
    visible_build: bool | None = None
    visible_runtime: bool | None = None
    is_enabled: bool | None = None
    is_inheritable: bool | None = None
    application_scope: list[str] | None = None
    attributes: dict[str, str] | None = None


def validate_name(name: str | None) -> str:
    """At most 256 characters, no whitespace; after ``env:`` a shell identifier."""
    if not name:
        raise Invalid.field("name", "This field is required.")
    if len(name) > MAX_NAME:
        raise Invalid.field("name", f"At most {MAX_NAME} characters.")
    if any(c.isspace() for c in name) or any(ord(c) < 32 for c in name):
        raise Invalid.field("name", "The variable name must not contain whitespace.")
    if "/" in name:
        # A slash cannot be addressed in the variable's URL, even encoded.
        raise Invalid.field("name", "The variable name must not contain '/'.")
    if name.startswith("env:") and not _SHELL_NAME.fullmatch(name[4:]):
        raise Invalid.field(
            "name", "After 'env:' the name must be a shell identifier ([A-Za-z_][A-Za-z0-9_]*)."
        )
    return name


def _validate_value(value: str, is_json: bool) -> None:
    if len(value.encode("utf-8")) > MAX_VALUE:
        raise Invalid.field("value", f"The value must be at most {MAX_VALUE} bytes.")
    if "\x00" in value:
        raise Invalid.field("value", "The value must not contain NUL characters.")
    if is_json:
        try:
            json.loads(value)
        except ValueError:
            raise Invalid.field("value", "The value is not valid JSON (is_json is true).") from None


def _validate_scope(scope: list[str]) -> list[str]:
    if len(scope) > 64:
        raise Invalid.field("application_scope", "At most 64 applications.")
    for app in scope:
        if not isinstance(app, str) or not _APP_NAME.fullmatch(app):
            raise Invalid.field("application_scope", f"Not an application name: {app!r}")
    return sorted(set(scope))


def _validate_attributes(attrs: dict[str, str]) -> dict[str, str]:
    if len(attrs) > 64 or any(
        not isinstance(k, str) or not isinstance(v, str) or len(k) > 256 or len(v) > 1024
        for k, v in attrs.items()
    ):
        raise Invalid.field("attributes", "At most 64 string attributes (keys 256, values 1024).")
    return dict(attrs)


def scope_key(env: Environment | None) -> str:
    """The uniqueness scope of a variable."""
    return "project" if env is None else f"env:{env.pk}"


# --- reading --------------------------------------------------------------------------


def _own(session: Session, project: Project, env: Environment | None) -> list[Variable]:
    query = select(Variable).where(
        Variable.project_id == project.id, Variable.scope == scope_key(env)
    )
    return list(session.scalars(query.order_by(Variable.name)))


def _own_many(
    session: Session,
    project: Project,
    levels: Sequence[Environment | None],
    name: str | None = None,
) -> dict[str, list[Variable]]:
    """Scope → its variables (by name), for several levels in one query."""
    scopes = [scope_key(level) for level in levels]
    query = select(Variable).where(Variable.project_id == project.id, Variable.scope.in_(scopes))
    if name is not None:
        query = query.where(Variable.name == name)
    out: dict[str, list[Variable]] = {scope: [] for scope in scopes}
    for row in session.scalars(query.order_by(Variable.name)):
        out[row.scope].append(row)
    return out


# Far beyond any real chain of environments; only bounds a parent cycle, were one stored.
_MAX_DEPTH = 1000


@cache
def _ancestry_query() -> Select[Environment]:
    """The ancestors of the environment named ``:parent``'s child, nearest first: one
    recursive query, built once (building it costs more than running it)."""
    project_id: BindParameter[str] = bindparam("project_id")
    parent: BindParameter[str] = bindparam("parent")
    chain = (
        select(Environment.name, Environment.parent, literal(1).label("depth"))
        .where(Environment.project_id == project_id, Environment.name == parent)
        .cte("chain", recursive=True)
    )
    step = aliased(Environment)
    chain = chain.union_all(
        select(step.name, step.parent, chain.c.depth + 1).where(
            step.project_id == project_id,
            step.name == chain.c.parent,
            chain.c.depth < _MAX_DEPTH,
        )
    )
    return (
        select(Environment)
        .join(chain, Environment.name == chain.c.name)
        .where(Environment.project_id == project_id)
        .order_by(chain.c.depth)
    )


def ancestors(session: Session, env: Environment) -> list[Environment]:
    """The environment's parent, grandparent, ... (nearest first), in one query."""
    if env.parent is None:
        return []
    rows = session.scalars(_ancestry_query(), {"project_id": env.project_id, "parent": env.parent})
    found, seen = [], {env.name}
    for row in rows:
        if row.name in seen:  # a cycle: stop where the walk would have
            break
        seen.add(row.name)
        found.append(row)
    return found


@dataclass(frozen=True)
class Listed:
    """A variable as an environment sees it: its own, or inherited from an ancestor."""

    row: Variable
    inherited: bool
    environment: str | None  # where it is defined (None: project level)


def list_project(session: Session, project: Project) -> list[Listed]:
    """Project-level variables."""
    return [Listed(v, False, None) for v in _own(session, project, None)]


def list_environment(
    session: Session, project: Project, env: Environment, name: str | None = None
) -> list[Listed]:
    """The environment's own variables, plus the nearest enabled inheritable ancestor's
    definition of every other name (marked inherited): two queries, however deep."""
    chain = ancestors(session, env)
    by_scope = _own_many(session, project, [env, *chain], name)
    out: dict[str, Listed] = {v.name: Listed(v, False, env.name) for v in by_scope[scope_key(env)]}
    for ancestor in chain:
        for v in by_scope[scope_key(ancestor)]:
            if v.name not in out and v.is_enabled and v.is_inheritable:
                out[v.name] = Listed(v, True, ancestor.name)
    return [out[name] for name in sorted(out)]


def get_listed(session: Session, project: Project, env: Environment | None, name: str) -> Listed:
    """One variable by name at a level; raises NotFound (with code 404)."""
    if env is None:
        found = [
            Listed(v, False, None) for v in _own_many(session, project, [None], name)["project"]
        ]
    else:
        found = list_environment(session, project, env, name)
    for item in found:
        if item.row.name == name:
            return item
    raise NotFound("Variable not found.")


# --- writing --------------------------------------------------------------------------


def _payload(row: Variable, env: Environment | None) -> dict[str, Any]:
    """What an activity may say about a variable: never a sensitive value."""
    info: dict[str, Any] = {
        "name": row.name,
        "is_sensitive": row.is_sensitive,
        "is_json": row.is_json,
        "visible_build": row.visible_build,
        "visible_runtime": row.visible_runtime,
    }
    if env is not None:
        info |= {"is_enabled": row.is_enabled, "is_inheritable": row.is_inheritable}
    if not row.is_sensitive:
        info["value"] = row.value
    return {"variable": info}


def _record(
    session: Session,
    actor: Account,
    project: Project,
    env: Environment | None,
    verb: str,
    row: Variable,
) -> Activity:
    level = "project" if env is None else "environment"
    phrase = (
        Phrase()
        .add(activities.user_markup(actor))
        .add(f" {verb}d variable ")
        .add((f"<variable>{html.escape(row.name)}</variable>", row.name))
    )
    if env is not None:
        phrase.add(" on environment ").add(env_markup(env.name, env.title))
        # Marked until the redeploy that the change causes has run.
        env.needs_redeploy = True
    else:
        # A project-level change waits for each environment's next deploy (Platform.sh
        # does not redeploy for it), so every active environment says it needs one.
        session.execute(
            sql_update(Environment)
            .where(Environment.project_id == project.id, Environment.status == "active")
            .values(needs_redeploy=True)
        )
    return activities.record(
        session,
        project_id=project.id,
        type=f"{level}.variable.{verb}",
        actor=actor,
        phrase=phrase,
        environments=[env.name] if env is not None else [],
        payload=_payload(row, env),
    )


def _apply(box: SecretBox, row: Variable, data: VariableInput, creating: bool) -> None:
    if data.is_sensitive is not None:
        if row.is_sensitive and not data.is_sensitive:
            raise Invalid.field(
                "is_sensitive", "A sensitive variable cannot be made non-sensitive."
            )
        becoming_sensitive = data.is_sensitive and not row.is_sensitive
        row.is_sensitive = data.is_sensitive
        if becoming_sensitive and row.value is not None:
            row.value_encrypted, row.value = box.encrypt(row.value), None
    for name in ("visible_build", "visible_runtime", "is_enabled", "is_inheritable"):
        given = getattr(data, name)
        if given is not None:
            setattr(row, name, given)
    if data.application_scope is not None:
        row.application_scope = _validate_scope(data.application_scope)
    if data.attributes is not None:
        row.attributes = _validate_attributes(data.attributes)
    if data.is_json is not None:
        row.is_json = data.is_json
    if data.value is not None:
        _validate_value(data.value, row.is_json)
        if row.is_sensitive:
            row.value_encrypted, row.value = box.encrypt(data.value), None
        else:
            row.value = data.value
    elif data.is_json and not creating:
        # Switching is_json on checks the value already stored.
        _validate_value(reveal(box, row), True)


def create(
    session: Session,
    box: SecretBox,
    actor: Account,
    project: Project,
    env: Environment | None,
    data: VariableInput,
) -> tuple[Variable, Activity]:
    """Create a variable; 409 when the level already defines that name."""
    name = validate_name(data.name)
    if data.value is None:
        raise Invalid.field("value", "This field is required.")
    existing = session.scalar(
        select(Variable.pk).where(
            Variable.project_id == project.id,
            Variable.scope == scope_key(env),
            Variable.name == name,
        )
    )
    if existing is not None:
        raise Conflict("The variable already exists.", {"name": [name]})
    row = Variable(
        project_id=project.id,
        environment_pk=env.pk if env is not None else None,
        scope=scope_key(env),
        name=name,
        is_json=False,
        is_sensitive=False,
        visible_build=True,
        visible_runtime=True,
        is_enabled=True,
        is_inheritable=True,
        application_scope=[],
        attributes={},
    )
    if env is None and (data.is_enabled is not None or data.is_inheritable is not None):
        data.is_enabled = data.is_inheritable = None  # environment-level only
    _apply(box, row, data, creating=True)
    session.add(row)
    session.flush()
    return row, _record(session, actor, project, env, "create", row)


def update(
    session: Session,
    box: SecretBox,
    actor: Account,
    project: Project,
    env: Environment | None,
    listed: Listed,
    data: VariableInput,
) -> tuple[Variable, Activity]:
    """Patch a variable. Patching an inherited one creates the environment's own copy."""
    if data.name is not None and data.name != listed.row.name:
        raise Invalid.field("name", "A variable cannot be renamed.")
    if env is None and (data.is_enabled is not None or data.is_inheritable is not None):
        raise Invalid.field("is_enabled", "Only environment-level variables have this field.")
    if listed.inherited and env is not None:
        source = listed.row
        row = Variable(
            project_id=project.id,
            environment_pk=env.pk,
            scope=scope_key(env),
            name=source.name,
            value=source.value,
            value_encrypted=source.value_encrypted,
            is_json=source.is_json,
            is_sensitive=source.is_sensitive,
            visible_build=source.visible_build,
            visible_runtime=source.visible_runtime,
            is_enabled=source.is_enabled,
            is_inheritable=source.is_inheritable,
            application_scope=list(source.application_scope),
            attributes=dict(source.attributes),
        )
        _apply(box, row, data, creating=True)
        session.add(row)
        session.flush()
        return row, _record(session, actor, project, env, "create", row)
    row = listed.row
    was_sensitive = row.is_sensitive
    _apply(box, row, data, creating=False)
    if row.is_sensitive and not was_sensitive:
        _scrub_history(session, project, env, row.name)
    session.flush()
    return row, _record(session, actor, project, env, "update", row)


def _scrub_history(session: Session, project: Project, env: Environment | None, name: str) -> int:
    """Drop the value of variable ``name`` (at this level) from every earlier activity.

    A variable that becomes sensitive must not stay readable in the history that any
    project viewer can list. Returns the number of activities changed.
    """
    level = "project" if env is None else "environment"
    changed = 0
    query = select(Activity).where(
        Activity.project_id == project.id, Activity.type.like(f"{level}.variable.%")
    )
    for activity in session.scalars(query):
        info = activity.payload.get("variable") if isinstance(activity.payload, dict) else None
        if not isinstance(info, dict) or info.get("name") != name or "value" not in info:
            continue
        if env is not None and activity.environments != [env.name]:
            continue
        scrubbed = {k: v for k, v in info.items() if k != "value"}
        # A new dict, so the JSON column sees the change.
        activity.payload = {**activity.payload, "variable": scrubbed}
        changed += 1
    return changed


def delete(
    session: Session, actor: Account, project: Project, env: Environment | None, listed: Listed
) -> Activity:
    """Delete a level's own variable (an inherited one belongs to its ancestor)."""
    if listed.inherited:
        raise Conflict(
            f"The variable is inherited from {listed.environment}; delete it there, or "
            "disable it on this environment."
        )
    activity = _record(session, actor, project, env, "delete", listed.row)
    session.delete(listed.row)
    return activity


def reveal(box: SecretBox, row: Variable) -> str:
    """The plain value (decrypting sensitive ones): for the runtime, never for responses."""
    if row.value_encrypted is not None:
        return box.decrypt(row.value_encrypted)
    return row.value or ""


# --- the runtime view -----------------------------------------------------------------


@dataclass
class ProcessEnvironment:
    """The variables a build or runtime process of one app gets."""

    variables: dict[str, str] = field(default_factory=dict)

    def platform_variables(self) -> dict[str, Any]:
        """``PLATFORM_VARIABLES`` decoded (for tests and debugging)."""
        raw = self.variables.get("PLATFORM_VARIABLES", "")
        decoded: dict[str, Any] = json.loads(base64.b64decode(raw)) if raw else {}
        return decoded


def effective(session: Session, project: Project, env: Environment) -> dict[str, Variable]:
    """Name → the definition that applies on ``env``: its own enabled one, else the
    nearest ancestor's enabled inheritable one, else the project's."""
    chain = ancestors(session, env)
    by_scope = _own_many(session, project, [None, env, *chain])
    chosen: dict[str, Variable] = {v.name: v for v in by_scope["project"]}
    inherited: dict[str, Variable] = {}
    for ancestor in reversed(chain):  # farthest first; nearer overwrite
        for v in by_scope[scope_key(ancestor)]:
            if v.is_enabled and v.is_inheritable:
                inherited[v.name] = v
    chosen |= inherited
    for v in by_scope[scope_key(env)]:
        if v.is_enabled:
            chosen[v.name] = v
    return chosen


def process_environment(
    session: Session,
    box: SecretBox,
    project: Project,
    env: Environment,
    phase: Phase,
    app_name: str,
) -> ProcessEnvironment:
    """What a process of ``app_name`` gets in ``phase``.

    Each visible ``env:NAME`` becomes ``NAME`` (the case kept as typed); every other
    visible variable goes into ``PLATFORM_VARIABLES``: base64 of a JSON object keyed by
    full name, with JSON values decoded.
    """
    out = ProcessEnvironment()
    others: dict[str, Any] = {}
    for name, row in sorted(effective(session, project, env).items()):
        visible = row.visible_build if phase == "build" else row.visible_runtime
        if not visible:
            continue
        if row.application_scope and app_name not in row.application_scope:
            continue
        value = reveal(box, row)
        if name.startswith("env:"):
            out.variables[name[4:]] = value
        else:
            others[name] = json.loads(value) if row.is_json else value
    out.variables["PLATFORM_VARIABLES"] = base64.b64encode(
        json.dumps(others, separators=(",", ":"), sort_keys=True).encode()
    ).decode()
    return out


def reencrypt_all(session: Session, box: SecretBox) -> int:
    """Re-encrypt every sensitive value under the newest key (after a key rotation)."""
    count = 0
    for row in session.scalars(select(Variable).where(Variable.value_encrypted.is_not(None))):
        assert row.value_encrypted is not None
        row.value_encrypted = box.rotate(row.value_encrypted)
        count += 1
    return count
