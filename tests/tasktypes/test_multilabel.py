from __future__ import annotations

import numpy as np
import pytest

from truthline.errors import Invalid
from truthline.tasktypes import Labels, get_task_type

tt = get_task_type("multilabel")
CONFIG = {"labels": ["red", "green", "blue"]}


def test_a_single_label_is_a_valid_multilabel_config() -> None:
    assert tt.validate_config({"labels": ["spam"]}) == {"labels": ["spam"]}


def test_answers_are_normalized_subsets() -> None:
    assert tt.validate_answer(["blue", "red", "blue"], CONFIG) == ["red", "blue"]
    assert tt.validate_answer([], CONFIG) == []
    for bad in ("red", ["pink"], [None], {"red": True}):
        with pytest.raises(Invalid) as err:
            tt.validate_answer(bad, CONFIG)
        assert err.value.field == "answer"
    with pytest.raises(Invalid) as err:
        tt.validate_answer(["red"] + [f"pink{i}" for i in range(10_000)], CONFIG)
    assert err.value.message.startswith("'pink0', 'pink1', 'pink2', 'pink3', 'pink4' (and 9995 more) not labels")


def test_infer_per_label() -> None:
    answers = [["red"], ["red", "blue"], ["red"], [], [], ["green"]]
    data = Labels(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 2]), answers, n_items=3, n_workers=3)
    inf = tt.infer(data, CONFIG, "mv", gold={2: ["green", "blue"]})
    assert inf.answers == [["red"], [], ["green", "blue"]]
    assert 0.5 <= inf.confidence[0] <= 1 and inf.confidence.shape == (3,)
    assert inf.worker_accuracy.shape == (3,)


def test_label_counts_and_same_answer() -> None:
    assert tt.label_counts([["red"], ["red", "blue"], []], CONFIG) == {"red": 2, "green": 0, "blue": 1}
    assert tt.same_answer(["red", "blue"], ["blue", "red"]) and not tt.same_answer(["red"], [])
