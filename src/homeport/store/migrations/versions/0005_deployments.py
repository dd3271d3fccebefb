"""deployments

Revision ID: 0005_deployments
Revises: 0004_backups
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import homeport.store.types

revision = "0005_deployments"
down_revision = "0004_backups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("environment_pk", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("document", homeport.store.types.JSONText(), nullable=False),
        sa.Column("processes", homeport.store.types.JSONText(), nullable=False),
        sa.Column("created_at", homeport.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", homeport.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_pk"],
            ["environments.pk"],
            name=op.f("fk_deployments_environment_pk_environments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_deployments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_deployments")),
        sa.UniqueConstraint("environment_pk", name=op.f("uq_deployments_environment_pk")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_project_id"))
    op.drop_table("deployments")
