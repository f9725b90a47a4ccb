"""Queries on leases: the claim path of `next`, expiry reclaim, and lease completion.

Every function runs inside the caller's write transaction (BEGIN IMMEDIATE on SQLite; row locks with
SKIP LOCKED on PostgreSQL), and touches a bounded number of rows through the indexes in tables.py.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.tables import items, leases, users

_LEASE_COLS = (
    leases.c.id, leases.c.project_id, leases.c.item_id, leases.c.user_id, leases.c.state,
    leases.c.created_at, leases.c.expires_at,
)


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def lock_user(conn: Connection, user_id: int) -> None:
    """Serialize one user's claims on PostgreSQL (SQLite already serializes every writer)."""
    if _pg(conn):
        conn.execute(sa.select(users.c.id).where(users.c.id == user_id).with_for_update())


def live_lease(conn: Connection, user_id: int, project_id: int, now: float) -> Any:
    """The user's unexpired active lease in the project, with its item, or None."""
    q = (
        sa.select(*_LEASE_COLS, items.c.external_id, items.c.data)
        .join(items, items.c.id == leases.c.item_id)
        .where(leases.c.user_id == user_id, leases.c.project_id == project_id, leases.c.state == "active",
               leases.c.expires_at > now)
        .order_by(leases.c.id)
        .limit(1)
    )
    return conn.execute(q).first()


def reclaim_expired(conn: Connection, project_id: int, now: float, limit: int = 100) -> int:
    """Return up to `limit` expired leases' slots to the pool (lazy, bounded work per call)."""
    q = (
        sa.select(leases.c.id, leases.c.item_id)
        .where(leases.c.project_id == project_id, leases.c.state == "active", leases.c.expires_at <= now)
        .order_by(leases.c.expires_at, leases.c.id)
        .limit(limit)
    )
    if _pg(conn):
        q = q.with_for_update(skip_locked=True)
    rows = list(conn.execute(q))
    if not rows:
        return 0
    conn.execute(
        leases.update().where(leases.c.id == sa.bindparam("b_id")).values(state="expired"),
        [{"b_id": r.id} for r in rows],
    )
    for item_id in sorted(r.item_id for r in rows):  # id order: no lock-order cycles on PostgreSQL
        release_slot(conn, item_id)
    return len(rows)


def pick_open_item(conn: Connection, project_id: int, user_id: int) -> Any:
    """The highest-priority open item the user has never been routed, locked for us; None if none."""
    seen = sa.select(leases.c.id).where(leases.c.item_id == items.c.id, leases.c.user_id == user_id).exists()
    q = (
        sa.select(items.c.id, items.c.external_id, items.c.data)
        .where(items.c.project_id == project_id, items.c.is_open == sa.true(), ~seen)
        .order_by(items.c.priority.desc(), items.c.id)
        .limit(1)
    )
    if _pg(conn):
        q = q.with_for_update(of=items, skip_locked=True)
    return conn.execute(q).first()


def take_slot(conn: Connection, item_id: int) -> bool:
    """Count one more live lease on the item, only if it still has room (the over-assignment guard)."""
    total = items.c.n_labels + items.c.n_leases
    res = conn.execute(
        items.update()
        .where(items.c.id == item_id, total < items.c.overlap)
        .values(n_leases=items.c.n_leases + 1, is_open=(total + 1) < items.c.overlap)
    )
    return res.rowcount == 1


def release_slot(conn: Connection, item_id: int) -> None:
    """A live lease ended without a label (skip or expiry)."""
    total = items.c.n_labels + items.c.n_leases
    conn.execute(
        items.update()
        .where(items.c.id == item_id)
        .values(n_leases=items.c.n_leases - 1, is_open=(total - 1) < items.c.overlap)
    )


def convert_slot(conn: Connection, item_id: int) -> None:
    """A live lease became a label: the item's total (and so is_open) is unchanged."""
    conn.execute(
        items.update()
        .where(items.c.id == item_id)
        .values(n_leases=items.c.n_leases - 1, n_labels=items.c.n_labels + 1)
    )


def insert_lease(conn: Connection, project_id: int, item_id: int, user_id: int, now: float, expires_at: float) -> int:
    res = conn.execute(
        leases.insert().values(project_id=project_id, item_id=item_id, user_id=user_id, state="active",
                               created_at=now, expires_at=expires_at)
    )
    return int(res.inserted_primary_key[0])


def get_lease(conn: Connection, lease_id: int, lock: bool = False) -> Any:
    q = sa.select(*_LEASE_COLS).where(leases.c.id == lease_id)
    if lock and _pg(conn):
        q = q.with_for_update()
    return conn.execute(q).first()


def set_state(conn: Connection, lease_id: int, state: str) -> None:
    conn.execute(leases.update().where(leases.c.id == lease_id).values(state=state))
