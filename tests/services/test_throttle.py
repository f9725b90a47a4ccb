"""The failed-attempt counter behind login limits, on plain numbers (no clock, no database)."""

from __future__ import annotations

from truthline.services.throttle import FailureLimiter


def test_a_key_waits_once_it_has_limit_attempts_in_the_window() -> None:
    limiter = FailureLimiter(limit=3, window=100)
    assert [limiter.reserve("k", t) for t in (0, 10, 20)] == [0, 0, 0]
    assert limiter.reserve("k", 30) == 70  # until the attempt at 0 leaves the window; this one not counted
    assert limiter.reserve("other", 30) == 0
    assert limiter.reserve("k", 100.5) == 0  # the one at 0 left: one more try, counted
    assert limiter.reserve("k", 101) == 9  # the attempt at 10 is now the oldest of the last three


def test_attempts_in_flight_each_take_a_place() -> None:
    """40 logins sent at once were all checked when only finished failures counted."""
    limiter = FailureLimiter(limit=10, window=900)
    waits = [limiter.reserve(("ann", "10.0.0.9"), 5.0) for _ in range(40)]
    assert waits.count(0) == 10 and all(w == 900 for w in waits[10:])


def test_a_success_takes_its_place_back() -> None:
    limiter = FailureLimiter(limit=2, window=100)
    limiter.reserve("k", 1)
    limiter.reserve("k", 2)
    limiter.cancel("k", 2)  # the second attempt succeeded
    assert limiter.reserve("k", 3) == 0 and limiter.reserve("k", 4) == 97  # the attempts at 1 and 3 count
    limiter.forget("k")
    assert limiter.reserve("k", 5) == 0


def test_old_keys_are_dropped_past_the_bound() -> None:
    limiter = FailureLimiter(limit=1, window=100, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.reserve(key, 1)
    assert (limiter.reserve("b", 2), limiter.reserve("c", 2), limiter.reserve("a", 2)) == (99, 99, 0)  # "a" forgotten
