"""The failed-attempt counter behind login limits, on plain numbers (no clock, no database)."""

from __future__ import annotations

from truthline.services.throttle import FailureLimiter


def test_a_key_waits_once_it_has_limit_failures_in_the_window() -> None:
    limiter = FailureLimiter(limit=3, window=100)
    for t in (0, 10, 20):
        assert limiter.wait("k", t) == 0
        limiter.failed("k", t)
    assert limiter.wait("k", 30) == 70  # until the failure at 0 leaves the window
    assert limiter.wait("other", 30) == 0
    assert limiter.wait("k", 100.5) == 0  # one failure left it: one more try
    limiter.failed("k", 101)
    assert limiter.wait("k", 101) == 9  # the failure at 10 is now the oldest of the last three


def test_forget_clears_a_key_and_old_keys_are_dropped_past_the_bound() -> None:
    limiter = FailureLimiter(limit=1, window=100, max_keys=2)
    limiter.failed("a", 0)
    limiter.forget("a")
    assert limiter.wait("a", 1) == 0
    for key in ("a", "b", "c"):
        limiter.failed(key, 1)
    assert (limiter.wait("a", 2), limiter.wait("b", 2), limiter.wait("c", 2)) == (0, 99, 99)  # "a" forgotten
