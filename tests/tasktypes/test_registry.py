from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

import truthline.tasktypes as registry
from truthline.errors import Invalid
from truthline.services.tasks import next_task, submit
from truthline.tasktypes import Inference, Labels, TaskType, get_task_type, register, task_type_names


def test_builtins_are_registered() -> None:
    assert task_type_names() == ["classification", "multilabel", "numeric", "pairwise", "rating"]
    assert get_task_type("pairwise").widget == "pairwise"
    assert get_task_type("classification").widget == "classification"
    with pytest.raises(Invalid) as err:
        get_task_type("bbox")
    assert err.value.field == "task_type" and "classification, multilabel" in err.value.message


class Rating(TaskType):
    """A toy task type: an integer 1..5, inferred by the median."""

    name = "rating-test"
    widget = "rating"
    min_labels = 0

    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> int:
        if not isinstance(answer, int) or not 1 <= answer <= 5:
            raise Invalid("must be an integer from 1 to 5", field=field)
        return answer

    def infer(self, labels: Labels, config: Mapping[str, Any], method: str, gold: Mapping[int, Any]) -> Inference:
        answers: list[Any] = [None] * labels.n_items
        for i in range(labels.n_items):
            got = [a for a, it in zip(labels.answers, labels.items, strict=True) if it == i]
            answers[i] = float(np.median(got)) if got else None
        return Inference(method, answers, np.ones(labels.n_items), np.ones(labels.n_workers))

    def label_counts(self, answers: Sequence[Any], config: Mapping[str, Any]) -> dict[str, int]:
        return {str(k): sum(1 for a in answers if a == k) for k in range(1, 6)}


@pytest.fixture
def rating() -> Iterator[TaskType]:
    tt = register(Rating())
    yield tt
    registry._REGISTRY.pop(tt.name)


def test_a_new_task_type_is_one_class_and_a_register_call(engine: Engine, admin: Any, rating: TaskType,
                                                          make_project: Callable, make_annotator: Callable,
                                                          add_items: Callable) -> None:
    from truthline.services.results import item_results

    project = make_project(task_type="rating-test", labels=[])
    add_items(project, 1)
    person = make_annotator(project)
    task = next_task(engine, person.user, project.id)
    with pytest.raises(Invalid):
        submit(engine, person.user, task.lease_id, 9, 1)
    submit(engine, person.user, task.lease_id, 4, 1)
    assert item_results(engine, admin.user, project.id)[0]["answer"] == 4.0
    with pytest.raises(Invalid) as err:  # this type gives no label probabilities: a clear error, not a crash
        item_results(engine, admin.user, project.id, probabilities=True)
    assert err.value.field == "probabilities" and "no label probabilities" in err.value.message
