"""Heavy truth inference in a separate, lower-priority process, so it does not slow annotators down.

A server process answers every request with one interpreter lock. A manager opening the quality page of a
100k-item project runs seconds of inference; run in the server, it took the lock and CPU from the
annotators' next/submit requests (`make bench`, 2 cores: 285 -> 124 submits/s, p99 31 -> 79 ms). Run here,
in a child at nice +10, the server keeps its lock and the kernel serves the annotators first (252/s, p99
49 ms).

Off until `configure` turns it on (the server does, `TRUTHLINE_OFFLOAD_MIN_LABELS`); the CLI and the library
compute in-process, where nothing waits on them. One child per server process, started on first use (spawn:
a forked copy of a threaded server could inherit a held lock); calls queue behind each other there. A child
left idle for `idle_seconds` (default 300) ends, and gives back its memory (175-230 MB: NumPy and SciPy,
and the heap a large fit leaves for the next one); the next call starts another (about 0.8 s).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

NICENESS = 10
IDLE_SECONDS = 300.0

_min_labels: int | None = None  # None: off
_idle_seconds = IDLE_SECONDS
_pool: ProcessPoolExecutor | None = None
_busy = 0  # calls in flight on _pool
_timer: threading.Timer | None = None  # retires an idle _pool
_lock = threading.Lock()


def configure(min_labels: int | None, idle_seconds: float = IDLE_SECONDS) -> None:
    """Offload calls over at least `min_labels` labels (None or 0: compute everything in-process); a child
    idle for `idle_seconds` ends (0: never)."""
    global _min_labels, _idle_seconds
    _min_labels = min_labels or None
    _idle_seconds = idle_seconds


def _start_child(parent: int) -> None:
    os.nice(NICENESS)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="offload-parent-watch").start()


def _exit_with(parent: int) -> None:
    """End the child once its server process is gone: a server killed outright (or ended by a signal
    without running Python's exit hooks) never tells it, and it would wait for work forever."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _acquire() -> ProcessPoolExecutor:
    """The child's pool, started if need be, with this call counted in flight (so it is not retired)."""
    global _pool, _busy, _timer
    with _lock:
        if _timer is not None:
            _timer.cancel()
            _timer = None
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_child, initargs=(os.getpid(),))
            _busy = 0
        _busy += 1
        return _pool


def _release(pool: ProcessPoolExecutor) -> None:
    """One call on `pool` is over; the last one in flight sets the idle timer."""
    global _busy, _timer
    with _lock:
        if _pool is not pool:
            return
        _busy -= 1
        if _busy == 0 and _idle_seconds > 0:
            _timer = threading.Timer(_idle_seconds, _retire, args=(pool,))
            _timer.daemon = True
            _timer.start()


def _retire(pool: ProcessPoolExecutor) -> None:
    """End `pool`'s child if no call has used it since the timer was set."""
    global _pool, _timer
    with _lock:
        if _pool is not pool or _busy:
            return
        _pool, _timer = None, None
    pool.shutdown(wait=True)


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def call(fn: Callable[..., T], *args: Any, size: int, **kwargs: Any) -> T:
    """fn(*args, **kwargs), in the child process where offloading is on and `size` (labels) reaches the
    threshold. fn and its arguments must pickle (module-level functions, arrays); its exceptions come back
    as raised. If the child dies (killed, out of memory), the call is run here and the next one starts a
    new child."""
    if _min_labels is None or size < _min_labels:
        return fn(*args, **kwargs)
    pool = _acquire()
    try:
        return pool.submit(fn, *args, **kwargs).result()
    except BrokenProcessPool:
        _discard(pool)
        return fn(*args, **kwargs)
    finally:
        _release(pool)


def shutdown() -> None:
    """Stop the child, after the call it is running (the server's shutdown: its queues are released)."""
    global _pool, _timer
    with _lock:
        pool, _pool = _pool, None
        if _timer is not None:
            _timer.cancel()
            _timer = None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
