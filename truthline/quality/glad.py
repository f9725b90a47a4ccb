"""GLAD (Whitehill et al. 2009): worker ability times item easiness.

P(worker w labels item i correctly) = sigmoid(alpha_w * exp(b_i)); wrong labels are spread evenly
over the other classes. Gaussian priors N(1, 1) on alpha and on the log-easiness b (as in the paper
and crowd-kit). Generalized EM: an exact E-step, then a few L-BFGS steps on (alpha, b) per M-step
with analytic gradients computed by `np.bincount` over the labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ._em import check_finite, confusion_from_accuracy, normalize_rows, parse_known, safe_log, softmax_rows_ll, vote_counts
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit"]


def _log_sigmoids(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log sigmoid(z), log sigmoid(-z) and sigmoid(z), stable for any z, with one exp and one log1p."""
    e = np.exp(-np.abs(z))
    l1 = np.log1p(e)
    log_s = np.minimum(z, 0.0) - l1
    log_ns = -np.maximum(z, 0.0) - l1
    s = np.where(z >= 0, 1.0, e) / (1.0 + e)
    return log_s, log_ns, s


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-5,
    m_step_iter: int = 10,
    prior_mean: float = 1.0,
    learn_class_prior: bool = False,
) -> Aggregate:
    """Fit GLAD.

    max_iter, tol: EM rounds; stop when the log-likelihood changes by less than `tol` per label.
    m_step_iter: L-BFGS iterations per M-step.
    prior_mean: mean of the N(mean, 1) priors on abilities and log-easiness.
    learn_class_prior: estimate class frequencies (default: uniform, as in crowd-kit).
    Extra outputs: worker_params["skill"] (alpha), ["easiness"] (exp b, per item).
    """
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    if m_step_iter < 1:
        raise QualityInputError(f"m_step_iter: must be >= 1, got {m_step_iter}", "m_step_iter")
    kn = parse_known(known, labels)
    k = labels.n_classes
    n_w, n_i = labels.n_workers, labels.n_items
    it_, wk, lb = labels.items, labels.workers, labels.labels
    cells = it_ * k + lb
    log_km1 = np.log(k - 1)
    counts = vote_counts(labels)
    labelled = (counts.sum(axis=1) > 0).astype(np.float64)

    alpha = np.full(n_w, prior_mean)
    b = np.full(n_i, prior_mean)
    prior = np.full(k, 1.0 / k)
    post = kn.clamp(normalize_rows(counts))

    def e_step() -> tuple[np.ndarray, float]:
        z = alpha[wk] * np.exp(b[it_])
        log_s, log_ns, _ = _log_sigmoids(z)
        log_wrong = log_ns - log_km1
        gain = log_s - log_wrong
        logp = np.bincount(cells, weights=gain, minlength=n_i * k).reshape(n_i, k)
        logp += safe_log(prior)
        p, lse = softmax_rows_ll(logp)
        return kn.clamp(p), float(lse.sum() + log_wrong.sum())

    def negative_q(x: np.ndarray, p_hit: np.ndarray) -> tuple[float, np.ndarray]:
        a, bb = x[:n_w], x[n_w:]
        eb = np.exp(bb)
        ebl = eb[it_]
        z = a[wk] * ebl
        log_s, log_ns, sig = _log_sigmoids(z)
        q = float(np.dot(p_hit, log_s) + np.dot(1.0 - p_hit, log_ns))
        q -= 0.5 * float(np.sum((a - prior_mean) ** 2) + np.sum((bb - prior_mean) ** 2))
        r = p_hit - sig
        ga = np.bincount(wk, weights=r * ebl, minlength=n_w) - (a - prior_mean)
        gb = np.bincount(it_, weights=r * z, minlength=n_i) - (bb - prior_mean)
        return -q, -np.concatenate([ga, gb])

    prev_ll = -np.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        post, ll = e_step()
        if learn_class_prior:
            prior = labelled @ post + 1.0
            prior /= prior.sum()
        p_hit = post[it_, lb]
        if len(p_hit):
            res = minimize(
                negative_q, np.concatenate([alpha, b]), args=(p_hit,), jac=True, method="L-BFGS-B",
                options={"maxiter": m_step_iter},
            )
            x = np.clip(res.x, -30.0, 30.0)
            alpha, b = x[:n_w], x[n_w:]
        if abs(ll - prev_ll) <= tol * max(1, labels.n_labels):
            converged = True
            break
        prev_ll = ll
    post, _ = e_step()
    post = check_finite(post, "glad")
    z = alpha[wk] * np.exp(b[it_])
    hit_p = np.bincount(wk, weights=expit(z), minlength=n_w)
    n_lab = np.bincount(wk, minlength=n_w)
    typical = expit(alpha * np.exp(prior_mean))
    acc = np.where(n_lab > 0, hit_p / np.maximum(n_lab, 1), typical)
    return Aggregate(
        method="glad",
        posteriors=post,
        worker_accuracy=acc,
        worker_params={"confusion": confusion_from_accuracy(typical, k), "skill": alpha, "easiness": np.exp(b)},
        iterations=it,
        converged=converged,
        class_prior=prior,
    )
