import numpy as np

from truthline.quality import CrowdLabels, glad
from truthline.quality._em import parse_known

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


def test_reaches_the_tight_tolerance_optimum_in_few_iterations() -> None:
    # many labels per worker, five per item: the badly scaled case L-BFGS needed ~90 iterations for
    data, _ = simulate(n_items=3000, n_workers=10, k=2, seed=2)
    r = glad.fit(data)
    tight = glad.fit(data, tol=1e-13, max_iter=2000)
    assert r.converged and r.iterations <= 40
    assert (r.answers == tight.answers).all()
    np.testing.assert_allclose(r.worker_params["skill"], tight.worker_params["skill"], atol=5e-3)


def test_label_order_does_not_matter() -> None:
    data, _ = simulate(n_items=300, n_workers=15, k=4, seed=3)
    perm = np.random.default_rng(0).permutation(data.n_labels)
    shuffled = CrowdLabels(
        data.items[perm], data.workers[perm], data.labels[perm], data.n_items, data.n_workers, data.n_classes
    )
    a, b = glad.fit(data), glad.fit(shuffled)
    assert (a.answers == b.answers).all()
    np.testing.assert_allclose(a.worker_params["skill"], b.worker_params["skill"], atol=1e-4)


def test_gradient_matches_finite_differences() -> None:
    data, _ = simulate(n_items=200, n_workers=12, k=3, seed=4)
    perm = np.random.default_rng(1).permutation(data.n_labels)  # unsorted labels, as the objective sorts them
    data = CrowdLabels.from_arrays(data.items[perm], data.workers[perm], data.labels[perm], n_classes=3)
    objective = glad._Posterior(data, np.log(np.full(3, 1 / 3)), 1.0, parse_known({0: 1, 5: 2}, data))
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(1.0, 1.0, data.n_workers), rng.normal(1.0, 0.5, data.n_items)])
    _, g = objective(x)
    for _ in range(3):
        d = rng.normal(size=len(x))
        d /= np.linalg.norm(d)
        h = 1e-2  # the objective is float32 inside: smaller steps difference away its rounding
        numeric = (objective(x + h * d)[0] - objective(x - h * d)[0]) / (2 * h)
        np.testing.assert_allclose(g @ d, numeric, rtol=1e-3, atol=1e-3)
