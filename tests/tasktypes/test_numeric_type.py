"""The numeric task type on arrays: config, answers, inference with biased workers, confidence, counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from truthline.errors import Invalid
from truthline.tasktypes import Labels, get_task_type

tt = get_task_type("numeric")
ANY = tt.validate_config({})


def _crowd(seed: int, n_items: int = 300, decimals: int = 0) -> tuple[Labels, np.ndarray]:
    """3 labels per item from 12 workers: 3 read 3 high, 2 are noisy, the rest are off by about 1."""
    rng = np.random.default_rng(seed)
    truth = np.round(rng.uniform(0, 60, n_items), decimals)
    items = np.repeat(np.arange(n_items), 3)
    workers = np.concatenate([rng.choice(12, 3, replace=False) for _ in range(n_items)])
    bias = np.where(np.arange(12) < 3, 3.0, 0.0)
    noise = np.where(np.arange(12) >= 10, 4.0, 0.7)
    values = np.round(truth[items] + bias[workers] + rng.normal(0, 1, len(items)) * noise[workers], decimals)
    answers = [int(v) if decimals == 0 else float(v) for v in values]
    return Labels(items, workers, answers, n_items, 12), truth


def test_config() -> None:
    assert ANY == {"labels": [], "tolerance": 0}
    assert tt.validate_config({"range": {"min": 0, "max": 10.5}, "tolerance": 0.5}) == {
        "labels": [], "tolerance": 0.5, "range": {"min": 0, "max": 10.5}}
    assert tt.validate_config({"range": {"max": 100}})["range"] == {"max": 100}
    assert tt.validate_config({"range": {}}) == tt.validate_config({"range": {"min": None}}) == ANY  # unbounded


@pytest.mark.parametrize("config, field", [
    ({"labels": ["a"]}, "labels"),
    ({"range": {"min": 5, "max": 5}}, "range.max"),
    ({"range": [0, 5]}, "range"),
    ({"range": {"low": 0}}, "range.low"),
    ({"range": {"min": float("inf")}}, "range.min"),
    ({"range": {"min": True}}, "range.min"),
    ({"tolerance": -0.1}, "tolerance"),
    ({"tolerance": "lots"}, "tolerance"),
])
def test_bad_config_names_the_field(config: dict, field: str) -> None:
    with pytest.raises(Invalid) as err:
        tt.validate_config(config)
    assert err.value.field == field


def test_answers() -> None:
    bounded = tt.validate_config({"range": {"min": 0, "max": 10}})
    assert tt.validate_answer(3, bounded) == 3 and tt.validate_answer(3.0, bounded) == 3
    assert isinstance(tt.validate_answer("3.0", bounded), int)  # a CSV cell
    assert tt.validate_answer(" 2.5 ", bounded) == 2.5 and tt.validate_answer(10, bounded) == 10
    for bad, says in ((11, "from 0 to 10"), (-0.5, "from 0 to 10"), ("3 birds", "number"), (None, "number"),
                      (float("nan"), "finite"), ("inf", "finite"), (2e15, "1e+15"), (False, "number")):
        with pytest.raises(Invalid) as err:
            tt.validate_answer(bad, bounded, field="answers[3]")
        assert err.value.field == "answers[3]" and says in err.value.message, (bad, err.value.message)
    with pytest.raises(Invalid, match="at most 5"):
        tt.validate_answer(6, tt.validate_config({"range": {"max": 5}}))


def test_the_worker_model_corrects_biased_workers() -> None:
    hits = {"auto": [], "mv": []}
    for seed in range(5):
        labels, truth = _crowd(seed)
        for method in hits:
            inf = tt.infer(labels, ANY, method, {})
            hits[method].append(np.mean(np.array(inf.answers) == truth))
            assert all(isinstance(a, int) for a in inf.answers)  # integers in, integers out
            assert inf.estimate is not None and inf.stderr is not None
    assert np.mean(hits["auto"]) > np.mean(hits["mv"]) + 0.1, hits
    inf = tt.infer(*_crowd(0)[:1], ANY, "auto", {})
    assert inf.worker_accuracy[:3].max() < inf.worker_accuracy[3:10].min()  # the biased read high


def test_confidence_means_what_it_says() -> None:
    """Over many items, the mean confidence is near the share answered exactly right."""
    confidence, right = [], []
    for seed in range(5):
        labels, truth = _crowd(seed)
        inf = tt.infer(labels, ANY, "auto", {})
        confidence.extend(inf.confidence.tolist())
        right.extend((np.array(inf.answers) == truth).tolist())
    assert all(0 <= c <= 1 for c in confidence)
    assert abs(np.mean(confidence) - np.mean(right)) < 0.1, (np.mean(confidence), np.mean(right))


def test_gold_is_clamped_and_answered_as_given() -> None:
    labels, truth = _crowd(1, n_items=60)
    inf = tt.infer(labels, ANY, "auto", {0: 17.25, 5: int(truth[5])})
    assert inf.answers[0] == 17.25 and inf.confidence[0] == 1 and inf.stderr[0] == 0
    assert inf.answers[5] == int(truth[5])


def test_steps_range_and_continuous_values() -> None:
    labels, truth = _crowd(2, n_items=100, decimals=1)
    inf = tt.infer(labels, ANY, "auto", {})
    assert all(round(a, 1) == a for a in inf.answers)  # rounded to the workers' step (0.1)
    assert np.nanmean(np.abs(np.array(inf.answers) - truth)) < 1.0
    capped = tt.infer(labels, tt.validate_config({"range": {"max": 30}}), "auto", {})
    assert max(capped.answers) == 30  # an estimate above the range is answered at its end
    # values written finer than 6 decimals, no tolerance: an exact hit has no chance, so no confidence
    fine = Labels(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), [1.1234567, 1.1234561, 2.5000001, 2.4999993], 2, 2)
    inf = tt.infer(fine, ANY, "auto", {})
    assert np.isnan(inf.confidence).all() and np.isnan(inf.worker_accuracy).all()
    inf = tt.infer(fine, tt.validate_config({"tolerance": 0.01}), "auto", {})
    assert (inf.confidence > 0.5).all() and (inf.worker_accuracy == 1).all()


def test_methods_and_edge_cases() -> None:
    labels, _ = _crowd(3, n_items=20)
    with pytest.raises(Invalid) as err:
        tt.infer(labels, ANY, "glad", {})
    assert err.value.field == "method"
    assert tt.infer(labels, ANY, "ds", {}).answers == tt.infer(labels, ANY, "auto", {}).answers
    empty = Labels(np.zeros(0, np.int64), np.zeros(0, np.int64), [], 3, 0)
    inf = tt.infer(empty, ANY, "auto", {1: 4})
    assert inf.answers == [None, 4, None] and math.isnan(inf.confidence[0]) and inf.confidence[1] == 1
    single = Labels(np.array([0, 1]), np.array([0, 0]), [3, 8], 2, 1)  # no item has two labels: noise unknown
    inf = tt.infer(single, ANY, "auto", {})
    assert inf.answers == [3, 8] and np.isnan(inf.confidence).all()


def test_same_answer_and_counts() -> None:
    loose = tt.validate_config({"tolerance": 0.5})
    assert tt.same_answer(10, 10.5, loose) and not tt.same_answer(10, 10.6, loose)
    assert tt.same_answer(0.1 + 0.2, 0.3, ANY) and not tt.same_answer(3, 4, ANY)
    assert tt.label_counts([3, 3, 5, 4.5], ANY) == {"3": 2, "4.5": 1, "5": 1}
    bins = tt.label_counts(list(range(100)), ANY)
    assert len(bins) == 10 and sum(bins.values()) == 100 and next(iter(bins)) == "0–9.9"


def test_a_few_finer_labels_do_not_change_the_answers_step() -> None:
    """One "4.5" among whole counts: answers stay whole; a crowd that writes halves gets halves."""
    items, workers = np.repeat(np.arange(20), 2), np.tile([0, 1], 20)
    counts = [int(i) for i in items]
    counts[0] = 0.5
    inf = tt.infer(Labels(items, workers, counts, 20, 2), ANY, "auto", {})
    assert all(isinstance(a, int) for a in inf.answers)
    halves = [i + 0.5 * (i % 2) for i in items.tolist()]
    inf = tt.infer(Labels(items, workers, halves, 20, 2), ANY, "auto", {})
    assert inf.answers[1] == 1.5


def test_two_workers_without_gold_meet_halfway_and_wide_values_keep_their_noise() -> None:
    """No gold: neither of two workers 2 apart is taken as the unbiased one. Counts from 10 to 1e9 with
    workers off by one keep a noise near 1 (the rounding floor is relative to the step, not to the spread)."""
    items, workers = np.repeat(np.arange(6), 2), np.tile([0, 1], 6)
    low = [10, 11, 12, 13, 14, 15]
    answers = [low[i] + 2 * w for i, w in zip(items.tolist(), workers.tolist(), strict=True)]
    inf = tt.infer(Labels(items, workers, answers, 6, 2), ANY, "auto", {})
    assert inf.answers == [11, 12, 13, 14, 15, 16]
    assert inf.fit.worker_bias[0] == pytest.approx(-inf.fit.worker_bias[1])
    rng = np.random.default_rng(0)
    truth = np.concatenate([[10], rng.integers(10, 10**9, 30)])
    items, workers = np.repeat(np.arange(31), 3), np.tile([0, 1, 2], 31)
    values = (truth[items] + rng.integers(-1, 2, len(items))).tolist()
    inf = tt.infer(Labels(items, workers, values, 31, 3), ANY, "auto", {})
    assert inf.fit.worker_sigma.max() < 2 and np.nanmax(inf.stderr) < 1
    assert np.abs(np.array(inf.answers) - truth).max() <= 1
