import numpy as np

from truthline.quality import aggregate, weighted_majority

from crowd_data import simulate


def test_spammers_get_less_weight() -> None:
    data, truth = simulate(n_items=300, n_workers=12, k=3, spammers=4, acc_range=(0.8, 0.95), seed=2)
    r = weighted_majority.fit(data)
    weight = r.worker_params["weight"]
    assert weight[:4].max() < weight[4:].min()
    assert r.worker_accuracy[:4].max() < r.worker_accuracy[4:].min()


def test_better_than_majority_with_spammers() -> None:
    data, truth = simulate(n_items=400, n_workers=15, k=3, spammers=5, seed=2)
    assert (weighted_majority.fit(data).answers == truth).mean() >= (aggregate(data, "mv").answers == truth).mean()


def test_one_round_is_wawa_like() -> None:
    data, _ = simulate(n_items=100, n_workers=8, k=2, seed=3)
    r = weighted_majority.fit(data, max_iter=1)
    assert r.iterations == 1
    np.testing.assert_allclose(r.posteriors.sum(axis=1), 1.0)
