"""Dawid-Skene (1979): one full confusion matrix per worker, fitted by EM from a majority-vote start.

Each confusion row gets a Dirichlet prior of `smoothing` pseudo-labels spread like the pooled
confusion matrix of all workers (empirical Bayes), so a worker seen on three items is pulled toward
the typical worker instead of being fitted to noise. `smoothing=0` gives classic maximum likelihood
(what crowd-kit's DawidSkene computes).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._em import (
    LabelIndex,
    accuracy_from_confusion,
    diagonal_dominant,
    check_finite,
    col_sums,
    normalize_rows,
    row_sums,
    parse_known,
    safe_log,
    softmax_rows_f32,
    vote_counts,
)
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit", "m_step"]


def m_step(
    index: LabelIndex, post: np.ndarray, labelled: np.ndarray, smoothing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed confusion matrices (W, K_true, K_label) and class prior, given item posteriors."""
    counts = index.confusion_counts(post)
    pooled = diagonal_dominant(counts.sum(axis=0) + 0.01)
    pooled /= pooled.sum(axis=1, keepdims=True)
    conf = counts + (smoothing * pooled + 1e-9)[None]
    conf /= conf.sum(axis=2, keepdims=True)
    prior = col_sums(post, labelled) + 1.0
    prior /= prior.sum()
    return conf, prior


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    smoothing: float = 0.1,
    max_iter: int = 100,
    tol: float = 1e-5,
    init: np.ndarray | None = None,
) -> Aggregate:
    """Fit Dawid-Skene by EM.

    smoothing: Dirichlet pseudo-labels per confusion row (>= 0), spread like the pooled confusion.
    max_iter, tol: stop when the log-likelihood changes by less than `tol` per label.
    init: optional (n_items, K) starting posteriors (default: majority-vote shares).
    """
    if not np.isfinite(smoothing) or smoothing < 0:
        raise QualityInputError(f"smoothing: must be a finite number >= 0, got {smoothing}", "smoothing")
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    kn = parse_known(known, labels)
    index = LabelIndex(labels)
    k = labels.n_classes
    counts = vote_counts(labels)
    labelled = (row_sums(counts) > 0).astype(np.float64)
    if init is None:
        post = normalize_rows(counts)
    else:
        post = normalize_rows(np.asarray(init, dtype=np.float64).reshape(labels.n_items, k))
    kn.clamp(post)

    prev_ll = -np.inf
    converged = False
    it = 0
    conf, prior = m_step(index, post, labelled, smoothing)
    for it in range(1, max_iter + 1):
        # float32 posteriors inside the loop (see softmax_rows_f32); renormalized in float64 below
        post, lse = softmax_rows_f32(index.log_evidence(safe_log(conf)), safe_log(prior))
        kn.clamp(post)
        conf, prior = m_step(index, post, labelled, smoothing)
        ll = float(lse.sum())
        if abs(ll - prev_ll) <= tol * max(1, labels.n_labels):
            converged = True
            break
        prev_ll = ll
    post = check_finite(normalize_rows(post), "ds")
    return Aggregate(
        method="ds",
        posteriors=post,
        worker_accuracy=accuracy_from_confusion(conf, prior),
        worker_params={"confusion": conf},
        iterations=it,
        converged=converged,
        class_prior=prior,
    )
