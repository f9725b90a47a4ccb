"""Dawid-Skene (1979): one full confusion matrix per worker, fitted by EM from a majority-vote start.

Each confusion row gets a Dirichlet prior of `smoothing` pseudo-labels per wrong answer it allows
(smoothing x (classes - 1) per row), spread like the pooled confusion matrix of all workers (empirical
Bayes), so a worker seen on three items is pulled toward the typical worker instead of being fitted to
noise. Counting per wrong answer keeps the prior's weight on each off-diagonal cell the same at any
number of classes: with a fixed amount per row, a 300-class row's cells got 1e-4 pseudo-labels each, one
observed slip made that slip the worker's habit, and DS fell from majority vote's 0.81 to 0.65 (0.81
now). Two classes get 0.1 per row either way. The pooled matrix holds one more pseudo-label per row,
spread as the crowd's overall accuracy says (`typical_rows`), for classes no item is believed to be.
`smoothing=0` gives classic maximum likelihood (what crowd-kit's DawidSkene computes).
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
    labelled_weights,
    normalize_rows,
    parse_known,
    safe_log,
    softmax_rows_f32,
    vote_counts,
)
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit", "m_step"]


def m_step(
    index: LabelIndex, post: np.ndarray, labelled: np.ndarray | None, smoothing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed confusion matrices (W, K_true, K_label) and class prior, given item posteriors."""
    conf, prior, _ = _m_step(index, post, labelled, smoothing)
    return conf, prior


def _m_step(
    index: LabelIndex, post: np.ndarray, labelled: np.ndarray | None, smoothing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`m_step`, and the (K, K) pseudo-labels each worker's confusion rows were given."""
    counts = index.confusion_counts(post)
    k = counts.shape[1]
    pooled = diagonal_dominant(counts.sum(axis=0) + typical_rows(counts))
    pooled /= pooled.sum(axis=1, keepdims=True)
    pseudo = smoothing * max(k - 1, 1) * pooled + 1e-9
    conf = counts + pseudo[None]
    conf /= conf.sum(axis=2, keepdims=True)
    prior = col_sums(post, labelled) + 1.0
    prior /= prior.sum()
    return conf, prior, pseudo


def _log_prior(conf: np.ndarray, prior: np.ndarray, pseudo: np.ndarray) -> float:
    """Log density (up to a constant) of the Dirichlet priors the M-step's smoothing stands for: what EM
    with smoothing climbs is the likelihood plus this, not the likelihood alone."""
    return float(np.einsum("kl,wkl->", pseudo, safe_log(conf))) + float(safe_log(prior).sum())


def typical_rows(counts: np.ndarray) -> np.ndarray:
    """One pseudo-label per true class, spread like the average worker: right with the crowd's overall
    accuracy, wrong evenly otherwise. A class no item is believed to be has no evidence of its own; a
    flat row there let EM explain every label by it too (a unanimous crowd: confidence 0.5, workers 49%
    accurate), where the crowd's workers say it would be answered like the others."""
    pooled = counts.sum(axis=0)
    k = pooled.shape[0]
    accuracy = (np.trace(pooled) + 1.0) / (pooled.sum() + k)
    rows = np.full((k, k), (1.0 - accuracy) / max(k - 1, 1))
    np.fill_diagonal(rows, accuracy)
    return rows


def _extrapolate(
    confs: tuple[np.ndarray, np.ndarray, np.ndarray], priors: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """SQUAREM step (scheme S3) from parameters x0 -> x1 -> x2 of two EM steps, projected back onto
    the simplex (rows clipped at 1e-12 and renormalized)."""
    r = [a1 - a0 for a0, a1, _ in (confs, priors)]
    v = [a2 - 2.0 * a1 + a0 for a0, a1, a2 in (confs, priors)]
    rr = sum(float(np.square(x).sum()) for x in r)
    vv = sum(float(np.square(x).sum()) for x in v)
    alpha = min(-np.sqrt(rr / vv), -1.0) if vv > 0 else -1.0
    out = []
    for x0, rx, vx in zip((confs[0], priors[0]), r, v):
        x = np.maximum(x0 - 2.0 * alpha * rx + alpha * alpha * vx, 1e-12)
        out.append(x / x.sum(axis=-1, keepdims=True))
    return out[0], out[1]


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    smoothing: float = 0.1,
    max_iter: int = 100,
    tol: float = 1e-5,
    init: np.ndarray | None = None,
    accelerate: bool = True,
) -> Aggregate:
    """Fit Dawid-Skene by EM.

    smoothing: Dirichlet pseudo-labels per wrong answer a confusion row allows (>= 0; a row gets
        smoothing x (classes - 1)), spread like the pooled confusion.
    max_iter, tol: stop when the log-likelihood changes by less than `tol` per label.
    init: optional (n_items, K) starting posteriors (default: majority-vote shares).
    accelerate: SQUAREM extrapolation between EM steps (same fixed point in fewer steps);
        `iterations` counts EM steps either way.
    """
    if not np.isfinite(smoothing) or smoothing < 0:
        raise QualityInputError(f"smoothing: must be a finite number >= 0, got {smoothing}", "smoothing")
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    kn = parse_known(known, labels)
    index = LabelIndex(labels)
    k = labels.n_classes
    counts = vote_counts(labels)
    labelled = labelled_weights(counts)
    if init is None:
        post = normalize_rows(counts)
    else:
        post = normalize_rows(np.asarray(init, dtype=np.float64).reshape(labels.n_items, k))
    kn.clamp(post)

    n_tol = tol * max(1, labels.n_labels)
    it = 0
    # buffers reused across steps (fresh arrays each step cost page faults): the log-evidence, the
    # float32 exponentials, and three posterior arrays in turn (a SQUAREM cycle may keep the last but one)
    shape = (labels.n_items, k)
    logp_buf, exp_buf = np.empty(shape), np.empty(shape, dtype=np.float32)
    post_bufs = [np.empty(shape) for _ in range(3 if accelerate else 1)]

    pseudo = np.zeros((k, k))

    def em_step(c: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """One EM step from (confusion, prior): the next ones, the posteriors, the log-likelihood at (c, p);
        the M-step's pseudo-labels are left in `pseudo`."""
        nonlocal it, pseudo
        it += 1
        # float32 exponentials (see softmax_rows_f32); rows renormalized exactly once, below
        t, lse = softmax_rows_f32(
            index.log_evidence(safe_log(c), logp_buf), safe_log(p), np.float64, post_bufs[it % len(post_bufs)], exp_buf
        )
        kn.clamp(t)
        c_next, p_next, pseudo = _m_step(index, t, labelled, smoothing)
        return c_next, p_next, t, float(lse.sum())

    conf, prior = m_step(index, post, labelled, smoothing)
    prev_ll = -np.inf
    converged = False
    while it < max_iter and not converged:
        c1, p1, post, ll0 = em_step(conf, prior)
        converged = abs(ll0 - prev_ll) <= n_tol
        if converged or not accelerate or it >= max_iter:
            conf, prior, prev_ll = c1, p1, ll0
            continue
        # SQUAREM (Varadhan & Roland 2008): a second EM step, an extrapolation along the two, and an EM
        # step from there, kept only if it does not lower the objective: same fixed point, fewer steps.
        # The objective includes the smoothing's prior: by likelihood alone a unanimous crowd explained
        # with the classes swapped is as good, and the extrapolation leapt there (500 items labelled 0
        # by everyone, answered 1 at 0.98)
        c2, p2, post2, ll1 = em_step(c1, p1)
        converged = abs(ll1 - ll0) <= n_tol
        if not converged and it < max_iter:
            ce, pe = _extrapolate((conf, c1, c2), (prior, p1, p2))
            held = pseudo
            c3, p3, post3, lle = em_step(ce, pe)
            if lle + _log_prior(ce, pe, held) >= ll1 + _log_prior(c1, p1, held):
                conf, prior, post, prev_ll = c3, p3, post3, lle
                continue
        conf, prior, post, prev_ll = c2, p2, post2, ll1
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
