"""Bulk reads and writes with Python's cyclic garbage collector paused.

Imports and exports create 10^5-10^6 short-lived tuples and dicts (rows fetched, records parsed). Each
700 allocations start a collection, and the full collections rescan every object alive, so a 100k-item
export spent ~0.45 s of its ~2.7 s in the collector. These objects hold no reference cycles, so nothing
is lost by collecting once afterwards. The pause is process-wide (the collector is), counted so that
overlapping pauses from several threads end together, and never turns on a collector someone else
turned off. Keep pauses to bounded work: never across a `yield` to a slow consumer.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
