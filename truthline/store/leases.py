"""Queries on leases: the claim path of `next`, expiry reclaim, and lease completion.

Every function runs inside the caller's write transaction (BEGIN IMMEDIATE on SQLite; row locks with
SKIP LOCKED on PostgreSQL), and touches a bounded number of rows through the indexes in tables.py.
Statements are built once at import (hot path: building a Core statement costs more than running it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.fastpath import execute as run  # conn.execute, faster on SQLite
from truthline.store.tables import items, leases, project_members, projects, users

B = sa.bindparam
_LEASE_COLS = (
    leases.c.id, leases.c.project_id, leases.c.item_id, leases.c.user_id, leases.c.state,
    leases.c.created_at, leases.c.expires_at, leases.c.swapped,
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
_OPEN = sa.and_(items.c.project_id == B("project_id"), items.c.is_open == sa.true())
_ORDER = (items.c.priority.desc(), items.c.id)
WINDOW = 32
# Three ways to find the user's best open item, cheapest first (see pick_open_item).
_FRONT = sa.select(items.c.id, items.c.priority).where(_OPEN).order_by(*_ORDER).limit(WINDOW).subquery("front")
_PICK_FRONT = (
    sa.select(items.c.id, items.c.external_id, items.c.data)
    .select_from(_FRONT.join(items, items.c.id == _FRONT.c.id))
    .where(~sa.select(leases.c.id).where(leases.c.item_id == _FRONT.c.id, leases.c.user_id == B("user_id")).exists())
)
_PICK_SAME = sa.select(items.c.id, items.c.external_id, items.c.data).where(
    _OPEN, items.c.priority == B("c_priority"), items.c.id > B("c_id"), ~_SEEN)
_PICK_LOWER = sa.select(items.c.id, items.c.external_id, items.c.data).where(
    _OPEN, items.c.priority < B("c_priority"), ~_SEEN)
_PICK_ALL = sa.select(items.c.id, items.c.external_id, items.c.data).where(_OPEN, ~_SEEN)
_PICKS = {
    name: (q.order_by(*order).limit(1), q.order_by(*order).limit(1).with_for_update(of=items, skip_locked=True))
    for name, q, order in (("front", _PICK_FRONT, (_FRONT.c.priority.desc(), _FRONT.c.id)),
                           ("same", _PICK_SAME, _ORDER), ("lower", _PICK_LOWER, _ORDER), ("all", _PICK_ALL, _ORDER))
}
_ANY_OPEN = sa.select(_PICK_ALL.exists())  # no lock: also sees the items other transactions hold
_CURSOR = (
    sa.select(items.c.priority, items.c.id)
    .select_from(leases.join(items, items.c.id == leases.c.item_id))
    .where(leases.c.user_id == B("user_id"), leases.c.project_id == B("project_id"))
    .order_by(leases.c.id.desc())
    .limit(1)
)
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
    # The holder's current role and the project's status come along so a submit can be refused after the
    # holder was removed from the project or the project was paused, with no extra query.
    sa.select(*_LEASE_COLS, projects.c.task_type, projects.c.config, projects.c.status, projects.c.lease_seconds,
              project_members.c.role.label("member_role"))
    .join(projects, projects.c.id == leases.c.project_id)
    .outerjoin(project_members, sa.and_(project_members.c.project_id == leases.c.project_id,
                                        project_members.c.user_id == leases.c.user_id))
    .where(leases.c.id == B("lease_id"))
)
_GET_PG = _GET.with_for_update(of=leases)
_DELETE = leases.delete().where(leases.c.id == B("lease_id"))
_SET_STATE = leases.update().where(leases.c.id == B("b_id")).values(state=B("state"))
_EXTEND = leases.update().where(leases.c.id == B("b_id")).values(expires_at=B("expires_at"))


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def lock_user(conn: Connection, user_id: int) -> None:
    """Serialize one user's claims on PostgreSQL (SQLite already serializes every writer)."""
    if _pg(conn):
        conn.execute(_LOCK_USER, {"user_id": user_id})


def live_leases(conn: Connection, user_id: int, project_id: int, now: float, limit: int) -> list[Any]:
    """The user's unexpired active leases in the project (oldest first), with their items."""
    return list(run(conn, _LIVE, {"user_id": user_id, "project_id": project_id, "now": now, "limit": limit}))


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


def _pick(conn: Connection, name: str, params: dict[str, Any]) -> Any:
    plain, locking = _PICKS[name]
    return run(conn, locking if _pg(conn) else plain, params).first()


def pick_open_item(conn: Connection, project_id: int, user_id: int) -> Any:
    """The highest-priority open item the user has never been routed, locked for us; None if none.

    Walking the open-items index past items the user already labeled costs one probe each, which grows
    without bound when one annotator is far ahead of the others (50k such items: ~40 ms). So: (1) look
    at the first WINDOW open items only; (2) else continue after the user's latest routed item (their
    cursor: everything before it they have seen or found full); (3) only when that finds nothing, walk
    everything (reopened items behind the cursor, the end of the project). (2) may serve an item that
    reopened behind the cursor a little later than strict priority order would."""
    params = {"project_id": project_id, "user_id": user_id}
    found = _pick(conn, "front", params)
    if found is not None:
        return found
    cursor = run(conn, _CURSOR, params).first()
    if cursor is not None:
        after = {**params, "c_priority": cursor.priority, "c_id": cursor.id}
        found = _pick(conn, "same", after) or _pick(conn, "lower", after)
        if found is not None:
            return found
    return _pick(conn, "all", params)


def open_items_held_elsewhere(conn: Connection, project_id: int, user_id: int) -> bool:
    """After `pick_open_item` found nothing: whether open items the user has not seen exist all the same,
    locked by other transactions for a moment (a claim, an import), which SKIP LOCKED passes over.
    Always False on SQLite, where nothing is skipped."""
    return _pg(conn) and bool(conn.execute(_ANY_OPEN, {"project_id": project_id, "user_id": user_id}).scalar())


def take_slot(conn: Connection, item_id: int) -> bool:
    """Count one more live lease on the item, only if it still has room (the over-assignment guard)."""
    return run(conn, _TAKE, {"item_id": item_id}).rowcount == 1


def release_slot(conn: Connection, item_id: int) -> None:
    """A live lease ended without a label (skip or expiry)."""
    run(conn, _RELEASE, {"item_id": item_id})


def convert_slot(conn: Connection, item_id: int) -> None:
    """A live lease became a label: the item's total (and so is_open) is unchanged."""
    run(conn, _CONVERT, {"item_id": item_id})


def insert_lease(conn: Connection, project_id: int, item_id: int, user_id: int, now: float, expires_at: float,
                 swapped: bool = False) -> int:
    res = run(conn, _INSERT, {"project_id": project_id, "item_id": item_id, "user_id": user_id,
                                 "state": "active", "created_at": now, "expires_at": expires_at, "swapped": swapped})
    return int(res.inserted_primary_key[0])


def get_lease(conn: Connection, lease_id: int, lock: bool = False) -> Any:
    """The lease with its project's task_type, config and status and the holder's project role
    (locked on PostgreSQL with lock=True)."""
    return run(conn, _GET_PG if lock and _pg(conn) else _GET, {"lease_id": lease_id}).first()


def set_state(conn: Connection, lease_id: int, state: str) -> None:
    run(conn, _SET_STATE, {"b_id": lease_id, "state": state})


def extend(conn: Connection, lease_id: int, expires_at: float) -> None:
    run(conn, _EXTEND, {"b_id": lease_id, "expires_at": expires_at})


def delete_lease(conn: Connection, lease_id: int) -> None:
    run(conn, _DELETE, {"lease_id": lease_id})


def pairs_on_items(conn: Connection, item_ids: list[int]) -> dict[tuple[int, int], tuple[int, str]]:
    """(item_id, user_id) -> (lease id, state) of every lease row (any state) on the given items."""
    out: dict[tuple[int, int], tuple[int, str]] = {}
    cols = (leases.c.item_id, leases.c.user_id, leases.c.id, leases.c.state)
    for start in range(0, len(item_ids), 900):
        q = sa.select(*cols).where(leases.c.item_id.in_(item_ids[start : start + 900]))
        out.update(((r.item_id, r.user_id), (r.id, r.state)) for r in conn.execute(q))
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
