"""Queries on `login_failures`: failed attempts per key (a sha256 hex, never a raw username or address) with
their wall-clock time. services/throttle.py counts them; here only SQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.tables import login_failures

PRUNE_BATCH = 100  # expired rows removed per reserve at most


def lock_keys(conn: Connection, keys: Iterable[str]) -> None:
    """Serialize transactions counting the same keys until this one ends. PostgreSQL: a transaction-level
    advisory lock per key, taken in one order (no deadlock between two transactions locking two keys).
    SQLite: nothing to do, a write transaction (`write_tx`, BEGIN IMMEDIATE) already excludes every other."""
    if conn.dialect.name != "postgresql":
        return
    ids = sorted({int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True) for key in keys})
    for lock_id in ids:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))


def nth_newest_since(conn: Connection, key: str, since: float, n: int, at_most: float | None = None) -> float | None:
    """The time of the `n`th newest failure of `key` later than `since` (and at or before `at_most`, if given;
    None: fewer than `n` of them). Reads at most `n` entries of the (key, at) index."""
    q = (sa.select(login_failures.c.at)
         .where(login_failures.c.key == key, login_failures.c.at > since)
         .order_by(login_failures.c.at.desc()).limit(1).offset(n - 1))
    if at_most is not None:
        q = q.where(login_failures.c.at <= at_most)
    return conn.execute(q).scalar()


def insert_failure(conn: Connection, key: str, at: float) -> int:
    return int(conn.execute(login_failures.insert().values(key=key, at=at)).inserted_primary_key[0])


def delete_failures(conn: Connection, ids: Iterable[int]) -> None:
    ids = list(ids)
    if ids:
        conn.execute(login_failures.delete().where(login_failures.c.id.in_(ids)))


def delete_key(conn: Connection, key: str) -> None:
    conn.execute(login_failures.delete().where(login_failures.c.key == key))


def prune(conn: Connection, before: float, batch: int = PRUNE_BATCH) -> None:
    """Delete the failures at or before `before` among the `batch` oldest rows (by id, that is by insertion):
    bounded work whatever the table holds. PostgreSQL skips rows another transaction is deleting, so a
    prune never waits for a lock (and cannot deadlock with another prune)."""
    oldest = sa.select(login_failures.c.id).order_by(login_failures.c.id).limit(batch)
    expired = sa.select(login_failures.c.id).where(login_failures.c.id.in_(oldest.scalar_subquery()),
                                                   login_failures.c.at <= before)
    if conn.dialect.name == "postgresql":
        expired = expired.with_for_update(skip_locked=True)
    conn.execute(login_failures.delete().where(login_failures.c.id.in_(expired.scalar_subquery())))
