"""Queries on leases: the claim path of `next`, expiry reclaim, and lease completion.

Every function runs inside the caller's write transaction (BEGIN IMMEDIATE on SQLite; row locks with
SKIP LOCKED on PostgreSQL), and touches a bounded number of rows through the indexes in tables.py.
Statements are built once at import (hot path: building a Core statement costs more than running it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.tables import items, leases, projects, users

B = sa.bindparam
_LEASE_COLS = (
    leases.c.id, leases.c.project_id, leases.c.item_id, leases.c.user_id, leases.c.state,
    leases.c.created_at, leases.c.expires_at,
)
_LOCK_USER = sa.select(users.c.id).where(users.c.id == B("user_id")).with_for_update()
_LIVE = (
    sa.select(*_LEASE_COLS, items.c.external_id, items.c.data)
    .join(items, items.c.id == leases.c.item_id)
    .where(leases.c.user_id == B("user_id"), leases.c.project_id == B("project_id"), leases.c.state == "active",
           leases.c.expires_at > B("now"))
    .order_by(leases.c.id)
    .limit(B("limit"))
)
_EXPIRED = (
    sa.select(leases.c.id, leases.c.item_id)
    .where(leases.c.project_id == B("project_id"), leases.c.state == "active", leases.c.expires_at <= B("now"))
    .order_by(leases.c.expires_at, leases.c.id)
    .limit(B("limit"))
)
_EXPIRED_PG = _EXPIRED.with_for_update(skip_locked=True)
_SEEN = sa.select(leases.c.id).where(leases.c.item_id == items.c.id, leases.c.user_id == B("user_id")).exists()
_PICK = (
    sa.select(items.c.id, items.c.external_id, items.c.data)
    .where(items.c.project_id == B("project_id"), items.c.is_open == sa.true(), ~_SEEN)
    .order_by(items.c.priority.desc(), items.c.id)
    .limit(1)
)
_PICK_PG = _PICK.with_for_update(of=items, skip_locked=True)
_TOTAL = items.c.n_labels + items.c.n_leases
_TAKE = (
    items.update()
    .where(items.c.id == B("item_id"), _TOTAL < items.c.overlap)
    .values(n_leases=items.c.n_leases + 1, is_open=(_TOTAL + 1) < items.c.overlap)
)
_RELEASE = (
    items.update()
    .where(items.c.id == B("item_id"))
    .values(n_leases=items.c.n_leases - 1, is_open=(_TOTAL - 1) < items.c.overlap)
)
_CONVERT = (
    items.update()
    .where(items.c.id == B("item_id"))
    .values(n_leases=items.c.n_leases - 1, n_labels=items.c.n_labels + 1)
)
_INSERT = leases.insert()
_GET = (
    sa.select(*_LEASE_COLS, projects.c.task_type, projects.c.config)
    .join(projects, projects.c.id == leases.c.project_id)
    .where(leases.c.id == B("lease_id"))
)
_GET_PG = _GET.with_for_update(of=leases)
_DELETE = leases.delete().where(leases.c.id == B("lease_id"))
_SET_STATE = leases.update().where(leases.c.id == B("b_id")).values(state=B("state"))


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def lock_user(conn: Connection, user_id: int) -> None:
    """Serialize one user's claims on PostgreSQL (SQLite already serializes every writer)."""
    if _pg(conn):
        conn.execute(_LOCK_USER, {"user_id": user_id})


def live_leases(conn: Connection, user_id: int, project_id: int, now: float, limit: int) -> list[Any]:
    """The user's unexpired active leases in the project (oldest first), with their items."""
    return list(conn.execute(_LIVE, {"user_id": user_id, "project_id": project_id, "now": now, "limit": limit}))


def reclaim_expired(conn: Connection, project_id: int, now: float, limit: int = 100) -> int:
    """Return up to `limit` expired leases' slots to the pool (lazy, bounded work per call)."""
    q = _EXPIRED_PG if _pg(conn) else _EXPIRED
    rows = list(conn.execute(q, {"project_id": project_id, "now": now, "limit": limit}))
    if not rows:
        return 0
    conn.execute(_SET_STATE, [{"b_id": r.id, "state": "expired"} for r in rows])
    for item_id in sorted(r.item_id for r in rows):  # id order: no lock-order cycles on PostgreSQL
        release_slot(conn, item_id)
    return len(rows)


def pick_open_item(conn: Connection, project_id: int, user_id: int) -> Any:
    """The highest-priority open item the user has never been routed, locked for us; None if none."""
    return conn.execute(_PICK_PG if _pg(conn) else _PICK, {"project_id": project_id, "user_id": user_id}).first()


def take_slot(conn: Connection, item_id: int) -> bool:
    """Count one more live lease on the item, only if it still has room (the over-assignment guard)."""
    return conn.execute(_TAKE, {"item_id": item_id}).rowcount == 1


def release_slot(conn: Connection, item_id: int) -> None:
    """A live lease ended without a label (skip or expiry)."""
    conn.execute(_RELEASE, {"item_id": item_id})


def convert_slot(conn: Connection, item_id: int) -> None:
    """A live lease became a label: the item's total (and so is_open) is unchanged."""
    conn.execute(_CONVERT, {"item_id": item_id})


def insert_lease(conn: Connection, project_id: int, item_id: int, user_id: int, now: float, expires_at: float) -> int:
    res = conn.execute(_INSERT, {"project_id": project_id, "item_id": item_id, "user_id": user_id,
                                 "state": "active", "created_at": now, "expires_at": expires_at})
    return int(res.inserted_primary_key[0])


def get_lease(conn: Connection, lease_id: int, lock: bool = False) -> Any:
    """The lease with its project's task_type and config (locked on PostgreSQL with lock=True)."""
    return conn.execute(_GET_PG if lock and _pg(conn) else _GET, {"lease_id": lease_id}).first()


def set_state(conn: Connection, lease_id: int, state: str) -> None:
    conn.execute(_SET_STATE, {"b_id": lease_id, "state": state})


def delete_lease(conn: Connection, lease_id: int) -> None:
    conn.execute(_DELETE, {"lease_id": lease_id})


def pairs_on_items(conn: Connection, item_ids: list[int]) -> set[tuple[int, int]]:
    """(item_id, user_id) of every lease row (any state) on the given items."""
    out: set[tuple[int, int]] = set()
    for start in range(0, len(item_ids), 900):
        q = sa.select(leases.c.item_id, leases.c.user_id).where(leases.c.item_id.in_(item_ids[start : start + 900]))
        out.update((r.item_id, r.user_id) for r in conn.execute(q))
    return out


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(_INSERT, rows)


_ADD_LABELS = (
    items.update()
    .where(items.c.id == B("b_id"))
    .values(n_labels=items.c.n_labels + B("k"), is_open=(_TOTAL + B("k")) < items.c.overlap)
)


def add_labels(conn: Connection, counts: dict[int, int]) -> None:
    """Count k more labels on each item (bulk label import)."""
    if counts:
        conn.execute(_ADD_LABELS, [{"b_id": item_id, "k": k} for item_id, k in sorted(counts.items())])
