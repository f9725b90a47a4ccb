"""Claiming the next item for an annotator, inside the caller's write transaction.

Rules: a user holds at most MAX_LIVE live leases per project (the one being labeled and one prefetched);
an item is offered to a user at most once ever (one lease row per (item, user), which also
records skips and expiries); an item never has more live leases + labels than its overlap (the guarded
counter update in `take_slot`); highest priority first, then import order. Expired leases are returned to
the pool lazily, at most RECLAIM_BATCH per claim, so a claim's work stays bounded.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection

from sqlalchemy.engine import Connection

from truthline.errors import Conflict
from truthline.store import leases as store
from truthline.store.records import Project, Task, to_datetime
from truthline.tasktypes import get_task_type

MAX_LIVE = 2
RECLAIM_BATCH = 100
RECLAIM_EVERY = 1.0  # seconds between expiry sweeps of one project, per process
_last_sweep: dict[tuple[int, int], float] = {}  # (engine, project) -> time of the last sweep
_ATTEMPTS = 8  # a picked item can only be full if a concurrent PostgreSQL claim won it; try the next


def claim_next(conn: Connection, project: Project, user_id: int, now: float, held: Collection[int] = ()) -> Task | None:
    """The user's oldest live lease in the project that is not in `held` (so a plain retry of next is
    idempotent, and a client that prefetches passes the lease ids it already has), else a new lease on
    the best open item they have not been routed before; None when there is nothing left for them."""
    store.lock_user(conn, user_id)
    live = store.live_leases(conn, user_id, project.id, now, MAX_LIVE)
    for lease in live:
        if lease.id not in held:
            return _task(lease.id, lease.item_id, lease.external_id, lease.data, lease.expires_at, project,
                         lease.swapped)
    if len(live) >= MAX_LIVE:
        raise Conflict(f"you already hold {len(live)} leases in project {project.id}; submit or skip one first",
                       field="held")
    key = (id(conn.engine), project.id)
    if abs(now - _last_sweep.get(key, -RECLAIM_EVERY)) >= RECLAIM_EVERY:
        # A full batch means more may be waiting: sweep again on the next claim.
        if store.reclaim_expired(conn, project.id, now, RECLAIM_BATCH) < RECLAIM_BATCH:
            _last_sweep[key] = now
    for _ in range(_ATTEMPTS):
        item = store.pick_open_item(conn, project.id, user_id)
        if item is None:
            return None
        if store.take_slot(conn, item.id):
            expires = now + project.lease_seconds
            # a coin per lease (pairwise: which candidate comes first), kept on the lease for its submit
            swapped = get_task_type(project.task_type).swaps(project.config) and secrets.randbits(1) == 1
            lease_id = store.insert_lease(conn, project.id, item.id, user_id, now, expires, swapped)
            return _task(lease_id, item.id, item.external_id, item.data, expires, project, swapped)
    return None


def _task(lease_id: int, item_id: int, external_id: str, data: dict, expires: float, project: Project,
          swapped: bool) -> Task:
    shown = get_task_type(project.task_type).annotator_data(data, swapped)
    return Task(lease_id, item_id, external_id, shown, to_datetime(expires), project)


def end_lease(conn: Connection, lease_id: int, item_id: int, state: str, was_live: bool) -> None:
    """Close a lease as 'submitted' (its slot becomes a label), 'skipped' or 'expired' (its slot is freed,
    the user is not offered the item again) or 'released' (the lease is forgotten: the user may get the
    item again)."""
    if state == "released":
        store.delete_lease(conn, lease_id)
    else:
        store.set_state(conn, lease_id, state)
    if state == "submitted":
        store.convert_slot(conn, item_id)
    elif was_live:
        store.release_slot(conn, item_id)
