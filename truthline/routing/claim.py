"""Claiming the next item for an annotator, inside the caller's write transaction.

Rules: an item is offered to a user at most once ever (one lease row per (item, user), which also
records skips and expiries); an item never has more live leases + labels than its overlap (the guarded
counter update in `take_slot`); highest priority first, then import order. Expired leases are returned to
the pool lazily, at most RECLAIM_BATCH per claim, so a claim's work stays bounded.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from truthline.store import leases as store
from truthline.store.records import Project, Task, to_datetime

RECLAIM_BATCH = 100
_ATTEMPTS = 8  # a picked item can only be full if a concurrent PostgreSQL claim won it; try the next


def claim_next(conn: Connection, project: Project, user_id: int, now: float) -> Task | None:
    """The user's live lease in the project if they hold one (idempotent next), else a new lease on the
    best open item they have not been routed before; None when there is nothing left for them."""
    store.lock_user(conn, user_id)
    live = store.live_lease(conn, user_id, project.id, now)
    if live is not None:
        return Task(live.id, live.item_id, live.external_id, live.data, to_datetime(live.expires_at), project)
    store.reclaim_expired(conn, project.id, now, RECLAIM_BATCH)
    for _ in range(_ATTEMPTS):
        item = store.pick_open_item(conn, project.id, user_id)
        if item is None:
            return None
        if store.take_slot(conn, item.id):
            expires = now + project.lease_seconds
            lease_id = store.insert_lease(conn, project.id, item.id, user_id, now, expires)
            return Task(lease_id, item.id, item.external_id, item.data, to_datetime(expires), project)
    return None


def end_lease(conn: Connection, lease_id: int, item_id: int, state: str, was_live: bool) -> None:
    """Close a lease as 'submitted' (its slot becomes a label) or 'skipped' (its slot is freed)."""
    store.set_state(conn, lease_id, state)
    if state == "submitted":
        store.convert_slot(conn, item_id)
    elif was_live:
        store.release_slot(conn, item_id)
