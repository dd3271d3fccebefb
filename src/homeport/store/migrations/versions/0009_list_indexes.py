"""indexes that serve paged lists, and activities' environments normalised

Revision ID: 0009_list_indexes
Revises: 0008_revocation_counter
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_list_indexes"
down_revision = "0008_revocation_counter"
branch_labels = None
depends_on = None

# One row per (activity, environment) pair of every existing activity: the JSON list in
# ``activities.environments`` expanded by the database itself, in one statement, with
# the activity's project and time copied. Names longer than an environment name may be
# cannot name an environment and are left out.
_BACKFILL = {
    "sqlite": """
        INSERT INTO activity_environments (activity_pk, environment, project_id, created_at)
        SELECT DISTINCT a.pk, e.value, a.project_id, a.created_at
        FROM activities AS a, json_each(a.environments) AS e
        WHERE a.environments IS NOT NULL AND a.environments != '[]'
          AND e.type = 'text' AND length(e.value) <= 64
    """,
    "postgresql": """
        INSERT INTO activity_environments (activity_pk, environment, project_id, created_at)
        SELECT DISTINCT a.pk, e.value, a.project_id, a.created_at
        FROM activities AS a,
             LATERAL json_array_elements_text(a.environments::json) AS e(value)
        WHERE a.environments IS NOT NULL AND a.environments != '[]'
          AND json_typeof(a.environments::json) = 'array' AND length(e.value) <= 64
    """,
}


def upgrade() -> None:
    # Indexes only: the activities table itself is not rewritten.
    op.create_index(
        "ix_activities_project_created", "activities", ["project_id", "created_at", "pk"]
    )
    op.create_index(
        "ix_activities_project_type_created",
        "activities",
        ["project_id", "type", "created_at", "pk"],
    )
    # Its prefix: every look-up by project uses the composite indexes now.
    op.drop_index("ix_activities_project_id", table_name="activities")
    op.create_table(
        "activity_environments",
        sa.Column("activity_pk", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_pk"],
            ["activities.pk"],
            name=op.f("fk_activity_environments_activity_pk_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "activity_pk", "environment", name=op.f("pk_activity_environments")
        ),
    )
    bind = op.get_bind()
    op.execute(_BACKFILL[bind.dialect.name])
    # Built once, after the rows are in, rather than kept up to date row by row.
    op.create_index(
        "ix_activity_environments_project_env_created",
        "activity_environments",
        ["project_id", "environment", "created_at", "activity_pk"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_activity_environments_project_env_created", table_name="activity_environments"
    )
    op.drop_table("activity_environments")
    op.create_index("ix_activities_project_id", "activities", ["project_id"])
    op.drop_index("ix_activities_project_type_created", table_name="activities")
    op.drop_index("ix_activities_project_created", table_name="activities")
