"""Rating: each item gets one value on an evenly spaced numeric scale (1-5 stars, a 0-10 score, 1-7 Likert).

The scale's values are the project's labels ("1" ... "5"), so truth inference, worker confusion, the
manager page and exports work as for classification: a worker's confusion matrix over the scale shows a
harsh rater (one point low) or a lenient one, which Dawid-Skene and `auto` correct for. Answers are
stored as the value's label ("4"); a number (4 or 4.0) is accepted wherever an answer is. Beyond the
most probable value, every item gets an `estimate`: the posterior mean over the scale, the figure to
rank or average items by (a 3/4 split between two values is 3.5, not a coin toss between them).

A spec gives the scale as `scale: {min, max, step}` (step defaults to 1), or its values as `labels`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, DecimalException
from typing import Any

import numpy as np

from truthline.errors import Invalid, shown
from truthline.tasktypes.base import MAX_LABELS, Inference, Labels
from truthline.tasktypes.classification import Classification

MAX_DECIMALS = 6  # a scale's values are written with at most this many decimals
# and are at most this large: 15 significant digits, so each is exact as a float (the estimate), and a label
# like "1e5000" is refused before it is spelled out (5,000 digits; JSON cannot even write it as an integer)
MAX_MAGNITUDE = 10**9


def _decimal(value: Any, field: str) -> Decimal:
    """A finite number (or a numeric string) as an exact Decimal; Invalid naming `field` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Invalid(f"must be a number, got {shown(value)}", field=field)
    try:  # a float by its shortest repr: 0.1 is "0.1", not 0.1000000000000000055...
        number = Decimal(value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float)
                         else value)
    except DecimalException:
        raise Invalid(f"must be a number, got {shown(value)}", field=field) from None
    if not number.is_finite():
        raise Invalid(f"must be a finite number, got {shown(value)}", field=field)
    if number.copy_abs() > MAX_MAGNITUDE:  # exact (abs() and normalize() overflow on 1e1000000)
        raise Invalid(f"must be from -{MAX_MAGNITUDE:,} to {MAX_MAGNITUDE:,}, got {shown(value)}", field=field)
    if -int(number.normalize().as_tuple().exponent) > MAX_DECIMALS:
        raise Invalid(f"must have at most {MAX_DECIMALS} decimals, got {shown(value)}", field=field)
    return number


def _text(value: Decimal) -> str:
    """The label of a scale value: plain notation, no trailing zeros ("4", "2.5", "-0.25")."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def scale_labels(scale: Any) -> list[str]:
    """The labels of `scale` = {min, max, step (default 1)}: min, min + step, ..., max."""
    if not isinstance(scale, Mapping):
        raise Invalid("scale must be an object {min, max, step}, e.g. {\"min\": 1, \"max\": 5}", field="scale")
    unknown = sorted(set(scale) - {"min", "max", "step"})
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(map(shown, unknown))}; a scale has min, max and step",
                      field=f"scale.{unknown[0]}")
    for key in ("min", "max"):
        if key not in scale:
            raise Invalid("is required, e.g. {\"min\": 1, \"max\": 5}", field=f"scale.{key}")
    low, high = _decimal(scale["min"], "scale.min"), _decimal(scale["max"], "scale.max")
    step = _decimal(scale.get("step", 1), "scale.step")
    if step <= 0:
        raise Invalid(f"must be above 0, got {shown(scale.get('step'))}", field="scale.step")
    if high <= low:
        raise Invalid(f"must be above scale.min ({_text(low)}), got {_text(high)}", field="scale.max")
    points = (high - low) / step
    if points != points.to_integral_value():
        raise Invalid(f"max - min ({_text(high - low)}) must be a whole number of steps ({_text(step)})",
                      field="scale.step")
    if points + 1 > MAX_LABELS:
        raise Invalid(f"the scale has {int(points) + 1} values; at most {MAX_LABELS} (take a larger step)",
                      field="scale.step")
    return [_text(low + i * step) for i in range(int(points) + 1)]


def _labels_scale(labels: Any) -> list[str]:
    """Labels given as the scale's values: numbers, ascending, evenly spaced; returned as canonical labels."""
    if not isinstance(labels, list) or not labels:
        raise Invalid("a rating project needs its scale: scale {min, max, step}, or its values as labels, "
                      "e.g. [1, 2, 3, 4, 5]", field="labels")
    if len(labels) > MAX_LABELS:  # before each is parsed
        raise Invalid(f"a scale has at most {MAX_LABELS} values, got {len(labels)}", field="labels")
    values = [_decimal(x, f"labels[{i}]") for i, x in enumerate(labels)]
    if len(values) < 2:
        raise Invalid("a scale needs at least 2 values", field="labels")
    step = values[1] - values[0]
    for i in range(1, len(values)):
        if values[i] - values[i - 1] != step or step <= 0:
            raise Invalid(f"a scale's values rise in equal steps ({_text(values[0])}, {_text(values[1])}, ...); "
                          f"got {_text(values[i])} after {_text(values[i - 1])}", field=f"labels[{i}]")
    return scale_labels({"min": values[0], "max": values[-1], "step": step})


class Rating(Classification):
    name = "rating"
    widget = "classification"  # one button per value; single-digit values are their own shortcut keys
    options = ("scale",)

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if config.get("scale") is not None:
            labels = scale_labels(config["scale"])
            given = config.get("labels")  # labels given too must be the same values, not quietly dropped
            if given is not None and not _same_values(given, labels):
                raise Invalid(f"labels and scale disagree: the scale's values are {_listed(labels)}; give one of "
                              "them", field="labels")
        else:
            labels = _labels_scale(config.get("labels"))
        values = [Decimal(x) for x in labels]
        return {"labels": labels, "scale": {"min": _number(values[0]), "max": _number(values[-1]),
                                            "step": _number(values[1] - values[0])}}

    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> str:
        labels = config["labels"]
        if isinstance(answer, str) and answer in labels:
            return answer
        try:
            text = _text(_decimal(answer, field))
        except Invalid:
            text = None
        if text not in labels:
            raise Invalid(f"{shown(answer)} is not a value of this project's scale; valid values: "
                          f"{_listed(labels)}", field=field)
        return text

    def infer(self, labels: Labels, config: Mapping[str, Any], method: str, gold: Mapping[int, Any]) -> Inference:
        inf = super().infer(labels, config, method, gold)
        if inf.probabilities is not None:
            values = np.array([float(x) for x in config["labels"]])
            inf.estimate = inf.probabilities @ values  # NaN rows (no answer) stay NaN
        return inf

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().describe(config), "scale": dict(config.get("scale") or {})}


def _same_values(given: Any, labels: list[str]) -> bool:
    try:
        return _labels_scale(given) == labels
    except Invalid:
        return False


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _listed(labels: Sequence[str]) -> str:
    """The scale's values for an error message: all of a short scale, the ends of a long one."""
    return ", ".join(labels) if len(labels) <= 12 else f"{labels[0]}, {labels[1]}, ..., {labels[-1]}"


__all__ = ["Rating", "scale_labels"]
