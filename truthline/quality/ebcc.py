"""Enhanced Bayesian classifier combination (EBCC; Li, Rubinstein & Cohn, ICML 2019), mean-field variational.

Each true class k is split into `subtypes` latent item subtypes m, and every worker has one confusion
row per (k, m). Items of one class that are hard in the same way (an entity most workers mislink, a
borderline document) then share a subtype whose rows say "workers often answer 1 here", instead of
being explained as a class of their own. That is what the per-worker models (DS, BCC, MACE) do on
crowds whose errors are correlated across workers, and it costs them 8 points on ZenCrowd US.

Priors as in the paper: confusion rows Dirichlet(a_v on the diagonal, b_v elsewhere), subtype shares
within a class Dirichlet(a_pi / M), class proportions Dirichlet with the majority-vote class counts
as pseudo-counts ("empirical prior"). Updates use E[log p] = digamma(a) - digamma(sum a).

The paper starts the subtype responsibilities at random and keeps the best of 40 restarts by ELBO;
here they start from each item's vote share for the class, spread over the subtypes by soft bins,
so the fit is deterministic and relabelling items or workers relabels the result (the accuracy on the
published sets is the same within a few items).
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
    normalize_rows,
    parse_known,
    row_sums,
    softmax_rows_f32,
    vote_counts,
)
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["fit", "predictive"]


def _initial_subtypes(share: np.ndarray, m: int) -> np.ndarray:
    """(n, K, M) start: item i's vote share for class k, spread over M subtypes by Gaussian soft bins of
    that share (an item all workers agree on starts in the top subtype, a contested one lower down)."""
    centres = (np.arange(m) + 0.5) / m
    z = np.exp(-0.5 * ((share[:, :, None] - centres[None, None, :]) * m) ** 2)
    z /= z.sum(axis=2, keepdims=True)
    return z * share[:, :, None]


def _clamp(zg: np.ndarray, known_idx: np.ndarray, known_cls: np.ndarray) -> None:
    """Gold items: all mass on the true class, keeping the subtype split the labels suggest."""
    if not len(known_idx):
        return
    rows = normalize_rows(zg[known_idx, known_cls])  # (n_known, M); no mass on the class: uniform
    zg[known_idx] = 0.0
    zg[known_idx, known_cls] = rows


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    subtypes: int = 10,
    a_pi: float = 0.1,
    a_v: float = 4.0,
    b_v: float = 1.0,
    max_iter: int = 500,
    tol: float = 1e-3,
) -> Aggregate:
    """Fit EBCC by variational Bayes.

    subtypes: latent item subtypes per class (M; 1 gives plain BCC with a fixed prior).
    a_pi: total Dirichlet mass of the subtype shares within a class (small: few subtypes used).
    a_v, b_v: Dirichlet pseudo-counts of a worker's confusion row on its diagonal and elsewhere.
    max_iter, tol: stop when no item posterior moves by more than `tol`.
    Extra output: worker_params["subtype_confusion"] (W, K, M, K) and "subtype_share" (K, M);
    item_params["subtypes"] (n_items, K, M), the posterior over (class, subtype) of each item.
    """
    for name, v, low in (("a_pi", a_pi, 0.0), ("a_v", a_v, 0.0), ("b_v", b_v, 0.0), ("tol", tol, 0.0)):
        if not np.isfinite(v) or v <= low:
            raise QualityInputError(f"{name}: must be a finite number > 0, got {v}", name)
    if int(subtypes) != subtypes or subtypes < 1:
        raise QualityInputError(f"subtypes: must be an integer >= 1, got {subtypes}", "subtypes")
    if max_iter < 1:
        raise QualityInputError(f"max_iter: must be >= 1, got {max_iter}", "max_iter")
    kn = parse_known(known, labels)
    k, m, n, w = labels.n_classes, int(subtypes), labels.n_items, labels.n_workers
    index = LabelIndex(labels)
    share = normalize_rows(vote_counts(labels), fallback=np.zeros(k))  # unlabelled items: all zero
    kn.clamp(share)
    alpha = col_sums(share) + 1.0  # empirical class prior (+1: defined on an empty crowd)
    zg = _initial_subtypes(share, m)
    _clamp(zg, kn.idx, kn.cls)
    beta = np.full((k, k), b_v) + np.eye(k) * (a_v - b_v)  # (true class, given label)
    post = share
    # E-step buffers reused across iterations (fresh arrays each step cost page faults)
    logz, flat_buf = np.empty((n, k * m)), np.empty((n, k * m))
    exp_buf = np.empty((n, k * m), dtype=np.float32)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        eta, nu, mu = _m_step(index, zg, alpha, beta, a_pi, w)
        e_log_pi = digamma(eta) - digamma(eta.sum(axis=1, keepdims=True))  # (K, M)
        e_log_tau = digamma(nu) - digamma(nu.sum())  # (K,)
        e_log_v = digamma(mu) - digamma(mu.sum(axis=3, keepdims=True))  # (W, K, M, L)
        table = e_log_v.transpose(0, 3, 1, 2).reshape(w * k, k * m)  # rows: worker*K + given label
        log_prior = (e_log_pi + e_log_tau[:, None]).ravel()
        flat, _ = softmax_rows_f32(index.sum_per_item(table, logz), log_prior, np.float64, flat_buf, exp_buf)
        zg = flat.reshape(n, k, m)
        _clamp(zg, kn.idx, kn.cls)
        prev, post = post, _class_posteriors(zg)
        if np.abs(post - prev).max(initial=0.0) <= tol:
            converged = True
            break
    zg = normalize_rows(zg.reshape(n, k * m)).reshape(n, k, m)  # rows summed to 1 in float32 until here
    post = check_finite(_class_posteriors(zg), "ebcc")
    eta, nu, mu = _m_step(index, zg, alpha, beta, a_pi, w)
    v = mu / mu.sum(axis=3, keepdims=True)  # (W, K, M, L) posterior mean confusion rows
    pi = eta / eta.sum(axis=1, keepdims=True)  # (K, M)
    conf = np.einsum("km,wkml->wkl", pi, v)  # a worker's confusion over a class's typical subtypes
    prior = nu / nu.sum()
    return Aggregate(
        method="ebcc",
        posteriors=post,
        worker_accuracy=accuracy_from_confusion(conf, prior),
        worker_params={"confusion": conf, "subtype_confusion": v, "subtype_share": pi},
        item_params={"subtypes": zg},
        iterations=it,
        converged=converged,
        class_prior=prior,
    )


def _class_posteriors(zg: np.ndarray) -> np.ndarray:
    """(n_items, K, M) posteriors over (class, subtype) -> (n_items, K), summed over subtypes."""
    n, k, m = zg.shape
    return row_sums(zg.reshape(n * k, m)).reshape(n, k)


def _m_step(
    index: LabelIndex, zg: np.ndarray, alpha: np.ndarray, beta: np.ndarray, a_pi: float, n_workers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variational Dirichlet parameters: subtype shares (K, M), class proportions (K,), confusion rows (W, K, M, L)."""
    n, k, m = zg.shape
    used = col_sums(zg.reshape(n, k * m)).reshape(k, m)
    eta = a_pi / m + used
    nu = alpha + used.sum(axis=1)
    counts = index.per_worker_label(zg.reshape(n, k * m)).reshape(n_workers, k, k, m)  # (W, L, K, M)
    mu = counts.transpose(0, 2, 3, 1) + beta[None, :, None, :]
    return eta, nu, mu


def predictive(agg: Aggregate, data: CrowdLabels) -> np.ndarray:
    """P(each label in `data` | an EBCC fit made without them): sum over (class, subtype) of the item's
    posterior times the worker's confusion row for it."""
    v = agg.worker_params["subtype_confusion"]
    zg = agg.item_params["subtypes"]
    return np.einsum("nkm,nkm->n", zg[data.items], v[data.workers, :, :, data.labels])
