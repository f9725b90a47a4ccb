"""Multilabel: each item gets any subset of N labels; the answer is a list of label strings.

Truth inference treats each label as its own yes/no question (per-label binary aggregation), so a
worker's reliability is estimated per label and averaged into one accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from truthline import offload
from truthline.errors import Invalid, shown
from truthline.tasktypes.base import Inference, Labels, TaskType
from truthline.tasktypes.classification import quality_error


def selection_matrix(answers: Sequence[Any], names: Sequence[str]) -> np.ndarray:
    """One row per answer, one column per name: True where the answer (a list) chose that label; anything
    else (unknown names, non-list answers) is ignored."""
    column = {name: j for j, name in enumerate(names)}
    selected = np.zeros((len(answers), len(names)), dtype=bool)
    for row, answer in enumerate(answers):
        for name in answer if isinstance(answer, list) else ():
            if name in column:
                selected[row, column[name]] = True
    return selected


class Multilabel(TaskType):
    name = "multilabel"
    widget = "multilabel"
    min_labels = 1

    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> list[str]:
        labels = config["labels"]
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise Invalid(f"must be a list of labels (possibly empty); valid labels: {', '.join(labels)}",
                          field=field)
        unknown = [a for a in answer if a not in labels]
        if unknown:
            more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
            raise Invalid(f"{', '.join(shown(u) for u in unknown[:5])}{more} not labels of this project; valid labels: "
                          f"{', '.join(labels)}", field=field)
        chosen = set(answer)
        return [label for label in labels if label in chosen]  # canonical order, no repeats

    def infer(self, labels: Labels, config: Mapping[str, Any], method: str, gold: Mapping[int, Any]) -> Inference:
        from truthline.quality import QualityInputError
        from truthline.quality.multilabel import aggregate_multilabel

        names = list(config["labels"])
        selected = selection_matrix(labels.answers, names)
        known = {i: [name in g for name in names] for i, g in gold.items() if isinstance(g, list)}
        try:
            agg = offload.call(aggregate_multilabel, labels.items, labels.workers, selected, n_items=labels.n_items,
                               n_workers=labels.n_workers, known=known or None, method=method,
                               size=len(labels.items) * len(names))
        except QualityInputError as exc:
            raise quality_error(exc) from exc
        has = np.zeros(labels.n_items, dtype=bool)
        has[labels.items] = True
        has[list(known)] = True
        p_yes = agg.probabilities
        answers = [[names[j] for j in np.flatnonzero(row)] if h else None
                   for row, h in zip(agg.answers, has.tolist(), strict=True)]
        # An item's confidence is that of its least certain yes/no decision.
        confidence = np.where(has, np.maximum(p_yes, 1 - p_yes).min(axis=1), np.nan)
        probabilities = np.where(has[:, None], p_yes, np.nan)
        return Inference(method, answers, confidence, agg.worker_accuracy.mean(axis=1), probabilities, fit=agg)

    def label_counts(self, answers: Sequence[Any], config: Mapping[str, Any]) -> dict[str, int]:
        counts = dict.fromkeys(config["labels"], 0)
        for a in answers:
            for label in a if isinstance(a, list) else ():
                if label in counts:
                    counts[label] += 1
        return counts

    def same_answer(self, a: Any, b: Any, config: Mapping[str, Any] | None = None) -> bool:
        return set(a or []) == set(b or [])
