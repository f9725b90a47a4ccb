"""Shared EM building blocks: the float32 softmax and the BLAS-free row/column sums."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from truthline.quality._em import col_sums, normalize_rows, row_sums, softmax_rows_f32, softmax_rows_ll


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 40), st.integers(2, 6), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 30.0, 3000.0]))
def test_softmax_matches_float64_reference(n: int, k: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    logp = rng.normal(size=(n, k)) * scale - scale  # wide spreads and large magnitudes (many labels)
    post, lse = softmax_rows_ll(logp)
    assert post.dtype == np.float64 and post.shape == (n, k)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, atol=1e-12)
    ref = softmax(logp, axis=1)
    # float32 exponentials: ~1e-7 relative; classes > 80 nats below the best get ~e^-80 instead of ~0
    np.testing.assert_allclose(post, ref, rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(lse, logsumexp(logp, axis=1), rtol=1e-9, atol=1e-5)


def test_float32_softmax_with_prior() -> None:
    rng = np.random.default_rng(0)
    logp = rng.normal(size=(500, 4)) * 20
    log_prior = np.log(np.array([0.7, 0.1, 0.15, 0.05]))
    t, lse = softmax_rows_f32(logp, log_prior)
    assert t.dtype == np.float32
    np.testing.assert_allclose(t, softmax(logp + log_prior, axis=1), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(lse, logsumexp(logp + log_prior, axis=1), rtol=1e-9, atol=1e-5)


def test_row_and_column_sums() -> None:
    rng = np.random.default_rng(1)
    m = rng.random((300, 5))
    w = rng.random(300)
    np.testing.assert_allclose(row_sums(m), m.sum(axis=1))
    np.testing.assert_allclose(col_sums(m), m.sum(axis=0))
    np.testing.assert_allclose(col_sums(m.astype(np.float32), w), w @ m, rtol=1e-6)
    assert row_sums(np.zeros((3, 0))).shape == (3,)
    z = normalize_rows(np.array([[0.0, 0.0], [1.0, 3.0], [np.nan, 1.0]]))
    np.testing.assert_allclose(z, [[0.5, 0.5], [0.25, 0.75], [0.5, 0.5]])


def test_lbfgsb_verdict_falls_back_to_the_projected_gradient() -> None:
    from scipy.optimize import OptimizeResult

    from truthline.quality._em import lbfgsb_converged

    lower, upper = np.array([0.0, -np.inf]), np.array([1.0, np.inf])
    # "ABNORMAL" line-search end at a stationary point: the first gradient pushes against its bound
    stuck = OptimizeResult(success=False, x=np.array([0.0, 2.0]), jac=np.array([5.0, 1e-8]))
    assert lbfgsb_converged(stuck, 1e-6, lower, upper)
    assert not lbfgsb_converged(stuck, 1e-6)  # without the bound the first gradient is not zero
    moving = OptimizeResult(success=False, x=np.array([0.5, 2.0]), jac=np.array([1e-3, 0.0]))
    assert not lbfgsb_converged(moving, 1e-6, lower, upper)
    assert lbfgsb_converged(OptimizeResult(success=True, x=np.zeros(2), jac=np.ones(2)), 1e-6)
    assert not lbfgsb_converged(OptimizeResult(success=False, x=np.zeros(1), jac=np.array([np.nan])), 1e-6)


def test_softmax_rows_whose_prior_underflows_float32_are_exact() -> None:
    # the best class by the labels has a prior of e^-120 (an unused EBCC subtype): every float32 term of
    # the row underflows unless it is redone in float64
    logp = np.array([[0.0, -90.0, -95.0], [0.0, -1.0, -2.0]])
    log_prior = np.array([-120.0, np.log(0.6), np.log(0.4)])
    post, lse = softmax_rows_f32(logp, log_prior, np.float64)
    assert np.all(np.isfinite(post)) and np.all(np.isfinite(lse))
    np.testing.assert_allclose(post, softmax(logp + log_prior, axis=1), rtol=1e-6, atol=1e-30)
    assert post[0, 0] > 1e-14  # redone in float64: not rounded to 0
    np.testing.assert_allclose(lse, logsumexp(logp + log_prior, axis=1), rtol=1e-9, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.sampled_from([9, 20, 40]), st.integers(0, 2**32 - 1))
def test_softmax_of_wide_rows(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logp = rng.normal(size=(n, k)) * 30
    log_prior = np.log(rng.dirichlet(np.ones(k)))
    post, lse = softmax_rows_f32(logp, log_prior, np.float64)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, atol=1e-6)  # float32 row sums
    np.testing.assert_allclose(post, softmax(logp + log_prior, axis=1), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(lse, logsumexp(logp + log_prior, axis=1), rtol=1e-9, atol=1e-5)


def test_row_sums_of_wide_rows() -> None:
    m = np.random.default_rng(2).random((50, 40)).astype(np.float32)
    np.testing.assert_allclose(row_sums(m), m.sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(row_sums(m[:, :5]), m[:, :5].sum(axis=1), rtol=1e-6)


def test_diagonal_confusions_take_the_short_path() -> None:
    # one-coin and MACE confusions differ from row to row only on the diagonal: label_hits and
    # log_evidence_diagonal give what the full (W, K, K) table gives, in O(labels)
    from truthline.quality import CrowdLabels
    from truthline.quality._em import LabelIndex

    rng = np.random.default_rng(4)
    n_items, n_workers, k, n = 50, 7, 4, 300
    data = CrowdLabels.from_arrays(rng.integers(0, n_items, n), rng.integers(0, n_workers, n), rng.integers(0, k, n),
                                   n_items=n_items + 3, n_workers=n_workers + 1, n_classes=k)  # idle ones too
    index = LabelIndex(data)
    post = normalize_rows(rng.random((n_items + 3, k)))
    np.testing.assert_allclose(index.label_hits(post), np.diagonal(index.confusion_counts(post), axis1=1, axis2=2))
    hit, miss = rng.random((n_workers + 1, k)), rng.random((n_workers + 1, k)) * 0.2
    table = np.repeat(miss[:, None, :], k, axis=1)  # [w, true c, given l] = miss[w, l] off the diagonal
    table[:, np.arange(k), np.arange(k)] = hit
    out = np.empty((n_items + 3, k))
    np.testing.assert_allclose(index.log_evidence_diagonal(np.log(hit), np.log(miss), out),
                               index.log_evidence(np.log(table)), atol=1e-12)
