"""Numeric answers (counts, measurements, ratings): robust item estimates with per-worker noise.

Model: value = item value + worker bias + error, error ~ Student-t(df) with a per-worker scale.
Fitted by iteratively reweighted least squares (the EM of the t model):

1. item values start at the per-item median;
2. each label gets a robust weight u = (df + 1) / (df + z^2) from its standardised residual z, so a
   wild outlier counts for almost nothing;
3. item value = sum(u y / s_w^2) / sum(u / s_w^2), with y = value - worker bias;
4. worker bias = shrunken precision-weighted mean residual over items with >= 2 labels;
5. worker scale^2 = (sum u r^2 + prior_strength * pooled) / (sum (1 - h) + prior_strength), where
   h = the label's leverage on its item, so a worker is not rewarded for pulling an item towards itself
   and single-label items (h = 1) carry no information about noise; never below the rounding error of
   the values' written step (`_step`: integers +- 0.29).

Biases are identified only up to a common shift; they are reported with the label-weighted median
worker at zero bias ("the typical worker is unbiased"). Items are compared on the original scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .labels import CrowdLabels, QualityInputError, _as_index_array

__all__ = ["NumericAggregate", "aggregate_numeric"]

MAX_ABS_VALUE = 1e150  # squares of differences must stay finite in float64 (max ~1.8e308)


@dataclass(frozen=True)
class NumericAggregate:
    """estimate, stderr: (n_items,), NaN for items without labels (stderr also NaN when no item has
    two labels, since noise cannot then be measured). worker_sigma: error scale per worker (the
    standard deviation when df is None); worker_bias: additive bias; label_weight: each label's final
    robust weight in (0, 1] (near 0 = treated as an outlier).
    """

    estimate: np.ndarray
    stderr: np.ndarray
    worker_sigma: np.ndarray
    worker_bias: np.ndarray
    label_weight: np.ndarray
    iterations: int
    converged: bool


def _group_median(items: np.ndarray, x: np.ndarray, n_items: int) -> np.ndarray:
    order = np.lexsort((x, items))
    xs = x[order]
    keys, start, size = np.unique(items[order], return_index=True, return_counts=True)
    med = np.full(n_items, np.nan)
    med[keys] = 0.5 * (xs[start + (size - 1) // 2] + xs[start + size // 2])
    return med


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _step(x: np.ndarray) -> float:
    """The step the values are written in: 1 for integers, 0.1 for one decimal, ... (0 beyond 6 decimals).
    Workers who agree to that step still leave each value's rounding unknown, an error of variance
    step^2 / 12 (Sheppard); without this floor two workers agreeing on 3 and on 7 gave a stderr of 6e-7."""
    for digits in range(7):
        scaled = x * 10.0**digits
        # relative to each value alone: with max(1, |value|), values below 1e-9 all passed for integers
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.abs(scaled)):
            return 10.0**-digits
    return 0.0


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise QualityInputError(f"{name}: must be a finite number {bound}, got {value!r}", name)
    return float(value)


def aggregate_numeric(
    items: Any,
    workers: Any,
    values: Any,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    bias: bool = True,
    df: float | None = 4.0,
    prior_strength: float = 2.0,
    bias_prior: float = 1.0,
    max_iter: int = 200,
    tol: float = 1e-8,
) -> NumericAggregate:
    """Robust precision-weighted estimate per item, with standard error, worker noise and bias.

    df: Student-t degrees of freedom of the errors (smaller = more robust); None = Gaussian.
    prior_strength: pseudo-labels pulling each worker's scale toward the pooled one.
    bias_prior: pseudo-labels pulling each bias toward zero (0 can overfit when workers share few
    items); bias=False fixes biases at zero. Workers seen only on single-label items keep bias 0.
    Raises QualityInputError naming the argument for NaN/inf values or mismatched arrays.
    """
    it = _as_index_array("items", items)
    try:
        x = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise QualityInputError(f"values: expected numbers ({exc})", "values") from exc
    if len(x) != len(it):
        raise QualityInputError(f"values: has {len(x)} entries but items has {len(it)}; one per label", "values")
    if not np.all(np.isfinite(x)):
        raise QualityInputError("values: contains NaN or infinite values; drop or fix those labels", "values")
    if len(x) and float(np.max(np.abs(x))) > MAX_ABS_VALUE:  # squared deviations would overflow float64
        raise QualityInputError(f"values: must lie within ±{MAX_ABS_VALUE:g}; rescale them (e.g. to other units)", "values")
    data = CrowdLabels.from_arrays(it, workers, np.zeros(len(it), np.int64), n_items=n_items, n_workers=n_workers)
    if df is not None:
        df = _positive("df", df)
    prior_strength = _positive("prior_strength", prior_strength, allow_zero=True)
    bias_prior = _positive("bias_prior", bias_prior, allow_zero=True)
    tol = _positive("tol", tol, allow_zero=True)  # a NaN tolerance never converges, nor fails
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise QualityInputError(f"max_iter: must be an int >= 1, got {max_iter!r}", "max_iter")
    ni, nw, wk = data.n_items, data.n_workers, data.workers
    est = np.full(ni, np.nan)
    err = np.full(ni, np.nan)
    if len(x) == 0:
        return NumericAggregate(est, err, np.full(nw, np.nan), np.zeros(nw), np.zeros(0), 0, True)

    m = np.bincount(it, minlength=ni)
    multi = (m[it] >= 2).astype(np.float64)
    has = m > 0
    # work in standardised units (median centre, overall spread) for numerical safety
    med = _group_median(it, x, ni)
    center = float(np.median(x))
    scale = float(np.std(x)) or 1.0
    z = (x - center) / scale
    floor = max(1e-12, (_step(x) / scale) ** 2 / 12.0)
    v = (med - center) / scale
    dev = np.abs(z - v[it])[multi > 0]
    # start from the within-item spread (robust), not the overall one, so outliers stand out at once
    pooled = max((1.4826 * float(np.median(dev))) ** 2, 1e-4) if len(dev) else 1.0
    b = np.zeros(nw)
    sig2 = np.full(nw, pooled)
    measurable = bool(multi.any())
    n_multi = np.bincount(wk, weights=multi, minlength=nw)
    seen = n_multi > 0  # workers whose bias the data can inform

    def item_means(y: np.ndarray, prec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tot = np.bincount(it, weights=prec, minlength=ni)
        out = np.zeros(ni)
        np.divide(np.bincount(it, weights=prec * y, minlength=ni), tot, out=out, where=has)
        return out, tot

    converged = False
    u = np.ones(len(z))
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        b_old, sig_old = b.copy(), np.sqrt(sig2)
        s2 = sig2[wk]
        r = z - b[wk] - v[it]
        u = (df + 1.0) / (df + r * r / s2) if df is not None else np.ones(len(z))
        prec = u / s2
        v_new, tot = item_means(z - b[wk], prec)
        if bias:
            res = (z - v_new[it]) * prec * multi
            num = np.bincount(wk, weights=res, minlength=nw)
            den = np.bincount(wk, weights=prec * multi, minlength=nw) + bias_prior / sig2
            b = np.zeros(nw)  # a worker seen only on single-label items keeps bias 0
            np.divide(num, den, out=b, where=den > 0)
            if seen.any():  # pin the free common shift
                b[seen] -= np.average(b[seen], weights=n_multi[seen])
            v_new, tot = item_means(z - b[wk], prec)
        if measurable:
            r = z - b[wk] - v_new[it]
            lev = 1.0 - prec / tot[it]
            ss = np.bincount(wk, weights=u * r * r, minlength=nw)
            dof = np.bincount(wk, weights=lev, minlength=nw)
            if dof.sum() > 1e-9:
                pooled = max(float(ss.sum() / dof.sum()), floor)
            sig2 = np.maximum((ss + prior_strength * pooled) / np.maximum(dof + prior_strength, 1e-12), floor)
        delta = max(
            float(np.max(np.abs(v_new - v)[has])),
            float(np.max(np.abs(b - b_old), initial=0.0)),
            float(np.max(np.abs(np.sqrt(sig2) - sig_old), initial=0.0)),
        )
        v = v_new
        if delta <= tol:
            converged = True
            break

    prec = u / sig2[wk]
    if bias and seen.any():  # fix the free common shift: the typical worker is unbiased
        b[seen] -= _weighted_median(b[seen], n_multi[seen])
        v, _ = item_means(z - b[wk], prec)
    tot = np.bincount(it, weights=prec, minlength=ni)
    est[has] = center + scale * v[has]
    sigma = np.sqrt(sig2) * scale if measurable else np.full(nw, np.nan)
    if measurable:
        err[has] = scale / np.sqrt(tot[has])
    return NumericAggregate(
        estimate=est,
        stderr=err,
        worker_sigma=sigma,
        worker_bias=b * scale,
        label_weight=u * (df / (df + 1.0)) if df is not None else u,
        iterations=n_iter,
        converged=converged,
    )
