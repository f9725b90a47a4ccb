import numpy as np

from truthline.quality import CrowdLabels, glad

from crowd_data import simulate


def test_skill_tracks_worker_accuracy() -> None:
    data, truth = simulate(n_items=400, n_workers=12, k=3, spammers=3, seed=6)
    r = glad.fit(data)
    correct = (data.labels == truth[data.items]).astype(float)
    empirical = np.bincount(data.workers, correct) / np.bincount(data.workers)
    assert np.corrcoef(r.worker_params["skill"], empirical)[0, 1] > 0.9
    assert r.worker_params["easiness"].shape == (data.n_items,)
    assert (r.answers == truth).mean() > 0.85


def test_hard_items_get_low_easiness() -> None:
    rng = np.random.default_rng(0)
    n, w = 200, 10
    truth = rng.integers(0, 2, n)
    hard = np.arange(n) < 40
    items = np.repeat(np.arange(n), w)
    workers = np.tile(np.arange(w), n)
    p_ok = np.where(hard[items], 0.55, 0.95)
    labels = np.where(rng.random(len(items)) < p_ok, truth[items], 1 - truth[items])
    r = glad.fit(CrowdLabels.from_arrays(items, workers, labels))
    e = r.worker_params["easiness"]
    assert e[hard].mean() < e[~hard].mean()


def test_without_warm_start_same_answers() -> None:
    data, _ = simulate(n_items=150, n_workers=8, k=2, seed=8)
    a, b = glad.fit(data), glad.fit(data, warm_start=False)
    assert (a.answers == b.answers).mean() > 0.97
