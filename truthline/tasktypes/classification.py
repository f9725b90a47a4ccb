"""Classification: each item gets exactly one of N labels; the answer is the label string."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from truthline import offload
from truthline.errors import Invalid, shown
from truthline.tasktypes.base import Inference, Labels, TaskType


def run_aggregate(items: np.ndarray, workers: np.ndarray, classes: np.ndarray, n_items: int, n_workers: int,
                  n_classes: int, method: str, known: dict[int, int]) -> Any:
    """truthline.quality.aggregate with its input errors turned into Invalid(field="method")."""
    from truthline.quality import CrowdLabels, aggregate
    from truthline.quality.labels import QualityInputError

    try:
        data = CrowdLabels.from_arrays(items, workers, classes, n_items=n_items, n_workers=n_workers,
                                       n_classes=n_classes)
        return offload.call(aggregate, data, method=method, known=known or None, size=len(items))
    except QualityInputError as exc:
        raise quality_error(exc) from exc


def quality_error(exc: Exception) -> Invalid:
    """A truthline.quality input error as Invalid (its message starts with the field name: drop it)."""
    field = getattr(exc, "field", None) or "method"
    message = str(exc)
    return Invalid(message.removeprefix(f"{field}: "), field=field)


class Classification(TaskType):
    name = "classification"
    widget = "classification"

    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> str:
        labels = config["labels"]
        if not isinstance(answer, str) or answer not in labels:
            raise Invalid(f"{shown(answer)} is not a label of this project; valid labels: {', '.join(labels)}", field=field)
        return answer

    def to_arrays(self, labels: Labels, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items, workers, class indices); answers no longer in the label set are dropped."""
        index = {label: i for i, label in enumerate(config["labels"])}
        classes = np.fromiter((index.get(a, -1) for a in labels.answers), dtype=np.int64, count=len(labels.answers))
        keep = classes >= 0
        return labels.items[keep], labels.workers[keep], classes[keep]

    def infer(self, labels: Labels, config: Mapping[str, Any], method: str, gold: Mapping[int, Any]) -> Inference:
        names = list(config["labels"])
        index = {label: i for i, label in enumerate(names)}
        items, workers, classes = self.to_arrays(labels, config)
        known = {i: index[g] for i, g in gold.items() if g in index}
        agg = run_aggregate(items, workers, classes, labels.n_items, labels.n_workers, len(names), method, known)
        has = np.zeros(labels.n_items, dtype=bool)
        has[items] = True
        has[list(known)] = True
        answers = [names[k] if h else None for k, h in zip(agg.answers.tolist(), has.tolist(), strict=True)]
        confidence = np.where(has, agg.confidence, np.nan)
        probabilities = np.where(has[:, None], agg.posteriors, np.nan)
        return Inference(agg.method, answers, confidence, np.asarray(agg.worker_accuracy, dtype=float), probabilities,
                         fit=agg)

    def label_counts(self, answers: Sequence[Any], config: Mapping[str, Any]) -> dict[str, int]:
        counts = dict.fromkeys(config["labels"], 0)
        for a in answers:
            if a in counts:
                counts[a] += 1
        return counts
