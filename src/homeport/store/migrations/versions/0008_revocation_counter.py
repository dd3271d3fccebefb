"""a shared counter of credential revocations

Revision ID: 0008_revocation_counter
Revises: 0007_auth_failures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_revocation_counter"
down_revision = "0007_auth_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row: bumped by every change that may end a credential's validity (a token
    # deleted, an account deactivated...), so processes can cache validity until it moves.
    op.create_table(
        "revocation_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_counter")),
    )
    op.execute("INSERT INTO revocation_counter (id, value) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("revocation_counter")
