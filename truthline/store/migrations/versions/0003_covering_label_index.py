"""Replace ix_annotations_project_item with an index that covers what inference and export read
(user_id, active_ms, created_at, answer), so reading a project's labels is an index-only scan.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PAYLOAD = ["user_id", "active_ms", "created_at", "answer"]


def upgrade() -> None:
    op.drop_index("ix_annotations_project_item", table_name="annotations")
    if op.get_bind().dialect.name == "postgresql":  # no b-tree opclass for json: INCLUDE it instead
        op.create_index("ix_annotations_labels_pg", "annotations", ["project_id", "item_id"],
                        postgresql_include=PAYLOAD)
    else:
        op.create_index("ix_annotations_labels", "annotations", ["project_id", "item_id", *PAYLOAD])


def downgrade() -> None:
    name = "ix_annotations_labels_pg" if op.get_bind().dialect.name == "postgresql" else "ix_annotations_labels"
    op.drop_index(name, table_name="annotations")
    op.create_index("ix_annotations_project_item", "annotations", ["project_id", "item_id"])
