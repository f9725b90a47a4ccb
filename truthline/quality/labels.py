"""Crowd labels as three parallel integer arrays (item, worker, class): the input of every method.

One entry per label. The same (item, worker) pair may appear more than once (real data has such
repeats); every method treats each entry as one label. `auto` first drops repeats of the same answer
(`distinct`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CrowdLabels", "QualityInputError"]


class QualityInputError(ValueError):
    """Bad input to a quality function. The message names the offending argument (also in `.field`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _as_index_array(name: str, values: Any) -> np.ndarray:
    """Coerce `values` to a 1-D int64 array, refusing NaN, infinities, fractions, bools and negatives."""
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged lists and other oddities
        raise QualityInputError(f"{name}: cannot be read as an array ({exc})", name) from exc
    if arr.ndim != 1:
        if arr.size == 0:
            arr = arr.reshape(0)
        else:
            raise QualityInputError(f"{name}: expected a 1-D array, got shape {arr.shape}", name)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool:
        raise QualityInputError(f"{name}: expected integer indices, got booleans", name)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise QualityInputError(f"{name}: contains NaN or infinite values; drop those labels first", name)
        if not np.all(arr == np.floor(arr)):
            raise QualityInputError(f"{name}: contains non-integer values; expected integer indices", name)
        if float(np.abs(arr).max()) >= 2.0**63:  # the cast below would wrap (1e20 read as a negative index)
            raise QualityInputError(f"{name}: index too large", name)
    elif arr.dtype.kind not in "iu":
        raise QualityInputError(
            f"{name}: expected integer indices, got dtype {arr.dtype}; map ids to 0..n-1 first", name
        )
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise QualityInputError(f"{name}: index too large", name)
    out = arr.astype(np.int64)
    if out.size and int(out.min()) < 0:
        raise QualityInputError(f"{name}: contains negative indices (min {int(out.min())}); indices start at 0", name)
    return out


# Items, workers or classes a problem may have: per-item and per-worker arrays are allocated in full, so
# an index of 2**40 must fail here by name, not as a 16 TiB MemoryError inside a method.
MAX_COUNT = 2**31 - 1
MAX_TABLE_CELLS = 2**30  # 8 GiB of float64 per (items x classes) or (workers x classes^2) table


def _count(name: str, given: int | None, arr: np.ndarray, minimum: int, arr_name: str) -> int:
    inferred = int(arr.max()) + 1 if arr.size else 0
    if inferred > MAX_COUNT:
        raise QualityInputError(f"{arr_name}: value {inferred - 1} is too large (indices are 0..n-1, n up to "
                                f"{MAX_COUNT:,}); number them consecutively", arr_name)
    if given is None:
        return max(inferred, minimum)
    if isinstance(given, (bool, np.bool_)) or not isinstance(given, (int, np.integer)):
        raise QualityInputError(f"{name}: expected an int, got {given!r}", name)
    given = int(given)
    if not minimum <= given <= MAX_COUNT:
        raise QualityInputError(f"{name}: must be in {minimum}..{MAX_COUNT:,}, got {given}", name)
    if inferred > given:
        raise QualityInputError(
            f"{arr_name}: value {inferred - 1} is outside 0..{given - 1} ({name}={given})", arr_name
        )
    return given


@dataclass(frozen=True, eq=False)
class CrowdLabels:
    """Labels from workers on items: `labels[j]` is the class `workers[j]` gave to `items[j]`."""

    items: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    n_items: int
    n_workers: int
    n_classes: int

    @classmethod
    def from_arrays(
        cls,
        items: Any,
        workers: Any,
        labels: Any,
        *,
        n_items: int | None = None,
        n_workers: int | None = None,
        n_classes: int | None = None,
    ) -> CrowdLabels:
        """Validate and build. Counts default to max index + 1 (`n_classes` to at least 2).

        Raises QualityInputError naming the argument on mismatched lengths, non-integer values,
        NaN, negative or out-of-range indices, or `n_classes < 2`.
        """
        it = _as_index_array("items", items)
        wk = _as_index_array("workers", workers)
        lb = _as_index_array("labels", labels)
        if not (len(it) == len(wk) == len(lb)):
            raise QualityInputError(
                f"items, workers, labels: lengths differ ({len(it)}, {len(wk)}, {len(lb)}); one entry per label",
                "labels",
            )
        ni = _count("n_items", n_items, it, 0, "items")
        nw = _count("n_workers", n_workers, wk, 0, "workers")
        nc = _count("n_classes", n_classes, lb, 2, "labels")
        for arr in (it, wk, lb):
            arr.setflags(write=False)
        return cls(it, wk, lb, ni, nw, nc)

    def __post_init__(self) -> None:
        for name in ("items", "workers", "labels"):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype != np.int64:
                raise QualityInputError(f"{name}: must be a 1-D int64 array; use CrowdLabels.from_arrays", name)
        if not (len(self.items) == len(self.workers) == len(self.labels)):
            raise QualityInputError("items, workers, labels: lengths differ", "labels")
        if self.n_classes < 2:
            raise QualityInputError(f"n_classes: must be >= 2, got {self.n_classes}", "n_classes")
        for name, arr, bound in (
            ("items", self.items, self.n_items),
            ("workers", self.workers, self.n_workers),
            ("labels", self.labels, self.n_classes),
        ):
            if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= bound):
                raise QualityInputError(f"{name}: indices must be in 0..{bound - 1}", name)
        # every method holds (items, classes) posteriors and (workers, classes, classes) confusions: past
        # this a fit ends in MemoryError (one label on item 2^31 - 2 asked for 32 GiB)
        k = self.n_classes
        for name, rows, per_row, what in (("items", self.n_items, k, f"{k} classes"),
                                          ("workers", self.n_workers, k * k, f"{k}x{k} confusions")):
            if rows * per_row > MAX_TABLE_CELLS:
                raise QualityInputError(
                    f"{name}: {rows:,} {name} x {what} need {rows * per_row * 8 / 2**30:,.0f} GiB per table (at "
                    f"most {MAX_TABLE_CELLS:,} cells); number the {name} consecutively from 0", name)

    @property
    def n_labels(self) -> int:
        return int(len(self.labels))

    def distinct(self) -> CrowdLabels:
        """These labels without repeats of the same answer by the same worker to the same item (the first
        is kept, order preserved); itself when there are none.

        A judgement submitted twice was made once: counted twice, it doubles that worker's say on the
        item, against the independence every model here assumes (ZenCrowd holds ~6% such repeats). A
        worker who gave an item two different answers keeps both.
        """
        key = (self.items * self.n_workers + self.workers) * self.n_classes + self.labels
        _, first = np.unique(key, return_index=True)
        if len(first) == self.n_labels:
            return self
        return self.subset(np.sort(first))

    def subset(self, mask: np.ndarray) -> CrowdLabels:
        """The labels selected by a boolean mask or index array, keeping all counts."""
        return CrowdLabels(
            self.items[mask], self.workers[mask], self.labels[mask], self.n_items, self.n_workers, self.n_classes
        )
