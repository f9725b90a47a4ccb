import numpy as np
import pytest

from truthline.quality import QualityInputError, one_coin

from crowd_data import simulate


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
