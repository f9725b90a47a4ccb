"""50 annotators at once, on each database: no item over-assigned, nobody routed an item twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from truthline.services import projects, users
from truthline.services.importing import import_items
from truthline.services.tasks import next_task, skip, submit

WORKERS = 50


def _crowd(engine: Engine, admin: Any, project: Any) -> list[Any]:
    crowd = []
    for i in range(WORKERS):
        user = users.create_user(engine, None, f"w{i}", None)
        projects.add_member(engine, admin.user, project.id, user.username, "annotator")
        crowd.append(user)
    return crowd


def test_fifty_annotators_label_concurrently(engine: Engine, admin: Any, make_project: Callable) -> None:
    project = make_project(overlap=3)
    n_items = 60
    import_items(engine, admin.user, project.id,
                 [(i + 1, {"external_id": f"i{i}", "data": {"text": "t"}}) for i in range(n_items)])
    crowd = _crowd(engine, admin, project)
    start = threading.Barrier(WORKERS)
    live_max: Counter[int] = Counter()
    lock = threading.Lock()
    live: Counter[int] = Counter()

    def work(user: Any) -> list[int]:
        seen = []
        start.wait()
        while (task := next_task(engine, user, project.id)) is not None:
            with lock:
                live[task.item_id] += 1
                live_max[task.item_id] = max(live_max[task.item_id], live[task.item_id])
            seen.append(task.item_id)
            if len(seen) % 7 == 3:
                # counted off before the skip commits: the freed slot may be leased to another worker at once,
                # before this thread runs again (counting it off after made the test see 4 on PostgreSQL)
                with lock:
                    live[task.item_id] -= 1
                skip(engine, user, task.lease_id)
            else:
                submit(engine, user, task.lease_id, "cat", 5, f"{user.id}-{task.lease_id}")
                with lock:
                    live[task.item_id] -= 1
        return seen

    with ThreadPoolExecutor(WORKERS) as pool:
        routed = list(pool.map(work, crowd))
    # A worker stops at its first "nothing for you", which can come while the last open slots are leased
    # by others who then skip: such an item reopens after everyone who could take it has left. Workers come
    # back once, one at a time, as real annotators would (the concurrent phase above is what is under test).
    for user, seen in zip(crowd, routed):
        while (task := next_task(engine, user, project.id)) is not None:
            seen.append(task.item_id)
            submit(engine, user, task.lease_id, "cat", 5, f"{user.id}-{task.lease_id}")
    for seen in routed:
        assert len(seen) == len(set(seen)), "an annotator was routed the same item twice"
    with engine.connect() as conn:
        per_item = dict(conn.exec_driver_sql("SELECT item_id, count(*) FROM annotations GROUP BY item_id").fetchall())
        dupes = conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT item_id, user_id FROM annotations GROUP BY item_id, user_id "
            "HAVING count(*) > 1) d").scalar()
        counters = conn.exec_driver_sql("SELECT n_labels, n_leases FROM items").fetchall()
    assert dupes == 0
    assert len(per_item) == n_items and set(per_item.values()) == {3}  # every item done, none over-labelled
    assert set(counters) == {(3, 0)}
    assert max(live_max.values()) <= 3  # never more live leases + labels than the overlap


def test_fifty_simultaneous_claims_on_scarce_items(engine: Engine, admin: Any, make_project: Callable) -> None:
    project = make_project(overlap=1)
    import_items(engine, admin.user, project.id,
                 [(i + 1, {"external_id": f"i{i}", "data": {"text": "t"}}) for i in range(20)])
    crowd = _crowd(engine, admin, project)
    start = threading.Barrier(WORKERS)

    def claim(user: Any) -> int | None:
        start.wait()
        task = next_task(engine, user, project.id)
        return None if task is None else task.item_id

    with ThreadPoolExecutor(WORKERS) as pool:
        got = [item for item in pool.map(claim, crowd) if item is not None]
    assert len(got) == 20 and len(set(got)) == 20


def test_concurrent_retries_of_one_submit_store_one_annotation(engine: Engine, admin: Any,
                                                                make_project: Callable) -> None:
    project = make_project()
    import_items(engine, admin.user, project.id, [(1, {"external_id": "only", "data": {"text": "t"}})])
    task = next_task(engine, admin.user, project.id)
    start = threading.Barrier(8)

    def retry(_: int) -> tuple[int, bool]:
        start.wait()
        ann = submit(engine, admin.user, task.lease_id, "cat", 5, "same-key")
        return ann.id, ann.replayed

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(retry, range(8)))
    assert len({ann_id for ann_id, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False] + [True] * 7


def test_items_locked_elsewhere_are_waited_for_not_called_gone(engine: Engine, admin: Any,
                                                               make_project: Callable) -> None:
    # PostgreSQL's SKIP LOCKED passes over items another transaction holds (a claim, a re-import): next
    # answered "nothing left" while the item was open all along (23 of 30 rounds of 3 annotators on one
    # item with 3 slots). It now claims again after a short pause.
    project = make_project(overlap=3)
    import_items(engine, admin.user, project.id, [(1, {"external_id": "only", "data": {"text": "t"}})])
    crowd = _crowd(engine, admin, project)[:3]
    holder = engine.connect()
    tx = holder.begin()
    if engine.dialect.name == "postgresql":  # SQLite serializes writers: nothing is skipped there
        holder.exec_driver_sql("SELECT id FROM items FOR UPDATE")
    timer = threading.Timer(0.3, tx.rollback)
    timer.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            got = list(pool.map(lambda user: next_task(engine, user, project.id), crowd))
    finally:
        timer.join()
        holder.close()
    assert all(task is not None for task in got)
    assert len({task.lease_id for task in got}) == 3


def test_an_overlap_change_locks_items_in_the_order_claims_do(engine: Engine, admin: Any,
                                                              make_project: Callable) -> None:
    # the change's UPDATE locked items in the table's physical order; a transaction holding a low id and
    # then wanting a high one (as the expiry sweep does) deadlocked with it: a 500 on both requests
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: no row locks to order")
    project = make_project(overlap=1)
    # the lowest id last in every order the UPDATE may visit rows in: by external id (the unique index,
    # written in reverse here) and physically (a rewritten row moves to the end of the table)
    import_items(engine, admin.user, project.id,
                 [(i + 1, {"external_id": f"i{9 - i}", "data": {"text": "t"}}) for i in range(5)])
    with engine.begin() as conn:
        first, last = conn.exec_driver_sql(
            f"SELECT min(id), max(id) FROM items WHERE project_id = {project.id}").one()
        conn.exec_driver_sql(f"UPDATE items SET priority = priority + 1 WHERE id = {first}")
    sweep = engine.connect()
    tx = sweep.begin()
    sweep.exec_driver_sql(f"SELECT id FROM items WHERE id = {first} FOR UPDATE")
    change = threading.Thread(target=projects.update_project, args=(engine, admin.user, project.id, {"overlap": 2}))
    change.start()
    time.sleep(0.3)  # the change now waits for `first` (in id order), holding nothing the sweep needs
    sweep.exec_driver_sql(f"SELECT id FROM items WHERE id = {last} FOR UPDATE")  # old order: a deadlock here
    tx.commit()
    sweep.close()
    change.join(10)
    assert not change.is_alive()
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT DISTINCT overlap FROM items WHERE project_id = {project.id}").all() == [(2,)]
