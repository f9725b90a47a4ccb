"""Numeric: each item gets a number (a count, a length, a price, a year). The answer is a JSON number.

Truth inference is the robust worker model of `truthline.quality.numeric`: each worker has a bias (reads
high or low) and a noise scale, errors are Student-t so one wild value counts for little, gold values are
clamped and measure the workers. `auto` (also under the name `ds`: one model per worker, as Dawid-Skene
is for classes) is that model; `mv` is the plain mean of an item's labels, every worker alike.

An item's answer is its estimate rounded to the step nine in ten labels are written in (whole counts stay
whole), and kept within the project's range; `estimate` is the unrounded value and `stderr` its standard error.
Confidence is the chance that the true value lies within the tolerance of the answer (at least half a
step: a count of 12 is right when the truth rounds to 12), under a normal law around the estimate.

A spec may give `range: {min, max}` (either end may be left out): answers outside it are refused.
`tolerance` (default 0) is how far from the gold answer a worker's answer still counts as right, and
how far from the truth an answer is scored right.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from truthline import offload
from truthline.errors import Invalid, shown
from truthline.tasktypes.base import Inference, Labels, TaskType

# Answers are at most this large: beyond 2**53 integers are no longer exact as JSON numbers read by a
# browser, and 1e15 is more than any count or measurement a crowd types in.
MAX_MAGNITUDE = 1e15
METHODS = {"auto": "auto", "ds": "auto", "mv": "mv"}  # the method names a numeric project answers to
# aggregate_numeric's options per model: mv is the plain mean (no bias, Gaussian errors, one noise scale)
MODEL_OPTIONS: dict[str, dict[str, Any]] = {"auto": {}, "mv": {"bias": False, "df": None, "prior_strength": 1e12}}
# float noise allowed when two numbers are compared against a tolerance, relative to the larger of them (and
# the tolerance): a few units in the last place, so 0.1 + 0.2 is 0.3 while 1500000001 is not 1500000000
_RELATIVE = 4 * float(np.finfo(np.float64).eps)
_WRITTEN = 1e-14  # how far (relative) x * 10**d may lie from a whole number when x is written with d decimals
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def number(value: Any, field: str) -> int | float:
    """A finite number within ±MAX_MAGNITUDE (numeric strings too: CSV cells; Decimal: a Parquet decimal
    column of prices), as an int where it is whole. A string must be written as JSON writes a number (ASCII
    digits, an optional sign, point and exponent, surrounding spaces allowed): Python's float() also reads
    "1_000" and other scripts' digits, which no spreadsheet or JSON parser reads as that number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, str, Decimal, np.integer,
                                                                      np.floating)):
        raise Invalid(f"must be a number, got {shown(value)}", field=field)
    if isinstance(value, str):
        text = value.strip()
        if _NON_FINITE.fullmatch(text):
            raise Invalid(f"must be a finite number, got {shown(value)}", field=field)
        if not _NUMBER.fullmatch(text):
            raise Invalid(f"must be a number, got {shown(value)}", field=field)
    if isinstance(value, Decimal) and not value.is_finite():
        raise Invalid(f"must be a finite number, got {shown(value)}", field=field)
    try:
        x = float(value)
    except OverflowError:  # an int beyond float64: a number, only far too large
        x = math.inf
    if isinstance(value, (float, np.floating)) and not math.isfinite(x):
        raise Invalid(f"must be a finite number, got {shown(value)}", field=field)
    if abs(x) > MAX_MAGNITUDE:  # also "1e400" and a 400-digit int, which float() reads as infinite
        raise Invalid(f"must be from -{MAX_MAGNITUDE:.0e} to {MAX_MAGNITUDE:.0e}, got {shown(value)}", field=field)
    return int(x) if x == int(x) else x


def model_for(method: str) -> str:
    """The model a numeric project's `method` names (auto, or mv: see the module's docstring); Invalid else."""
    model = METHODS.get(method)
    if model is None:
        raise Invalid(f"numeric projects infer with auto (each worker's bias and noise; also called ds) or mv "
                      f"(the plain mean of the labels), not {shown(method)}", field="method")
    return model


def _range(value: Any) -> dict[str, int | float]:
    if not isinstance(value, Mapping):
        raise Invalid("range must be an object {min, max}, e.g. {\"min\": 0, \"max\": 100}", field="range")
    unknown = sorted(set(value) - {"min", "max"})
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(map(shown, unknown))}; a range has min and max",
                      field=f"range.{unknown[0]}")
    # {} or {"min": null}: no bound on that side (how a range is taken off again)
    out = {key: number(value[key], f"range.{key}") for key in ("min", "max") if value.get(key) is not None}
    if "min" in out and "max" in out and out["max"] <= out["min"]:
        raise Invalid(f"must be above range.min ({out['min']}), got {out['max']}", field="range.max")
    return out


def _tolerance(value: Any) -> int | float:
    x = number(value, "tolerance")
    if x < 0:
        raise Invalid(f"must be 0 or more, got {shown(value)}", field="tolerance")
    return x


def within(a: Any, b: Any, tolerance: float) -> Any:
    """|a - b| <= tolerance, forgiving float noise (0.1 + 0.2 is within 0 of 0.3); elementwise on arrays."""
    return np.abs(a - b) <= tolerance + _RELATIVE * np.maximum(np.maximum(np.abs(a), np.abs(b)), tolerance)


def range_text(bounds: Mapping[str, Any] | None) -> str:
    """A numeric project's range in words: "0 to 100", "at least 0", "at most 5", "any number"."""
    low, high = (bounds or {}).get("min"), (bounds or {}).get("max")
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    return "any number" if high is None else f"at most {high}"


STEP_SHARE = 0.9  # answers are written as finely as this share of the labels is


def decimals_written(values: np.ndarray) -> int | None:
    """The decimals answers are rounded to: as many as STEP_SHARE of the labels are written with (None: finer
    than 6), so one "4.5" among whole counts does not make every count's answer a tenth."""
    if len(values) == 0:
        return 0
    written = np.full(len(values), 7)  # 7: finer than 6 decimals
    for digits in range(6, -1, -1):
        scaled = values * 10.0**digits
        # relative to the value's size, as float noise is: 1e-9 read 1234567890.25 as a whole number
        written[np.abs(scaled - np.round(scaled)) <= _WRITTEN * np.abs(scaled)] = digits
    digits = int(np.quantile(written, STEP_SHARE, method="higher"))
    return None if digits == 7 else digits


def _answer(estimate: float, decimals: int | None, bounds: Mapping[str, float]) -> int | float:
    """The estimate rounded to the workers' step and kept within the project's range (and ±MAX_MAGNITUDE, the
    bound on any answer: a bias-corrected estimate may lie beyond it). Rounding never leaves the range: an end
    off the step (a count's min of 2.5) answers the nearest step inside it (3), one on it (0.3, or 0.1 + 0.2
    as float arithmetic stored it) answers that end as given; a range narrower than a step, the end itself."""
    low = max(float(bounds.get("min", -math.inf)), -MAX_MAGNITUDE)
    high = min(float(bounds.get("max", math.inf)), MAX_MAGNITUDE)
    x = min(max(estimate, low), high)
    if decimals is not None:
        unit = 10.0**decimals
        rounded = round(x, decimals)
        if rounded < low:
            rounded = low if _on_step(low, decimals) else round(math.ceil(low * unit) / unit, decimals)
        elif rounded > high:
            rounded = high if _on_step(high, decimals) else round(math.floor(high * unit) / unit, decimals)
        if low <= rounded <= high:
            x = rounded
    return int(x) if decimals == 0 and x == int(x) else x


def _on_step(x: float, decimals: int) -> bool:
    """x written with `decimals` decimals, up to float noise."""
    return abs(x - round(x, decimals)) <= _RELATIVE * max(abs(x), 10.0**-decimals)


def _confidence(estimate: np.ndarray, stderr: np.ndarray, answers: np.ndarray, half_width: float) -> np.ndarray:
    """P(|truth - answer| <= half_width) for truth ~ Normal(estimate, stderr): 1 where stderr is 0 (gold, also
    when half_width is 0: its answer is the truth); NaN where the noise is unknown (no item has two labels) or
    half_width is 0 (no chance of an exact hit)."""
    from scipy.special import ndtr

    with np.errstate(divide="ignore", invalid="ignore"):
        upper = ndtr((answers + half_width - estimate) / stderr)
        lower = ndtr((answers - half_width - estimate) / stderr)
    out = np.where(np.isnan(stderr) | (half_width == 0), np.nan, upper - lower)
    return np.where(stderr == 0, 1.0, out)


def _fit(items: np.ndarray, workers: np.ndarray, values: np.ndarray, n_items: int, n_workers: int,
         model: str, known: dict[int, float]) -> Any:
    """aggregate_numeric as `model` names it: the worker model (auto), or the plain mean (mv: no bias, a
    Gaussian error and one noise scale shared by every worker)."""
    from truthline.quality.numeric import aggregate_numeric

    return aggregate_numeric(items, workers, values, n_items=n_items, n_workers=n_workers, known=known or None,
                             **MODEL_OPTIONS[model])


class Numeric(TaskType):
    name = "numeric"
    widget = "numeric"
    options = ("range", "tolerance")
    takes_labels = False

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if config.get("labels"):
            raise Invalid("a numeric project has no labels: its answers are numbers (give `range` to bound them)",
                          field="labels")
        out: dict[str, Any] = {"labels": [], "tolerance": _tolerance(config.get("tolerance", 0))}
        bounds = _range(config["range"]) if config.get("range") is not None else {}
        if bounds:
            out["range"] = bounds
        return out

    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> int | float:
        x = number(answer, field)
        bounds = config.get("range") or {}
        low, high = bounds.get("min"), bounds.get("max")
        if (low is not None and x < low) or (high is not None and x > high):
            where = f"{'from ' if low is not None and high is not None else ''}{range_text(bounds)}"
            raise Invalid(f"must be {where} (the project's range), got {shown(answer)}", field=field)
        return x

    def infer(self, labels: Labels, config: Mapping[str, Any], method: str, gold: Mapping[int, Any]) -> Inference:
        from truthline.quality import QualityInputError

        model = model_for(method)
        items, workers, values = numeric_labels(labels)
        known = {i: float(g) for i, g in gold.items() if is_number(g)}
        try:
            fit = offload.call(_fit, items, workers, values, labels.n_items, labels.n_workers, model, known,
                               size=len(values))
        except QualityInputError as exc:
            from truthline.tasktypes.classification import quality_error

            raise quality_error(exc) from exc
        decimals = decimals_written(values)
        bounds = config.get("range") or {}
        has = ~np.isnan(fit.estimate)
        answers = [_answer(e, decimals, bounds) if h else None
                   for e, h in zip(fit.estimate.tolist(), has.tolist(), strict=True)]
        for i, g in known.items():  # gold is answered as given, not rounded to the workers' step
            answers[i] = number(g, "gold")
        as_array = np.array([np.nan if a is None else float(a) for a in answers])
        half = half_width(decimals, config)
        confidence = _confidence(fit.estimate, fit.stderr, as_array, half)
        right, counted = worker_agreement(items, workers, values, as_array, labels.n_workers, half, list(known))
        accuracy = np.full(labels.n_workers, np.nan)
        if half > 0:  # 0 (written finer than 6 decimals, no tolerance): no label is ever exactly right
            np.divide(right, counted, out=accuracy, where=counted > 0)
        return Inference(method, answers, confidence, accuracy, fit=fit, estimate=fit.estimate, stderr=fit.stderr,
                         worker_labels=counted)

    def label_counts(self, answers: Sequence[Any], config: Mapping[str, Any]) -> dict[str, int]:
        """How often each value was given, up to 20 distinct values; beyond, 10 equal bins ("0–10": n). Each
        key names its value exactly and keys never collide (with 6 significant digits 1234567 and 1234568 were
        one key, and the counts of the one overwrote the other's)."""
        values = np.array([float(a) for a in answers if is_number(a)])
        distinct, counts = np.unique(values, return_counts=True)
        if len(distinct) <= 20:
            return {_exact(v): int(n) for v, n in zip(distinct.tolist(), counts.tolist(), strict=True)}
        counts, edges = np.histogram(values, bins=10)
        names = _texts(edges.tolist())
        out: dict[str, int] = {}
        for lo, hi, n in zip(names[:-1], names[1:], counts.tolist(), strict=True):
            key = f"{lo}–{hi}"
            out[key] = out.get(key, 0) + int(n)  # edges a float cannot tell apart: one bin, nothing lost
        return out

    def same_answer(self, a: Any, b: Any, config: Mapping[str, Any] | None = None) -> bool:
        if not (is_number(a) and is_number(b)):
            return bool(a == b)
        return bool(within(float(a), float(b), float((config or {}).get("tolerance") or 0)))


def is_number(x: Any) -> bool:
    """A stored answer that is a number (JSON: int or float, not a boolean)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def numeric_labels(labels: Labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(items, workers, values) of the labels that are numbers (all of them, unless the project changed type)."""
    keep = [j for j, a in enumerate(labels.answers) if is_number(a)]
    return labels.items[keep], labels.workers[keep], np.array([float(labels.answers[j]) for j in keep],
                                                              dtype=np.float64)


def half_width(decimals: int | None, config: Mapping[str, Any]) -> float:
    """How far from the truth an answer is right: the tolerance, and at least half the step the answers are
    rounded to (`decimals_written`): a count of 12 is right for a truth of 12.3."""
    step = 0.0 if decimals is None else 10.0**-decimals
    return max(float(config.get("tolerance") or 0), step / 2)


def _exact(x: float) -> str:
    """x as it reads back: whole numbers without a point ("1234567"), others as their shortest repr."""
    return str(int(x)) if x == int(x) else repr(x)


def _texts(xs: list[float]) -> list[str]:
    """The bin edges in as few significant digits (at least 6) as keep them apart."""
    for digits in range(6, 16):
        texts = [f"{x:.{digits}g}" for x in xs]
        if len(set(texts)) == len(set(xs)):
            return texts
    return [_exact(x) for x in xs]


def worker_agreement(items: np.ndarray, workers: np.ndarray, values: np.ndarray, answers: np.ndarray,
                     n_workers: int, half: float, gold_items: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per worker, (labels within `half` of the answer, labels counted), over the labels that can disagree
    with the answer: on items with two labels or more, or gold (a lone label is its item's answer)."""
    per_item = np.bincount(items, minlength=len(answers))
    is_gold = np.zeros(len(answers), dtype=bool)
    is_gold[gold_items] = True
    counted = (per_item[items] >= 2) | is_gold[items]
    right = counted & within(values, answers[items], half)
    return (np.bincount(workers, weights=right, minlength=n_workers),
            np.bincount(workers, weights=counted, minlength=n_workers))


__all__ = ["MODEL_OPTIONS", "Numeric", "decimals_written", "half_width", "is_number", "model_for", "number",
           "numeric_labels", "range_text", "within", "worker_agreement"]
