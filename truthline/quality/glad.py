"""GLAD (Whitehill et al. 2009): worker ability times item easiness.

P(worker w labels item i correctly) = sigmoid(alpha_w * exp(b_i)); wrong labels are spread evenly
over the other classes. Gaussian priors N(1, 1) on alpha and on the log-easiness b (as in the paper
and crowd-kit). Instead of EM with an inner optimizer, L-BFGS maximizes the marginal posterior of
(alpha, b) directly: each evaluation is one exact E-step, and by Fisher's identity the gradient is
the EM gradient at the current item posteriors. Everything is `np.bincount` over the labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ._em import (
    Known, check_finite, confusion_from_accuracy, lbfgsb_converged, normalize_rows, one_blas_thread, parse_known,
)
from . import one_coin
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

__all__ = ["fit"]

F32 = np.float32


def _softmax_columns(logp: np.ndarray, post: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 of a (K, n) float64 array into float32 `post`; returns each column's logsumexp.

    Classes along axis 0 keep every pass one long contiguous loop (NumPy is slow on a short last
    axis). Exponentials are in float32 after subtracting the float64 maximum, as in `softmax_rows_f32`.
    """
    m = logp.max(axis=0)
    np.subtract(logp, m, out=scratch, casting="same_kind")
    np.maximum(scratch, F32(-80.0), out=scratch)  # exp is slow on inputs that underflow
    np.exp(scratch, out=post)
    s = post.sum(axis=0)
    post *= np.reciprocal(s)
    return np.log(s).astype(np.float64) + m


class _Posterior:
    """Negative log marginal posterior of (alpha, b) and its gradient.

    Labels are sorted by item once, so per-item work (easiness per label, sums per item and class)
    reads and writes memory in order. The per-label hot path runs in float32 (relative error ~1e-7,
    far below the optimizer's tolerance) in buffers allocated once: fresh multi-MB temporaries would
    be page-faulted in on every evaluation. Sums that reach the objective are taken in float64.
    """

    def __init__(self, labels: CrowdLabels, log_prior: np.ndarray, prior_mean: float, kn: Known) -> None:
        k, n_i = labels.n_classes, labels.n_items
        it_, wk, lb = labels.items, labels.workers, labels.labels
        if len(it_) > 1 and np.any(it_[1:] < it_[:-1]):
            order = np.argsort(it_, kind="stable")
            it_, wk, lb = it_[order], wk[order], lb[order]
        self.n_w, self.n_i, self.k = labels.n_workers, n_i, k
        self.items, self.workers = it_, wk
        self.cells = lb * n_i + it_  # (class, item) cells of a (K, n_items) table
        self.per_item = np.bincount(it_, minlength=n_i)
        self.log_km1 = float(np.log(k - 1))
        # log P(label | class) is log sigmoid(z) if the label is the class, else log sigmoid(-z) - log(K-1):
        # per item and class, the sum of z + log(K-1) over the labels naming the class, plus terms shared by all classes
        counts = np.bincount(self.cells, minlength=k * n_i).reshape(k, n_i)
        self.base = counts * self.log_km1 + np.asarray(log_prior, dtype=np.float64)[:, None]
        self.prior_mean = prior_mean
        self.kn = kn
        n = len(it_)
        self.z, self.ebl, self.work, self.sig, self.tmp = (np.empty(n, F32) for _ in range(5))
        self.post = np.empty((k, n_i), F32)
        self.scratch = np.empty((k, n_i), F32)

    def e_step(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
        """Item posteriors ((K, n_items) float32, a reused buffer) and the log-likelihood; fills z, ebl, sig."""
        z, ebl, work, sig, tmp = self.z, self.ebl, self.work, self.sig, self.tmp
        # b <= 80 keeps e^b and z in float32 range during line searches (the prior keeps the optimum near 1)
        ebl[:] = np.repeat(np.exp(np.minimum(b, 80.0)).astype(F32), self.per_item)  # labels are sorted by item
        a.astype(F32).take(self.workers, out=work)
        np.multiply(work, ebl, out=z)
        logp = np.bincount(self.cells, weights=z, minlength=self.k * self.n_i).reshape(self.k, self.n_i)
        if logp.dtype != np.float64:  # no labels: bincount returns int64
            logp = logp.astype(np.float64)
        logp += self.base
        post = self.post
        lse = _softmax_columns(logp, post, self.scratch)
        kn = self.kn
        if kn:
            lse[kn.idx] = logp[kn.cls, kn.idx]
            kn.clamp(post.T)
        # sum over labels of log sigmoid(-z) = -sum(max(z, 0)) - sum(log(1 + exp(-|z|))),
        # with sum(max(z, 0)) = (sum(z) + sum(|z|)) / 2
        np.abs(z, out=tmp)
        relu = 0.5 * float(tmp.sum(dtype=np.float64) + z.sum(dtype=np.float64))
        if tmp.max(initial=0.0) > 80.0:  # exp is slow on inputs that underflow; a read-only check is cheap
            np.minimum(tmp, F32(80.0), out=tmp)
        np.negative(tmp, out=tmp)
        np.exp(tmp, out=tmp)  # exp(-|z|)
        np.add(tmp, F32(1.0), out=tmp)
        np.reciprocal(tmp, out=tmp)  # sigmoid(|z|), in [0.5, 1]: its log is accurate in float32
        l1 = -float(np.log(tmp, out=work).sum(dtype=np.float64))
        # sigmoid(z) = 1/2 +- (sigmoid(|z|) - 1/2); both steps are exact or within 6e-8 in float32
        np.subtract(tmp, F32(0.5), out=sig)
        np.copysign(sig, z, out=sig)
        sig += F32(0.5)
        ll = float(lse.sum()) - relu - l1 - len(z) * self.log_km1
        return post, ll

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = x[: self.n_w], x[self.n_w :]
        post, ll = self.e_step(a, b)
        m = self.prior_mean
        ll -= 0.5 * float(np.sum((a - m) ** 2) + np.sum((b - m) ** 2))
        r = np.subtract(post.ravel().take(self.cells), self.sig, out=self.tmp)  # P(label right) - P(model says right)
        ga = np.bincount(self.workers, weights=np.multiply(r, self.ebl, out=self.work), minlength=self.n_w)
        gb = np.bincount(self.items, weights=np.multiply(r, self.z, out=self.work), minlength=self.n_i)
        return -ll, -np.concatenate([ga - (a - m), gb - (b - m)])

    def curvature(self, x: np.ndarray) -> np.ndarray:
        """Gauss-Newton diagonal of the objective's Hessian at x (prior curvature 1 included)."""
        self.e_step(x[: self.n_w], x[self.n_w :])
        sig, ebl, z = (v.astype(np.float64) for v in (self.sig, self.ebl, self.z))  # squares may overflow float32
        v = sig * (1.0 - sig)
        ha = np.bincount(self.workers, weights=v * ebl**2, minlength=self.n_w)
        hb = np.bincount(self.items, weights=v * z**2, minlength=self.n_i)
        return 1.0 + np.concatenate([ha, hb])


def _minimize(objective: _Posterior, x0: np.ndarray, max_iter: int, tol: float) -> OptimizeResult:
    """L-BFGS-B on the objective, in coordinates scaled to unit curvature at x0.

    Worker abilities gather hundreds of labels, item easiness a handful: unscaled, their curvatures
    differ by orders of magnitude, which L-BFGS's scalar initial Hessian handles poorly (150
    iterations short of convergence on some sets; 5-10x fewer when scaled, to a better optimum).
    """
    from scipy.optimize import minimize  # lazy: scipy.optimize costs ~0.2 s at import

    scale = 1.0 / np.sqrt(objective.curvature(x0))

    def scaled(y: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = objective(y * scale)
        return f, g * scale

    # In scaled coordinates g^2 / 2 is about what a Newton step on that coordinate would still gain:
    # a gtol of 1e-5 leaves the stopping decision to ftol (tol).
    with one_blas_thread():
        res = minimize(
            scaled, x0 / scale, jac=True, method="L-BFGS-B", options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-5}
        )
    res.success = lbfgsb_converged(res, 1e-5)  # judged in the scaled coordinates it ran in
    res.x = res.x * scale
    return res


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
    if class_prior is None:
        prior = np.full(k, 1.0 / k)
    else:
        prior = normalize_rows(np.asarray(class_prior, dtype=np.float64).reshape(1, k))[0]
    objective = _Posterior(labels, np.log(np.maximum(prior, 1e-300)), prior_mean, kn)

    x0 = np.full(n_w + n_i, prior_mean)
    if warm_start and labels.n_labels:
        # abilities from a one-coin fit: sigmoid(alpha * e^b) = accuracy at the prior easiness
        acc = np.clip(one_coin.fit(labels, known, max_iter=20).worker_accuracy, 0.02, 0.98)
        x0[:n_w] = np.log(acc / (1.0 - acc)) / np.exp(prior_mean)
    res = _minimize(objective, x0, max_iter, tol)
    x = np.clip(res.x, -30.0, 30.0)
    alpha, b = x[:n_w], x[n_w:]
    post, _ = objective.e_step(alpha, b)
    post = check_finite(normalize_rows(post.T), "glad")
    typical = 1.0 / (1.0 + np.exp(-np.clip(alpha * np.exp(prior_mean), -500, 500)))
    hit_p = np.bincount(objective.workers, weights=objective.sig, minlength=n_w)
    n_lab = np.bincount(objective.workers, minlength=n_w)
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
