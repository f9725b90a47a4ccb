"""Table definitions (SQLAlchemy 2 Core). Times are UNIX epoch seconds (float) on both databases.

Routing counters live on the item row (`n_labels`, `n_leases`, `is_open`) so `next` and `submit` touch
one item row and never count annotations; `is_open` mirrors `n_labels + n_leases < overlap` and feeds the
partial index `ix_items_open` ("open items of a project by priority").
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=True),  # NULL: token-only account (e.g. simulated worker)
    sa.Column("role", sa.String(20), nullable=False),  # admin | member
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.Float, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex of the secret
    sa.Column("kind", sa.String(20), nullable=False),  # api | session
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("task_type", sa.String(50), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),  # labels, guidelines and task-type options
    sa.Column("overlap", sa.Integer, nullable=False),
    sa.Column("pay_cents", sa.Integer, nullable=False),
    sa.Column("lease_seconds", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # active | paused | archived
    sa.Column("created_by", Id, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    # bumped when an import rewrites existing items (data, priority, gold, truth): caches keyed on counts
    # (the manager summary) would not notice such a change otherwise
    sa.Column("items_version", sa.Integer, nullable=False, server_default="0"),
)

project_members = sa.Table(
    "project_members",
    metadata,
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),  # manager | annotator | reviewer
    sa.Index("ix_project_members_user", "user_id"),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(300), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("gold", sa.JSON, nullable=True),  # quality check: clamps truth inference; never shown to annotators
    sa.Column("truth", sa.JSON, nullable=True),  # hidden evaluation truth: only compared against, never used
    sa.Column("overlap", sa.Integer, nullable=False),  # labels wanted (per item, for adaptive overlap later)
    sa.Column("n_labels", sa.Integer, nullable=False),
    sa.Column("n_leases", sa.Integer, nullable=False),  # live leases
    sa.Column("is_open", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("project_id", "external_id", name="uq_items_project_external"),
)
sa.Index(
    "ix_items_open",
    items.c.project_id,
    items.c.priority.desc(),
    items.c.id,
    sqlite_where=items.c.is_open == sa.true(),
    postgresql_where=items.c.is_open == sa.true(),
)

# One row per (item, user): the user's lease on the item and what became of it. The unique key is what
# guarantees nobody is routed the same item twice (also after skipping or letting a lease expire).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # active | submitted | skipped | expired
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    # pairwise: the candidates were shown B first (the answer is stored as the item's own a/b)
    sa.Column("swapped", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("item_id", "user_id", name="uq_leases_item_user"),
    sqlite_autoincrement=True,  # released leases are deleted; their ids must never come back
)
sa.Index(
    "ix_leases_user_active",
    leases.c.user_id,
    leases.c.project_id,
    sqlite_where=leases.c.state == "active",
    postgresql_where=leases.c.state == "active",
)
sa.Index("ix_leases_user_project", leases.c.user_id, leases.c.project_id, leases.c.id)
sa.Index(
    "ix_leases_expiry",
    leases.c.project_id,
    leases.c.expires_at,
    sqlite_where=leases.c.state == "active",
    postgresql_where=leases.c.state == "active",
)

annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("lease_id", Id, sa.ForeignKey("leases.id", ondelete="SET NULL"), nullable=True, unique=True),
    sa.Column("answer", sa.JSON, nullable=False),
    sa.Column("active_ms", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("user_id", "idempotency_key", name="uq_annotations_user_key"),
    sa.UniqueConstraint("item_id", "user_id", name="uq_annotations_item_user"),
)
# A project's labels by item, covering everything inference and export read (index-only scans: half the
# time of index + table lookups). PostgreSQL cannot key a b-tree on json, so it INCLUDEs the payload.
_LABEL_PAYLOAD = ("user_id", "active_ms", "created_at", "answer")
sa.Index("ix_annotations_labels", annotations.c.project_id, annotations.c.item_id,
         *(annotations.c[name] for name in _LABEL_PAYLOAD)).ddl_if(dialect="sqlite")
sa.Index("ix_annotations_labels_pg", annotations.c.project_id, annotations.c.item_id,
         postgresql_include=list(_LABEL_PAYLOAD)).ddl_if(dialect="postgresql")

# Failed logins of the last few minutes, shared by every process on the database (services/throttle.py).
# `key` is a sha256 hex of the limit's scope, the username and the client address: none of them is stored.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # wall clock (time.time()), the same on every process
    sa.Index("ix_login_failures_key_at", "key", "at"),
)
