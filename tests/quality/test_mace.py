import numpy as np

from truthline.quality import mace

from crowd_data import simulate


def test_spammers_get_low_competence() -> None:
    data, truth = simulate(n_items=500, n_workers=12, k=3, spammers=3, acc_range=(0.75, 0.95), seed=9)
    r = mace.fit(data)
    theta = r.worker_params["competence"]
    assert theta[:3].max() < theta[3:].min()
    np.testing.assert_allclose(r.worker_params["spam_distribution"].sum(axis=1), 1.0)
    assert (r.answers == truth).mean() > 0.9


def test_confusion_rows_are_distributions() -> None:
    data, _ = simulate(n_items=50, n_workers=5, k=4, seed=1)
    conf = mace.fit(data).worker_params["confusion"]
    np.testing.assert_allclose(conf.sum(axis=2), 1.0)
    assert np.all(conf > 0)
