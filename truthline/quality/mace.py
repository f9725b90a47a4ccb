"""MACE (Hovy et al. 2013): each worker either knows the answer or spams from a personal label distribution.

P(label l | true class k, worker w) = theta_w [l == k] + (1 - theta_w) xi_w[l].
Fitted by EM with priors (a Beta prior on theta and a Dirichlet prior on xi, as MAP pseudo-counts),
from a majority-vote start.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._em import (
    LabelIndex,
    check_finite,
    col_sums,
    labelled_weights,
    normalize_rows,
    parse_known,
    safe_log,
    softmax_rows_f32,
    vote_counts,
)
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit"]


def _confusion(theta: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """(W, K, K): spam draws in every row, plus theta on the diagonal; built in place (W x K^2 can be
    hundreds of MB)."""
    w, k = xi.shape
    conf = np.empty((w, k, k))
    conf[...] = ((1.0 - theta)[:, None] * xi)[:, None, :]
    ar = np.arange(k)
    conf[:, ar, ar] += theta[:, None]
    return conf


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    theta_prior: tuple[float, float] = (2.0, 1.0),
    xi_prior: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-5,
) -> Aggregate:
    """Fit MACE by EM.

    theta_prior: Beta pseudo-counts (knows, spams) for each worker's non-spamming probability.
    xi_prior: Dirichlet pseudo-count per class of each worker's spamming distribution.
    max_iter, tol: stop when the log-likelihood changes by less than `tol` per label.
    """
    a, b = (float(x) for x in theta_prior)
    if not (a >= 0 and b >= 0 and np.isfinite(a) and np.isfinite(b)):
        raise QualityInputError(f"theta_prior: expected two numbers >= 0, got {theta_prior}", "theta_prior")
    if not np.isfinite(xi_prior) or xi_prior < 0:
        raise QualityInputError(f"xi_prior: must be a finite number >= 0, got {xi_prior}", "xi_prior")
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    kn = parse_known(known, labels)
    k = labels.n_classes
    w_count = labels.n_workers
    index = LabelIndex(labels)
    counts = vote_counts(labels)
    labelled = labelled_weights(counts)
    post = kn.clamp(normalize_rows(counts))
    n_w = np.bincount(labels.workers, minlength=w_count).astype(np.float64)
    n_wl = np.bincount(index.worker_label, minlength=w_count * k).reshape(w_count, k).astype(np.float64)

    theta = np.full(w_count, 0.8)
    xi = np.full((w_count, k), 1.0 / k)
    prior = np.full(k, 1.0 / k)
    # E-step buffers reused across iterations (fresh arrays each step cost page faults)
    logp = np.empty((labels.n_items, k))
    post_buf, exp_buf = np.empty_like(logp), np.empty(logp.shape, dtype=np.float32)
    prev_ll = -np.inf
    converged = False
    it = 0
    for it in range(0, max_iter + 1):
        if it > 0:
            spam = (1.0 - theta)[:, None] * xi  # P(given l | true c) for c != l; + theta where c == l
            index.log_evidence_diagonal(safe_log(spam + theta[:, None]), safe_log(spam), logp)
            post, lse = softmax_rows_f32(logp, safe_log(prior), np.float64, post_buf, exp_buf)
            kn.clamp(post)
            ll = float(lse.sum())
        # M-step: expected "knew it" and "spammed label l" counts per (worker, label); only the soft
        # counts S[w, l] = sum of P(true class == l) over w's labels l are needed (diagonal of DS counts).
        hit = index.label_hits(post)  # (W, K)
        share = theta[:, None] / np.maximum(theta[:, None] + (1.0 - theta[:, None]) * xi, 1e-300)
        knew = hit * share
        theta = (knew.sum(axis=1) + a) / np.maximum(n_w + a + b, 1e-12)
        theta = np.clip(theta, 1e-6, 1 - 1e-6)
        xi = normalize_rows(n_wl - knew + xi_prior + 1e-9)
        prior = col_sums(post, labelled) + 1.0
        prior /= prior.sum()
        if it > 0:
            if abs(ll - prev_ll) <= tol * max(1, labels.n_labels):
                converged = True
                break
            prev_ll = ll
    post = check_finite(normalize_rows(post), "mace")  # rows summed to 1 in float32 until here
    conf = _confusion(theta, xi)
    acc = np.clip(theta + (1.0 - theta) * (xi @ prior), 0.0, 1.0)
    return Aggregate(
        method="mace",
        posteriors=post,
        worker_accuracy=acc,
        worker_params={"confusion": conf, "competence": theta, "spam_distribution": xi},
        iterations=it,
        converged=converged,
        class_prior=prior,
    )
