"""SQLAlchemy models: every table Homeport keeps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from homeport.store.types import JSONText, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_uuid() -> str:
    """A random UUID as text (the id format of accounts, tokens and grants)."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    """Declarative base with constraint names that migrations can refer to."""

    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    """created_at / updated_at kept by the ORM."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Account(Timestamped, Base):
    """A person (``human``) or a machine user (``machine``)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    email: Mapped[str] = mapped_column(String(254))
    # Lower-cased copy: uniqueness and look-ups ignore case on every database.
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    last_name: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[str] = mapped_column(String(16), default="human")
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # For machine users: the account that created it and may manage its tokens.
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )

    @property
    def display_name(self) -> str:
        """First and last name, or the username when both are empty."""
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.username


class ApiToken(Timestamped, Base):
    """A long-lived API token; only its keyed hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(256))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str] = mapped_column(String(8))
    mfa_on_creation: Mapped[bool] = mapped_column(Boolean, default=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    account: Mapped[Account] = relationship(lazy="joined")


class AccessGrant(Base):
    """One issued access token; checked on every request so revocation is immediate."""

    __tablename__ = "access_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    api_token_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=True, index=True
    )
    client_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class RevocationCounter(Base):
    """One row (``id`` 1) whose ``value`` moves with every change that may end a
    credential's validity, in that change's transaction (store/revocations.py), so
    each process may cache the grants it checked until the value moves."""

    __tablename__ = "revocation_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SshKey(Base):
    """A public SSH key; one key belongs to one account only."""

    __tablename__ = "ssh_keys"

    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(256), default="")
    value: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Project(Timestamped, Base):
    """A project: a git repository whose branches become environments."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    default_branch: Mapped[str] = mapped_column(String(64), default="main")
    region: Mapped[str] = mapped_column(String(64), default="local")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    attributes: Mapped[dict[str, str]] = mapped_column(JSONText, default=dict)


class Environment(Timestamped, Base):
    """One environment of a project (one per git branch)."""

    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    machine_name: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="inactive")
    parent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    has_code: Mapped[bool] = mapped_column(Boolean, default=False)
    head_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    clone_parent_on_create: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by variable and access changes; cleared by the next deploy.
    needs_redeploy: Mapped[bool] = mapped_column(Boolean, default=False)
    last_deployment_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_deployment_successful: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_backup_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attributes: Mapped[dict[str, str]] = mapped_column(JSONText, default=dict)


class ProjectAccess(Base):
    """An account's project role (``admin`` or ``viewer``)."""

    __tablename__ = "project_access"
    __table_args__ = (UniqueConstraint("project_id", "account_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class EnvironmentTypeAccess(Base):
    """An account's role on one environment type of a project."""

    __tablename__ = "environment_type_access"
    __table_args__ = (UniqueConstraint("project_id", "account_id", "env_type"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    env_type: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Invitation(Timestamped, Base):
    """An invitation by email; applied when an account with that email exists."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(16))
    permissions: Mapped[list[dict[str, str]]] = mapped_column(JSONText, default=list)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Activity(Base):
    """One change or piece of work, with its actor, state, result and log."""

    __tablename__ = "activities"
    # Lists are newest first, ties by insertion order: these serve a page of a project's
    # activities (optionally of given types) by walking the index, never sorting them all.
    __table_args__ = (
        Index("ix_activities_project_created", "project_id", "created_at", "pk"),
        Index("ix_activities_project_type_created", "project_id", "type", "created_at", "pk"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64), index=True)
    environments: Mapped[list[str]] = mapped_column(JSONText, default=list)
    # Activities with the same queue key run one at a time (one per environment).
    queue_key: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    completion_percent: Mapped[int] = mapped_column(Integer, default=0)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    timings: Mapped[dict[str, float]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    environment_rows: Mapped[list[ActivityEnvironment]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class ActivityEnvironment(Base):
    """One environment an activity concerns (``Activity.environments``, normalised), so
    environment lists and visibility are index look-ups rather than text searches.

    ``project_id`` and ``created_at`` are the activity's own, copied so a page of an
    environment's activities is read in order straight from the index.
    """

    __tablename__ = "activity_environments"
    __table_args__ = (
        Index(
            "ix_activity_environments_project_env_created",
            "project_id",
            "environment",
            "created_at",
            "activity_pk",
        ),
    )

    activity_pk: Mapped[int] = mapped_column(
        ForeignKey("activities.pk", ondelete="CASCADE"), primary_key=True
    )
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActivityLog(Base):
    """One line of an activity's log, in order."""

    __tablename__ = "activity_logs"
    __table_args__ = (UniqueConstraint("activity_pk", "seq"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_pk: Mapped[int] = mapped_column(ForeignKey("activities.pk", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(Text)


class Variable(Timestamped, Base):
    """A project-level (``environment_pk`` null) or environment-level variable.

    Sensitive values live only in ``value_encrypted``; ``value`` is then null.
    """

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("project_id", "scope", "name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    environment_pk: Mapped[int | None] = mapped_column(
        ForeignKey("environments.pk", ondelete="CASCADE"), nullable=True, index=True
    )
    # "project" or "env:<environment pk>": unique together with the name, on every database.
    scope: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    value_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_json: Mapped[bool] = mapped_column(Boolean, default=False)
    is_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    visible_build: Mapped[bool] = mapped_column(Boolean, default=True)
    visible_runtime: Mapped[bool] = mapped_column(Boolean, default=True)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_inheritable: Mapped[bool] = mapped_column(Boolean, default=True)
    application_scope: Mapped[list[str]] = mapped_column(JSONText, default=list)
    attributes: Mapped[dict[str, str]] = mapped_column(JSONText, default=dict)


class Backup(Timestamped, Base):
    """A verified backup of one environment's data; the archive lives in the blob store.

    A row exists only once its archive has been stored and read back: a crash during a
    backup leaves no row, so nothing half-written is ever listed or restorable.
    """

    __tablename__ = "backups"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    environment_pk: Mapped[int] = mapped_column(
        ForeignKey("environments.pk", ondelete="CASCADE"), index=True
    )
    environment_name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="CREATED")
    restorable: Mapped[bool] = mapped_column(Boolean, default=True)
    safe: Mapped[bool] = mapped_column(Boolean, default=True)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    commit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[int] = mapped_column(BigInteger, default=0)
    size_of_volumes: Mapped[int] = mapped_column(BigInteger, default=0)
    size_used: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activity_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Deployment(Base):
    """What runs on an environment now: the deployed commit, apps, routes and processes.

    One row per environment (Platform.sh only exposes ``current``); the document is
    the API's ``Deployment`` body, the processes are where each app listens.
    """

    __tablename__ = "deployments"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment_pk: Mapped[int] = mapped_column(
        ForeignKey("environments.pk", ondelete="CASCADE"), unique=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    processes: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CronJob(Base):
    """One cron of a deployed app and when it runs next (platform-deploy.md §6).

    Written when a deployment is recorded and removed with it; the scheduler moves
    ``next_run_at`` forward with a conditional update, so of several schedulers only
    one starts each run.
    """

    __tablename__ = "cron_jobs"
    __table_args__ = (UniqueConstraint("environment_pk", "app", "name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    environment_pk: Mapped[int] = mapped_column(ForeignKey("environments.pk", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    app: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[str] = mapped_column(String(256))
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The job's whole normalised definition: {spec, commands{start, stop}, timeout,
    # shutdown_timeout}, as an activity's ``parameters.spec`` shows it.
    definition: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_activity_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthFailure(Base):
    """One failed (or not yet judged) sign-in attempt, for rate limits that hold across
    several server processes (PostgreSQL installs). ``key`` is a digest of what the
    limit counts (an address, an account), so no login name is stored."""

    __tablename__ = "auth_failures"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[float] = mapped_column(Float)
    reservation: Mapped[str] = mapped_column(String(32), index=True)
