import numpy as np

from truthline.quality import CrowdLabels
from truthline.quality import majority


def test_posteriors_are_vote_shares_and_ties_go_low() -> None:
    d = CrowdLabels.from_arrays([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [2, 2, 1, 1, 0], n_items=3, n_classes=3)
    r = majority.fit(d)
    np.testing.assert_allclose(r.posteriors[0], [0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(r.posteriors[1], [0.5, 0.5, 0])
    np.testing.assert_allclose(r.posteriors[2], [1 / 3] * 3)  # no labels: uniform
    assert r.answers.tolist() == [2, 0, 0]
    assert r.confidence[0] == 2 / 3


def test_repeated_pairs_count_twice() -> None:
    d = CrowdLabels.from_arrays([0, 0, 0], [0, 0, 1], [1, 1, 0])
    np.testing.assert_allclose(majority.fit(d).posteriors[0], [1 / 3, 2 / 3])


def test_worker_accuracy_ranks_agreeing_workers_higher() -> None:
    items = np.repeat(np.arange(20), 3)
    workers = np.tile([0, 1, 2], 20)
    labels = np.zeros(60, dtype=np.int64)
    labels[2::3] = 1  # worker 2 always disagrees
    r = majority.fit(CrowdLabels.from_arrays(items, workers, labels))
    assert r.worker_accuracy[0] > 0.6 > 0.4 > r.worker_accuracy[2]
