"""Name -> method table and the `aggregate` entry point the rest of Truthline calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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
    return fn(labels, known, **opts)
