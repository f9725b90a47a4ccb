"""Weighted majority vote: workers weighted by their agreement with the (iterated) consensus.

Start from plain majority vote; each round, a worker's weight is the log-odds of its smoothed
agreement rate with the current consensus (leaving its own vote out), and the consensus is
recomputed as the weighted vote shares. Stops when the answers no longer change.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._em import check_finite, confusion_from_accuracy, normalize_rows, parse_known, vote_counts
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit"]


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    max_iter: int = 10,
    smoothing: float = 2.0,
) -> Aggregate:
    """Weighted majority vote.

    max_iter: rounds of re-weighting (1 = Wawa-style: weights from agreement with plain majority).
    smoothing: pseudo-votes pulling each worker's agreement rate toward the pooled rate.
    Posteriors are the weighted vote shares (weights are kept positive, floored at 1e-3).
    """
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    if not np.isfinite(smoothing) or smoothing < 0:
        raise QualityInputError(f"smoothing: must be a finite number >= 0, got {smoothing}", "smoothing")
    kn = parse_known(known, labels)
    k = labels.n_classes
    counts = vote_counts(labels)
    post = kn.clamp(normalize_rows(counts))
    den = np.bincount(labels.workers, minlength=labels.n_workers).astype(np.float64)
    acc = np.full(labels.n_workers, 1.0 / k)
    answers = post.argmax(axis=1)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        hit = (answers[labels.items] == labels.labels).astype(np.float64)
        pooled = (hit.sum() + 1.0) / (len(hit) + 2.0)
        num = np.bincount(labels.workers, weights=hit, minlength=labels.n_workers).astype(np.float64)
        acc = np.clip((num + smoothing * pooled) / np.maximum(den + smoothing, 1e-12), 1e-3, 1 - 1e-3)
        weight = np.maximum(np.log(acc * (k - 1) / (1 - acc)), 1e-3)
        post = kn.clamp(normalize_rows(vote_counts(labels, weight[labels.workers])))
        new = post.argmax(axis=1)
        if np.array_equal(new, answers):
            converged = True
            break
        answers = new
    post = check_finite(post, "wmv")
    return Aggregate(
        method="wmv",
        posteriors=post,
        worker_accuracy=acc,
        worker_params={"confusion": confusion_from_accuracy(acc, k), "weight": np.log(acc * (k - 1) / (1 - acc))},
        iterations=it,
        converged=converged,
    )
