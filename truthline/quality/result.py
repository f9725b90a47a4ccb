"""The result every truth-inference method returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Aggregate"]


@dataclass
class Aggregate:
    """Per-item posteriors over classes plus per-worker estimates.

    `posteriors` is (n_items, n_classes), rows sum to 1; items with no labels get the class prior.
    `worker_accuracy` is each worker's estimated probability of giving the true class.
    `worker_params` holds method-specific arrays: "confusion" (n_workers, K, K) for every method
    (row = true class, column = given label), plus e.g. "skill", "difficulty", "spam".
    `item_params` holds method-specific per-item arrays beyond the posteriors (EBCC: "subtypes").
    """

    method: str
    posteriors: np.ndarray
    worker_accuracy: np.ndarray
    worker_params: dict[str, np.ndarray] = field(default_factory=dict)
    iterations: int = 0
    converged: bool = True
    class_prior: np.ndarray | None = None
    item_params: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def answers(self) -> np.ndarray:
        """Most probable class per item (ties go to the lowest class index)."""
        return np.argmax(self.posteriors, axis=1).astype(np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """Posterior probability of the chosen answer."""
        return np.max(self.posteriors, axis=1) if self.posteriors.size else np.zeros(len(self.posteriors))
