"""Failed attempts counted per key over a sliding window, in the database.

Password guessing is what it stops: past `limit` failures within `window` seconds a key is refused until
its oldest counted failure leaves the window. An attempt is counted when it starts (`reserve`) and taken
back if it was not a failure (`cancel`, which can also `forget` a key's failures). The counts live in the
`login_failures` table, so every process on the database (`serve --workers N`, several servers on one
PostgreSQL) shares them and a restart keeps them. Keys are stored as sha256 hex of the limit's scope and
the key's parts (a username, a client address): neither is kept as such. Times are wall clock
(`time.time()`), the one clock all processes share. Expired rows are deleted a batch at a time by
`reserve`, so the table holds about the failures of the last window.

A key found over its limit is remembered in this process until its wait ends (`_refused`), so a flood of
refused attempts is answered from memory instead of taking the database's write lock once each (on SQLite,
the lock every annotator's submit needs). Only a limit reached by failures older than `IN_FLIGHT_SECONDS` is
remembered: a newer place may belong to an attempt still being checked, which a success takes back (and
forgives the key), and this process cannot learn that. The limit refuses such attempts all the same, from
the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine

from truthline.store import logins as store
from truthline.store.db import write_tx


@dataclass(frozen=True)
class FailureLimit:
    """At most `limit` failures per key within `window` seconds. `scope` keeps the keys of different limits
    apart (the same parts give a different key under another scope). All limits share one table and
    `reserve` deletes rows older than the longest window it checks, so give them one window (the login
    limits both use 15 minutes)."""

    scope: str
    limit: int
    window: float

    def key(self, *parts: str | None) -> str:
        text = json.dumps([self.scope, *parts])  # unambiguous; ASCII (odd characters come out escaped)
        return hashlib.sha256(text.encode()).hexdigest()


# engine -> key -> when its wait ends (wall clock), for the keys this process found over their limit
_refused: WeakKeyDictionary[Engine, dict[str, float]] = WeakKeyDictionary()
_REFUSED_MAX = 10_000
_refused_lock = threading.Lock()
# Longer than an attempt stays in flight between `reserve` and `cancel` (a password check waits at most 10 s
# for a hash slot, twice if the hash is upgraded, and takes about 0.1 s): failures older than this are settled.
IN_FLIGHT_SECONDS = 30.0


def _remembered_wait(engine: Engine, keys: Sequence[str], now: float) -> int:
    """Seconds still to wait for the first of `keys` this process found over its limit (0: none)."""
    with _refused_lock:
        known = _refused.get(engine, {})
        for key in keys:
            until = known.get(key)
            if until is not None and until > now:
                return max(1, math.ceil(until - now))
    return 0


def _remember(engine: Engine, key: str, until: float, now: float) -> None:
    with _refused_lock:
        known = _refused.setdefault(engine, {})
        if len(known) >= _REFUSED_MAX:  # bounded: drop the ended waits, else the oldest entry
            for old in [k for k, t in known.items() if t <= now] or [next(iter(known))]:
                del known[old]
        known[key] = until


def reserve(engine: Engine, checks: Sequence[tuple[FailureLimit, str]], now: float) -> tuple[int, list[int]]:
    """Count an attempt as failed now under each (limit, key) of `checks`, unless a key must wait: then
    (seconds to wait for the first such key in `checks` order, []) and nothing is counted. Otherwise
    (0, the places taken) for `cancel`.

    In one write transaction, with the keys locked against other processes: attempts in flight at once (a
    password check takes 0.1 s) each take a place, so 40 sent together cannot all pass a check made
    before any of them failed, whichever processes they reach."""
    wait = _remembered_wait(engine, [key for _, key in checks], now)
    if wait:
        return wait, []
    with write_tx(engine) as conn:
        store.lock_keys(conn, [key for _, key in checks])
        for limit, key in checks:
            oldest = store.nth_newest_since(conn, key, now - limit.window, limit.limit)
            if oldest is not None:  # until the oldest of the last `limit` leaves the window
                # remembered only if settled failures alone reach the limit: the newest places may be attempts
                # in flight whose success (in another process, say) takes them back and forgives the key
                settled = store.nth_newest_since(conn, key, now - limit.window, limit.limit,
                                                 at_most=now - IN_FLIGHT_SECONDS)
                if settled is not None:
                    _remember(engine, key, settled + limit.window, now)
                return max(1, math.ceil(oldest + limit.window - now)), []
        places = [store.insert_failure(conn, key, now) for _, key in checks]
        store.prune(conn, now - max(limit.window for limit, _ in checks))
    return 0, places


def cancel(engine: Engine, places: Sequence[int], forget: Sequence[str] = ()) -> None:
    """Take back the places `reserve` took, and forget every failure of the keys in `forget` (a wait this
    process remembers for them too; other processes keep theirs until it ends)."""
    with _refused_lock:
        known = _refused.get(engine, {})
        for key in forget:
            known.pop(key, None)
    with write_tx(engine) as conn:
        store.delete_failures(conn, places)
        for key in forget:
            store.delete_key(conn, key)
