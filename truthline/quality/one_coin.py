"""One-coin Dawid-Skene: one accuracy per worker, errors spread evenly over the other classes.

EM from a majority-vote start. Each accuracy has a Beta prior of `smoothing` pseudo-labels centred on
the pooled accuracy of all workers, so a worker with three labels is not declared perfect.

`shared=True` gives every worker the one pooled accuracy: majority vote's implicit model ("all workers
are equally good"), with a likelihood, a class prior and a confidence, so `auto` can weigh it against
the per-worker models. It wins where per-worker accuracies cannot be told apart (few labels per worker).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._em import (
    LabelIndex,
    check_finite,
    col_sums,
    labelled_weights,
    confusion_from_accuracy,
    normalize_rows,
    parse_known,
    safe_log,
    softmax_rows_f32,
    vote_counts,
)
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit", "accuracy_m_step"]

_EPS = 1e-6
# The pooled accuracy's Beta prior: this many pseudo-labels, halfway between chance and always right. With
# one label per item the data cannot tell accuracy from class shares, and the old prior (centred on 1/2)
# pulled a two-class crowd's accuracy to chance, where the class prior outvoted the only label.
POOLED_PRIOR_LABELS = 2.0


def accuracy_m_step(
    index: LabelIndex, post: np.ndarray, n_w: np.ndarray, smoothing: float, shared: bool = False
) -> tuple[np.ndarray, float]:
    """Smoothed per-worker accuracy from item posteriors, and the pooled accuracy it shrinks toward
    (with `shared`, every worker gets the pooled accuracy). The pooled accuracy stays above chance: below
    it the crowd as a whole would be answering against the truth, the mirror image of the same fit."""
    num = index.label_hits(post).sum(axis=1)  # expected correct labels per worker
    chance = 1.0 / post.shape[1]
    pooled = (num.sum() + POOLED_PRIOR_LABELS * (1.0 + chance) / 2) / (n_w.sum() + POOLED_PRIOR_LABELS)
    pooled = max(pooled, chance + _EPS)
    if shared:
        return np.full(len(n_w), np.clip(pooled, _EPS, 1.0 - _EPS)), float(pooled)
    acc = (num + smoothing * pooled) / (n_w + smoothing) if smoothing > 0 else num / np.maximum(n_w, 1.0)
    acc = np.where(n_w + smoothing > 0, acc, pooled)
    return np.clip(acc, _EPS, 1.0 - _EPS), float(pooled)


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    smoothing: float = 2.0,
    max_iter: int = 100,
    tol: float = 1e-5,
    init: np.ndarray | None = None,
    shared: bool = False,
) -> Aggregate:
    """Fit one-coin Dawid-Skene by EM.

    smoothing: Beta pseudo-labels per worker accuracy (>= 0), centred on the pooled accuracy.
    max_iter, tol: stop when the log-likelihood changes by less than `tol` per label.
    init: optional (n_items, K) starting posteriors (default: majority-vote shares).
    shared: one accuracy for all workers (`smoothing` then plays no part).
    """
    if not np.isfinite(smoothing) or smoothing < 0:
        raise QualityInputError(f"smoothing: must be a finite number >= 0, got {smoothing}", "smoothing")
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    kn = parse_known(known, labels)
    k = labels.n_classes
    counts = vote_counts(labels)
    labelled = labelled_weights(counts)
    post = normalize_rows(counts if init is None else np.asarray(init, dtype=np.float64).reshape(labels.n_items, k))
    kn.clamp(post)
    index = LabelIndex(labels)
    n_w = np.bincount(labels.workers, minlength=labels.n_workers).astype(np.float64)

    acc, _ = accuracy_m_step(index, post, n_w, smoothing, shared)
    prior = _class_prior(post, labelled)
    # E-step buffers reused across iterations (fresh arrays each step cost page faults)
    logp = np.empty((labels.n_items, k))
    post_buf, exp_buf = np.empty_like(logp), np.empty(logp.shape, dtype=np.float32)
    prev_ll = -np.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        index.log_evidence_diagonal(*_log_rows(acc, k), logp)
        post, lse = softmax_rows_f32(logp, safe_log(prior), np.float64, post_buf, exp_buf)
        kn.clamp(post)
        ll = float(lse.sum())
        acc, _ = accuracy_m_step(index, post, n_w, smoothing, shared)
        prior = _class_prior(post, labelled)
        if abs(ll - prev_ll) <= tol * max(1, labels.n_labels):
            converged = True
            break
        prev_ll = ll
    post = check_finite(normalize_rows(post), "one_coin")  # rows summed to 1 in float32 until here
    return Aggregate(
        method="one_coin",
        posteriors=post,
        worker_accuracy=acc,
        worker_params={"confusion": confusion_from_accuracy(acc, k), "skill": acc},
        iterations=it,
        converged=converged,
        class_prior=prior,
    )


def _log_rows(acc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(W, K) log P(given l | true l) and log P(given l | another class): the one-coin confusion's two values."""
    hit = np.repeat(np.log(acc)[:, None], k, axis=1)
    miss = np.repeat(np.log((1.0 - acc) / (k - 1))[:, None], k, axis=1)
    return hit, miss


def _class_prior(post: np.ndarray, labelled: np.ndarray | None) -> np.ndarray:
    prior = col_sums(post, labelled) + 1.0
    return prior / prior.sum()
