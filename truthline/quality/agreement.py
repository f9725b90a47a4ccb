"""Inter-annotator agreement: Krippendorff's alpha, Fleiss' kappa, pairwise Cohen's kappa.

Inputs are parallel index arrays (one entry per label), never item x worker matrices. Each entry
counts as one value: if a worker labelled an item twice, both values are paired with the others
(alpha and Fleiss have no notion of worker identity; Cohen skips pairs of a worker with itself).

Degenerate input has a defined result: when the pairable values show no variation at all there is
no disagreement, and alpha / kappa are 1.0; when nothing can be paired (no item with two values,
no worker pair with enough shared items) a QualityInputError says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .labels import CrowdLabels, QualityInputError, _as_index_array

__all__ = ["PairwiseKappa", "cohen_kappa_pairwise", "coincidence_matrix", "fleiss_kappa", "krippendorff_alpha"]

Level = Literal["nominal", "ordinal", "interval"]
_LEVELS = ("nominal", "ordinal", "interval")


def _as_values(name: str, values: Any, n: int) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QualityInputError(f"{name}: expected numbers ({exc})", name) from exc
    if arr.ndim != 1 and arr.size:
        raise QualityInputError(f"{name}: expected a 1-D array, got shape {arr.shape}", name)
    arr = arr.reshape(-1)
    if len(arr) != n:
        raise QualityInputError(f"{name}: has {len(arr)} entries but items has {n}; one entry per label", name)
    if not np.all(np.isfinite(arr)):
        raise QualityInputError(f"{name}: contains NaN or infinite values; drop missing values first", name)
    return arr


def _pairable(it: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, value) of the values in items with >= 2 values; raises if there are none."""
    m = np.bincount(it) if len(it) else np.zeros(0, np.int64)
    keep = m[it] >= 2
    if not keep.any():
        raise QualityInputError(
            "values: no item has two or more values, so nothing can be compared; collect overlapping labels",
            "values",
        )
    return it[keep], vals[keep]


def _ranks(vals: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal metric as an interval one: each value -> its mid-rank among all pairable values."""
    _, inv, counts = np.unique(vals, return_inverse=True, return_counts=True)
    mid = np.cumsum(counts) - counts / 2.0
    return mid[inv]


def krippendorff_alpha(items: Any, workers: Any, values: Any, level: Level = "nominal") -> float:
    """Krippendorff's alpha = 1 - D_observed / D_expected over the coincidences of pairable values.

    Items with fewer than 2 values are excluded. `level`: "nominal" (values are category codes),
    "ordinal" (rank metric: distance = squared difference of mid-ranks, Krippendorff 2011) or
    "interval" (squared difference). Computed in closed form from per-item sums, which equals the
    coincidence-matrix formula (see `coincidence_matrix`) in O(labels) memory.
    Returns 1.0 when the pairable values do not vary at all. `workers` is checked for shape only:
    alpha depends on which values share an item, not on who gave them.
    """
    if level not in _LEVELS:
        raise QualityInputError(f"level: must be one of {', '.join(_LEVELS)}, got {level!r}", "level")
    it = _as_index_array("items", items)
    wk = _as_index_array("workers", workers)
    if len(wk) != len(it):
        raise QualityInputError(f"workers: has {len(wk)} entries but items has {len(it)}", "workers")
    it, vals = _pairable(it, _as_values("values", values, len(it)))
    n = len(vals)
    _, unit = np.unique(it, return_inverse=True)
    m = np.bincount(unit).astype(np.float64)
    if level == "nominal":
        _, code = np.unique(vals, return_inverse=True)
        n_cat = int(code.max()) + 1
        cell, n_uc = np.unique(unit * n_cat + code, return_counts=True)
        sq = np.bincount(cell // n_cat, weights=n_uc.astype(np.float64) ** 2, minlength=len(m))
        observed = float(np.sum((m * m - sq) / (m - 1.0)))
        n_c = np.bincount(code).astype(np.float64)
        expected = float(n * n - np.sum(n_c * n_c))
    else:
        x = _ranks(vals) if level == "ordinal" else vals
        scale = float(np.abs(x).max(initial=0.0))
        if level == "interval" and scale > 0:  # alpha is scale-free; squares of 1e200 would overflow
            x = x / scale
        dev = x - np.bincount(unit, weights=x)[unit] / m[unit]
        ss_unit = np.bincount(unit, weights=dev * dev, minlength=len(m))
        observed = float(np.sum(2.0 * m * ss_unit / (m - 1.0)))
        expected = float(2.0 * n * np.sum((x - x.mean()) ** 2))
    if expected <= 0.0:
        return 1.0
    return 1.0 - (n - 1) * observed / expected


def coincidence_matrix(items: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Krippendorff's coincidence matrix of the pairable values: (categories, o) with o of shape (V, V).

    o[c, k] = sum over items u of (pairs of values c, k from different labels in u) / (m_u - 1).
    Dense in the number V of distinct values: for reporting nominal/ordinal tables, not for
    continuous data. Built with bincount over the within-item pairs of distinct (item, value) cells.
    """
    it = _as_index_array("items", items)
    it, vals = _pairable(it, _as_values("values", values, len(it)))
    cats, code = np.unique(vals, return_inverse=True)
    v = len(cats)
    _, unit = np.unique(it, return_inverse=True)
    m = np.bincount(unit).astype(np.float64)
    cell, n_uc = np.unique(unit * v + code, return_counts=True)
    cu, cc, cn = cell // v, cell % v, n_uc.astype(np.float64)
    # every ordered pair (s, t) of cells within the same item
    d = np.bincount(cu)  # distinct cells per item
    start = np.concatenate(([0], np.cumsum(d)[:-1]))
    reps = d[cu]
    left = np.repeat(np.arange(len(cell)), reps)
    offs = np.arange(len(left)) - np.repeat(np.cumsum(reps) - reps, reps)
    right = start[cu[left]] + offs
    w = (cn[left] * cn[right] - np.where(left == right, cn[left], 0.0)) / (m[cu[left]] - 1.0)
    o = np.bincount(cc[left] * v + cc[right], weights=w, minlength=v * v).reshape(v, v)
    return cats, o


def fleiss_kappa(items: Any, labels: Any, n_classes: int | None = None) -> float:
    """Fleiss' kappa, generalised to a varying number of raters per item.

    Only items with >= 2 labels count. P_i = (sum_j n_ij^2 - m_i) / (m_i (m_i - 1)), P_bar is their
    unweighted mean, p_j the share of class j among all counted labels, P_e = sum_j p_j^2; with a
    constant number of raters this is exactly Fleiss (1971). Returns 1.0 when a single class is used.
    `n_classes` only validates `labels` (unused classes do not change kappa).
    """
    it = _as_index_array("items", items)
    lb = _as_index_array("labels", labels)
    if len(lb) != len(it):
        raise QualityInputError(f"labels: has {len(lb)} entries but items has {len(it)}", "labels")
    k = int(lb.max()) + 1 if len(lb) else 0
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
            raise QualityInputError(f"n_classes: expected an int >= 1, got {n_classes!r}", "n_classes")
        if len(lb) and k > n_classes:
            raise QualityInputError(f"labels: a label {k - 1} appears but n_classes is {n_classes}", "labels")
    # only the classes in use take part (an unused one changes nothing), numbered 0..k-1: a label of 2**40
    # must not size an array
    used, lb = np.unique(lb, return_inverse=True)
    k = len(used)
    m_all = np.bincount(it) if len(it) else np.zeros(0, np.int64)
    keep = m_all[it] >= 2
    if not keep.any():
        raise QualityInputError("items: no item has two or more labels; Fleiss' kappa needs overlap", "items")
    it, lb = it[keep], lb[keep]
    _, unit = np.unique(it, return_inverse=True)
    m = np.bincount(unit).astype(np.float64)
    cell, n_ij = np.unique(unit * k + lb, return_counts=True)
    sq = np.bincount(cell // k, weights=n_ij.astype(np.float64) ** 2, minlength=len(m))
    p_bar = float(np.mean((sq - m) / (m * (m - 1.0))))
    p_j = np.bincount(lb, minlength=k) / float(len(lb))
    p_e = float(np.sum(p_j * p_j))
    if p_e >= 1.0 - 1e-12:
        return 1.0
    return (p_bar - p_e) / (1.0 - p_e)


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen's kappa for every worker pair (worker_a < worker_b) sharing >= min_overlap items.

    `n_overlap` counts shared items (label pairs, if a worker labelled an item twice).
    `mean` is Light's kappa: the unweighted mean over the pairs.
    """

    worker_a: np.ndarray
    worker_b: np.ndarray
    n_overlap: np.ndarray
    kappa: np.ndarray
    mean: float


def _within_item_pairs(items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (s, t), s != t, of every unordered pair of labels on the same item."""
    order = np.argsort(items, kind="stable")
    _, start, size = np.unique(items[order], return_index=True, return_counts=True)
    pos = np.arange(len(order)) - np.repeat(start, size)  # position within its item
    later = np.repeat(size, size) - 1 - pos  # how many labels after it in the same item
    left = np.repeat(np.arange(len(order)), later)
    offs = np.arange(len(left)) - np.repeat(np.cumsum(later) - later, later)
    right = left + 1 + offs
    return order[left], order[right]


def cohen_kappa_pairwise(
    items: Any, workers: Any, labels: Any, n_classes: int | None = None, min_overlap: int = 5
) -> PairwiseKappa:
    """Cohen's kappa for each pair of workers over the items both labelled.

    Pairs sharing fewer than `min_overlap` items are dropped. A pair whose two workers both used one
    and the same class throughout has kappa 1.0. Memory is O(sum over items of labels^2).
    Raises QualityInputError when no pair reaches `min_overlap`.
    """
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, (int, np.integer)) or min_overlap < 1:
        raise QualityInputError(f"min_overlap: must be an int >= 1, got {min_overlap!r}", "min_overlap")
    lb = _as_index_array("labels", labels)
    if n_classes is not None:  # validates only, as in fleiss_kappa
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise QualityInputError(f"n_classes: expected an int >= 2, got {n_classes!r}", "n_classes")
        if len(lb) and int(lb.max()) >= n_classes:
            raise QualityInputError(f"labels: a label {int(lb.max())} appears but n_classes is {n_classes}", "labels")
    # the classes in use, numbered 0..k-1 (a pair's marginals over unused ones are 0): with a label of
    # 2**31 - 2, (pairs, classes) tables asked for 16 GiB
    _, used = np.unique(lb, return_inverse=True)
    data = CrowdLabels.from_arrays(items, workers, used.reshape(-1))
    k = data.n_classes
    s, t = _within_item_pairs(data.items)
    wa, wb = data.workers[s], data.workers[t]
    diff = wa != wb
    s, t, wa, wb = s[diff], t[diff], wa[diff], wb[diff]
    swap = wa > wb
    la = np.where(swap, data.labels[t], data.labels[s])
    lb = np.where(swap, data.labels[s], data.labels[t])
    lo, hi = np.minimum(wa, wb), np.maximum(wa, wb)
    key, pair = np.unique(lo * max(data.n_workers, 1) + hi, return_inverse=True)
    n_pairs = len(key)
    n = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    ok = n >= min_overlap
    if not ok.any():
        raise QualityInputError(
            f"min_overlap: no worker pair shares {min_overlap} or more items; lower min_overlap or add overlap",
            "min_overlap",
        )
    agree = np.bincount(pair, weights=(la == lb).astype(np.float64), minlength=n_pairs)
    ma = np.bincount(pair * k + la, minlength=n_pairs * k).reshape(n_pairs, k)
    mb = np.bincount(pair * k + lb, minlength=n_pairs * k).reshape(n_pairs, k)
    n, agree, ma, mb, key = n[ok], agree[ok], ma[ok], mb[ok], key[ok]
    po = agree / n
    pe = np.sum(ma * mb, axis=1) / (n * n)
    denom = 1.0 - pe
    degenerate = denom <= 1e-12
    kappa = np.ones_like(po)
    np.divide(po - pe, denom, out=kappa, where=~degenerate)
    width = max(data.n_workers, 1)
    return PairwiseKappa(
        worker_a=key // width,
        worker_b=key % width,
        n_overlap=n.astype(np.int64),
        kappa=kappa,
        mean=float(np.mean(kappa)),
    )
