"""Majority vote: each item's posterior is its vote shares; ties go to the lowest class index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._em import accuracy_from_confusion, check_finite, normalize_rows, parse_known, vote_counts, LabelIndex
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit"]


def fit(labels: CrowdLabels, known: Mapping[int, int] | None = None, **opts: Any) -> Aggregate:
    """Majority vote. Items with no labels get a uniform posterior; `known` items are clamped.

    `worker_accuracy` is each worker's smoothed agreement with the vote shares, and
    `worker_params["confusion"]` the matching soft confusion matrix.
    """
    if opts:
        raise QualityInputError(f"opts: majority vote takes no options, got {sorted(opts)}", "opts")
    kn = parse_known(known, labels)
    post = kn.clamp(normalize_rows(vote_counts(labels)))
    post = check_finite(post, "mv")
    confusion, prior = _confusion(labels, post)
    return Aggregate(
        method="mv",
        posteriors=post,
        worker_accuracy=accuracy_from_confusion(confusion, prior),
        worker_params={"confusion": confusion},
        iterations=1,
        converged=True,
        class_prior=prior,
    )


def _confusion(labels: CrowdLabels, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrices implied by fixed posteriors, with one pseudo-label per row toward the pooled matrix."""
    k = labels.n_classes
    counts = LabelIndex(labels).confusion_counts(post)
    pooled = counts.sum(axis=0) + 1.0 / k
    pooled /= pooled.sum(axis=1, keepdims=True)
    conf = counts + pooled[None]
    conf /= conf.sum(axis=2, keepdims=True)
    prior = post.sum(axis=0) + 1.0
    prior /= prior.sum()
    return conf, prior
