"""What every task type provides. A new task type is one module with a `TaskType` subclass, registered
with `truthline.tasktypes.register` (see classification.py for the smallest complete example)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from truthline.errors import Invalid, Problem, shown

MAX_LABELS = 200


@dataclass
class Inference:
    """Truth inference over a project's items (index = position in the item list passed in)."""

    method: str
    answers: list[Any]  # per item: the inferred answer, None where the item has no labels and no gold
    confidence: np.ndarray  # per item, in [0, 1]; NaN where answers[i] is None
    worker_accuracy: np.ndarray  # per worker index
    # per item and label of the project (its config order): the posterior probability of the label (of the
    # class, for one-answer types; of the label being selected, for multilabel); NaN rows where answers[i] is None
    probabilities: np.ndarray | None = None
    # the quality method's own result (truthline.quality Aggregate, or MultilabelAggregate): the manager
    # page's worker intervals and calibration come from this same fit, not from a second one
    fit: Any = None
    # rating: per item, the posterior mean over the scale's values; numeric: the unrounded estimate
    # (NaN where answers[i] is None)
    estimate: np.ndarray | None = None
    stderr: np.ndarray | None = None  # numeric: the estimate's standard error (0 on gold)
    # numeric: per worker, the labels worker_accuracy is a share of (its credible interval's width)
    worker_labels: np.ndarray | None = None

    def columns(self) -> dict[str, np.ndarray]:
        """The per-item figures beyond answer and confidence that results and exports add, by name."""
        return {name: x for name, x in (("estimate", self.estimate), ("stderr", self.stderr)) if x is not None}


@dataclass
class Labels:
    """A project's annotations as parallel sequences, items and workers already mapped to 0..n-1."""

    items: np.ndarray
    workers: np.ndarray
    answers: Sequence[Any]
    n_items: int
    n_workers: int


class TaskType(ABC):
    name: ClassVar[str]
    widget: ClassVar[str]  # the workspace widget that renders this task type (truthline/web)
    min_labels: ClassVar[int] = 2
    # project spec fields of this task type only (rating: "scale"); one that makes the labels comes first
    options: ClassVar[tuple[str, ...]] = ()
    takes_labels: ClassVar[bool] = True  # False: answers are not chosen from labels (numeric)

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Check the task-type part of a project spec (labels, ...); return it normalized."""
        labels = config.get("labels")
        if not isinstance(labels, list):
            raise Invalid("labels must be a list of strings, e.g. [\"cat\", \"dog\"]", field="labels")
        for i, x in enumerate(labels):
            if not isinstance(x, str):
                raise Invalid(f"must be a string, got {shown(x)} (labels are names, e.g. [\"cat\", \"dog\"])",
                              field=f"labels[{i}]")
        cleaned = [x.strip() for x in labels]
        if len(cleaned) < self.min_labels or len(cleaned) > MAX_LABELS:
            raise Invalid(f"{self.name} needs between {self.min_labels} and {MAX_LABELS} labels, got {len(cleaned)}",
                          field="labels")
        if any(not x for x in cleaned):
            raise Invalid("labels must not be empty strings", field="labels")
        dupes = sorted({x for x in cleaned if cleaned.count(x) > 1})
        if dupes:
            raise Invalid(f"labels must be unique; repeated: {', '.join(dupes)}", field="labels")
        return {"labels": cleaned}

    def validate_item(self, data: Any, field: str = "data") -> list[Problem]:
        """Problems with an item's data (empty list when fine). Data is a JSON object; the keys the
        workspace renders (text, image_url, image as a data: URL) must be strings."""
        if not isinstance(data, dict) or not data:
            return [Problem("must be a non-empty JSON object, e.g. {\"text\": \"...\"}", field=field)]
        if type(data.get("text", "")) is str and "image" not in data and "image_url" not in data:
            return []  # the common text item, checked once per imported row: no list or loop
        problems = []
        for key in ("text", "image_url", "image"):
            if key in data and not isinstance(data[key], str):
                problems.append(Problem(f"must be a string, got {type(data[key]).__name__}", field=f"{field}.{key}"))
        image = data.get("image")
        if isinstance(image, str) and not image.startswith("data:image/"):
            problems.append(Problem("must be a data: URL (data:image/png;base64,...); use image_url for links",
                                    field=f"{field}.image"))
        url = data.get("image_url")
        if isinstance(url, str) and not url.lower().startswith(("http://", "https://", "/")):
            # the workspace puts it in <img src>: no javascript:, file: or other schemes
            problems.append(Problem("must be an http(s) URL or a path starting with /", field=f"{field}.image_url"))
        return problems

    def annotator_data(self, data: dict[str, Any], swapped: bool = False) -> dict[str, Any]:
        """An item's data as annotators get it (pairwise hides which model wrote which candidate, and shows B
        first where the lease is `swapped`)."""
        return data

    def swaps(self, config: Mapping[str, Any]) -> bool:
        """Whether each lease shows the item in an order of its own, drawn at random (pairwise's sides): the
        answer comes back in that order and `as_stored` turns it into the item's own."""
        return False

    def as_stored(self, answer: Any, swapped: bool) -> Any:
        """An answer given on a `swapped` lease, in the item's own terms (and back: the map is its own inverse)."""
        return answer

    @abstractmethod
    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> Any:
        """Return the answer normalized, or raise Invalid naming `field` and what is allowed."""

    @abstractmethod
    def infer(self, labels: Labels, config: Mapping[str, Any], method: str, gold: Mapping[int, Any]) -> Inference:
        """Truth inference (truthline.quality) over the labels; gold maps item index -> known answer."""

    @abstractmethod
    def label_counts(self, answers: Sequence[Any], config: Mapping[str, Any]) -> dict[str, int]:
        """How often each label was given (the manager page's label distribution)."""

    def same_answer(self, a: Any, b: Any, config: Mapping[str, Any] | None = None) -> bool:
        """Whether two answers count as the same (a worker's against gold, an inferred one against truth)."""
        return bool(a == b)

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"name": self.name, "widget": self.widget, "labels": list(config.get("labels", []))}
