"""Index leases by (user_id, project_id, id): finds a user's latest lease in a project, the routing
cursor that keeps `next` bounded when the user is far ahead of the rest of the crowd.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_leases_user_project", "leases", ["user_id", "project_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_leases_user_project", table_name="leases")
