import numpy as np
import pytest

from truthline.quality import CrowdLabels, QualityInputError, aggregate, one_coin

from crowd_data import assert_distributions, simulate


def test_recovers_worker_accuracy() -> None:
    data, truth = simulate(n_items=600, n_workers=10, k=3, per_item=5, seed=4)
    r = one_coin.fit(data)
    correct = (data.labels == truth[data.items]).astype(float)
    empirical = np.bincount(data.workers, correct) / np.bincount(data.workers)
    assert np.abs(r.worker_accuracy - empirical).max() < 0.08
    assert r.converged
    np.testing.assert_allclose(r.worker_params["confusion"].sum(axis=2), 1.0)


def test_smoothing_pulls_sparse_workers_to_the_pool() -> None:
    data, _ = simulate(n_items=200, n_workers=10, k=2, seed=5)
    from truthline.quality import CrowdLabels

    extra = CrowdLabels.from_arrays(
        np.r_[data.items, 0], np.r_[data.workers, 10], np.r_[data.labels, data.labels[0]], n_classes=2
    )
    r = one_coin.fit(extra, smoothing=5.0)
    assert 0.5 < r.worker_accuracy[10] < 0.95  # one label: not declared perfect


def test_options_are_checked() -> None:
    data, _ = simulate(n_items=10, n_workers=6, k=2)
    with pytest.raises(QualityInputError):
        one_coin.fit(data, smoothing=-1)
    with pytest.raises(QualityInputError):
        one_coin.fit(data, max_iter=0)


def test_shared_accuracy_is_majority_votes_model() -> None:
    data, truth = simulate(n_items=400, n_workers=12, k=3, per_item=5, seed=31, spammers=0)
    shared = one_coin.fit(data, shared=True)
    assert np.ptp(shared.worker_accuracy) == 0.0 and 1 / 3 < shared.worker_accuracy[0] < 1
    votes = np.zeros((data.n_items, 3))
    np.add.at(votes, (data.items, data.labels), 1)
    top = np.sort(votes, axis=1)
    clear = top[:, -1] > top[:, -2]  # where the vote has a single winner, equal weights follow it
    assert np.array_equal(shared.answers[clear], aggregate(data, "mv").answers[clear])
    assert_distributions(shared.posteriors, data.n_items, 3)
    assert (one_coin.fit(data).answers == truth).mean() >= (shared.answers == truth).mean() - 0.02


def test_one_label_per_item_keeps_each_label() -> None:
    # the normal start of a two-class project with overlap 1: six items, one worker, one label each. The
    # data cannot tell the pooled accuracy from the class shares; a prior centred on 1/2 pulled it to
    # chance, where the class prior outvoted the only label ("b" items answered "a" at 0.5)
    data = CrowdLabels.from_arrays(np.arange(6), np.zeros(6, dtype=np.int64), np.array([1, 0, 0, 1, 0, 0]),
                                   n_classes=2)
    for agg in (one_coin.fit(data, shared=True), one_coin.fit(data), aggregate(data, "auto")):
        assert agg.answers.tolist() == [1, 0, 0, 1, 0, 0], agg.method
        assert agg.confidence.min() > 0.6, agg.method


def test_pooled_accuracy_stays_above_chance() -> None:
    # gold that all three workers contradict: below chance, the shared model would read every label as
    # evidence against its class; it stops at chance instead
    items, workers = np.repeat(np.arange(3), 3), np.tile(np.arange(3), 3)
    data = CrowdLabels.from_arrays(items, workers, np.array([0, 0, 0, 1, 1, 0, 0, 1, 1]), n_classes=3)
    shared = one_coin.fit(data, {0: 2}, shared=True)
    assert shared.worker_accuracy[0] > 1 / 3
