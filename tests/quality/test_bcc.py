import numpy as np

from truthline.quality import aggregate, bcc

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
