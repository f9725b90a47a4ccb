"""Bayesian classifier combination (Kim & Ghahramani 2012), mean-field variational, with a learned
hierarchical prior over workers.

Each worker's confusion rows are Dirichlet(alpha0[k]) draws; alpha0 (K x K, shared by all workers)
is learned by empirical Bayes (Minka's fixed point for the Dirichlet-multinomial), so the crowd
itself decides how strongly a worker with few labels is pulled toward the typical worker, and in
which direction. Class proportions get a Dirichlet prior too. Variational updates use
E[log pi] = digamma(alpha) - digamma(sum alpha).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import digamma

from ._em import (
    LabelIndex,
    accuracy_from_confusion,
    check_finite,
    col_sums,
    labelled_weights,
    diagonal_dominant,
    normalize_rows,
    parse_known,
    softmax_rows_f32,
    vote_counts,
)
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit", "fit_dirichlet_prior"]

_SLOW = 100.0  # the posterior-change rule applies once the bound moves by less than this many `tol`s


def fit_dirichlet_prior(counts: np.ndarray, alpha0: np.ndarray, steps: int = 5) -> np.ndarray:
    """Empirical-Bayes update of the shared Dirichlet prior of confusion rows.

    counts: (W, K, K) soft counts; alpha0: (K, K) current prior. Minka's fixed-point iteration for
    the Dirichlet-multinomial likelihood, row by row; workers without labels in a row do not count.
    Each row's mode is kept on the diagonal (see `diagonal_dominant`).
    """
    a = alpha0.copy()
    row_n = counts.sum(axis=2)  # (W, K)
    for _ in range(steps):
        a_sum = a.sum(axis=1)  # (K,)
        num = (digamma(counts + a[None]) - digamma(a)[None]).sum(axis=0)  # (K, K)
        den = (digamma(row_n + a_sum[None]) - digamma(a_sum)[None]).sum(axis=0)  # (K,)
        ok = den > 1e-12
        new = np.where(ok[:, None], a * num / np.where(ok, den, 1.0)[:, None], a)
        a = diagonal_dominant(np.clip(np.nan_to_num(new, nan=0.01), 0.01, 1e4))
    return a


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-5,
    prior_strength: float = 4.0,
    learn_prior: bool = True,
    class_prior_strength: float = 1.0,
    post_tol: float = 3e-4,
) -> Aggregate:
    """Fit variational BCC.

    prior_strength: initial pseudo-labels per confusion row (spread like the majority-vote pooled
        confusion); with `learn_prior` the shared prior is then re-estimated every iteration.
    class_prior_strength: Dirichlet pseudo-count per class of the class proportions.
    max_iter, tol: stop when the log-evidence bound proxy changes by less than `tol` per label, or
        (post_tol) when item posteriors move by less than `post_tol` per item on average (L1) while the
        bound changes by less than 100 `tol` per label. The second rule is for crowds whose workers look
        alike: there the shared prior's precision creeps up every iteration (Minka's fixed point
        towards a very large or infinite optimum) and moves the bound long after the answers have
        settled; following it to the cap costs time and, pulling every worker toward the typical one,
        some accuracy.
    Extra output: worker_params["prior"] (the learned K x K shared Dirichlet prior).
    """
    if not np.isfinite(prior_strength) or prior_strength <= 0:
        raise QualityInputError(f"prior_strength: must be a finite number > 0, got {prior_strength}", "prior_strength")
    if not np.isfinite(class_prior_strength) or class_prior_strength <= 0:
        raise QualityInputError(
            f"class_prior_strength: must be a finite number > 0, got {class_prior_strength}", "class_prior_strength"
        )
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    if not post_tol >= 0:  # also refuses NaN
        raise QualityInputError(f"post_tol: must be a number >= 0, got {post_tol}", "post_tol")
    kn = parse_known(known, labels)
    k = labels.n_classes
    index = LabelIndex(labels)
    counts = vote_counts(labels)
    labelled = labelled_weights(counts)
    post = kn.clamp(normalize_rows(counts))

    n_wkl = index.confusion_counts(post)
    pooled = n_wkl.sum(axis=0) + 1.0 / k
    pooled /= pooled.sum(axis=1, keepdims=True)
    alpha0 = prior_strength * pooled
    # E-step buffers reused across iterations (fresh arrays each step cost page faults)
    logp = np.empty((labels.n_items, k))
    # two posterior buffers, alternating, so the previous iteration's posteriors stay readable
    post_bufs, exp_buf = (np.empty_like(logp), np.empty_like(logp)), np.empty(logp.shape, dtype=np.float32)
    n_labelled = max(1, labels.n_items if labelled is None else int(labelled.sum()))
    prev_ll = -np.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        if learn_prior and labels.n_labels:
            alpha0 = fit_dirichlet_prior(n_wkl, alpha0)
        a = n_wkl + alpha0[None]
        e_log_conf = digamma(a) - digamma(a.sum(axis=2, keepdims=True))
        rho = col_sums(post, labelled) + class_prior_strength
        e_log_rho = digamma(rho) - digamma(rho.sum())
        index.log_evidence(e_log_conf, logp)
        prev_post = post
        post, lse = softmax_rows_f32(logp, e_log_rho, np.float64, post_bufs[it % 2], exp_buf)
        kn.clamp(post)
        n_wkl = index.confusion_counts(post)
        ll = float(lse.sum())
        if abs(ll - prev_ll) <= tol * max(1, labels.n_labels):
            converged = True
            break
        # the mean is over items with labels (a project's unlabelled items would dilute it); where the
        # bound still moves fast the confusions are still sharpening, even on posteriors that have settled
        slow = abs(ll - prev_ll) <= _SLOW * tol * max(1, labels.n_labels)
        if it > 1 and slow and float(np.abs(post - prev_post).sum()) <= post_tol * n_labelled:
            converged = True
            break
        prev_ll = ll
    post = check_finite(normalize_rows(post), "bcc")  # rows summed to 1 in float32 until here
    a = n_wkl + alpha0[None]
    conf = a / a.sum(axis=2, keepdims=True)
    rho = col_sums(post, labelled) + class_prior_strength
    prior = rho / rho.sum()
    return Aggregate(
        method="bcc",
        posteriors=post,
        worker_accuracy=accuracy_from_confusion(conf, prior),
        worker_params={"confusion": conf, "prior": alpha0},
        iterations=it,
        converged=converged,
        class_prior=prior,
    )
