import numpy as np
import pytest

from truthline.quality import QualityInputError, aggregate, one_coin

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
