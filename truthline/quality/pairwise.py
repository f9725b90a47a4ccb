"""Pairwise preferences: Bradley-Terry scores with confidence intervals, and a noisy-worker variant.

Bradley-Terry: P(a beats b) = sigmoid(s_a - s_b). Scores are the MAP under a Gaussian ridge prior
s ~ N(0, 1/ridge), so items that won (or lost) every comparison and disconnected groups of items stay
finite; the MAP scores sum to zero. Intervals come from the Laplace approximation: the inverse
Hessian of the negative log posterior, for the centred scores (exact inverse up to `max_dense` items,
else the diagonal approximation 1 / H_ii, which ignores the covariance between items). `head_to_head` turns
scores and that covariance into predicted win probabilities between items, each with its interval.

Crowd-BT (after Chen et al. 2013): each worker follows the model with probability `reliability` and
clicks at random otherwise, P(observed) = eta_w * P_BT + (1 - eta_w) / 2. EM alternates the
responsibility of the BT component per comparison, a Beta-MAP reliability per worker and a
responsibility-weighted BT fit.

winner is 0 when item_a won and 1 when item_b won; ties are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, log_expit, ndtri

from ._em import lbfgsb_converged, one_blas_thread
from .labels import MAX_COUNT, QualityInputError, _as_index_array

__all__ = ["CrowdPairwiseScores", "EvidencePairwiseScores", "HeadToHead", "PairwiseScores", "bradley_terry",
           "crowd_bradley_terry", "evidence_bradley_terry", "head_to_head"]


@dataclass(frozen=True)
class PairwiseScores:
    """scores (n_items,): log-strengths summing to 0; stderr, lower, upper: Laplace interval at `level`."""

    scores: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    iterations: int
    converged: bool


@dataclass(frozen=True)
class CrowdPairwiseScores(PairwiseScores):
    """Plus worker_reliability (n_workers,): P(worker answers by the model rather than at random),
    and label_weight: each comparison's posterior probability of being a model answer."""

    worker_reliability: np.ndarray
    label_weight: np.ndarray


def _comparisons(
    item_a: Any, item_b: Any, winner: Any, n_items: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    a, b, n = _pairs(item_a, item_b, n_items)
    w = _as_index_array("winner", winner)
    if len(w) != len(a):
        raise QualityInputError(f"winner: has {len(w)} entries but item_a has {len(a)}", "winner")
    if len(w) and w.max() > 1:
        raise QualityInputError("winner: must be 0 (item_a won) or 1 (item_b won)", "winner")
    return a, b, 1.0 - w.astype(np.float64), n


def _pairs(item_a: Any, item_b: Any, n_items: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """The compared items as index arrays of one length, and the item count (n_items, or the largest + 1)."""
    a = _as_index_array("item_a", item_a)
    b = _as_index_array("item_b", item_b)
    if len(b) != len(a):
        raise QualityInputError(f"item_b: has {len(b)} entries but item_a has {len(a)}", "item_b")
    if np.any(a == b):
        raise QualityInputError("item_b: an item is compared with itself; drop those comparisons", "item_b")
    top = int(max(a.max(), b.max())) + 1 if len(a) else 0
    if n_items is None:
        n_items = top  # no comparisons, no items (not one phantom item scored 0 +- 0)
    elif isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < top:
        raise QualityInputError(f"n_items: must be an int >= {top} (largest item index + 1)", "n_items")
    if n_items > MAX_COUNT:  # per-item arrays are allocated in full: 2**40 items was an 8 TiB MemoryError
        raise QualityInputError(f"item_a, item_b: {n_items:,} items (at most {MAX_COUNT:,}); number them "
                                "consecutively from 0", "n_items" if top <= MAX_COUNT else "item_a")
    return a, b, int(n_items)


def _weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    try:
        wt = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise QualityInputError("weights: must be numbers", "weights") from exc
    if len(wt) != n:
        raise QualityInputError(f"weights: has {len(wt)} entries but item_a has {n}", "weights")
    if not np.all(np.isfinite(wt)) or np.any(wt < 0):
        raise QualityInputError("weights: must be finite and >= 0", "weights")
    return wt


def _check(ridge: float, level: float, max_dense: int) -> None:
    if isinstance(max_dense, bool) or not isinstance(max_dense, (int, np.integer)) or max_dense < 0:
        raise QualityInputError(f"max_dense: must be an int >= 0, got {max_dense!r}", "max_dense")
    # below 1e-12 the Hessian of a crowd whose scores are free to drift is singular in float64 (1e-300:
    # LinAlgError)
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float, np.floating)) or not (1e-12 <= ridge < np.inf):
        raise QualityInputError(f"ridge: must be a finite number >= 1e-12, got {ridge!r}", "ridge")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise QualityInputError(f"level: must be strictly between 0 and 1, got {level!r}", "level")


def _fit(
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    wt: np.ndarray,
    n: int,
    ridge: float,
    s0: np.ndarray,
    gtol: float = 1e-8,
) -> tuple[np.ndarray, int, bool]:
    """MAP scores of weighted Bradley-Terry (y = 1 when a won) by trust-region Newton-CG."""

    def fun(s: np.ndarray) -> tuple[float, np.ndarray]:
        d = s[a] - s[b]
        nll = -np.sum(wt * (y * log_expit(d) + (1.0 - y) * log_expit(-d))) + 0.5 * ridge * float(s @ s)
        g = wt * (expit(d) - y)
        grad = np.bincount(a, g, n) - np.bincount(b, g, n) + ridge * s
        return float(nll), grad

    def hessp(s: np.ndarray, v: np.ndarray) -> np.ndarray:
        p = expit(s[a] - s[b])
        t = wt * p * (1.0 - p) * (v[a] - v[b])
        return np.bincount(a, t, n) - np.bincount(b, t, n) + ridge * v

    from scipy.optimize import minimize  # lazy: scipy.optimize costs ~0.2 s at import

    with one_blas_thread():
        res = minimize(fun, s0, jac=True, hessp=hessp, method="trust-ncg", options={"gtol": gtol, "maxiter": 500})
    # trust-ncg reports a precision-loss "failure" once the gradient is at rounding level, which grows with
    # the objective (a sum over comparisons: 800 of them stall near 2e-6): converged when a Newton step would
    # move no score by more than 1e-6
    p = expit(res.x[a] - res.x[b])
    h = wt * p * (1.0 - p)
    curvature = np.bincount(a, h, n) + np.bincount(b, h, n) + ridge
    ok = bool(res.success) or float(np.max(np.abs(res.jac) / curvature, initial=0.0)) < max(gtol, 1e-6)
    return np.asarray(res.x, dtype=np.float64), int(res.nit), ok


def _responsibility(a: np.ndarray, b: np.ndarray, y: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """P(comparison was answered by the model | data): eta q / (eta q + (1 - eta) / 2)."""
    d = s[a] - s[b]
    q = np.where(y > 0.5, expit(d), expit(-d))  # P(observed answer | BT)
    return e * q / (e * q + 0.5 * (1.0 - e))


def _polish(
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    wk: np.ndarray,
    s0: np.ndarray,
    eta0: np.ndarray,
    n: int,
    nw: int,
    ridge: float,
    alpha: float,
    beta: float,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Maximise the Crowd-BT marginal posterior over (scores, reliabilities) with L-BFGS-B.

    Variables are scaled by the square root of the Hessian diagonal at the start (scores and
    reliabilities differ in curvature by the number of comparisons per worker).
    """
    eps = 1e-9

    def parts(s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        p = expit(s[a] - s[b])
        q = np.where(y > 0.5, p, 1.0 - p)
        ew = e[wk]
        return p, q, ew, ew * q + 0.5 * (1.0 - ew)

    e0 = np.clip(eta0, eps, 1.0 - eps)
    _, q, ew, mix = parts(s0, e0)
    curv = ew * q * (1.0 - q) / mix
    scale = np.sqrt(
        np.concatenate(
            [
                np.bincount(a, curv, n) + np.bincount(b, curv, n) + ridge,
                np.bincount(wk, ((q - 0.5) / mix) ** 2, nw)
                + (alpha - 1.0) / e0**2
                + (beta - 1.0) / (1.0 - e0) ** 2
                + 1.0,
            ]
        )
    )

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        theta = x / scale
        s, e = theta[:n], theta[n:]
        p, q, ew, mix = parts(s, e)
        f = -np.sum(np.log(mix)) + 0.5 * ridge * float(s @ s)
        f -= float(np.sum((alpha - 1.0) * np.log(e) + (beta - 1.0) * np.log1p(-e)))
        g = -(ew * q / mix) * (y - p)
        grad_s = np.bincount(a, g, n) - np.bincount(b, g, n) + ridge * s
        grad_e = -np.bincount(wk, (q - 0.5) / mix, nw) - (alpha - 1.0) / e + (beta - 1.0) / (1.0 - e)
        return float(f), np.concatenate([grad_s, grad_e]) / scale

    x0 = np.concatenate([s0, e0]) * scale
    lower = np.concatenate([np.full(n, -np.inf), eps * scale[n:]])
    upper = np.concatenate([np.full(n, np.inf), (1.0 - eps) * scale[n:]])
    from scipy.optimize import minimize

    with one_blas_thread():
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lower, upper)),
                       options={"maxiter": 5000, "ftol": 1e-15, "gtol": tol})
    theta = res.x / scale
    converged = lbfgsb_converged(res, max(tol, 1e-6), lower, upper)
    return np.asarray(theta[:n]), np.clip(theta[n:], eps, 1.0 - eps), int(res.nit), converged


def _laplace(
    a: np.ndarray, b: np.ndarray, s: np.ndarray, wt: np.ndarray, n: int, ridge: float, max_dense: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Laplace standard errors of the centred scores, and their covariance (None above `max_dense` items, where
    only the diagonal approximation is computed)."""
    p = expit(s[a] - s[b])
    return _laplace_curvature(a, b, wt * p * (1.0 - p), n, ridge, max_dense)


def _laplace_curvature(
    a: np.ndarray, b: np.ndarray, h: np.ndarray, n: int, ridge: float, max_dense: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """`_laplace` from each comparison's curvature h = -d^2 log-likelihood / d(s_a - s_b)^2. An h below 0 (an
    outcome the evidence leaves between two readings) can make the Hessian indefinite away from a clean
    optimum: then every h is taken at 0 or more, the nearest positive reading."""
    if n == 0:
        return np.zeros(0), np.zeros((0, 0))
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    for curvature in (h, np.maximum(h, 0.0)):
        diag = np.bincount(a, curvature, n) + np.bincount(b, curvature, n) + ridge
        if n > max_dense:
            return 1.0 / np.sqrt(np.maximum(diag, ridge)), None
        off = np.bincount(a * n + b, curvature, n * n).astype(np.float64).reshape(n, n)
        hess = -(off + off.T)
        hess[np.diag_indices(n)] = diag
        try:
            cov = cho_solve(cho_factor(hess), np.eye(n))
        except LinAlgError:
            continue
        # Cov(s - mean(s)) = H^-1 - 11^T / (n ridge), because H 1 = ridge 1 (so 1^T H^-1 1 = n / ridge)
        cov -= 1.0 / (n * ridge)
        return np.sqrt(np.maximum(np.diag(cov), 0.0)), cov
    raise AssertionError("unreachable: with every h >= 0 the Hessian is positive definite (ridge > 0)")


def _stderr(
    a: np.ndarray, b: np.ndarray, s: np.ndarray, wt: np.ndarray, n: int, ridge: float, max_dense: int
) -> np.ndarray:
    """Laplace standard errors of the centred scores."""
    return _laplace(a, b, s, wt, n, ridge, max_dense)[0]


def _scores(s: np.ndarray, se: np.ndarray, level: float, iterations: int, converged: bool) -> dict[str, Any]:
    z = float(ndtri(0.5 + level / 2.0))  # the normal quantile, without importing scipy.stats (see workers.py)
    return {
        "scores": s,
        "stderr": se,
        "lower": s - z * se,
        "upper": s + z * se,
        "level": float(level),
        "iterations": iterations,
        "converged": converged,
    }


def bradley_terry(
    item_a: Any,
    item_b: Any,
    winner: Any,
    *,
    n_items: int | None = None,
    weights: Any = None,
    ridge: float = 0.1,
    level: float = 0.95,
    max_dense: int = 2000,
    initial: Any = None,
) -> PairwiseScores:
    """Bradley-Terry MAP scores with Laplace confidence intervals.

    weights: per comparison, how much it counts (finite, >= 0; default 1 each). A comparison whose outcome
    is uncertain enters twice, once per outcome, weighted by its probability.
    ridge: precision of the N(0, 1/ridge) prior on each score (> 0; keeps every score finite).
    max_dense: up to this many items the interval uses the exact inverse Hessian (O(n_items^2) memory).
    initial: scores to start from (n_items,), e.g. a previous fit on nearly the same comparisons.
    """
    _check(ridge, level, max_dense)
    a, b, y, n = _comparisons(item_a, item_b, winner, n_items)
    wt = _weights(weights, len(a))
    s0 = np.zeros(n) if initial is None else np.asarray(initial, dtype=np.float64)
    if s0.shape != (n,) or not np.all(np.isfinite(s0)):
        raise QualityInputError(f"initial: must be {n} finite scores, one per item", "initial")
    s, it, ok = _fit(a, b, y, wt, n, float(ridge), s0)
    se = _stderr(a, b, s, wt, n, float(ridge), max_dense)
    return PairwiseScores(**_scores(s, se, level, it, ok))


def crowd_bradley_terry(
    item_a: Any,
    item_b: Any,
    winner: Any,
    workers: Any,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    ridge: float = 0.1,
    level: float = 0.95,
    reliability_prior: tuple[float, float] = (2.0, 1.0),
    max_iter: int = 10,
    tol: float = 1e-7,
    max_dense: int = 2000,
) -> CrowdPairwiseScores:
    """Bradley-Terry with per-worker reliability (BT answer vs random click), fitted by EM.

    reliability_prior: Beta(alpha, beta) pseudo-counts on each reliability (alpha, beta >= 1).
    max_iter EM iterations warm-start an L-BFGS-B maximisation of the same posterior (gradient `tol`).
    Intervals use the responsibility-weighted Hessian and ignore the uncertainty of reliabilities.
    """
    _check(ridge, level, max_dense)
    a, b, y, n = _comparisons(item_a, item_b, winner, n_items)
    wk = _as_index_array("workers", workers)
    if len(wk) != len(a):
        raise QualityInputError(f"workers: has {len(wk)} entries but item_a has {len(a)}", "workers")
    top = int(wk.max()) + 1 if len(wk) else 0
    if n_workers is None:
        n_workers = top
    elif isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer)) or n_workers < top:
        raise QualityInputError(f"n_workers: must be an int >= {top} (largest worker index + 1)", "n_workers")
    if n_workers > MAX_COUNT:
        raise QualityInputError(f"workers: {n_workers:,} workers (at most {MAX_COUNT:,}); number them consecutively "
                                "from 0", "workers")
    try:
        alpha, beta = (float(v) for v in reliability_prior)
    except (TypeError, ValueError) as exc:
        raise QualityInputError("reliability_prior: expected (alpha, beta)", "reliability_prior") from exc
    if not (1.0 <= alpha < np.inf and 1.0 <= beta < np.inf):
        raise QualityInputError("reliability_prior: alpha and beta must be finite and >= 1", "reliability_prior")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise QualityInputError(f"max_iter: must be an int >= 1, got {max_iter!r}", "max_iter")
    nw = int(n_workers)
    if n == 0:  # nothing compared, nothing to score (L-BFGS-B takes no empty problem)
        return CrowdPairwiseScores(**_scores(np.zeros(0), np.zeros(0), level, 0, True),
                                   worker_reliability=np.ones(nw), label_weight=np.zeros(0))
    ridge = float(ridge)
    counts = np.bincount(wk, minlength=nw).astype(np.float64)
    eta = np.full(nw, 0.9)
    gamma = np.ones(len(a))
    s, total_it, _ = _fit(a, b, y, gamma, n, ridge, np.zeros(n))
    for _ in range(max_iter):  # EM: responsibilities, reliabilities, weighted BT
        gamma = _responsibility(a, b, y, s, eta[wk])
        den = counts + alpha + beta - 2.0
        eta_new = np.ones(nw)  # a worker with no comparisons and a flat prior: undetermined, report 1
        np.divide(np.bincount(wk, gamma, nw) + alpha - 1.0, den, out=eta_new, where=den > 0)
        s_new, it, _ = _fit(a, b, y, gamma, n, ridge, s, gtol=1e-4)
        total_it += it
        change = max(float(np.max(np.abs(eta_new - eta), initial=0.0)), float(np.max(np.abs(s_new - s), initial=0.0)))
        eta, s = eta_new, s_new
        if change <= 1e-3:
            break
    # EM crawls once scores and reliabilities trade off; finish on the same posterior by L-BFGS-B
    s, eta, it, converged = _polish(a, b, y, wk, s, eta, n, nw, ridge, alpha, beta, tol)
    total_it += it
    gamma = _responsibility(a, b, y, s, eta[wk])
    se = _stderr(a, b, s, gamma, n, ridge, max_dense)
    return CrowdPairwiseScores(**_scores(s, se, level, total_it, converged), worker_reliability=eta, label_weight=gamma)


@dataclass(frozen=True)
class EvidencePairwiseScores(PairwiseScores):
    """Plus outcome (n_comparisons, k): each comparison's posterior over (item_a won, item_b won[, tie]), and
    covariance (n_items, n_items): the Laplace covariance of the centred scores, None above `max_dense` items
    (only the diagonal, stderr**2, is computed there)."""

    outcome: np.ndarray
    covariance: np.ndarray | None


def evidence_bradley_terry(
    item_a: Any,
    item_b: Any,
    evidence: Any,
    *,
    n_items: int | None = None,
    tie_share: float = 0.0,
    ridge: float = 0.1,
    level: float = 0.95,
    max_dense: int = 2000,
    tol: float = 1e-7,
) -> EvidencePairwiseScores:
    """Bradley-Terry over comparisons whose outcomes are seen only through evidence (a crowd's labels).

    evidence (n_comparisons, 2 or 3): up to a factor per comparison, the likelihood of what was observed about
    comparison j under each outcome: item_a won, item_b won and, with a third column, a tie (a crowd model's
    posterior divided by the class prior it was fitted with). The outcomes' prior is the model's own:
    P(item_a won) = (1 - tie_share) sigmoid(s_a - s_b), a tie `tie_share`. The scores maximise the marginal
    posterior sum_j log sum_k evidence[j, k] P(k | s) - ridge |s|^2 / 2 by L-BFGS on scaled scores; its
    gradient is the expected complete-data one, so this is the fixed point EM alternating outcome posteriors
    and weighted fits would crawl to (sparse crowds: hundreds of rounds). An outcome the evidence leaves open
    is read through the strengths, not as a coin toss that pulls every score toward 0. Intervals are the
    Laplace ones of this marginal posterior (its observed information, `_evidence_curvature`): an outcome the
    evidence leaves open tells less than a sure one, a coin toss or a tie nothing (the tie share does not depend
    on the scores), where counting every comparison as settled gave intervals too narrow.
    """
    _check(ridge, level, max_dense)
    a, b, n = _pairs(item_a, item_b, n_items)
    try:
        e = np.asarray(evidence, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QualityInputError("evidence: must be numbers", "evidence") from exc
    if e.ndim != 2 or e.shape[0] != len(a) or e.shape[1] not in (2, 3):
        raise QualityInputError(f"evidence: must be ({len(a)}, 2) or ({len(a)}, 3): one row per comparison",
                                "evidence")
    if not np.all(np.isfinite(e)) or np.any(e < 0) or np.any(e.sum(axis=1) <= 0):
        raise QualityInputError("evidence: must be finite, >= 0, and above 0 somewhere in each row", "evidence")
    tie = float(tie_share)
    if not (0.0 <= tie < 1.0) or (e.shape[1] == 2 and tie != 0.0):
        raise QualityInputError("tie_share: must be in [0, 1), and 0 without a tie column", "tie_share")
    ridge = float(ridge)
    e_tie = e[:, 2] * tie if e.shape[1] > 2 else 0.0
    count = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    scale = np.sqrt(0.25 * count + ridge)  # the curvature's diagonal at s = 0: sides compared 10^5 times and
    # twice differ 10^4-fold in it, which unscaled L-BFGS crawls through

    def outcome(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        d = s[a] - s[b]
        p = expit(d)
        joint_a, joint_b = e[:, 0] * p * (1.0 - tie), e[:, 1] * expit(-d) * (1.0 - tie)
        z = np.maximum(joint_a + joint_b + e_tie, 1e-300)
        return p, joint_a / z, joint_b / z, z

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s = x / scale
        p, qa, qb, z = outcome(s)
        g = qa - (qa + qb) * p  # d log z / d(s_a - s_b)
        grad = -(np.bincount(a, g, n) - np.bincount(b, g, n)) + ridge * s
        return float(-np.sum(np.log(z)) + 0.5 * ridge * float(s @ s)), grad / scale

    from scipy.optimize import minimize

    with one_blas_thread():
        res = minimize(fun, np.zeros(n), jac=True, method="L-BFGS-B",
                       options={"maxiter": 10_000, "ftol": 1e-15, "gtol": tol})
    s = np.asarray(res.x, dtype=np.float64) / scale
    _, qa, qb, _ = outcome(s)
    q = np.stack([qa, qb, 1.0 - qa - qb][: e.shape[1]], axis=1)
    pairs, per_pair = np.unique(a * n + b, return_inverse=True)  # one row per pair of items: the same Hessian
    h = _evidence_curvature(s[a] - s[b], e, tie)
    se, cov = _laplace_curvature(pairs // n, pairs % n, np.bincount(per_pair, h, len(pairs)), n, ridge, max_dense)
    return EvidencePairwiseScores(**_scores(s, se, level, int(res.nit), lbfgsb_converged(res, max(tol, 1e-6))),
                                  outcome=q, covariance=cov)


def _evidence_curvature(d: np.ndarray, e: np.ndarray, tie: float) -> np.ndarray:
    """Per comparison, -d^2/dd^2 log z(d) with z(d) = (1 - tie) (e_a sigmoid(d) + e_b sigmoid(-d)) + tie e_tie,
    d = s_a - s_b: the observed information about d. A sure win gives sigmoid'(d), as a plain comparison does;
    evidence that cannot tell a from b (a coin toss, a sure tie: the tie share does not depend on the scores)
    gives 0, and anything between gives less than a sure outcome would."""
    p = expit(d)
    g = p * (1.0 - p)  # sigmoid'(d)
    spread = (e[:, 0] - e[:, 1]) * (1.0 - tie)
    z = spread * p + e[:, 1] * (1.0 - tie) + (e[:, 2] * tie if e.shape[1] > 2 else 0.0)
    z = np.maximum(z, 1e-300)
    first = spread * g / z  # z' / z
    return first * first - spread * g * (1.0 - 2.0 * p) / z  # (z'/z)^2 - z''/z


@dataclass(frozen=True)
class HeadToHead:
    """For the k chosen items, per ordered pair (row i, column j): win (k, k): P(i beats j) = sigmoid(s_i - s_j)
    (ties aside); lower, upper: its interval at `level`, the difference's Laplace interval through the sigmoid;
    better (k, k) int8: +1 where that interval of s_i - s_j lies above 0 (i significantly better), -1 below, 0
    where it takes in 0. The diagonal is 0.5, undecided."""

    win: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    better: np.ndarray
    level: float


def head_to_head(scores: Any, covariance: Any, level: float = 0.95, index: Any = None) -> HeadToHead:
    """Predicted win probabilities between items, with intervals, from Bradley-Terry scores.

    covariance: the scores' (n, n) covariance (EvidencePairwiseScores.covariance), or (n,) variances alone
    (stderr**2, the diagonal approximation: it leaves out how the scores move together, so an interval between
    two items mostly compared with each other comes out wider than it is). index: the items to compare, in
    the order wanted (default: all). Var(s_i - s_j) = C_ii + C_jj - 2 C_ij: the intervals of two scores can
    overlap while their difference is clearly above 0, which is why a requester asks this and not the ranking.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    c = np.asarray(covariance, dtype=np.float64)
    n = len(s)
    if c.shape not in ((n, n), (n,)):
        raise QualityInputError(f"covariance: must be ({n}, {n}) or ({n},), got {c.shape}", "covariance")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise QualityInputError(f"level: must be strictly between 0 and 1, got {level!r}", "level")
    idx = np.arange(n) if index is None else _as_index_array("index", index)
    if len(idx) and idx.max() >= n:
        raise QualityInputError(f"index: must be below {n} (one entry per item)", "index")
    s = s[idx]
    var = c[idx] if c.ndim == 1 else np.diag(c)[idx]
    cross = c[np.ix_(idx, idx)] if c.ndim == 2 else np.diag(var)
    # rounding can take a near-zero variance (an item against itself, two items always compared together)
    # just below 0
    sd = np.sqrt(np.maximum(var[:, None] + var[None, :] - 2.0 * cross, 0.0))
    d = s[:, None] - s[None, :]
    z = float(ndtri(0.5 + level / 2.0))
    low, high = d - z * sd, d + z * sd
    better = np.where(low > 0, 1, np.where(high < 0, -1, 0)).astype(np.int8)
    return HeadToHead(expit(d), expit(low), expit(high), better, float(level))
