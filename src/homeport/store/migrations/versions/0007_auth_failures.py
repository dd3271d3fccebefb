"""auth failures shared by every server process

Revision ID: 0007_auth_failures
Revises: 0006_cron_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_auth_failures"
down_revision = "0006_cron_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("reservation", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_auth_failures")),
    )
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_failures_key"), ["key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_auth_failures_reservation"), ["reservation"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_failures_reservation"))
        batch_op.drop_index(batch_op.f("ix_auth_failures_key"))
    op.drop_table("auth_failures")
