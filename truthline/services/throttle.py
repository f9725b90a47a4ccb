"""Failed attempts counted per key over a sliding window, in this process's memory.

Password guessing is what it stops: past `limit` failures within `window` seconds a key is refused until
its oldest failure leaves the window. An attempt is counted when it starts (`reserve`) and taken back if
it succeeds (`cancel`, or `forget` for the whole key). Keys are few (one per username and client address that failed
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

    def reserve(self, key: Hashable, now: float) -> int:
        """Count an attempt as failed now, unless `key` must wait (then the seconds to wait, and nothing
        counted). In one step: attempts in flight at once (a password check takes 0.1 s) each take a place,
        so 40 sent together cannot all pass a check made before any of them failed. `cancel` takes the
        place back when the attempt succeeds."""
        with self._lock:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:  # until the oldest of them leaves the window
                return max(1, math.ceil(times[-self.limit] + self.window - now))
            self._add(key, now)
            return 0

    def cancel(self, key: Hashable, when: float) -> None:
        """Take back the attempt `reserve` counted at `when`."""
        with self._lock:
            times = self._failures.get(key)
            if times is not None and when in times:
                times.remove(when)
                if not times:
                    del self._failures[key]

    def _add(self, key: Hashable, now: float) -> None:
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
