"""cron jobs

Revision ID: 0006_cron_jobs
Revises: 0005_deployments
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import homeport.store.types

revision = "0006_cron_jobs"
down_revision = "0005_deployments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cron_jobs",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("environment_pk", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.String(length=256), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("definition", homeport.store.types.JSONText(), nullable=False),
        sa.Column("next_run_at", homeport.store.types.UTCDateTime(), nullable=False),
        sa.Column("last_scheduled_at", homeport.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_activity_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", homeport.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_pk"],
            ["environments.pk"],
            name=op.f("fk_cron_jobs_environment_pk_environments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_cron_jobs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_cron_jobs")),
        sa.UniqueConstraint(
            "environment_pk", "app", "name", name=op.f("uq_cron_jobs_environment_pk")
        ),
    )
    with op.batch_alter_table("cron_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cron_jobs_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cron_jobs_next_run_at"), ["next_run_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cron_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cron_jobs_next_run_at"))
        batch_op.drop_index(batch_op.f("ix_cron_jobs_project_id"))
    op.drop_table("cron_jobs")
