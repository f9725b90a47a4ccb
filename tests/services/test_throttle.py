"""The failed-attempt counter behind login limits, on explicit times, in the database (SQLite, and PostgreSQL
when TRUTHLINE_TEST_DATABASE_URL is set). Two engines on one database stand for two `serve` processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from truthline.services import throttle
from truthline.services.throttle import FailureLimit
from truthline.store.db import make_engine
from truthline.store.logins import PRUNE_BATCH
from truthline.store.tables import login_failures

LIMIT = FailureLimit("test", limit=3, window=100)
K = LIMIT.key("k")


def reserve(engine: Engine, key: str, now: float, limit: FailureLimit = LIMIT) -> int:
    return throttle.reserve(engine, [(limit, key)], now)[0]


def rows(engine: Engine) -> list[tuple[str, float]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(login_failures.c.key, login_failures.c.at))]


@pytest.fixture
def engines(db_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database: two processes sharing it."""
    first, second = make_engine(db_url), make_engine(db_url)
    yield first, second
    first.dispose()
    second.dispose()


def test_a_key_waits_once_it_has_limit_attempts_in_the_window(engine: Engine) -> None:
    assert [reserve(engine, K, t) for t in (0, 10, 20)] == [0, 0, 0]
    assert reserve(engine, K, 30) == 70  # until the attempt at 0 leaves the window; this one not counted
    assert reserve(engine, LIMIT.key("other"), 30) == 0
    assert reserve(engine, K, 100.5) == 0  # the one at 0 left: one more try, counted
    assert reserve(engine, K, 101) == 9  # the attempt at 10 is now the oldest of the last three


def test_attempts_in_flight_each_take_a_place(engine: Engine) -> None:
    """40 logins sent at once were all checked when only finished failures counted."""
    limit = FailureLimit("test", limit=10, window=900)
    waits = [reserve(engine, limit.key("ann", "10.0.0.9"), 5.0, limit) for _ in range(40)]
    assert waits.count(0) == 10 and all(w == 900 for w in waits[10:])


def test_a_success_takes_its_place_back(engine: Engine) -> None:
    two = FailureLimit("test", limit=2, window=100)
    throttle.reserve(engine, [(two, K)], 1)
    _, second = throttle.reserve(engine, [(two, K)], 2)
    throttle.cancel(engine, second)  # the second attempt succeeded
    assert reserve(engine, K, 3, two) == 0 and reserve(engine, K, 4, two) == 97  # the attempts at 1 and 3 count
    throttle.cancel(engine, [], forget=[K])
    assert reserve(engine, K, 5, two) == 0 and len(rows(engine)) == 1


def test_the_first_key_that_must_wait_answers_and_nothing_is_counted(engine: Engine) -> None:
    wide = FailureLimit("wide", limit=2, window=100)
    pair, client = LIMIT.key("ann", "c"), wide.key("c")
    assert throttle.reserve(engine, [(LIMIT, pair), (wide, client)], 0)[0] == 0
    assert throttle.reserve(engine, [(LIMIT, LIMIT.key("bob", "c")), (wide, client)], 10)[0] == 0
    assert throttle.reserve(engine, [(LIMIT, LIMIT.key("eve", "c")), (wide, client)], 20) == (80, [])
    assert len(rows(engine)) == 4  # eve's pair took no place: the client had to wait
    assert reserve(engine, LIMIT.key("eve", "c"), 20) == 0


def test_keys_name_their_scope_and_parts_only_through_a_hash() -> None:
    other = FailureLimit("other", limit=3, window=100)
    keys = {LIMIT.key("ann", "c"), other.key("ann", "c"), LIMIT.key("an", "nc"), LIMIT.key("ann", None),
            LIMIT.key("ann", "None"), LIMIT.key("\udcff", "c")}
    assert len(keys) == 6 and all(len(k) == 64 and int(k, 16) >= 0 for k in keys)


def test_processes_on_one_database_share_the_counts(engines: tuple[Engine, Engine]) -> None:
    first, second = engines
    assert [reserve(first, K, 0), reserve(second, K, 1), reserve(first, K, 2)] == [0, 0, 0]
    assert reserve(second, K, 3) == 97 and reserve(first, K, 3) == 97


def test_a_restart_keeps_the_counts(db_url: str) -> None:
    engine = make_engine(db_url)
    for t in (0, 1, 2):
        reserve(engine, K, t)
    engine.dispose()
    restarted = make_engine(db_url)
    assert reserve(restarted, K, 50) == 50
    restarted.dispose()


def test_expired_failures_stop_counting_and_are_deleted(engine: Engine) -> None:
    for key in ("a", "b", "c"):
        for t in (0, 1, 2):
            reserve(engine, LIMIT.key(key), t)
    assert reserve(engine, LIMIT.key("a"), 50) == 50
    assert reserve(engine, LIMIT.key("a"), 102) == 0  # those at 0, 1 and 2 left the window
    assert rows(engine) == [(LIMIT.key("a"), 102)]  # and every expired row, any key's, is gone


def test_each_reserve_deletes_a_bounded_batch_of_expired_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(login_failures.insert(), [{"key": LIMIT.key(str(n)), "at": 0.0} for n in range(250)])
    reserve(engine, K, 1000)
    assert len(rows(engine)) == 250 - PRUNE_BATCH + 1
    reserve(engine, K, 1001)
    reserve(engine, K, 1002)
    assert len(rows(engine)) == 3


def test_concurrent_reserves_let_exactly_the_limit_through(engines: tuple[Engine, Engine]) -> None:
    """40 attempts at once, split over two processes: exactly `limit` are counted, the rest must wait."""
    limit = FailureLimit("test", limit=10, window=900)
    key = limit.key("ann", "10.0.0.9")
    n_threads = 40
    gate, waits, lock = threading.Barrier(n_threads), [], threading.Lock()

    def attempt(engine: Engine) -> None:
        gate.wait()
        wait = reserve(engine, key, 5.0, limit)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=attempt, args=(engines[n % 2],)) for n in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(waits) == n_threads and waits.count(0) == 10 and waits.count(900) == n_threads - 10
    assert len(rows(engines[0])) == 10


def test_a_refused_key_is_answered_from_memory_until_its_wait_ends(engine: Engine) -> None:
    """A flood of refused attempts must not take the database's write lock once each."""
    for t in (0, 1, 2):
        reserve(engine, K, t)
    assert reserve(engine, K, 40) == 60  # refused once every failure is settled (older than IN_FLIGHT_SECONDS)
    with engine.begin() as conn:  # the failures vanish from the database: only the memory can refuse now
        conn.execute(login_failures.delete())
    assert reserve(engine, K, 50) == 50 and rows(engine) == []
    assert reserve(engine, K, 100) == 0 and len(rows(engine)) == 1  # the wait ended: the database decides again


def test_forgetting_a_key_ends_its_remembered_wait(engine: Engine) -> None:
    for t in (0, 1, 2):
        reserve(engine, K, t)
    assert reserve(engine, K, 3) == 97
    throttle.cancel(engine, [], forget=[K])
    assert reserve(engine, K, 4) == 0


def test_a_wait_that_counts_attempts_in_flight_is_not_remembered(engines: tuple[Engine, Engine]) -> None:
    """An attempt in flight takes a place, so another process can be refused while it runs. If that attempt
    then succeeds (its place taken back, the key forgiven), the other process must not go on refusing the
    key from memory: a user logged in through one `serve` worker was refused by the other for 15 minutes."""
    first, second = engines
    for t in (0, 1):
        reserve(first, K, t)
    _, places = throttle.reserve(first, [(LIMIT, K)], 2)  # the third attempt, in flight in the first process
    assert reserve(second, K, 2.5) == 98  # the second process is refused meanwhile: the limit is full
    throttle.cancel(first, places, forget=[K])  # the attempt in flight had the right password
    assert reserve(second, K, 3) == 0


def test_a_wait_is_remembered_once_its_failures_are_settled(engines: tuple[Engine, Engine]) -> None:
    assert throttle.IN_FLIGHT_SECONDS == 30
    first, second = engines

    def clear() -> None:
        with second.begin() as conn:
            conn.execute(login_failures.delete())

    for t in (0, 1, 50):
        reserve(first, K, t)
    assert reserve(second, K, 60) == 40  # the failure at 50 may still be in flight at 60: not remembered
    clear()
    assert reserve(second, K, 61) == 0  # the database decided
    clear()
    for t in (200, 201, 202):
        reserve(first, K, t)
    assert reserve(second, K, 240) == 60  # all three settled: remembered until 300
    clear()
    assert reserve(second, K, 250) == 50 and rows(second) == []
