import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthline.quality.agreement import (
    cohen_kappa_pairwise,
    coincidence_matrix,
    fleiss_kappa,
    krippendorff_alpha,
)
from truthline.quality.labels import QualityInputError

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
# 4 coders x 12 units with missing values (nan).
_K = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
)
_KW, _KI = np.nonzero(~np.isnan(_K))
_KV = _K[_KW, _KI]

# Wikipedia "Fleiss' kappa" worked example: 10 subjects, 14 raters, 5 categories, kappa = 0.210.
_FLEISS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


@pytest.mark.parametrize("level, expected", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_textbook_example(level: str, expected: float) -> None:
    assert krippendorff_alpha(_KI, _KW, _KV, level) == pytest.approx(expected, abs=5e-4)


def test_interval_alpha_of_huge_values_is_that_of_the_same_values_scaled() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        huge = krippendorff_alpha(_KI, _KW, np.asarray(_KV, dtype=float) * 1e200, "interval")
    assert huge == pytest.approx(0.849, abs=5e-4)


def test_coincidence_matrix_matches_textbook_and_closed_form() -> None:
    cats, o = coincidence_matrix(_KI, _KV)
    assert cats.tolist() == [1, 2, 3, 4, 5]
    assert o[0, 0] == pytest.approx(7.0) and o[0, 1] == pytest.approx(4 / 3) and o[4, 4] == pytest.approx(3.0)
    assert np.allclose(o, o.T)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    assert n == pytest.approx(40.0)  # unit 12 has a single value and is excluded
    off = 1.0 - np.eye(len(cats))
    alpha = 1.0 - (n - 1) * np.sum(o * off) / (np.outer(n_c, n_c) * off).sum()
    assert alpha == pytest.approx(krippendorff_alpha(_KI, _KW, _KV, "nominal"))


def test_fleiss_wikipedia_example() -> None:
    i, j = np.nonzero(_FLEISS)
    counts = _FLEISS[i, j]
    assert fleiss_kappa(np.repeat(i, counts), np.repeat(j, counts), 5) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_matches_nominal_alpha_for_large_samples() -> None:
    rng = np.random.default_rng(0)
    items = np.repeat(np.arange(3000), 3)
    truth = rng.integers(0, 3, 3000)
    labels = np.where(rng.random(9000) < 0.7, truth[items], rng.integers(0, 3, 9000))
    kappa = fleiss_kappa(items, labels, 3)
    alpha = krippendorff_alpha(items, np.tile(np.arange(3), 3000), labels)
    assert kappa == pytest.approx(alpha, abs=1e-3)  # they differ by O(1/n)


def test_cohen_matches_sklearn_and_is_symmetric() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, 40)
    b = np.where(rng.random(40) < 0.6, a, rng.integers(0, 3, 40))
    items = np.concatenate([np.arange(40), np.arange(40)])
    workers = np.repeat([0, 1], 40)
    res = cohen_kappa_pairwise(items, workers, np.concatenate([a, b]), 3)
    assert res.worker_a.tolist() == [0] and res.worker_b.tolist() == [1]
    assert res.kappa[0] == pytest.approx(sk.cohen_kappa_score(a, b))
    swapped = cohen_kappa_pairwise(items, 1 - workers, np.concatenate([a, b]), 3)
    assert swapped.kappa[0] == pytest.approx(res.kappa[0])
    assert res.mean == pytest.approx(res.kappa[0])


def test_cohen_pairs_min_overlap_and_light_mean() -> None:
    # workers 0,1,2 label items 0..9; worker 3 labels only 2 items
    items = np.concatenate([np.tile(np.arange(10), 3), [0, 1]])
    workers = np.concatenate([np.repeat([0, 1, 2], 10), [3, 3]])
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, len(items))
    res = cohen_kappa_pairwise(items, workers, labels, 2, min_overlap=5)
    assert list(zip(res.worker_a.tolist(), res.worker_b.tolist())) == [(0, 1), (0, 2), (1, 2)]
    assert res.n_overlap.tolist() == [10, 10, 10]
    assert res.mean == pytest.approx(res.kappa.mean())
    with pytest.raises(QualityInputError, match="min_overlap"):
        cohen_kappa_pairwise(items, workers, labels, 2, min_overlap=11)


def test_degenerate_inputs() -> None:
    items = np.array([0, 0, 1, 1])
    workers = np.array([0, 1, 0, 1])
    same = np.array([2, 2, 2, 2])
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(items, workers, same, level) == 1.0
    assert fleiss_kappa(items, same, 3) == 1.0
    assert cohen_kappa_pairwise(items, workers, same, 3, min_overlap=2).kappa.tolist() == [1.0]
    with pytest.raises(QualityInputError, match="values"):
        krippendorff_alpha([0, 1], [0, 0], [1, 2])
    with pytest.raises(QualityInputError, match="items"):
        fleiss_kappa([0, 1], [1, 1], 2)
    with pytest.raises(QualityInputError, match="values"):
        krippendorff_alpha(items, workers, [1.0, np.nan, 2.0, 2.0])
    with pytest.raises(QualityInputError, match="level"):
        krippendorff_alpha(items, workers, same, "ratio")  # type: ignore[arg-type]
    with pytest.raises(QualityInputError, match="labels"):
        fleiss_kappa(items, [0, 1, 2, 3], 3)


@st.composite
def _reliability_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_items = draw(st.integers(1, 8))
    n_workers = draw(st.integers(2, 5))
    mask = np.array(draw(st.lists(st.booleans(), min_size=n_items * n_workers, max_size=n_items * n_workers)))
    mask = mask.reshape(n_items, n_workers)
    mask[0, :2] = True  # at least one pairable item
    vals = np.array(draw(st.lists(st.integers(0, 4), min_size=n_items * n_workers, max_size=n_items * n_workers)))
    i, w = np.nonzero(mask)
    return i, w, vals.reshape(n_items, n_workers)[i, w]


@settings(max_examples=60, deadline=None)
@given(_reliability_data(), st.sampled_from(["nominal", "ordinal", "interval"]))
def test_alpha_properties(data: tuple[np.ndarray, np.ndarray, np.ndarray], level: str) -> None:
    i, w, v = data
    alpha = krippendorff_alpha(i, w, v, level)  # type: ignore[arg-type]
    assert np.isfinite(alpha) and alpha <= 1.0 + 1e-12
    perm = np.random.default_rng(len(v)).permutation(len(v))
    assert krippendorff_alpha(i[perm], w[perm], v[perm], level) == pytest.approx(alpha)  # type: ignore[arg-type]
    # relabelling items and workers changes nothing
    assert krippendorff_alpha(i * 3 + 1, w + 7, v, level) == pytest.approx(alpha)  # type: ignore[arg-type]
    if level != "nominal":  # invariant to monotone (ordinal) / affine (interval) transforms
        assert krippendorff_alpha(i, w, 2.5 * v - 7.0, level) == pytest.approx(alpha)  # type: ignore[arg-type]
    # perfect agreement: every value replaced by its item's first value
    first = np.full(i.max() + 1, -1.0)
    first[i[::-1]] = v[::-1]
    assert krippendorff_alpha(i, w, first[i], level) == pytest.approx(1.0)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(_reliability_data())
def test_kappa_properties(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    i, w, v = data
    kappa = fleiss_kappa(i, v, 5)
    assert np.isfinite(kappa) and kappa <= 1.0 + 1e-12
    perm = np.random.default_rng(len(v)).permutation(len(v))
    assert fleiss_kappa(i[perm], v[perm], 5) == pytest.approx(kappa)
    res = cohen_kappa_pairwise(i, w, v, 5, min_overlap=1)
    rev = cohen_kappa_pairwise(i, w.max() - w, v, 5, min_overlap=1)  # reverse rater order
    top = w.max()
    forward = dict(zip(zip(res.worker_a.tolist(), res.worker_b.tolist()), res.kappa.tolist()))
    for a, b, k in zip(rev.worker_a.tolist(), rev.worker_b.tolist(), rev.kappa.tolist()):
        assert forward[(top - b, top - a)] == pytest.approx(k)
    assert np.all(res.kappa <= 1.0 + 1e-12)


def test_label_values_do_not_size_arrays() -> None:
    # kappa depends on which labels agree, not on their numbers: 2**40 (Fleiss) and 2**31 - 2 (Cohen) were
    # MemoryErrors, and n_classes=10**12 allocated for classes nobody used
    items, workers = [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]
    small, large = [0, 0, 1, 1, 2, 0], [0, 0, 2**31 - 2, 2**31 - 2, 2**40, 0]
    assert fleiss_kappa(items, large) == fleiss_kappa(items, small)
    assert fleiss_kappa(items, small, n_classes=10**12) == fleiss_kappa(items, small)
    big = cohen_kappa_pairwise(items, workers, large[:4] + [2**31 - 3, 0], min_overlap=1)
    assert big.kappa.tolist() == cohen_kappa_pairwise(items, workers, small, min_overlap=1).kappa.tolist()
    with pytest.raises(QualityInputError, match="n_classes"):
        cohen_kappa_pairwise(items, workers, small, n_classes=2, min_overlap=1)
