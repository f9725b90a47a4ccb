"""Multilabel aggregation: one binary truth-inference problem per label.

Each answer is a set of selected labels, given as a boolean row of an (n_answers, L) matrix. A label
left unselected is evidence that it is absent, so every answer votes on every label. Each label is
fitted with a binary model (Dawid-Skene by default: per-worker sensitivity and specificity), which
gives each item a probability per label and each worker an accuracy per label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .labels import CrowdLabels, QualityInputError, _as_index_array
from .registry import aggregate

__all__ = ["MultilabelAggregate", "aggregate_multilabel"]


# What each label's `auto` fit says about itself, kept per label (the per-worker arrays are not)
AUTO_PARAMS = ("model_weights", "temperature", "temperature_gold_items")


@dataclass(frozen=True)
class MultilabelAggregate:
    """probabilities (n_items, L): P(label present); worker_accuracy (n_workers, L);
    worker_confusion (n_workers, L, 2, 2): row = truly absent/present, column = not selected/selected;
    label_params: per label, its fit's AUTO_PARAMS (empty dicts for methods that have none).
    """

    probabilities: np.ndarray
    worker_accuracy: np.ndarray
    worker_confusion: np.ndarray
    label_params: tuple[dict[str, np.ndarray], ...] = ()

    @property
    def answers(self) -> np.ndarray:
        """(n_items, L) boolean answer set: labels with probability >= 0.5."""
        return self.probabilities >= 0.5


def _as_selection(selected: Any, n: int) -> np.ndarray:
    try:
        sel = np.asarray(selected)
    except Exception as exc:
        raise QualityInputError(f"selected: cannot be read as an array ({exc})", "selected") from exc
    if sel.ndim != 2 or sel.shape[1] < 1:
        raise QualityInputError(f"selected: expected shape (n_answers, n_labels), got {sel.shape}", "selected")
    if sel.shape[0] != n:
        raise QualityInputError(f"selected: has {sel.shape[0]} rows but items has {n}; one row per answer", "selected")
    if sel.dtype != bool:
        if sel.dtype.kind not in "iuf" or not np.all((sel == 0) | (sel == 1)):
            raise QualityInputError("selected: expected booleans (or 0/1)", "selected")
        sel = sel == 1
    return sel


def _known_for_label(known: Mapping[int, Any] | None, n_labels: int) -> list[dict[int, int] | None]:
    if known is None:
        return [None] * n_labels
    if not isinstance(known, Mapping):  # before its truth value: an array's is ambiguous
        raise QualityInputError("known: expected a mapping of item index -> boolean label vector", "known")
    if not known:
        return [None] * n_labels
    per: list[dict[int, int] | None] = []
    dicts: list[dict[int, int]] = [{} for _ in range(n_labels)]
    for item, row in known.items():
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):  # int("a") would raise, int(1.5) truncate
            raise QualityInputError(f"known: item indices must be integers, got {item!r}", "known")
        vec = np.asarray(row)
        if vec.shape != (n_labels,) or not (vec.dtype == bool or np.all((vec == 0) | (vec == 1))):
            raise QualityInputError(f"known: item {item} needs {n_labels} booleans, got {row!r}", "known")
        for j in range(n_labels):
            dicts[j][int(item)] = int(bool(vec[j]))
    per.extend(dicts)
    return per


def aggregate_multilabel(
    items: Any,
    workers: Any,
    selected: Any,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    known: Mapping[int, Any] | None = None,
    method: str = "ds",
    **opts: Any,
) -> MultilabelAggregate:
    """Per-label binary truth inference for multilabel answers.

    items, workers: one entry per answer; selected: (n_answers, L) booleans, the labels each answer chose.
    known: gold items, item index -> boolean vector of the L labels. `method` and `opts` go to
    `aggregate` for every label (default "ds", binary Dawid-Skene).
    """
    it = _as_index_array("items", items)
    base = CrowdLabels.from_arrays(it, workers, np.zeros(len(it), np.int64), n_items=n_items, n_workers=n_workers)
    sel = _as_selection(selected, base.n_labels)
    n_lab = sel.shape[1]
    per_known = _known_for_label(known, n_lab)
    prob = np.empty((base.n_items, n_lab))
    acc = np.empty((base.n_workers, n_lab))
    conf = np.empty((base.n_workers, n_lab, 2, 2))
    params = []
    for j in range(n_lab):
        data = CrowdLabels(base.items, base.workers, sel[:, j].astype(np.int64), base.n_items, base.n_workers, 2)
        agg = aggregate(data, method, per_known[j], **opts)
        prob[:, j] = agg.posteriors[:, 1]
        acc[:, j] = agg.worker_accuracy
        conf[:, j] = agg.worker_params["confusion"]
        params.append({key: agg.worker_params[key] for key in AUTO_PARAMS if key in agg.worker_params})
    return MultilabelAggregate(probabilities=prob, worker_accuracy=acc, worker_confusion=conf,
                               label_params=tuple(params))
