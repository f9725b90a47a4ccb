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
    accepted = [name for name, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY]
    for name, value in opts.items():
        if name not in accepted:
            valid = ", ".join(accepted) or "none"
            raise QualityInputError(f"{name}: not an option of method {method!r}; its options: {valid}", name)
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            raise QualityInputError(f"{name}: must be a finite number, got {value}", name)
