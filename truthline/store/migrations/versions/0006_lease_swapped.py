"""leases.swapped: whether the annotator holding the lease was shown a pairwise item's candidates in the other
order (B first). Decided at random when the lease is taken, so position bias (workers who favour the first
candidate) falls evenly on both sides; submit turns the answer back into the item's own a/b.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases: a batch (copy-and-move) rebuild of `leases` on SQLite would drop its
# AUTOINCREMENT, and a released lease's id could then come back (SQLite has had DROP COLUMN since 3.35).
def upgrade() -> None:
    op.add_column("leases", sa.Column("swapped", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("leases", "swapped")
