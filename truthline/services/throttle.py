"""Failed attempts counted per key over a sliding window, in this process's memory.

Password guessing is what it stops: past `limit` failures within `window` seconds a key is refused until
its oldest failure leaves the window. Keys are few (one per username and client address that failed
recently) and bounded: past `max_keys` the oldest are forgotten. Several `serve` processes each count
their own, so the limit per deployment is `limit` times the processes.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Hashable


class FailureLimiter:
    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._failures: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: Hashable, now: float) -> int:
        """Whole seconds until `key` may try again (0: now)."""
        with self._lock:
            times = self._recent(key, now)
            if times is None or len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[-self.limit] + self.window - now))

    def failed(self, key: Hashable, now: float) -> None:
        with self._lock:
            times = self._recent(key, now)
            if times is None:
                while len(self._failures) >= self.max_keys:
                    del self._failures[next(iter(self._failures))]  # the oldest key
                times = self._failures[key] = deque(maxlen=self.limit)
            times.append(now)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Hashable, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is not None:
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del self._failures[key]
                return None
        return times
