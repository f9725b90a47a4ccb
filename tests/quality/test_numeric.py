import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truthline.quality.labels import QualityInputError
from truthline.quality.numeric import aggregate_numeric

SIGMA = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 5.0, 10.0, 1.0])
BIAS = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0])


def _simulate(n: int = 400, per_item: int = 4, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(50, 10, n)
    items = np.repeat(np.arange(n), per_item)
    workers = np.argsort(rng.random((n, len(SIGMA))), axis=1)[:, :per_item].ravel()
    values = truth[items] + BIAS[workers] + rng.normal(0, 1, len(items)) * SIGMA[workers]
    return items, workers, values, truth


def test_recovers_worker_noise_bias_and_beats_the_mean() -> None:
    items, workers, values, truth = _simulate()
    res = aggregate_numeric(items, workers, values)
    assert res.converged
    assert res.worker_sigma == pytest.approx(SIGMA, rel=0.35)
    n_w = np.bincount(workers)
    assert np.all(np.abs(res.worker_bias - BIAS) < 3 * SIGMA / np.sqrt(n_w) + 0.1)
    mean = np.bincount(items, values) / np.bincount(items)
    rmse = np.sqrt(np.mean((res.estimate - truth) ** 2))
    assert rmse < 0.6 * np.sqrt(np.mean((mean - truth) ** 2))
    cover = np.mean(np.abs(res.estimate - truth) < 1.96 * res.stderr)
    assert 0.88 < cover < 0.99


def test_robust_to_one_wild_outlier() -> None:
    items, workers, values, truth = _simulate(n=200)
    clean = aggregate_numeric(items, workers, values)
    wild = values.copy()
    wild[8] = 1e6  # item 2
    res = aggregate_numeric(items, workers, wild)
    assert abs(res.estimate[2] - clean.estimate[2]) < 3.0
    assert np.max(np.abs(np.delete(res.estimate - clean.estimate, 2))) < 0.5
    assert res.label_weight[8] < 1e-6 and np.median(res.label_weight) > 0.5
    gauss = aggregate_numeric(items, workers, wild, df=None)
    assert abs(gauss.estimate[2] - truth[2]) > 1000  # the plain Gaussian model is not robust


def test_results_scale_with_tiny_values() -> None:
    # values near 3e-10 passed for integers (the rounding floor, 0.29, swamped them)
    items, workers, values, _ = _simulate(n=60)
    ref = aggregate_numeric(items, workers, values)
    tiny = aggregate_numeric(items, workers, values * 1e-12)
    np.testing.assert_allclose(tiny.estimate, ref.estimate * 1e-12, rtol=1e-6)
    np.testing.assert_allclose(tiny.worker_sigma, ref.worker_sigma * 1e-12, rtol=1e-3)


def test_no_bias_model_and_degenerate_cases() -> None:
    res = aggregate_numeric([0, 0, 1, 1], [0, 1, 0, 1], [3.0, 3.0, 5.0, 5.0], n_items=3, bias=False)
    assert res.estimate[:2].tolist() == pytest.approx([3.0, 5.0]) and np.isnan(res.estimate[2])
    assert np.all(res.stderr[:2] < 0.25) and np.all(res.worker_bias == 0)  # exact agreement: rounding only
    single = aggregate_numeric([0, 1], [0, 1], [2.0, 7.0])  # no overlap: noise cannot be measured
    assert single.estimate.tolist() == [2.0, 7.0]
    assert np.all(np.isnan(single.stderr)) and np.all(np.isnan(single.worker_sigma))
    empty = aggregate_numeric([], [], [], n_items=2, n_workers=1)
    assert np.all(np.isnan(empty.estimate)) and empty.worker_sigma.shape == (1,)


def test_agreement_to_the_written_step_leaves_the_rounding_unknown() -> None:
    """Two workers agreeing on 3 and on 7 do not pin the values to 6e-7: each written value hides a rounding
    error of variance step^2 / 12 (integers: sd 0.29), so the stderr scales with the step written in."""
    whole = aggregate_numeric([0, 0, 1, 1], [0, 1, 0, 1], [3.0, 3.0, 7.0, 7.0])
    tenths = aggregate_numeric([0, 0, 1, 1], [0, 1, 0, 1], [3.1, 3.1, 7.2, 7.2])
    assert whole.worker_sigma == pytest.approx([12 ** -0.5] * 2)
    assert 0.1 < whole.stderr.min() <= whole.stderr.max() < 0.3
    assert tenths.stderr == pytest.approx(whole.stderr / 10)
    rng = np.random.default_rng(1)  # continuous values: no step, the noise measured as before
    items = np.repeat(np.arange(50), 4)
    noisy = aggregate_numeric(items, np.tile(np.arange(4), 50), items + rng.normal(0, 0.01, 200))
    assert np.all((0.003 < noisy.worker_sigma) & (noisy.worker_sigma < 0.02))  # 0.01, far under any step


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"values": [1.0, np.nan, 2.0]}, "values"),
        ({"values": [1.0, np.inf, 2.0]}, "values"),
        ({"values": [1.0, 1e308, 2.0]}, "values"),  # finite, but its squares are not
        ({"values": [1.0, 2.0]}, "values"),
        ({"values": ["a", "b", "c"]}, "values"),
        ({"items": [0, -1, 1]}, "items"),
        ({"workers": [0, 1]}, "labels"),
        ({"df": 0.0}, "df"),
        ({"prior_strength": -1.0}, "prior_strength"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": float("nan")}, "tol"),  # never converged, ran to max_iter
    ],
)
def test_bad_input_names_argument(kwargs: dict, field: str) -> None:
    args = {"items": [0, 0, 1], "workers": [0, 1, 0], "values": [1.0, 2.0, 3.0]} | kwargs
    with pytest.raises(QualityInputError) as exc:
        aggregate_numeric(**args)
    assert exc.value.field == field and field in str(exc.value)


@st.composite
def _numeric_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_items = draw(st.integers(1, 6))
    n_workers = draw(st.integers(1, 4))
    cells = draw(
        st.lists(st.tuples(st.integers(0, n_items - 1), st.integers(0, n_workers - 1)), min_size=1, max_size=20)
    )
    vals = draw(st.lists(st.floats(-100, 100), min_size=len(cells), max_size=len(cells)))
    i, w = np.array(cells).T
    return i, w, np.array(vals)


@settings(max_examples=60, deadline=None)
@given(_numeric_data(), st.floats(0.1, 10), st.floats(-50, 50), st.booleans())
def test_permutation_invariant_and_affine_equivariant(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], a: float, c: float, bias: bool
) -> None:
    i, w, x = data
    res = aggregate_numeric(i, w, x, bias=bias)
    has = np.bincount(i, minlength=len(res.estimate)) > 0
    assert np.all(np.isfinite(res.estimate[has]))
    perm = np.random.default_rng(len(x)).permutation(len(x))
    res_p = aggregate_numeric(i[perm], w[perm], x[perm], bias=bias)
    span = float(np.ptp(x)) + 1.0
    assert np.allclose(res_p.estimate[has], res.estimate[has], atol=1e-5 * span)
    res_a = aggregate_numeric(i, w, a * x + c, bias=bias)
    assert np.allclose(res_a.estimate[has], a * res.estimate[has] + c, atol=1e-5 * span * a)
    if not bias:  # without biases every estimate is a weighted mean of its item's values
        mn = np.full(len(has), np.inf)
        mx = np.full(len(has), -np.inf)
        np.minimum.at(mn, i, x)
        np.maximum.at(mx, i, x)
        assert np.all(res.estimate[has] >= mn[has] - 1e-9) and np.all(res.estimate[has] <= mx[has] + 1e-9)
