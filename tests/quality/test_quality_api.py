"""Properties every registered truth-inference method must have (registry + public API)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import truthline.quality as tq
from truthline.quality import METHODS, Aggregate, CrowdLabels, QualityInputError, aggregate

from crowd_data import assert_distributions, crowd_labels, simulate

ALL = sorted(METHODS)
# derandomize: the same examples every run, so CI never flakes on a newly drawn case
FAST = settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def test_public_api() -> None:
    for name in ("CrowdLabels", "Aggregate", "QualityInputError", "aggregate", "METHODS"):
        assert name in tq.__all__
    assert set(METHODS) == {"mv", "wmv", "one_coin", "ds", "glad", "mace", "bcc", "ebcc", "auto"}
    for name in ("fit_mv", "fit_wmv", "fit_one_coin", "fit_ds", "fit_glad", "fit_mace", "fit_bcc", "fit_ebcc", "fit_auto"):
        assert name in tq.__all__ and callable(getattr(tq, name))


def test_unknown_method_names_valid_ones() -> None:
    d = CrowdLabels.from_arrays([0], [0], [1])
    with pytest.raises(QualityInputError) as info:
        aggregate(d, "nope")
    assert "nope" in str(info.value) and "ds" in str(info.value) and info.value.field == "method"


def test_labels_must_be_crowdlabels() -> None:
    with pytest.raises(QualityInputError):
        aggregate([0, 1], "mv")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ALL)
@FAST
@given(data=crowd_labels())
def test_posteriors_are_distributions(method: str, data: CrowdLabels) -> None:
    r = aggregate(data, method)
    assert isinstance(r, Aggregate)
    assert_distributions(r.posteriors, data.n_items, data.n_classes)
    assert r.worker_accuracy.shape == (data.n_workers,)
    assert np.all(np.isfinite(r.worker_accuracy))
    assert np.all((r.worker_accuracy >= 0) & (r.worker_accuracy <= 1))
    conf = r.worker_params["confusion"]
    assert conf.shape == (data.n_workers, data.n_classes, data.n_classes)
    assert np.all(np.isfinite(conf))
    assert r.answers.dtype == np.int64 and r.answers.shape == (data.n_items,)


@pytest.mark.parametrize("method", ALL)
@FAST
@given(
    k=st.integers(2, 4),
    truth=st.lists(st.integers(0, 3), min_size=1, max_size=10),
    per_item=st.integers(2, 4),  # with one label per item, class-prior pull is legitimate
    n_workers=st.integers(1, 5),
)
def test_perfect_workers_give_the_truth(method: str, k: int, truth: list[int], per_item: int, n_workers: int) -> None:
    # Confusion-matrix models are not identifiable when a worker gives a single label and some class
    # is never the truth (that class can "explain" every lone label), so: classes in use are 0..u-1
    # and every worker labels at least two items.
    truth_a = np.unique(np.minimum(np.array(truth), k - 1), return_inverse=True)[1].ravel()
    k = max(2, int(truth_a.max()) + 1)
    items = np.repeat(np.arange(len(truth_a)), per_item)
    n_workers = max(1, min(n_workers, len(items) // 2))
    workers = np.arange(len(items)) % n_workers
    data = CrowdLabels.from_arrays(items, workers, truth_a[items], n_classes=k)
    r = aggregate(data, method)
    np.testing.assert_array_equal(r.answers, truth_a)


@pytest.mark.parametrize("method", ALL)
@FAST
@given(data=crowd_labels(), seed=st.integers(0, 2**16))
def test_known_items_are_clamped(method: str, data: CrowdLabels, seed: int) -> None:
    rng = np.random.default_rng(seed)
    chosen = rng.choice(data.n_items, size=max(1, data.n_items // 3), replace=False)
    known = {int(i): int(rng.integers(data.n_classes)) for i in chosen}
    r = aggregate(data, method, known=known)
    assert_distributions(r.posteriors, data.n_items, data.n_classes)
    for i, c in known.items():
        assert r.posteriors[i, c] == 1.0


@pytest.mark.parametrize("method", ALL)
def test_permuting_indices_permutes_results(method: str) -> None:
    data, _ = simulate(n_items=120, n_workers=12, k=3, seed=3)
    rng = np.random.default_rng(1)
    pi = rng.permutation(data.n_items)  # new index of old item i
    pw = rng.permutation(data.n_workers)
    order = rng.permutation(data.n_labels)
    perm = CrowdLabels.from_arrays(
        pi[data.items][order], pw[data.workers][order], data.labels[order],
        n_items=data.n_items, n_workers=data.n_workers, n_classes=data.n_classes,
    )
    a, b = aggregate(data, method), aggregate(perm, method)
    if method == "auto":  # its held-out split follows label order, so only nearly equal
        assert (b.answers[pi] == a.answers).mean() >= 0.95
        return
    np.testing.assert_allclose(b.posteriors[pi], a.posteriors, atol=1e-6)
    np.testing.assert_allclose(b.worker_accuracy[pw], a.worker_accuracy, atol=1e-6)


@pytest.mark.parametrize("method", ALL)
def test_beats_or_matches_majority_on_a_simulated_crowd(method: str) -> None:
    data, truth = simulate(n_items=400, n_workers=25, k=3, seed=7)
    mv = (aggregate(data, "mv").answers == truth).mean()
    acc = (aggregate(data, method).answers == truth).mean()
    assert acc >= mv - 0.03


@pytest.mark.parametrize("method", ALL)
def test_edge_cases_give_defined_results(method: str) -> None:
    empty = CrowdLabels.from_arrays([], [], [], n_items=3, n_workers=2, n_classes=3)
    r = aggregate(empty, method)
    assert_distributions(r.posteriors, 3, 3)
    one_worker = CrowdLabels.from_arrays([0, 1, 2, 2], [0, 0, 0, 0], [1, 0, 2, 2])
    r = aggregate(one_worker, method)
    assert_distributions(r.posteriors, 3, 3)
    np.testing.assert_array_equal(r.answers, [1, 0, 2])
    nothing = CrowdLabels.from_arrays([], [], [], n_items=0, n_workers=0, n_classes=2)
    r = aggregate(nothing, method)
    assert r.posteriors.shape == (0, 2) and r.worker_accuracy.shape == (0,)


@pytest.mark.parametrize("method", ALL)
def test_bad_known_is_refused(method: str) -> None:
    d = CrowdLabels.from_arrays([0, 1], [0, 1], [0, 1])
    # not a mapping, floats and strings (int() made class 0 of 0.5 and an index of "1"), past 64 bits
    for bad in ({5: 0}, {0: 7}, {-1: 0}, 5, {0: 0.5}, {"1": 0}, {0: True}, {0: 10**30}, {2**70: 0}):
        with pytest.raises(QualityInputError) as info:
            aggregate(d, method, known=bad)
        assert info.value.field == "known"


@pytest.mark.parametrize("method", sorted(METHODS))
def test_options_a_method_does_not_take_are_refused_by_name(method: str) -> None:
    data = CrowdLabels.from_arrays([0, 0, 1], [0, 1, 0], [0, 1, 1], n_classes=2)
    with pytest.raises(QualityInputError) as err:
        aggregate(data, method, smoothness=0.5)
    assert err.value.field == "smoothness" and repr(method) in str(err.value)


@pytest.mark.parametrize(("method", "option"), [("ds", "tol"), ("glad", "tol"), ("auto", "tolerance"),
                                                ("one_coin", "smoothing")])
def test_nan_and_infinite_options_are_refused(method: str, option: str) -> None:
    data = CrowdLabels.from_arrays([0, 0, 1], [0, 1, 0], [0, 1, 1], n_classes=2)
    for bad in (float("nan"), np.inf, np.float32("nan")):
        with pytest.raises(QualityInputError) as err:
            aggregate(data, method, **{option: bad})
        assert err.value.field == option


@pytest.mark.parametrize(("method", "option", "bad"), [
    ("ds", "max_iter", "5"), ("ds", "max_iter", 2.5), ("ds", "max_iter", None), ("glad", "max_iter", True),
    ("one_coin", "smoothing", None), ("ds", "tol", "a"), ("ds", "accelerate", 1),
    ("auto", "seed", -1), ("auto", "folds", 2.5), ("auto", "folds", 0)])
def test_options_of_the_wrong_kind_are_refused_by_name(method: str, option: str, bad: object) -> None:
    # they were TypeErrors (or a truncation) from deep inside the fit
    data = CrowdLabels.from_arrays([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [0, 1] * 6, [0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0])
    with pytest.raises(QualityInputError) as err:
        aggregate(data, method, **{option: bad})
    assert err.value.field == option
