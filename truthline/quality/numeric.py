"""Numeric answers (counts, measurements, ratings): robust item estimates with per-worker noise.

Model: value = item value + worker bias + error, error ~ Student-t(df) with a per-worker scale.
Fitted by iteratively reweighted least squares (the EM of the t model):

1. item values start at the per-item median; gold items (`known`) keep their given value throughout;
2. each label gets a robust weight u = (df + 1) / (df + z^2) from its standardised residual z, so a
   wild outlier counts for almost nothing;
3. item value = sum(u y / s_w^2) / sum(u / s_w^2), with y = value - worker bias;
4. worker bias = shrunken precision-weighted mean residual over items with >= 2 labels or a gold value
   (a single label on any other item is that item's value, so it says nothing about its worker);
5. pooled scale^2 = sum min(u r^2, (df + 1) * previous pooled) / sum (1 - h), where h = the label's
   leverage on its item (0 on a gold item: its value does not move); the cap keeps one wild value from
   inflating the scale every worker's is shrunk toward;
6. worker scale^2 = (sum u r^2 + prior_strength * pooled) / (sum (1 - h) + prior_strength), so a worker
   is not rewarded for pulling an item towards itself and single-label items (h = 1) carry no
   information about noise; never below the rounding error of the labels' written step (`_step`:
   integers +- 0.29).

Without gold, biases are identified only up to a common shift; they are reported with the label-weighted
median worker at zero bias ("the typical worker is unbiased"). Labels on gold items fix that shift: biases
are then measured against the gold values. Items are compared on the original scale.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .labels import CrowdLabels, QualityInputError, _as_index_array

__all__ = ["NumericAggregate", "aggregate_numeric"]

MAX_ABS_VALUE = 1e150  # squares of differences must stay finite in float64 (max ~1.8e308)


@dataclass(frozen=True)
class NumericAggregate:
    """estimate, stderr: (n_items,), NaN for items without labels (stderr also NaN when no item has
    two labels or a labelled gold value, since noise cannot then be measured); gold items get their
    given value and stderr 0. worker_sigma: error scale per worker (the standard deviation when df is
    None); worker_bias: additive bias; label_weight: each label's final robust weight in (0, 1] (near
    0 = treated as an outlier).
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
    """The weighted median; where the weight splits exactly in half, the midpoint of the two middle values
    (two workers with equal labels: halfway, not whichever reads lower)."""
    order = np.argsort(v)
    vs, cum = v[order], np.cumsum(w[order])
    half = 0.5 * cum[-1]
    k = int(np.searchsorted(cum, half))
    if k + 1 < len(vs) and abs(cum[k] - half) <= 1e-12 * cum[-1]:
        return float(0.5 * (vs[k] + vs[k + 1]))
    return float(vs[k])


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


def _parse_known(known: Mapping[int, float] | None, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate `known` (item index -> true value); returns (item indices, values)."""
    if known is None:
        return np.zeros(0, np.int64), np.zeros(0)
    if not isinstance(known, Mapping):
        raise QualityInputError("known: expected a mapping of item index -> true value", "known")
    idx, val = [], []
    for key, value in known.items():
        # int(True) and int("3") would quietly become item 1 and item 3
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise QualityInputError(f"known: item indices must be integers, got {reprlib.repr(key)}", "known")
        if not 0 <= key < n_items:
            raise QualityInputError(f"known: item index {key} is outside 0..{n_items - 1}", "known")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise QualityInputError(f"known: values must be numbers, got {reprlib.repr(value)} for item {key}", "known")
        try:
            number = float(value)
        except OverflowError:  # a Python int beyond float64
            number = float("inf")
        if not np.isfinite(number) or abs(number) > MAX_ABS_VALUE:
            raise QualityInputError(
                f"known: values must be finite and within ±{MAX_ABS_VALUE:g}, got {reprlib.repr(value)} for item {key}",
                "known",
            )
        idx.append(int(key))
        val.append(number)
    return np.array(idx, dtype=np.int64), np.array(val, dtype=np.float64)


def _pooled_scale(
    r: np.ndarray, u: np.ndarray, lev: np.ndarray, pooled: float, df: float | None, floor: float
) -> float:
    """The scale^2 every worker's is shrunk toward: the labels' weighted squares u r^2 over their degrees
    of freedom, each capped at (df + 1) * the previous pooled value (kept when there is no dof).

    Why the cap: u r^2 is bounded only by (df + 1) * its own worker's scale^2, which a wild value inflates;
    uncapped, one 1e6 among 11 labels near -5 grew every worker's scale and moved every item by thousands.
    Capped, one label adds at most (df + 1) / dof times the pooled value, which then settles on the other
    labels' spread once the shared items give more than df + 1 degrees of freedom. A cap rather than a
    median: on tied integer answers a median of squares fell to 0, the rounding floor then bound, and
    estimates stopped following shifts and rescalings of the values.
    """
    dof = float(lev.sum())
    if dof <= 1e-9:
        return pooled
    square = u * r * r
    if df is not None:  # the Gaussian model is not robust by design: no cap
        square = np.minimum(square, (df + 1.0) * pooled)
    return max(float(np.sum(square) / dof), floor)


def _worker_scales(
    r: np.ndarray, u: np.ndarray, lev: np.ndarray, wk: np.ndarray, nw: int, pooled: float, strength: float, floor: float
) -> np.ndarray:
    """Each worker's scale^2: its weighted squared residuals plus `strength` pseudo-labels at `pooled`."""
    ss = np.bincount(wk, weights=u * r * r, minlength=nw)
    dof = np.bincount(wk, weights=lev, minlength=nw)
    return np.maximum((ss + strength * pooled) / np.maximum(dof + strength, 1e-12), floor)


def _biases(res: np.ndarray, prec: np.ndarray, wk: np.ndarray, nw: int, prior: np.ndarray) -> np.ndarray:
    """Precision-weighted mean residual per worker, shrunk toward 0 by `prior` (pseudo-precision per worker);
    0 for workers with no weight at all."""
    num = np.bincount(wk, weights=res * prec, minlength=nw)
    den = np.bincount(wk, weights=prec, minlength=nw) + prior
    b = np.zeros(nw)
    np.divide(num, den, out=b, where=den > 0)
    return b


SETTLE_MAX_ITEMS = 2000  # items whose values `settle` iterates apart, per step
SETTLE_STEPS = 50
_State = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # item values, worker biases, worker scales^2, pooled


def _extrapolate(x0: _State, x1: _State, x2: _State) -> _State:
    """SQUAREM's step (scheme S3) from x0 along two EM steps x0 -> x1 -> x2; scales extrapolated on the
    log scale, so they stay positive."""
    def flat(x: _State) -> np.ndarray:
        return np.concatenate([x[0], x[1], np.log(x[2]), [np.log(x[3])]])

    a0, a1, a2 = flat(x0), flat(x1), flat(x2)
    r, d = a1 - a0, a2 - 2.0 * a1 + a0
    dd = float(d @ d)
    alpha = min(-np.sqrt(float(r @ r) / dd), -1.0) if dd > 0 else -1.0
    out = a0 - 2.0 * alpha * r + alpha * alpha * d
    ni, nw = len(x0[0]), len(x0[1])
    # a scale leaps at most e^3 beyond the three it was extrapolated from (exp must not overflow)
    logs = np.stack([a0, a1, a2])[:, ni + nw:]
    scales = np.exp(np.clip(out[ni + nw:], logs.min(axis=0) - 3.0, logs.max(axis=0) + 3.0))
    return out[:ni], out[ni:ni + nw], scales[:-1], float(scales[-1])


def _squarem(step: Any, change: Any, state: _State, max_iter: int, tol: float) -> tuple[_State, int, bool]:
    """Iterate `step` to its fixed point, accelerated by SQUAREM (Varadhan & Roland 2008): two steps, a leap
    along them, and a step from there, kept only where that last step moves no more than the second one did
    (the t model's EM has no cheap objective to check; a step's size is how far a state is from the fixed
    point). On 100k items it converges in a fraction of the 375 plain steps. Returns (state, steps, converged)."""
    n = 0
    while n < max_iter:
        s1 = step(state)
        n += 1
        d1 = change(state, s1)
        if d1 <= tol or n >= max_iter:
            return s1, n, d1 <= tol
        s2 = step(s1)
        n += 1
        d2 = change(s1, s2)
        if d2 <= tol or n >= max_iter:
            return s2, n, d2 <= tol
        leap = _extrapolate(state, s1, s2)
        s3 = step(leap)
        n += 1
        d3 = change(leap, s3)
        finite = np.isfinite(d3) and bool(np.all(np.isfinite(s3[2]))) and np.isfinite(s3[3])
        if finite and d3 <= d2:
            state = s3
            if d3 <= tol:
                return state, n, True
        else:
            state = s2
    return state, n, False


def aggregate_numeric(
    items: Any,
    workers: Any,
    values: Any,
    *,
    known: Mapping[int, float] | None = None,
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

    known: gold values, item index -> true value. Those items keep their value (stderr 0) and their labels
    measure the workers' noise and bias, even where a gold item has a single label; biases are then
    measured against the gold values instead of against the typical worker.
    df: Student-t degrees of freedom of the errors (smaller = more robust); None = Gaussian.
    prior_strength: pseudo-labels pulling each worker's scale toward the pooled one.
    bias_prior: pseudo-labels pulling each bias toward zero (0 can overfit when workers share few
    items); bias=False fixes biases at zero. Workers seen only on single-label items keep bias 0.
    Raises QualityInputError naming the argument for NaN/inf values, mismatched arrays or a bad `known`.
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
    k_idx, k_val = _parse_known(known, ni)
    est = np.full(ni, np.nan)
    err = np.full(ni, np.nan)
    est[k_idx], err[k_idx] = k_val, 0.0
    if len(x) == 0:
        return NumericAggregate(est, err, np.full(nw, np.nan), np.zeros(nw), np.zeros(0), 0, True)

    is_known = np.zeros(ni, dtype=bool)
    is_known[k_idx] = True
    m = np.bincount(it, minlength=ni)
    # labels that measure their worker's error: on items with >= 2 labels, or on gold items, whose value
    # does not depend on the label (a single label on any other item is its item's value, residual 0)
    measured = ((m[it] >= 2) | is_known[it]).astype(np.float64)
    has = m > 0
    # with labels on gold items, biases are measured against the gold: the common shift is not free
    anchored = bool(is_known[it].any())
    # work in standardised units (median centre, overall spread) for numerical safety; gold values count
    # so that one far from the labels stays of moderate size
    both = np.concatenate([x, k_val])
    center = float(np.median(both))
    scale = float(np.std(both)) or 1.0
    z = (x - center) / scale
    kz = (k_val - center) / scale
    # the labels' step only: it is the workers' rounding, and a gold value written more finely is exact
    # (relative to the values' spread it can be tiny: integers from 10 to 1e9 are 1 apart, 3e-9 standardised;
    # 1e-12 stands in only where the values are written finer than 6 decimals)
    step = _step(x)
    floor = max((step / scale) ** 2 / 12.0, 1e-30) if step > 0 else 1e-12
    v = (_group_median(it, x, ni) - center) / scale
    v[k_idx] = kz
    dev = np.abs(z - v[it])[measured > 0]
    # start from the within-item spread (robust), not the overall one, so outliers stand out at once
    pooled = max((1.4826 * float(np.median(dev))) ** 2, 1e-4) if len(dev) else 1.0
    b = np.zeros(nw)
    sig2 = np.full(nw, pooled)
    measurable = bool(measured.any())
    n_measured = np.bincount(wk, weights=measured, minlength=nw)
    seen = n_measured > 0  # workers whose bias the data can inform

    def item_means(y: np.ndarray, prec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tot = np.bincount(it, weights=prec, minlength=ni)
        out = np.zeros(ni)
        np.divide(np.bincount(it, weights=prec * y, minlength=ni), tot, out=out, where=has)
        out[k_idx] = kz  # gold items stay clamped
        return out, tot

    by_item = np.argsort(it, kind="stable")  # labels grouped by item, for `settle`
    first = np.concatenate([[0], np.cumsum(m)[:-1]])

    def settle(v_new: np.ndarray, v_old: np.ndarray, b: np.ndarray, sig2: np.ndarray) -> np.ndarray:
        """Iterate the values of the items that still move most (their robust weights against their values)
        with the workers' parameters held: on an item whose labels split (154, 158, 159, 154) the weights
        shift a little each step, and that one item held 100k others to 100+ extra full steps."""
        moved = np.where(has, np.abs(v_new - v_old), 0.0)  # an item without labels starts at NaN
        moved[k_idx] = 0.0
        top = float(moved.max(initial=0.0))
        if df is None or top <= tol:  # Gaussian errors: the values are already exact given the workers
            return v_new
        slow = np.flatnonzero(moved > 0.1 * top)
        if len(slow) > SETTLE_MAX_ITEMS:
            slow = slow[np.argpartition(-moved[slow], SETTLE_MAX_ITEMS)[:SETTLE_MAX_ITEMS]]
        size = m[slow]
        pos = by_item[np.repeat(first[slow] - np.cumsum(size) + size, size) + np.arange(int(size.sum()))]
        local = np.repeat(np.arange(len(slow)), size)
        y, s2 = z[pos] - b[wk[pos]], sig2[wk[pos]]
        values = v_new[slow]
        for _ in range(SETTLE_STEPS):
            r = y - values[local]
            prec = (df + 1.0) / (df + r * r / s2) / s2
            new = np.bincount(local, weights=prec * y, minlength=len(slow)) / np.bincount(local, weights=prec,
                                                                                       minlength=len(slow))
            done = float(np.max(np.abs(new - values))) <= tol
            values = new
            if done:
                break
        out = v_new.copy()
        out[slow] = values
        return out

    def weights(state: _State) -> np.ndarray:
        """Each label's robust weight u = (df + 1) / (df + z^2) under `state` (1 everywhere when Gaussian)."""
        v, b, sig2, _ = state
        r = z - b[wk] - v[it]
        return (df + 1.0) / (df + r * r / sig2[wk]) if df is not None else np.ones(len(z))

    def step(state: _State) -> _State:
        """One EM step of the t model: weights, item values, biases, then scales."""
        v, b, sig2, pooled = state
        u = weights(state)
        prec = u / sig2[wk]
        v_new, tot = item_means(z - b[wk], prec)
        if bias:
            # a worker seen only on single-label items keeps bias 0
            b = _biases(z - v_new[it], prec * measured, wk, nw, bias_prior / sig2)
            if seen.any() and not anchored:  # pin the free common shift
                b[seen] -= np.average(b[seen], weights=n_measured[seen])
            v_new, tot = item_means(z - b[wk], prec)
        v_new = settle(v_new, v, b, sig2)
        if measurable:
            r = z - b[wk] - v_new[it]
            # 1 - leverage: a label's pull on its item's value is not evidence of agreement; a gold
            # item's value is not pulled at all
            lev = np.where(is_known[it], 1.0, 1.0 - prec / tot[it])
            pooled = _pooled_scale(r, u, lev, pooled, df, floor)
            sig2 = _worker_scales(r, u, lev, wk, nw, pooled, prior_strength, floor)
        return v_new, b, sig2, pooled

    def change(a: _State, c: _State) -> float:
        return max(float(np.max(np.abs(c[0] - a[0])[has])), float(np.max(np.abs(c[1] - a[1]), initial=0.0)),
                   float(np.max(np.abs(np.sqrt(c[2]) - np.sqrt(a[2])), initial=0.0)))

    state: _State = (v, b, sig2, pooled)
    state, n_iter, converged = _squarem(step, change, state, max_iter, tol)
    v, b, sig2, pooled = state
    u = weights(state)
    prec = u / sig2[wk]
    if bias and seen.any() and not anchored:  # fix the free common shift: the typical worker is unbiased
        b[seen] -= _weighted_median(b[seen], n_measured[seen])
        v, _ = item_means(z - b[wk], prec)
    tot = np.bincount(it, weights=prec, minlength=ni)
    free = has & ~is_known
    est[free] = center + scale * v[free]
    sigma = np.sqrt(sig2) * scale if measurable else np.full(nw, np.nan)
    if measurable:
        err[free] = scale / np.sqrt(tot[free])
    return NumericAggregate(
        estimate=est,
        stderr=err,
        worker_sigma=sigma,
        worker_bias=b * scale,
        label_weight=u * (df / (df + 1.0)) if df is not None else u,
        iterations=n_iter,
        converged=converged,
    )
