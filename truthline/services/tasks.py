"""The annotator's loop: next (claim a lease), submit (answer it), skip."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from truthline.errors import Conflict, Forbidden, Invalid, NotFound
from truthline.routing import claim_next, end_lease
from truthline.services.access import LABELING_ROLES, project_for, valid_id
from truthline.services.text import storable
from truthline.store import annotations as annotation_store
from truthline.store import leases as lease_store
from truthline.store.db import write_tx
from truthline.store.records import Annotation, Task, User, to_datetime
from truthline.tasktypes import get_task_type

MAX_ACTIVE_MS = 24 * 3600 * 1000
MAX_KEY = 200
IMPORT_KEY_PREFIX = "import:"  # idempotency keys of imported labels (`label_import`)
# Seconds between claims while every open item is locked by other transactions (PostgreSQL), about 1.6 s
# in all: a claim holds its item for milliseconds, a re-import of 60k items for about 2 s.
BUSY_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8)


def next_task(engine: Engine, actor: User, project_id: int, held: Collection[int] = ()) -> Task | None:
    """Lease the actor an item to label; None when nothing is left for them.

    Idempotent: the actor's oldest live lease not listed in `held` is returned again. A client that
    prefetches passes the lease ids it already holds and gets a second item (at most MAX_LIVE = 2 live
    leases per project; beyond that, Conflict)."""
    if isinstance(held, (str, bytes, dict)):
        raise Invalid("held must be a list of lease ids", field="held")
    held_ids = tuple(held)
    if not all(isinstance(h, int) and not isinstance(h, bool) for h in held_ids):
        raise Invalid("held must be a list of lease ids", field="held")
    for pause in (*BUSY_PAUSES, None):
        with write_tx(engine) as conn:
            project, role = project_for(conn, actor, project_id)
            if role not in LABELING_ROLES and not actor.is_admin:
                raise Forbidden(f"you are not an annotator of project {project.id}; ask its manager to add you")
            if project.status != "active":
                raise Conflict(f"project {project.id} is {project.status}; a manager can set its status to active",
                               code=f"project_{project.status}")
            task = claim_next(conn, project, actor.id, time.time(), frozenset(held_ids))
            if task is not None or pause is None:
                return task
            if not lease_store.open_items_held_elsewhere(conn, project.id, actor.id):
                return None
        # every open item was locked by another transaction (PostgreSQL): "nothing left" would be false
        # (3 annotators claiming a project's last item: a 204 in 23 of 30 rounds), so try again shortly
        time.sleep(pause)
    return None


def _lease_for(conn: Any, actor: User, lease_id: Any) -> Any:
    if not valid_id(lease_id):
        raise NotFound(f"lease {lease_id!r} not found", field="lease_id")
    lease = lease_store.get_lease(conn, lease_id, lock=True)
    if lease is None:
        raise NotFound(f"lease {lease_id} not found; call next to get a task", field="lease_id")
    if lease.user_id != actor.id:
        raise Forbidden(f"lease {lease_id} belongs to another annotator", field="lease_id")
    return lease


def _check_inputs(active_ms: Any, idempotency_key: Any) -> None:
    if isinstance(active_ms, bool) or not isinstance(active_ms, int) or not 0 <= active_ms <= MAX_ACTIVE_MS:
        raise Invalid(f"must be an integer number of milliseconds from 0 to {MAX_ACTIVE_MS}", field="active_ms")
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= MAX_KEY or not storable(idempotency_key)
    ):
        raise Invalid(f"must be a string of 1 to {MAX_KEY} characters", field="idempotency_key")
    if idempotency_key is not None and idempotency_key.startswith(IMPORT_KEY_PREFIX):
        # label import keys its rows "import:<item id>": a worker's own such key blocked that import for good
        raise Invalid(f"keys starting {IMPORT_KEY_PREFIX!r} are reserved for label imports", field="idempotency_key")


def submit(engine: Engine, actor: User, lease_id: int, answer: Any, active_ms: int = 0,
           idempotency_key: str | None = None) -> Annotation:
    """Record the actor's answer for their lease. A retry (same idempotency key, or no key on an
    already-submitted lease) returns the stored annotation with `replayed=True` instead of a second one."""
    _check_inputs(active_ms, idempotency_key)
    now = time.time()
    try:
        with write_tx(engine) as conn:
            if idempotency_key is not None:
                prior = annotation_store.by_key(conn, actor.id, idempotency_key)
                if prior is not None:
                    if prior.lease_id != lease_id:
                        raise Conflict(f"idempotency key already used for lease {prior.lease_id}; use a new key",
                                       field="idempotency_key")
                    return _as_given(prior, _lease_for(conn, actor, lease_id))
            lease = _lease_for(conn, actor, lease_id)
            if lease.state == "submitted":
                prior = annotation_store.by_lease(conn, lease.id)
                # (the same key lands here when a concurrent retry committed while we waited for the lease lock)
                if prior is not None and idempotency_key in (None, prior.idempotency_key):
                    return _as_given(prior, lease)
                raise Conflict(f"lease {lease.id} was already submitted; call next for a new task",
                               field="lease_id")
            if lease.state == "skipped":
                raise Conflict(f"lease {lease.id} was skipped; call next for a new task", field="lease_id")
            if lease.member_role not in LABELING_ROLES and not actor.is_admin:
                raise Forbidden(f"you are no longer a member of project {lease.project_id}", field="lease_id")
            _check_live(lease, now, "answers are accepted again")
            task_type = get_task_type(lease.task_type)
            normalized = task_type.validate_answer(answer, lease.config)
            created = annotation_store.insert(conn, {
                "project_id": lease.project_id, "item_id": lease.item_id, "user_id": actor.id,
                "lease_id": lease.id, "answer": task_type.as_stored(normalized, lease.swapped),
                "active_ms": active_ms, "idempotency_key": idempotency_key or f"lease:{lease.id}", "created_at": now,
            })
            end_lease(conn, lease.id, lease.item_id, "submitted", was_live=True)
            return replace(created, answer=normalized) if lease.swapped else created
    except IntegrityError:
        # Only a concurrent submit racing us on the same key/lease gets here; its result stands.
        raise Conflict("this answer was submitted concurrently; retry to get the stored annotation",
                       field="idempotency_key") from None


def _as_given(annotation: Annotation, lease: Any) -> Annotation:
    """A stored answer in the order the lease showed the item (pairwise: "a" is the candidate shown first), as
    its submit answered: a replay must not tell the annotator anything the first answer did not."""
    return replace(annotation, answer=get_task_type(lease.task_type).as_stored(annotation.answer, lease.swapped))


def _check_live(lease: Any, now: float, when_active: str) -> None:
    """Conflict (code project_paused / project_archived / lease_expired) unless the lease can still be used."""
    if lease.status != "active":
        raise Conflict(f"project {lease.project_id} is {lease.status}; {when_active} when a manager sets it to "
                       "active", field="lease_id", code=f"project_{lease.status}")
    if lease.state == "expired" or lease.expires_at <= now:
        raise Conflict(f"lease {lease.id} expired at {to_datetime(lease.expires_at).isoformat()}; "
                       "call next for a new task", field="lease_id", code="lease_expired")


def renew(engine: Engine, actor: User, lease_id: int) -> float:
    """Give the actor's live lease a full lease length again, from now (an annotator still working on a hard
    item must not lose the answer to the clock). Returns the new expiry. An expired, submitted or skipped
    lease cannot be renewed: its item may already be someone else's."""
    now = time.time()
    with write_tx(engine) as conn:
        lease = _lease_for(conn, actor, lease_id)
        if lease.state != "active" and lease.state != "expired":
            raise Conflict(f"lease {lease.id} was {lease.state}; call next for a new task", field="lease_id")
        if lease.member_role not in LABELING_ROLES and not actor.is_admin:
            raise Forbidden(f"you are no longer a member of project {lease.project_id}", field="lease_id")
        _check_live(lease, now, "leases can be renewed again")
        expires_at = now + lease.lease_seconds
        lease_store.extend(conn, lease.id, expires_at)
        return expires_at


def skip(engine: Engine, actor: User, lease_id: int) -> None:
    """Give the item back without answering; the actor is not offered it again. Skipping twice is fine."""
    with write_tx(engine) as conn:
        lease = _lease_for(conn, actor, lease_id)
        if lease.state == "submitted":
            raise Conflict(f"lease {lease.id} was already submitted; it cannot be skipped", field="lease_id")
        if lease.state == "skipped":
            return
        end_lease(conn, lease.id, lease.item_id, "skipped", was_live=lease.state == "active")


def release(engine: Engine, actor: User, lease_id: int) -> str:
    """Give a live lease back without recording a skip (e.g. a prefetched item when the page closes): the
    item returns to the pool and the actor may be offered it again. Returns the lease's state after:
    "released"; "expired" for a lease past its time, whether or not the sweep had reached it (before, one
    came back to this actor and the other never did, by timing alone); "skipped" stays skipped."""
    with write_tx(engine) as conn:
        lease = _lease_for(conn, actor, lease_id)
        if lease.state == "submitted":
            raise Conflict(f"lease {lease.id} was already submitted", field="lease_id")
        if lease.state == "active" and lease.expires_at <= time.time():
            end_lease(conn, lease.id, lease.item_id, "expired", was_live=True)  # what the sweep would do
            return "expired"
        if lease.state == "active":
            end_lease(conn, lease.id, lease.item_id, "released", was_live=True)
            return "released"
        return str(lease.state)
