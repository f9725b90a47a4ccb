from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from truthline.errors import Invalid
from truthline.tasktypes import Labels, get_task_type

tt = get_task_type("rating")
FIVE = tt.validate_config({"scale": {"min": 1, "max": 5}})


def test_a_scale_becomes_its_labels() -> None:
    assert FIVE == {"labels": ["1", "2", "3", "4", "5"], "scale": {"min": 1, "max": 5, "step": 1}}
    tenths = tt.validate_config({"scale": {"min": 0, "max": 1, "step": 0.1}})
    assert tenths["labels"][:4] == ["0", "0.1", "0.2", "0.3"] and tenths["labels"][-1] == "1"  # no 0.30000000000000004
    assert tt.validate_config({"labels": ["-1", "-0.5", "0", "0.5"]})["scale"] == {"min": -1, "max": 0.5, "step": 0.5}
    assert tt.validate_config({"labels": [0, 10, 20]})["labels"] == ["0", "10", "20"]
    # labels given with the scale are its values, as numbers or labels; any others are refused, not dropped
    assert tt.validate_config({"labels": [1, "2", 3.0], "scale": {"min": 1, "max": 3}})["labels"] == ["1", "2", "3"]
    for other in (FIVE["labels"], ["low", "high"]):
        with pytest.raises(Invalid) as err:
            tt.validate_config({"labels": other, "scale": {"min": 0, "max": 2}})
        assert err.value.field == "labels" and "0, 1, 2" in err.value.message


@pytest.mark.parametrize("config, field", [
    ({"scale": {"min": 1, "max": 5, "step": 0.3}}, "scale.step"),
    ({"scale": {"min": 1, "max": 5, "step": 0}}, "scale.step"),
    ({"scale": {"min": 5, "max": 5}}, "scale.max"),
    ({"scale": {"min": 0, "max": 10**9}}, "scale.step"),  # refused before a billion labels are built
    ({"scale": {"min": 0, "max": 1, "step": 1e-7}}, "scale.step"),
    ({"scale": {"min": float("nan"), "max": 1}}, "scale.min"),
    ({"scale": {"min": True, "max": 2}}, "scale.min"),
    ({"scale": {"min": 1, "max": 2, "steps": 1}}, "scale.steps"),
    ({"scale": [1, 5]}, "scale"),
    ({"labels": ["1"]}, "labels"),
    ({"labels": ["1", "3", "4"]}, "labels[2]"),
    ({"labels": ["3", "2", "1"]}, "labels[1]"),
    ({"labels": ["one", "two"]}, "labels[0]"),
    ({}, "labels"),
    # beyond 1e9 (1e5000 was spelled out as 5,000 digits, which JSON cannot write; 1e5000000 overflowed)
    ({"labels": ["1e5000", "2e5000"]}, "labels[0]"),
    ({"labels": ["1e5000000", "2e5000000"]}, "labels[0]"),
    ({"labels": [10**30, 10**30 + 1]}, "labels[0]"),
    ({"scale": {"min": 0, "max": 1e300, "step": 1e299}}, "scale.max"),
    ({"labels": list(range(10**5))}, "labels"),  # refused by its length, not parsed value by value
])
def test_bad_scales(config: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as err:
        tt.validate_config(config)
    assert err.value.field == field


def test_answers_are_values_of_the_scale() -> None:
    for given in (4, 4.0, "4", "4.0", " 4 "):
        assert tt.validate_answer(given, FIVE) == "4"
    for bad in (6, 4.5, 0, "four", True, None, [4], float("inf"), "1e400", "1e5000000", "-1e5000000", 10**30):
        with pytest.raises(Invalid) as err:
            tt.validate_answer(bad, FIVE, field="gold")
        assert err.value.field == "gold" and "valid values: 1, 2, 3, 4, 5" in err.value.message
    long = tt.validate_config({"scale": {"min": 0, "max": 100}})
    with pytest.raises(Invalid) as err:
        tt.validate_answer(101, long)
    assert "0, 1, ..., 100" in err.value.message  # the ends of a long scale, not 101 values


def labels(items: list[int], workers: list[int], answers: list[Any], n_items: int) -> Labels:
    return Labels(np.array(items), np.array(workers), answers, n_items, max(workers) + 1)


@pytest.mark.parametrize("method", ["mv", "ds", "auto"])
def test_the_estimate_is_the_posterior_mean(method: str) -> None:
    data = labels([0, 0, 1, 1, 1], [0, 1, 0, 1, 2], ["5", "5", "2", "2", "1"], n_items=3)
    inf = tt.infer(data, FIVE, method, gold={})
    assert inf.answers[:2] == ["5", "2"] and inf.answers[2] is None
    assert inf.estimate is not None and np.isnan(inf.estimate[2])
    values = np.arange(1, 6)
    assert np.allclose(inf.estimate[:2], inf.probabilities[:2] @ values)
    assert 1.0 <= inf.estimate[1] < 2.5 and inf.estimate[0] > 4.0


def test_gold_clamps_the_estimate() -> None:
    data = labels([0, 0], [0, 1], ["1", "2"], n_items=1)
    assert tt.infer(data, FIVE, "mv", gold={0: "4"}).estimate.tolist() == [4.0]
