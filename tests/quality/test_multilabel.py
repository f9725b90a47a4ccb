import numpy as np
import pytest

from truthline.quality.dawid_skene import fit
from truthline.quality.labels import CrowdLabels, QualityInputError
from truthline.quality.multilabel import aggregate_multilabel


def _simulate(n_items: int = 300, n_labels: int = 4, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Workers 0-3 are good (sens .85, spec .9); worker 4 ticks boxes at random."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n_items, n_labels)) < 0.3
    workers = np.repeat(np.arange(5), n_items)
    items = np.tile(np.arange(n_items), 5)
    t = truth[items]
    good = np.where(t, rng.random(t.shape) < 0.85, rng.random(t.shape) < 0.1)
    noise = rng.random(t.shape) < 0.5
    selected = np.where((workers == 4)[:, None], noise, good)
    return items, workers, selected, truth


def test_recovers_label_sets_and_flags_random_worker() -> None:
    items, workers, selected, truth = _simulate()
    res = aggregate_multilabel(items, workers, selected)
    assert res.probabilities.shape == truth.shape and res.answers.dtype == bool
    assert np.all((res.probabilities >= 0) & (res.probabilities <= 1))
    acc = np.mean(res.answers == truth)
    votes = np.zeros(truth.shape)
    np.add.at(votes, items, selected)
    assert acc >= np.mean((votes >= 3) == truth) - 0.005 and acc > 0.95
    assert np.all(res.worker_accuracy[4] < res.worker_accuracy[:4].min(axis=0))
    conf = res.worker_confusion
    assert conf.shape == (5, 4, 2, 2) and np.allclose(conf.sum(axis=3), 1.0)
    assert np.all(conf[:4, :, 1, 1] > 0.7)  # sensitivity of good workers


def test_each_label_is_a_binary_dawid_skene_fit() -> None:
    items, workers, selected, _ = _simulate(n_items=60, n_labels=2, seed=1)
    res = aggregate_multilabel(items, workers, selected)
    for j in range(2):
        agg = fit(CrowdLabels.from_arrays(items, workers, selected[:, j].astype(int), n_classes=2))
        assert res.probabilities[:, j] == pytest.approx(agg.posteriors[:, 1])
        assert res.worker_accuracy[:, j] == pytest.approx(agg.worker_accuracy)


def test_permutation_invariance_and_unlabelled_items() -> None:
    items, workers, selected, _ = _simulate(n_items=50, n_labels=3, seed=2)
    res = aggregate_multilabel(items, workers, selected, n_items=52)
    perm = np.random.default_rng(0).permutation(len(items))
    res2 = aggregate_multilabel(items[perm], workers[perm], selected[perm], n_items=52)
    assert res2.probabilities == pytest.approx(res.probabilities, abs=1e-6)
    assert res.probabilities.shape == (52, 3) and np.all(np.isfinite(res.probabilities))


def test_known_items_are_clamped() -> None:
    items, workers, selected, truth = _simulate(n_items=40, n_labels=3, seed=3)
    gold = {0: ~truth[0], 1: truth[1].astype(int)}
    res = aggregate_multilabel(items, workers, selected, known=gold)
    assert res.answers[0].tolist() == (~truth[0]).tolist()
    assert res.probabilities[1] == pytest.approx(truth[1].astype(float))


def test_bad_input_names_argument() -> None:
    items, workers, selected, _ = _simulate(n_items=10, n_labels=2)
    with pytest.raises(QualityInputError, match="selected"):
        aggregate_multilabel(items, workers, selected[:-1])
    with pytest.raises(QualityInputError, match="selected"):
        aggregate_multilabel(items, workers, selected[:, 0])
    with pytest.raises(QualityInputError, match="selected"):
        aggregate_multilabel(items, workers, selected * 2)
    with pytest.raises(QualityInputError, match="workers"):
        aggregate_multilabel(items, workers - 1, selected)
    with pytest.raises(QualityInputError, match="known"):
        aggregate_multilabel(items, workers, selected, known={0: [True]})
    for bad in ({"a": [True] * selected.shape[1]}, {1.5: [True] * selected.shape[1]}, np.ones((1, 2), bool)):
        with pytest.raises(QualityInputError, match="known"):  # ValueError from int() or an array's truth value
            aggregate_multilabel(items, workers, selected, known=bad)
    with pytest.raises(QualityInputError, match="method"):
        aggregate_multilabel(items, workers, selected, method="nope")


def test_each_label_keeps_what_auto_chose_for_it() -> None:
    from truthline.quality.registry import aggregate

    items, workers, selected, _ = _simulate(n_items=80, n_labels=3, seed=4)
    res = aggregate_multilabel(items, workers, selected, method="auto")
    assert len(res.label_params) == 3
    for j, params in enumerate(res.label_params):
        alone = aggregate(CrowdLabels.from_arrays(items, workers, selected[:, j].astype(int), n_classes=2), "auto")
        assert set(params) == {"model_weights", "temperature", "temperature_gold_items"}
        for key, value in params.items():
            assert np.array_equal(value, alone.worker_params[key]), key
        assert params["model_weights"].sum() == pytest.approx(1.0)
    ds = aggregate_multilabel(items, workers, selected)  # methods without a choice to report keep nothing
    assert ds.label_params == ({}, {}, {})
