import numpy as np
import pytest

from truthline.quality import aggregate, bcc
from truthline.quality.labels import CrowdLabels, QualityInputError

from crowd_data import simulate


def test_learned_prior_is_diagonal_and_answers_good() -> None:
    data, truth = simulate(n_items=500, n_workers=20, k=3, seed=11)
    r = bcc.fit(data)
    prior = r.worker_params["prior"]
    assert prior.shape == (3, 3)
    assert np.all(np.diagonal(prior) >= prior.max(axis=1) - 1e-12)
    assert (r.answers == truth).mean() > 0.9


def test_dirichlet_prior_fit_recovers_concentration() -> None:
    rng = np.random.default_rng(0)
    true = np.array([[8.0, 1.0], [2.0, 6.0]])
    rows = np.stack([[rng.multinomial(50, rng.dirichlet(true[k])) for k in range(2)] for _ in range(400)])
    est = bcc.fit_dirichlet_prior(rows.astype(float), np.ones((2, 2)), steps=300)
    np.testing.assert_allclose(est / est.sum(axis=1, keepdims=True), true / true.sum(axis=1, keepdims=True), atol=0.03)


def test_fixed_prior_option() -> None:
    data, truth = simulate(n_items=200, n_workers=10, k=2, seed=12)
    r = bcc.fit(data, learn_prior=False, prior_strength=2.0)
    mv = (aggregate(data, "mv").answers == truth).mean()
    assert (r.answers == truth).mean() >= mv - 0.02


def test_stops_when_answers_settle_on_look_alike_workers() -> None:
    # Workers of one accuracy band: the shared prior's precision grows every iteration (no finite
    # optimum), so the bound never settles; the posterior-change rule must end the fit well before the cap.
    data, truth = simulate(n_items=2000, n_workers=50, k=5, acc_range=(0.7, 0.8), spammers=0, seed=3)
    drifting = bcc.fit(data, post_tol=0.0)
    assert drifting.iterations == 100 and not drifting.converged
    r = bcc.fit(data)
    assert r.converged and r.iterations <= 60
    assert (r.answers == drifting.answers).mean() >= 0.99
    assert (r.answers == truth).mean() >= (drifting.answers == truth).mean() - 0.005


def test_post_tol_must_be_a_number_at_least_zero() -> None:
    data, _ = simulate(n_items=50, n_workers=5, k=2, seed=1)
    for bad in (-1e-3, float("nan")):
        with pytest.raises(QualityInputError, match="post_tol"):
            bcc.fit(data, post_tol=bad)


def test_settled_posteriors_do_not_stop_confusions_still_sharpening() -> None:
    # three perfect workers and one always wrong: the answers are certain after two iterations, but the
    # confusions (what auto scores held-out labels with) sharpen for several more
    items = np.repeat(np.arange(10), 4)
    workers = np.tile(np.arange(4), 10)
    labels = (items + (workers == 3)) % 2
    data = CrowdLabels.from_arrays(items, workers, labels)
    full, r = bcc.fit(data, post_tol=0.0), bcc.fit(data)
    assert r.iterations == full.iterations
    np.testing.assert_allclose(r.worker_params["confusion"], full.worker_params["confusion"])
    assert r.worker_params["confusion"][3, 0, 1] > 0.95
