import numpy as np
import pytest

from truthline.quality import CrowdLabels, QualityInputError, aggregate, dawid_skene

from crowd_data import load_set, simulate


def _confused_crowd(seed: int = 0) -> tuple[CrowdLabels, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, w, k = 800, 8, 3
    truth = rng.integers(0, k, n)
    conf = np.stack([np.full((k, k), 0.1) + np.eye(k) * 0.7 for _ in range(w)])
    conf[0] = [[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]  # says 1 when the truth is 0
    items = np.repeat(np.arange(n), 5)
    workers = np.concatenate([rng.choice(w, 5, replace=False) for _ in range(n)])
    u = rng.random(len(items))[:, None]
    labels = (u > conf[workers, truth[items]].cumsum(axis=1)).sum(axis=1)
    return CrowdLabels.from_arrays(items, workers, labels, n_classes=k), truth, conf


def test_recovers_a_biased_confusion_matrix() -> None:
    data, truth, conf = _confused_crowd()
    r = dawid_skene.fit(data)
    assert np.abs(r.worker_params["confusion"][0] - conf[0]).max() < 0.08
    assert (r.answers == truth).mean() > (aggregate(data, "mv").answers == truth).mean()
    assert r.converged and r.iterations < 100


def test_smoothing_zero_is_maximum_likelihood_and_stays_finite() -> None:
    data, truth = simulate(n_items=200, n_workers=8, k=4, seed=1)
    r = dawid_skene.fit(data, smoothing=0.0)
    assert np.all(np.isfinite(r.posteriors)) and np.all(np.isfinite(r.worker_params["confusion"]))
    assert (r.answers == truth).mean() > 0.8


def test_known_items_inform_the_confusion() -> None:
    data, truth, _ = _confused_crowd(seed=3)
    known = {i: int(truth[i]) for i in range(100)}
    r = dawid_skene.fit(data, known=known)
    assert all(r.answers[i] == c for i, c in known.items())
    assert (r.answers == truth).mean() >= (dawid_skene.fit(data).answers == truth).mean() - 0.01


def test_init_and_options() -> None:
    data, truth = simulate(n_items=100, n_workers=6, k=2, seed=2)
    init = np.eye(2)[truth]
    assert (dawid_skene.fit(data, init=init).answers == truth).mean() > 0.85
    for bad in (dict(smoothing=-1.0), dict(smoothing=float("nan")), dict(max_iter=0)):
        with pytest.raises(QualityInputError):
            dawid_skene.fit(data, **bad)


def test_matches_the_reference_on_real_data() -> None:
    data, truth = load_set("D_Product")
    m = truth >= 0
    assert (dawid_skene.fit(data).answers[m] == truth[m]).mean() >= 0.935  # crowd-kit DS: 0.940


def test_squarem_reaches_the_plain_em_fixed_point_in_fewer_steps() -> None:
    steps = {"fast": 0, "plain": 0}
    for seed in range(4):  # not on every crowd (seed 0: 16 against 11), but over several
        data, truth, _ = _confused_crowd(seed=seed)
        fast = dawid_skene.fit(data, tol=1e-9, max_iter=500)
        plain = dawid_skene.fit(data, tol=1e-9, max_iter=500, accelerate=False)
        assert fast.converged and plain.converged
        assert np.abs(fast.posteriors - plain.posteriors).max() < 1e-3
        np.testing.assert_allclose(fast.worker_params["confusion"], plain.worker_params["confusion"], atol=1e-3)
        steps["fast"] += fast.iterations
        steps["plain"] += plain.iterations
    assert steps["fast"] < 0.8 * steps["plain"]
    data, truth, _ = _confused_crowd(seed=5)
    known = {i: int(truth[i]) for i in range(50)}
    r = dawid_skene.fit(data, known=known, max_iter=7)  # stops mid-cycle: still valid output
    assert r.iterations == 7 and all(r.answers[i] == c for i, c in known.items())
    np.testing.assert_allclose(r.posteriors.sum(axis=1), 1.0, atol=1e-9)


def test_a_unanimous_crowd_is_believed() -> None:
    """Every worker says "class 0" on every item: classes nobody is believed to be get the typical worker's
    confusion row (right as often as the crowd is), not a flat one under which they explain the labels as
    well as class 0 does (confidence was 0.50 and the workers 49% accurate)."""
    n = 30
    data = CrowdLabels.from_arrays(np.repeat(np.arange(n), 3), np.tile(np.arange(3), n), np.zeros(3 * n, np.int64),
                                   n_classes=3)
    r = dawid_skene.fit(data)
    assert r.answers.tolist() == [0] * n and r.confidence.min() > 0.99
    assert r.worker_accuracy.min() > 0.95


@pytest.mark.parametrize("n", [469, 500, 516])
def test_squarem_does_not_leap_to_the_swapped_classes(n: int) -> None:
    # one label per item, all 0: by likelihood alone "every item is 1 and workers say 0 for 1" is as good,
    # and the extrapolation leapt there (all answered 1 at 0.98); the smoothing's prior tells them apart
    data = CrowdLabels.from_arrays(np.arange(n), np.arange(n) % 3, np.zeros(n, np.int64), n_classes=2)
    for accelerate in (True, False):
        r = dawid_skene.fit(data, accelerate=accelerate)
        assert r.answers.tolist() == [0] * n, accelerate


def test_wide_sparse_crowds_are_not_over_fitted() -> None:
    # 100 classes, ~7 items each, 3 labels per item: every confusion row rests on a label or two. With a
    # fixed prior per row (0.1 pseudo-labels over 100 cells) one slip became the worker's habit and DS
    # scored 0.71 where majority vote scores 0.84; the prior counted per wrong answer keeps it level.
    ds, mv = [], []
    for seed in range(3):
        data, truth = simulate(n_items=700, n_workers=30, k=100, per_item=3, seed=seed, acc_range=(0.5, 0.9),
                               spammers=0)
        ds.append(np.mean(aggregate(data, "ds").answers == truth))
        mv.append(np.mean(aggregate(data, "mv").answers == truth))
    assert np.mean(ds) >= np.mean(mv) - 0.01, (ds, mv)

