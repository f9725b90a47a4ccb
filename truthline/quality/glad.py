"""GLAD (Whitehill et al. 2009): worker ability times item easiness.

P(worker w labels item i correctly) = sigmoid(alpha_w * exp(b_i)); wrong labels are spread evenly
over the other classes. Gaussian priors N(1, 1) on alpha and on the log-easiness b (as in the paper
and crowd-kit). Instead of EM with an inner optimizer, L-BFGS maximizes the marginal posterior of
(alpha, b) directly: each evaluation is one exact E-step, and by Fisher's identity the gradient is
the EM gradient at the current item posteriors. Everything is `np.bincount` over the labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._em import check_finite, confusion_from_accuracy, normalize_rows, parse_known, softmax_rows_ll
from . import one_coin
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit"]


def _softplus_parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log(1 + exp(-|z|)), sigmoid(z)), stable for any z, with one exp and one log1p.

    Computed in float32 (the per-label hot spot; relative error ~1e-7, far below the optimizer's
    tolerance); callers sum the results in float64.
    """
    z32 = z.astype(np.float32)
    e = np.exp(-np.minimum(np.abs(z32), np.float32(80.0)))  # no underflow (slow, and below float32 range)
    s = np.where(z32 >= 0, np.float32(1.0), e)
    s /= np.float32(1.0) + e
    return np.log1p(e), s


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    max_iter: int = 150,
    tol: float = 1e-7,
    prior_mean: float = 1.0,
    class_prior: np.ndarray | None = None,
    warm_start: bool = True,
) -> Aggregate:
    """Fit GLAD.

    max_iter: L-BFGS iterations; tol: relative change of the objective at which it stops.
    prior_mean: mean of the N(mean, 1) priors on abilities and log-easiness.
    class_prior: fixed class frequencies (default: uniform, as in crowd-kit).
    warm_start: start abilities from a one-coin fit (fewer iterations; same optimum in practice).
    Extra outputs: worker_params["skill"] (alpha) and ["easiness"] (exp b, per item).
    """
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    kn = parse_known(known, labels)
    k = labels.n_classes
    n_w, n_i = labels.n_workers, labels.n_items
    it_, wk, lb = labels.items, labels.workers, labels.labels
    cells = it_ * k + lb
    log_km1 = np.log(k - 1)
    if class_prior is None:
        prior = np.full(k, 1.0 / k)
    else:
        prior = normalize_rows(np.asarray(class_prior, dtype=np.float64).reshape(1, k))[0]
    log_prior = np.log(np.maximum(prior, 1e-300))

    def e_step(a: np.ndarray, bb: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
        ebl = np.exp(bb)[it_]
        z = a[wk] * ebl
        l1, sig = _softplus_parts(z)
        # log P(label | class) is log sigmoid(z) if the label is the class, else log sigmoid(-z) - log(K-1);
        # their difference is z + log(K-1), and sum(log sigmoid(-z)) = -sum(max(z, 0) + l1).
        logp = np.bincount(cells, weights=z + log_km1, minlength=n_i * k).astype(np.float64).reshape(n_i, k)
        logp += log_prior
        post, lse = softmax_rows_ll(logp)
        if kn:
            lse[kn.idx] = logp[kn.idx, kn.cls]
            kn.clamp(post)
        ll = float(lse.sum() - np.maximum(z, 0.0).sum() - l1.sum(dtype=np.float64)) - len(z) * log_km1
        return post, ll, sig, ebl, z

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        a, bb = x[:n_w], x[n_w:]
        post, ll, sig, ebl, z = e_step(a, bb)
        ll -= 0.5 * float(np.sum((a - prior_mean) ** 2) + np.sum((bb - prior_mean) ** 2))
        r = post.ravel()[cells] - sig  # P(label is right) - P(model says right)
        ga = np.bincount(wk, weights=r * ebl, minlength=n_w) - (a - prior_mean)
        gb = np.bincount(it_, weights=r * z, minlength=n_i) - (bb - prior_mean)
        return -ll, -np.concatenate([ga, gb])

    x0 = np.full(n_w + n_i, prior_mean)
    if warm_start and labels.n_labels:
        # abilities from a one-coin fit: sigmoid(alpha * e^b) = accuracy at the prior easiness
        acc = np.clip(one_coin.fit(labels, known, max_iter=20).worker_accuracy, 0.02, 0.98)
        x0[:n_w] = np.log(acc / (1.0 - acc)) / np.exp(prior_mean)
    from scipy.optimize import minimize  # lazy: scipy.optimize costs ~0.2 s at import

    res = minimize(
        objective, x0, jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-6 * max(1, labels.n_labels)},
    )
    x = np.clip(res.x, -30.0, 30.0)
    alpha, b = x[:n_w], x[n_w:]
    post, _, sig, _, _ = e_step(alpha, b)
    post = check_finite(post, "glad")
    typical = 1.0 / (1.0 + np.exp(-np.clip(alpha * np.exp(prior_mean), -500, 500)))
    hit_p = np.bincount(wk, weights=sig.astype(np.float64), minlength=n_w).astype(np.float64)
    n_lab = np.bincount(wk, minlength=n_w)
    acc = np.where(n_lab > 0, hit_p / np.maximum(n_lab, 1), typical)
    return Aggregate(
        method="glad",
        posteriors=post,
        worker_accuracy=acc,
        worker_params={"confusion": confusion_from_accuracy(typical, k), "skill": alpha, "easiness": np.exp(b)},
        iterations=int(res.nit),
        converged=bool(res.success),
        class_prior=prior,
    )
