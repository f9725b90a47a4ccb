"""Does a confidence mean what it says? Reliability bins and the expected calibration error.

An answer given with confidence p should be right a share p of the time. Binning items by confidence
and comparing each bin's mean confidence with its accuracy (against truth the method never saw) shows
where a method is too sure or too shy; the expected calibration error sums the gaps, weighted by how
many items each bin holds (0 = right exactly as often as it says).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .labels import QualityInputError

__all__ = ["ReliabilityBin", "binned_error", "calibration_error", "reliability"]


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float  # confidence range [lower, upper); the top bin includes 1
    upper: float
    items: int
    confidence: float  # mean confidence of its items
    accuracy: float  # share of them answered right


def reliability(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins of confidence over [0, 1], the empty ones left out."""
    confidence = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(right, dtype=bool)
    if confidence.shape != right.shape or confidence.ndim != 1:
        raise QualityInputError("confidence, right: one value each per item", "right")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise QualityInputError(f"bins: must be an integer >= 1, got {bins!r}", "bins")
    slack = 1e-9  # a renormalized posterior's maximum may exceed 1 by rounding
    if confidence.size and not (np.isfinite(confidence).all() and confidence.min() >= -slack
                                and confidence.max() <= 1 + slack):
        raise QualityInputError("confidence: must be probabilities in [0, 1]", "confidence")
    confidence = np.clip(confidence, 0.0, 1.0)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(ReliabilityBin(b / bins, (b + 1) / bins, int(mask.sum()),
                                      float(confidence[mask].mean()), float(right[mask].mean())))
    return out


def calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: sum over the bins of (share of items) x |mean confidence - accuracy|;
    NaN for no items."""
    return binned_error(reliability(confidence, right, bins))


def binned_error(parts: list[ReliabilityBin]) -> float:
    """`calibration_error` from bins already made by `reliability`."""
    total = sum(b.items for b in parts)
    if not total:
        return float("nan")
    return float(sum(b.items / total * abs(b.confidence - b.accuracy) for b in parts))
