from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from truthline.services.importing import import_items
from truthline.services.tasks import next_task, submit


def test_highest_priority_first_then_import_order(engine: Engine, admin: Any, project: Any, annotator: Any) -> None:
    records = [(i + 1, {"external_id": ext, "data": {"text": ext}, "priority": prio})
               for i, (ext, prio) in enumerate([("low", 0), ("high-1", 9), ("mid", 5), ("high-2", 9)])]
    import_items(engine, admin.user, project.id, records)
    order = []
    while (task := next_task(engine, annotator.user, project.id)) is not None:
        order.append(task.external_id)
        submit(engine, annotator.user, task.lease_id, "cat", 1)
    assert order == ["high-1", "high-2", "mid", "low"]


def test_next_is_idempotent_while_a_lease_is_live(engine: Engine, project: Any, annotator: Any,
                                                  add_items: Callable) -> None:
    add_items(project, 3)
    first = next_task(engine, annotator.user, project.id)
    again = next_task(engine, annotator.user, project.id)
    assert (again.lease_id, again.item_id, again.expires_at) == (first.lease_id, first.item_id, first.expires_at)


def test_overlap_is_never_exceeded_and_nobody_labels_twice(engine: Engine, make_project: Callable,
                                                           make_annotator: Callable, add_items: Callable,
                                                           label_all: Callable, count_rows: Callable) -> None:
    project = make_project(overlap=3)
    add_items(project, 4)
    people = [make_annotator(project) for _ in range(5)]
    assert label_all(project, people) == 12
    for p in people:
        assert next_task(engine, p.user, project.id) is None
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT item_id, count(*), count(DISTINCT user_id) FROM annotations GROUP BY item_id").fetchall()
        counters = conn.exec_driver_sql("SELECT n_labels, n_leases, is_open FROM items").fetchall()
    assert sorted((n, d) for _, n, d in rows) == [(3, 3)] * 4
    assert {(n, leased, bool(open_)) for n, leased, open_ in counters} == {(3, 0, False)}


def test_a_user_gets_open_items_others_have_started(engine: Engine, make_project: Callable,
                                                    make_annotator: Callable, add_items: Callable) -> None:
    project = make_project(overlap=2)
    add_items(project, 2)
    a, b = make_annotator(project), make_annotator(project)
    ta = next_task(engine, a.user, project.id)
    tb = next_task(engine, b.user, project.id)
    assert ta.item_id == tb.item_id  # overlap 2: both work on the top item at once


def test_prefetch_holds_at_most_two_leases(engine: Engine, project: Any, annotator: Any, add_items: Callable) -> None:
    import pytest

    from truthline.errors import Conflict, Invalid

    add_items(project, 5)
    first = next_task(engine, annotator.user, project.id)
    second = next_task(engine, annotator.user, project.id, held=[first.lease_id])
    assert second.item_id != first.item_id
    assert next_task(engine, annotator.user, project.id).lease_id == first.lease_id  # resume: oldest first
    assert next_task(engine, annotator.user, project.id, held=[first.lease_id]).lease_id == second.lease_id
    with pytest.raises(Conflict):
        next_task(engine, annotator.user, project.id, held=[first.lease_id, second.lease_id])
    with pytest.raises(Invalid):
        next_task(engine, annotator.user, project.id, held=["x"])
    submit(engine, annotator.user, first.lease_id, "cat", 1)
    third = next_task(engine, annotator.user, project.id, held=[second.lease_id])
    assert third.item_id not in (first.item_id, second.item_id)


def test_release_returns_the_item_and_may_offer_it_again(engine: Engine, project: Any, annotator: Any,
                                                         add_items: Callable) -> None:
    import pytest

    from truthline.errors import Conflict
    from truthline.services.tasks import release

    add_items(project, 1)
    task = next_task(engine, annotator.user, project.id)
    release(engine, annotator.user, task.lease_id)
    again = next_task(engine, annotator.user, project.id)
    assert again.item_id == task.item_id and again.lease_id != task.lease_id
    submit(engine, annotator.user, again.lease_id, "cat", 1)
    with pytest.raises(Conflict):
        release(engine, annotator.user, again.lease_id)


def test_next_stays_cheap_and_ordered_when_one_annotator_is_far_ahead(
        engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable) -> None:
    """Solo labels more than the front window of the pool (items stay open for others): next continues
    after solo's cursor in order, and an item that reopens behind the cursor is still served, last."""
    from truthline.services.tasks import skip
    from truthline.store import leases

    project = make_project(overlap=2)
    n, x = leases.WINDOW + 44, leases.WINDOW + 24

    def load(x_priority: int) -> None:
        import_items(engine, admin.user, project.id,
                     [(i + 1, {"external_id": f"i{i:04d}", "data": {"text": "t"},
                               "priority": x_priority if i == x else 0}) for i in range(n)])

    load(5)
    solo, a, b = make_annotator(project), make_annotator(project), make_annotator(project)
    held_a = next_task(engine, a.user, project.id)  # a and b fill item x while solo works
    assert next_task(engine, b.user, project.id).external_id == held_a.external_id == f"i{x:04d}"
    load(0)  # x drops back among the others (re-import updates priority)
    seen = []
    for _ in range(x + 10):
        task = next_task(engine, solo.user, project.id)
        seen.append(task.external_id)
        submit(engine, solo.user, task.lease_id, "cat", 1)
    assert seen == [f"i{i:04d}" for i in range(x + 11) if i != x]
    skip(engine, a.user, held_a.lease_id)  # x reopens behind solo's cursor, outside the front window
    rest = []
    while (task := next_task(engine, solo.user, project.id)) is not None:
        rest.append(task.external_id)
        submit(engine, solo.user, task.lease_id, "cat", 1)
    assert rest == [f"i{i:04d}" for i in range(x + 11, n)] + [f"i{x:04d}"]


def test_an_item_reopening_in_the_front_window_comes_first(engine: Engine, admin: Any, make_project: Callable,
                                                           make_annotator: Callable, add_items: Callable) -> None:
    from truthline.services.tasks import skip

    project = make_project(overlap=2)
    add_items(project, 10)
    solo, a, b = make_annotator(project), make_annotator(project), make_annotator(project)
    held_a, _ = next_task(engine, a.user, project.id), next_task(engine, b.user, project.id)
    for _ in range(3):
        submit(engine, solo.user, next_task(engine, solo.user, project.id).lease_id, "cat", 1)
    skip(engine, a.user, held_a.lease_id)
    assert next_task(engine, solo.user, project.id).item_id == held_a.item_id
