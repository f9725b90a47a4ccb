"""Name -> method table and the `aggregate` entry point the rest of Truthline calls."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import auto, bcc, dawid_skene, ebcc, glad, mace, majority, one_coin, weighted_majority
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = ["METHODS", "aggregate"]

Method = Callable[..., Aggregate]


METHODS: dict[str, Method] = {
    "mv": majority.fit,
    "wmv": weighted_majority.fit,
    "one_coin": one_coin.fit,
    "ds": dawid_skene.fit,
    "glad": glad.fit,
    "mace": mace.fit,
    "bcc": bcc.fit,
    "ebcc": ebcc.fit,
    "auto": auto.fit,
}


def aggregate(
    labels: CrowdLabels, method: str = "auto", known: Mapping[int, int] | None = None, **opts: Any
) -> Aggregate:
    """Infer each item's true class with the named method (default "auto": chosen from the data).

    `known` maps item index -> true class (gold); those items are clamped and inform worker estimates.
    """
    if not isinstance(labels, CrowdLabels):
        raise QualityInputError("labels: expected a CrowdLabels; build one with CrowdLabels.from_arrays", "labels")
    fn = METHODS.get(method) if isinstance(method, str) else None
    if fn is None:
        raise QualityInputError(
            f"method: unknown method {method!r}; valid names: {', '.join(sorted(METHODS))}", "method"
        )
    _check_options(method, fn, opts)
    return fn(labels, known, **opts)


def _check_options(method: str, fn: Method, opts: Mapping[str, Any]) -> None:
    """Refuse options `method` does not take (rather than a TypeError from deep inside) and numbers that
    are NaN or infinite (a NaN tolerance never converges, nor fails)."""
    params = {name: p for name, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY}
    for name, value in opts.items():
        if name not in params:
            valid = ", ".join(params) or "none"
            raise QualityInputError(f"{name}: not an option of method {method!r}; its options: {valid}", name)
        _check_kind(name, value, params[name].default)
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            raise QualityInputError(f"{name}: must be a finite number, got {value}", name)


def _check_kind(name: str, value: Any, default: Any) -> None:
    """`value` of the kind the option's default is (a TypeError or a silent truncation deep inside a fit
    otherwise: max_iter="5", max_iter=2.5, smoothing=None)."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

    if isinstance(default, bool):
        ok, kind = isinstance(value, (bool, np.bool_)), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, (int, np.integer)) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = number(value), "a number"
    else:
        return  # arrays, tuples and options that default to None are checked by the method itself
    if not ok:
        raise QualityInputError(f"{name}: must be {kind}, got {value!r}", name)
