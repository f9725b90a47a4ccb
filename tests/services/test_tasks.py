from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Conflict, Forbidden, Invalid, NotFound
from truthline.services import projects, results, tasks
from truthline.services.tasks import next_task, skip, submit


class Clock:
    """Stands in for the `time` module inside services.tasks so leases can expire instantly."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(tasks, "time", c)
    return c


def test_submit_records_the_answer(engine: Engine, project: Any, annotator: Any, add_items: Callable) -> None:
    add_items(project, 2)
    task = next_task(engine, annotator.user, project.id)
    assert task is not None and task.project.labels == ["cat", "dog", "bird"]
    ann = submit(engine, annotator.user, task.lease_id, "dog", active_ms=1234, idempotency_key="k-1")
    assert (ann.answer, ann.active_ms, ann.item_id, ann.replayed) == ("dog", 1234, task.item_id, False)


def test_retried_submit_returns_the_same_annotation(engine: Engine, project: Any, annotator: Any,
                                                    add_items: Callable, count_rows: Callable) -> None:
    add_items(project, 2)
    task = next_task(engine, annotator.user, project.id)
    first = submit(engine, annotator.user, task.lease_id, "cat", 10, "key")
    again = submit(engine, annotator.user, task.lease_id, "cat", 10, "key")
    assert again.replayed and again.id == first.id
    assert count_rows("annotations") == {"annotations": 1}
    # no key: a retry on the submitted lease also replays; a different key is a new submission -> Conflict
    assert submit(engine, annotator.user, task.lease_id, "cat", 10).id == first.id
    with pytest.raises(Conflict):
        submit(engine, annotator.user, task.lease_id, "cat", 10, "other-key")
    other = next_task(engine, annotator.user, project.id)
    with pytest.raises(Conflict) as err:
        submit(engine, annotator.user, other.lease_id, "cat", 10, "key")  # key already used elsewhere
    assert err.value.field == "idempotency_key"


def test_unknown_label_is_invalid_and_lists_the_labels(engine: Engine, project: Any, annotator: Any,
                                                       add_items: Callable, count_rows: Callable) -> None:
    add_items(project, 1)
    task = next_task(engine, annotator.user, project.id)
    for bad in ("unicorn", 3, None, ["cat"]):
        with pytest.raises(Invalid) as err:
            submit(engine, annotator.user, task.lease_id, bad, 10, "k")
        assert err.value.field == "answer" and "cat, dog, bird" in err.value.message
    assert count_rows("annotations") == {"annotations": 0}
    assert submit(engine, annotator.user, task.lease_id, "bird", 10, "k").answer == "bird"


@pytest.mark.parametrize(("active_ms", "key", "field"), [(-1, "k", "active_ms"), ("5", "k", "active_ms"),
                                                         (True, "k", "active_ms"), (5, "", "idempotency_key"),
                                                         (5, "x" * 201, "idempotency_key"),
                                                         (5, "import:1", "idempotency_key")])  # label imports' keys
def test_bad_submit_fields(engine: Engine, project: Any, annotator: Any, add_items: Callable,
                           active_ms: Any, key: Any, field: str) -> None:
    add_items(project, 1)
    task = next_task(engine, annotator.user, project.id)
    with pytest.raises(Invalid) as err:
        submit(engine, annotator.user, task.lease_id, "cat", active_ms, key)
    assert err.value.field == field


def test_foreign_unknown_and_expired_leases(engine: Engine, project: Any, make_annotator: Callable,
                                            add_items: Callable, clock: Clock) -> None:
    add_items(project, 3)
    ann, bob = make_annotator(project), make_annotator(project)
    task = next_task(engine, ann.user, project.id)
    with pytest.raises(Forbidden):
        submit(engine, bob.user, task.lease_id, "cat", 1)
    with pytest.raises(Forbidden):
        skip(engine, bob.user, task.lease_id)
    with pytest.raises(NotFound):
        submit(engine, ann.user, 987654, "cat", 1)
    with pytest.raises(NotFound):
        submit(engine, ann.user, "12", "cat", 1)  # type: ignore[arg-type]
    clock.offset = project.lease_seconds + 1
    with pytest.raises(Conflict) as err:
        submit(engine, ann.user, task.lease_id, "cat", 1)
    assert "expired" in err.value.message


def test_expired_lease_returns_the_item_to_the_pool(engine: Engine, project: Any, make_annotator: Callable,
                                                    add_items: Callable, clock: Clock) -> None:
    add_items(project, 1)
    ann, bob = make_annotator(project), make_annotator(project)
    task = next_task(engine, ann.user, project.id)
    assert next_task(engine, bob.user, project.id) is None  # overlap 1, leased
    clock.offset = project.lease_seconds + 1
    again = next_task(engine, bob.user, project.id)
    assert again is not None and again.item_id == task.item_id
    with pytest.raises(Conflict):
        submit(engine, ann.user, task.lease_id, "cat", 1)  # the old lease stays dead
    assert submit(engine, bob.user, again.lease_id, "cat", 1).item_id == task.item_id


@pytest.mark.parametrize("swept", [False, True])
def test_releasing_an_expired_lease_is_the_same_whether_or_not_it_was_swept(
        engine: Engine, admin: Any, project: Any, make_annotator: Callable, add_items: Callable,
        swept: bool) -> None:
    # before, release deleted an unswept expired lease (the item came back to its holder) and left a swept
    # one alone (it never did), by timing only, and both answered "released"
    projects.update_project(engine, admin.user, project.id, {"overlap": 2, "lease_seconds": 1})
    add_items(project, 1)
    ann, bob = make_annotator(project), make_annotator(project)
    task = next_task(engine, ann.user, project.id)
    time.sleep(1.1)
    # the summary counts live leases only (the item's counter holds this one until a claim sweeps it)
    assert results.project_summary(engine, admin.user, project.id)["progress"]["leased"] == 0
    if swept:  # another annotator's claim sweeps the expired lease first
        assert next_task(engine, bob.user, project.id) is not None
    assert tasks.release(engine, ann.user, task.lease_id) == "expired"
    assert next_task(engine, ann.user, project.id) is None  # an expired lease is not offered again
    assert results.project_summary(engine, admin.user, project.id)["progress"]["leased"] == int(swept)


def test_skip_is_recorded_and_not_offered_again(engine: Engine, project: Any, make_annotator: Callable,
                                                add_items: Callable) -> None:
    add_items(project, 2)
    ann, bob = make_annotator(project), make_annotator(project)
    first = next_task(engine, ann.user, project.id)
    skip(engine, ann.user, first.lease_id)
    skip(engine, ann.user, first.lease_id)  # idempotent
    with pytest.raises(Conflict):
        submit(engine, ann.user, first.lease_id, "cat", 1)
    second = next_task(engine, ann.user, project.id)
    assert second.item_id != first.item_id
    submit(engine, ann.user, second.lease_id, "cat", 1)
    assert next_task(engine, ann.user, project.id) is None
    assert next_task(engine, bob.user, project.id).item_id == first.item_id  # the skip freed the slot
    with pytest.raises(Conflict):
        skip(engine, ann.user, second.lease_id)  # already submitted


def test_who_may_take_tasks(engine: Engine, admin: Any, project: Any, make_annotator: Callable,
                            make_person: Callable, add_items: Callable) -> None:
    add_items(project, 5)
    for role in ("annotator", "reviewer", "manager"):
        assert next_task(engine, make_annotator(project, role=role).user, project.id) is not None
    assert next_task(engine, admin.user, project.id) is not None
    with pytest.raises(NotFound):
        next_task(engine, make_person().user, project.id)
    with pytest.raises(NotFound):
        next_task(engine, admin.user, 4242)


def test_paused_project_gives_no_tasks(engine: Engine, admin: Any, project: Any, annotator: Any,
                                       add_items: Callable) -> None:
    add_items(project, 1)
    projects.update_project(engine, admin.user, project.id, {"status": "paused"})
    with pytest.raises(Conflict) as err:
        next_task(engine, annotator.user, project.id)
    assert "paused" in err.value.message


def test_multilabel_answers(engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable,
                            add_items: Callable) -> None:
    p = make_project(task_type="multilabel", labels=["red", "green", "blue"])
    add_items(p, 3)
    ann = make_annotator(p)
    t = next_task(engine, ann.user, p.id)
    assert submit(engine, ann.user, t.lease_id, ["blue", "red", "blue"], 5).answer == ["red", "blue"]
    t = next_task(engine, ann.user, p.id)
    assert submit(engine, ann.user, t.lease_id, [], 5).answer == []
    t = next_task(engine, ann.user, p.id)
    for bad in ("red", ["pink"], [1]):
        with pytest.raises(Invalid) as err:
            submit(engine, ann.user, t.lease_id, bad, 5)
        assert err.value.field == "answer" and "red, green, blue" in err.value.message


def test_absurd_lease_ids_are_not_found(engine: Engine, annotator: Any) -> None:
    for lease_id in (2**70, -5, 0, None):
        with pytest.raises(NotFound):
            submit(engine, annotator.user, lease_id, "cat", 1)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            skip(engine, annotator.user, lease_id)  # type: ignore[arg-type]


def test_a_removed_member_cannot_submit_on_a_lease_they_still_hold(
        engine: Engine, project: Any, annotator: Any, admin: Any, add_items: Callable, count_rows: Callable) -> None:
    add_items(project, 1)
    task = next_task(engine, annotator.user, project.id)
    projects.remove_member(engine, admin.user, project.id, annotator.user.username)
    with pytest.raises(Forbidden) as err:
        submit(engine, annotator.user, task.lease_id, "cat", 10, "k")
    assert err.value.field == "lease_id"
    assert count_rows("annotations") == {"annotations": 0}


def test_a_paused_project_refuses_answers_until_it_is_active_again(
        engine: Engine, project: Any, annotator: Any, admin: Any, add_items: Callable) -> None:
    add_items(project, 1)
    task = next_task(engine, annotator.user, project.id)
    projects.update_project(engine, admin.user, project.id, {"status": "paused"})
    with pytest.raises(Conflict) as err:
        submit(engine, annotator.user, task.lease_id, "cat", 10, "k")
    assert "paused" in err.value.message
    projects.update_project(engine, admin.user, project.id, {"status": "active"})
    assert submit(engine, annotator.user, task.lease_id, "cat", 10, "k").answer == "cat"


def test_a_renewed_lease_outlives_its_first_deadline(engine: Engine, project: Any, make_annotator: Callable,
                                                     add_items: Callable, clock: Clock) -> None:
    """An annotator still on a hard item renews; without it the answer would be refused as expired."""
    add_items(project, 1)
    ann, bob = make_annotator(project), make_annotator(project)
    task = next_task(engine, ann.user, project.id)
    with pytest.raises(Forbidden):
        tasks.renew(engine, bob.user, task.lease_id)
    clock.offset = 0.9 * project.lease_seconds
    expires = tasks.renew(engine, ann.user, task.lease_id)
    assert abs(expires - clock.time() - project.lease_seconds) < 1
    clock.offset = 1.5 * project.lease_seconds  # past the first deadline, before the renewed one
    assert next_task(engine, bob.user, project.id) is None  # still ann's
    assert submit(engine, ann.user, task.lease_id, "cat", 1).item_id == task.item_id
    with pytest.raises(Conflict) as done:
        tasks.renew(engine, ann.user, task.lease_id)
    assert "submitted" in done.value.message


def test_an_expired_lease_or_a_paused_project_cannot_renew(engine: Engine, admin: Any, project: Any,
                                                            make_annotator: Callable, add_items: Callable,
                                                            clock: Clock) -> None:
    add_items(project, 2)
    ann = make_annotator(project)
    first = next_task(engine, ann.user, project.id)
    projects.update_project(engine, admin.user, project.id, {"status": "paused"})
    for call in (lambda: tasks.renew(engine, ann.user, first.lease_id),
                 lambda: submit(engine, ann.user, first.lease_id, "cat", 1),
                 lambda: next_task(engine, ann.user, project.id)):
        with pytest.raises(Conflict) as err:
            call()
        assert err.value.code == "project_paused"
    projects.update_project(engine, admin.user, project.id, {"status": "active"})
    clock.offset = project.lease_seconds + 1
    with pytest.raises(Conflict) as late:  # its item may be someone else's by now
        tasks.renew(engine, ann.user, first.lease_id)
    assert late.value.code == "lease_expired" and late.value.field == "lease_id"
