"""projects.items_version: bumped when an import rewrites existing items, so the manager summary's cache
notices changed gold or truth values that leave every count as it was.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("items_version", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:  # SQLite drops columns by rebuilding the table
        batch.drop_column("items_version")
