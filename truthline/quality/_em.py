"""Vectorized building blocks shared by the EM-style methods (private).

Everything works on the label arrays with `np.bincount` over flattened indices: memory and time are
O(labels x classes), never O(items x workers).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import _sparsetools

from .labels import CrowdLabels, QualityInputError

TINY = 1e-300


def one_blas_thread() -> Any:
    """Context: BLAS on one thread. SciPy's optimizers make BLAS calls on (parameters)-long vectors every
    iteration; multi-threaded, those cost more than the objective itself on this kind of 2-core machine
    (GLAD on 500k labels: 0.5-6 s of 1.9-9.7 s; Bradley-Terry on 200k comparisons: 2.0 -> 1.0 s)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def lbfgsb_converged(res: Any, gtol: float, lower: np.ndarray | None = None, upper: np.ndarray | None = None) -> bool:
    """Whether an L-BFGS-B result is a stationary point: its own verdict, or a projected gradient
    (res.jac, in the coordinates it optimized, inside the bounds) no larger than `gtol`. SciPy's
    L-BFGS-B can end "ABNORMAL" when its line search cannot lower f any further in floating point,
    at a point that is already stationary (SciPy 1.17, Crowd-BT: projected gradient 1.4e-7)."""
    if res.success:
        return True
    x, g = np.asarray(res.x, dtype=np.float64), np.asarray(res.jac, dtype=np.float64)
    step = x - g
    if lower is not None or upper is not None:
        step = np.clip(step, -np.inf if lower is None else lower, np.inf if upper is None else upper)
    return bool(np.all(np.isfinite(g))) and float(np.max(np.abs(step - x), initial=0.0)) <= gtol


class Known:
    """Gold items: `idx[j]` has true class `cls[j]`."""

    def __init__(self, idx: np.ndarray, cls: np.ndarray) -> None:
        self.idx = idx
        self.cls = cls

    def __bool__(self) -> bool:
        return bool(len(self.idx))

    def clamp(self, post: np.ndarray) -> np.ndarray:
        """Set known items' rows to one-hot, in place; returns `post`."""
        if len(self.idx):
            post[self.idx] = 0.0
            post[self.idx, self.cls] = 1.0
        return post


def parse_known(known: Mapping[int, int] | None, data: CrowdLabels) -> Known:
    """Validate `known` (item index -> true class)."""
    if known is None:
        return Known(np.zeros(0, np.int64), np.zeros(0, np.int64))
    if not isinstance(known, Mapping):
        raise QualityInputError("known: expected a mapping of item index -> true class", "known")
    if len(known) == 0:
        return Known(np.zeros(0, np.int64), np.zeros(0, np.int64))
    # integers only: int("1") and int(0.5) would quietly make an index of a string and class 0 of a half
    bad = next((x for pair in known.items() for x in pair
                if isinstance(x, bool) or not isinstance(x, (int, np.integer))), None)
    if bad is not None:
        raise QualityInputError(f"known: keys and values must be integers, got {bad!r}", "known")
    try:
        idx = np.fromiter((int(k) for k in known.keys()), dtype=np.int64, count=len(known))
        cls = np.fromiter((int(v) for v in known.values()), dtype=np.int64, count=len(known))
    except OverflowError:
        raise QualityInputError("known: item indices and classes must fit in 64 bits", "known") from None
    if idx.min() < 0 or idx.max() >= data.n_items:
        raise QualityInputError(f"known: item indices must be in 0..{data.n_items - 1}", "known")
    if cls.min() < 0 or cls.max() >= data.n_classes:
        raise QualityInputError(f"known: classes must be in 0..{data.n_classes - 1}", "known")
    return Known(idx, cls)


def vote_counts(data: CrowdLabels, weights: np.ndarray | None = None) -> np.ndarray:
    """(n_items, K) sum of (weighted) votes per item and class."""
    k = data.n_classes
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    flat = np.bincount(data.items * k + data.labels, weights=w, minlength=data.n_items * k)
    return flat.astype(np.float64).reshape(data.n_items, k)


def normalize_rows(mat: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Rows scaled to sum 1; rows summing to 0 (or non-finite) get `fallback` (default uniform)."""
    mat = np.asarray(mat, dtype=np.float64)
    k = mat.shape[1]
    sums = row_sums(mat)
    ok = (sums > 0) & np.isfinite(sums)
    if ok.all():
        return mat / sums[:, None]
    out = mat / np.where(ok, sums, 1.0)[:, None]
    out[~ok] = np.full(k, 1.0 / k) if fallback is None else fallback
    return out


def row_sums(mat: np.ndarray) -> np.ndarray:
    """Sum of each row of a (n, K) array.

    Up to 8 columns, adds the columns: several times faster than `mat.sum(axis=1)` (a reduction along a
    short last axis). Wider rows (EBCC's classes x subtypes) go through `einsum`, which beats both there
    (40 columns: 5x the column loop). Neither makes a BLAS call, unlike `mat @ ones`: multi-threaded BLAS
    on a small product leaves threads spinning that, on a busy machine, take CPU from the EM loop itself.
    """
    if mat.shape[1] > 8:
        return np.einsum("ij->i", mat)
    if mat.shape[1] == 0:
        return np.zeros(mat.shape[0], dtype=mat.dtype)
    out = np.array(mat[:, 0], dtype=mat.dtype, copy=True)
    for j in range(1, mat.shape[1]):
        out += mat[:, j]
    return out


def col_sums(mat: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(K,) weighted sum of the rows of a (n, K) array in float64, without BLAS (see `row_sums`)."""
    if weights is None:
        return np.einsum("ij->j", mat, dtype=np.float64)
    return np.einsum("i,ij->j", weights, mat, dtype=np.float64)


def labelled_weights(counts: np.ndarray) -> np.ndarray | None:
    """`col_sums` weights that leave out items without labels (their posteriors are the prior itself);
    None when every item has labels, since the unweighted sum is faster."""
    labelled = row_sums(counts) > 0
    return None if labelled.all() else labelled.astype(np.float64)


def safe_log(x: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x, TINY))


class LabelIndex:
    """Sparse incidence of one data set, reused across EM iterations.

    `matrix` is (n_items, n_workers*K) CSR with one entry per label at (item, worker*K + given label)
    (repeated labels add up), so summing per-label table rows per item and summing item posteriors
    per (worker, given label) are each one sparse x dense product: O(labels x K).
    """

    def __init__(self, data: CrowdLabels) -> None:
        k = data.n_classes
        self.data = data
        self.k = k
        self.worker_label = data.workers * k + data.labels
        items = data.items
        if len(items) > 1 and np.any(items[1:] < items[:-1]):
            cols = self.worker_label[np.argsort(items, kind="stable")]
        else:
            cols = self.worker_label
        # int32 indices when they fit (what SciPy would convert them to anyway, at a cost)
        small = max(data.n_workers * k, len(cols)) < 2**31 - 1
        idx_dtype = np.int32 if small else np.int64
        indptr = np.zeros(data.n_items + 1, dtype=idx_dtype)
        np.cumsum(np.bincount(items, minlength=data.n_items), out=indptr[1:])
        self.matrix = sparse.csr_matrix(
            (np.ones(len(cols)), cols.astype(idx_dtype, copy=False), indptr), shape=(data.n_items, data.n_workers * k)
        )

    def sum_per_item(self, table: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(n_workers*K_label, K) table -> (n_items, K): for each item, the sum of its labels' rows.

        `out`: optional C-contiguous float64 (n_items, K) array to write into, so that EM loops do not
        map (and page-fault) a fresh result array every iteration.
        """
        m = self.matrix
        if out is None:
            return np.asarray(m @ table)
        table = np.ascontiguousarray(table, dtype=np.float64)
        out.fill(0.0)
        try:  # SciPy's own kernel for `m @ table`, writing into `out`
            _sparsetools.csr_matvecs(
                m.shape[0], m.shape[1], table.shape[1], m.indptr, m.indices, m.data, table.ravel(), out.ravel()
            )
        except (AttributeError, TypeError, ValueError):  # private API changed: the public product
            out[...] = m @ table
        return out

    def per_worker_label(self, post: np.ndarray) -> np.ndarray:
        """(n_items, C) -> (n_workers*K_label, C): for each (worker, given label), the sum of the rows of
        the items it was given to."""
        return np.asarray(self.matrix.T @ post)

    def confusion_counts(self, post: np.ndarray) -> np.ndarray:
        """Soft counts (W, K_true, K_label): sum over labels of P(true class of item) for each given label."""
        counts = self.per_worker_label(post).reshape(self.data.n_workers, self.k, self.k)
        return counts.transpose(0, 2, 1)

    @cached_property
    def item_label(self) -> np.ndarray:
        """item * K + given label, per label (made on first use: only the diagonal models need it)."""
        return self.data.items * self.k + self.data.labels

    def label_hits(self, post: np.ndarray) -> np.ndarray:
        """(n_workers, K): for each (worker, given label l), the sum over those labels of P(item is l): the
        diagonal of `confusion_counts` in O(labels), without the (W, K, K) counts."""
        data = self.data
        hits = np.bincount(self.worker_label, weights=post.reshape(-1)[self.item_label], minlength=data.n_workers * self.k)
        return hits.reshape(data.n_workers, self.k)

    def log_evidence_diagonal(self, log_hit: np.ndarray, log_miss: np.ndarray, out: np.ndarray) -> np.ndarray:
        """`log_evidence` of confusions whose rows differ only on the diagonal: P(given l | true c) is
        hit[w, l] where c == l and miss[w, l] for every other c (one-coin, MACE). Each label adds log miss
        to every class of its item and log hit - log miss to its own: O(labels + items x K) per call,
        where the (W, K, K) table costs W x K^2 (500 workers x 300 classes: 45M cells per iteration)."""
        data, k = self.data, self.k
        wl = self.worker_label
        miss = log_miss.reshape(-1)[wl]
        base = np.bincount(data.items, weights=miss, minlength=data.n_items)
        flat = np.bincount(self.item_label, weights=log_hit.reshape(-1)[wl] - miss, minlength=data.n_items * k)
        np.add(flat.reshape(data.n_items, k), base[:, None], out=out)
        return out

    def log_evidence(self, log_confusion: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(n_items, K_true): sum over an item's labels of log confusion[w, k, given label]."""
        w, k, _ = log_confusion.shape
        table = np.ascontiguousarray(log_confusion.transpose(0, 2, 1)).reshape(w * k, k)
        return self.sum_per_item(table, out)


def softmax_rows_f32(
    logp: np.ndarray,
    log_prior: np.ndarray | None = None,
    out_dtype: type = np.float32,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of `logp` (+ `log_prior` per column) in float32, and each row's logsumexp (float64).

    The row maximum of `logp` is taken in float64 and subtracted before anything is rounded, so the
    float32 numbers are all in [-80 + min(log_prior), max(log_prior)]: a relative error of ~1e-7 per
    probability, far below what EM can resolve, for a third of float64's exp time and half its memory
    traffic. Rows sum to 1 up to float32 rounding (EM loops renormalize once, in float64, at the end);
    `out_dtype=np.float64` returns them as float64 at no extra cost (the scaling pass writes it).
    `out` ((n, K), `out_dtype`) and `scratch` ((n, K) float32) are optional buffers to reuse.
    Classes more than 80 nats below a row's best get probability ~e^-80 rather than 0 (exp is slow on
    inputs that underflow, and near-certain posteriors produce many of them).
    """
    logp = np.ascontiguousarray(logp, dtype=np.float64)
    n, k = logp.shape
    if n == 0:
        return np.zeros((0, k), dtype=out_dtype), np.zeros(0)
    # An (n, K) op (n, 1) broadcast runs a K-long inner loop per row: fine for wide rows (EBCC's classes x
    # subtypes), several times slower than flat arrays for a few classes, whose per-row and per-class
    # terms are therefore repeated out to full (n, K) arrays.
    wide = k > 8
    if wide:
        m = logp.max(axis=1)
    else:
        m = logp[:, 0].copy()
        for j in range(1, k):  # column-wise max: much faster than a reduction along a short last axis
            np.maximum(m, logp[:, j], out=m)

    def per_row(v: np.ndarray) -> np.ndarray:
        return v[:, None] if wide else np.repeat(v, k).reshape(n, k)

    t = _contiguous_buffer(scratch, (n, k), np.float32)
    np.subtract(logp, per_row(m), out=t, casting="same_kind")
    if t.min() < -80.0:  # a read-only check is cheaper than an unconditional clipping pass
        np.maximum(t, -80.0, out=t)
    if log_prior is not None:
        lp = np.asarray(log_prior, dtype=np.float32)
        t += lp[None, :] if wide else np.tile(lp, n).reshape(n, k)
    np.exp(t, out=t)
    s = row_sums(t)  # float32: rows sum to 1 up to float32 rounding (EM loops renormalize once, at the end)
    # The prior is added after the shift: a row whose best class has a tiny prior (EBCC's unused
    # subtypes: e^-100) can leave every float32 term (near) underflowed. Such rows are redone in float64.
    bad = np.flatnonzero(~(s > 1e-30))  # float32's smallest normal number is 1.2e-38
    s[bad] = 1.0
    if out is None and out_dtype == np.float32:
        out = t
    post = np.multiply(t, per_row((1.0 / s).astype(out_dtype)), out=_contiguous_buffer(out, (n, k), out_dtype))
    lse = np.log(s).astype(np.float64) + m
    if len(bad):
        rows = logp[bad] + (0.0 if log_prior is None else np.asarray(log_prior, dtype=np.float64)[None, :])
        top = rows.max(axis=1)
        e = np.exp(rows - top[:, None])
        post[bad] = e / e.sum(axis=1, keepdims=True)
        lse[bad] = np.log(e.sum(axis=1)) + top
    return post, lse


def _contiguous_buffer(buf: np.ndarray | None, shape: tuple[int, int], dtype: type) -> np.ndarray:
    """`buf` if it is C-contiguous with the right shape and type (so it is processed as one flat run), else a new array."""
    if buf is not None and buf.shape == shape and buf.dtype == dtype and buf.flags.c_contiguous:
        return buf
    return np.empty(shape, dtype=dtype)


def softmax_rows_ll(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of log-scores (float64, rows summing to 1) and each row's logsumexp.

    Finite inputs only. Exponentials are taken in float32 (see `softmax_rows_f32`), then rows are
    normalized in float64 so they sum to 1 exactly.
    """
    post, lse = softmax_rows_f32(logp, out_dtype=np.float64)
    return normalize_rows(post), lse


def diagonal_dominant(rows: np.ndarray) -> np.ndarray:
    """Raise each row's diagonal entry to at least its largest off-diagonal entry (K x K, copy).

    Used on shared priors over confusion rows: "a typical worker is at least as likely to give the
    true class as any single wrong one". Without it a class no item belongs to can learn a prior
    that imitates another class, and EM drifts into swapping the two.
    """
    out = np.array(rows, dtype=np.float64, copy=True)
    k = out.shape[0]
    off = out.copy()
    off[np.arange(k), np.arange(k)] = -np.inf
    diag = np.diagonal(out).copy()
    out[np.arange(k), np.arange(k)] = np.maximum(diag, off.max(axis=1))
    return out


def accuracy_from_confusion(confusion: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """P(worker's label == true class) = sum_k prior_k * confusion[w, k, k]."""
    diag = np.diagonal(confusion, axis1=1, axis2=2)
    return np.clip(diag @ prior, 0.0, 1.0)


def confusion_from_accuracy(acc: np.ndarray, k: int) -> np.ndarray:
    """One-coin confusion: `acc` on the diagonal, the rest spread evenly."""
    conf = np.empty((len(acc), k, k))  # one array, no broadcast temporaries: W x K^2 can be hundreds of MB
    conf[...] = ((1.0 - acc) / (k - 1))[:, None, None]
    ar = np.arange(k)
    conf[:, ar, ar] = acc[:, None]
    return conf


def check_finite(post: np.ndarray, method: str) -> np.ndarray:
    """Last guard: posteriors must be finite distributions (a no-op on healthy input). A sum of terms can
    end an ulp above 1 (EBCC adds its subtypes' shares), and 1 - p < 0 broke callers' logs and Betas."""
    del method
    if not np.all(np.isfinite(post)) or post.min(initial=0.0) < 0:
        post = np.clip(np.nan_to_num(post, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
        return normalize_rows(post)
    if post.max(initial=0.0) > 1.0:
        np.minimum(post, 1.0, out=post)
    return post
