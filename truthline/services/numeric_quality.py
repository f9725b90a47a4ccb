"""The quality report of a numeric project: agreement on the values, each worker's bias and noise beside
how often they land within the tolerance of the answers, the answers' error against hidden truth, and
whether their confidence holds up (the categorical report's confusions and slips have no counterpart).

Managers and admins only (callers load the labels through `results.load_for`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from truthline import offload
from truthline.quality import QualityInputError, binned_error, reliability
from truthline.quality.agreement import krippendorff_alpha
from truthline.quality.workers import accuracy_interval
from truthline.services.results import ProjectLabels, gold_record, scored_items, truth_accuracy, worker_info
from truthline.tasktypes.numeric import decimals_written, half_width, model_for, numeric_labels, within

MIN_CALIBRATION_ITEMS = 20  # as the categorical report: fewer make a reliability chart of noise


def check_method(data: ProjectLabels, method: str) -> None:
    """Refuse a method a numeric project does not infer with, also before there are labels to infer from
    (results refuses it then; the reports answered empty)."""
    if data.project.task_type == "numeric":
        model_for(method)


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 4)


def _agreement_metrics(items: np.ndarray, values: np.ndarray) -> dict[str, float | None]:
    """Krippendorff's alpha on the values: nominal (only equal values agree), ordinal and interval (a 12
    against a 13 is a smaller disagreement than a 12 against a 40). Fleiss' kappa needs categories: None."""
    def alpha(level: str) -> float | None:
        try:
            return _num(krippendorff_alpha(items, np.zeros(len(items), np.int64), values, level=level))
        except QualityInputError:  # no item has two labels yet
            return None

    return {"krippendorff_alpha": alpha("nominal"), "fleiss_kappa": None,
            "krippendorff_alpha_ordinal": alpha("ordinal"), "krippendorff_alpha_interval": alpha("interval")}


def agreement(data: ProjectLabels) -> dict[str, float | None]:
    def compute() -> dict[str, float | None]:
        items, _, values = numeric_labels(data.labels)
        return offload.call(_agreement_metrics, items, values, size=len(values))
    return data.memo(("numeric agreement",), compute)


def _error_vs_truth(data: ProjectLabels, method: str) -> float | None:
    """Mean absolute error of the unrounded estimates against hidden truth, over `scored_items`."""
    inf = data.infer(method)
    scored = [i for i in scored_items(data, data.truth, "truth") if isinstance(data.truth[i], (int, float))]
    if not scored or inf.estimate is None:
        return None
    return _num(np.mean([abs(inf.estimate[i] - float(data.truth[i])) for i in scored]))


def _calibration(data: ProjectLabels, method: str) -> dict[str, Any] | None:
    """Confidence (the chance that the truth lies within the tolerance of the answer, at least half the
    labels' step) against hidden truth, as the categorical report bins it: an answer is right on that same
    event (a count of 12 against a truth of 12.3 with tolerance 0 is right, as its confidence says; scored on
    the tolerance alone it was wrong, and every confidence looked too high). None below MIN_CALIBRATION_ITEMS
    items or where confidence is undefined."""
    inf = data.infer(method)
    items = [i for i in scored_items(data, data.truth, "truth")
             if math.isfinite(inf.confidence[i]) and isinstance(data.truth[i], (int, float))]
    if len(items) < MIN_CALIBRATION_ITEMS:
        return None
    half = half_width(decimals_written(numeric_labels(data.labels)[2]), data.project.config)  # as infer finds it
    answers = np.array([float(inf.answers[i]) for i in items])
    right = within(answers, np.array([float(data.truth[i]) for i in items]), half)
    parts = reliability(inf.confidence[items], right)
    bins = [{"lower": b.lower, "upper": b.upper, "items": b.items, "confidence": round(b.confidence, 4),
             "accuracy": round(b.accuracy, 4)} for b in parts]
    return {"items": len(items), "error": round(binned_error(parts), 4), "bins": bins}


def workers(engine: Engine, data: ProjectLabels, method: str, level: float) -> list[dict[str, Any]]:
    """The workers table: accuracy = share of their labels within the tolerance (at least half the written
    step) of the answers, with a Beta credible interval, counted on items another label or gold can
    contradict; plus the model's `bias` (added to the true value, in the answers' units) and `noise`
    (the scale of their errors). `mv` assumes neither: bias 0 and one shared noise."""
    inf = data.infer(method)
    fit = inf.fit
    user_ids = data.user_ids.tolist()
    names, active = worker_info(engine, data)
    n_labels = np.bincount(data.labels.workers, minlength=len(user_ids))
    gold_n, gold_ok = gold_record(data)
    unknown = np.isnan(inf.worker_accuracy)  # no label can disagree, or none is ever exactly right
    counted = inf.worker_labels
    mean, lower, upper = accuracy_interval(np.where(unknown, 0.0, inf.worker_accuracy) * counted, counted,
                                           level=level)
    return [
        {"user_id": int(uid), "username": names.get(int(uid), str(uid)), "n_labels": int(n_labels[w]),
         "accuracy": None if unknown[w] else _num(mean[w]), "lower": None if unknown[w] else _num(lower[w]),
         "upper": None if unknown[w] else _num(upper[w]), "spammer_score": None,
         "gold_labels": int(gold_n[w]), "gold_correct": int(gold_ok[w]),
         "mean_active_ms": _num(active.get(int(uid))), "top_slip": None,
         "bias": _num(fit.worker_bias[w]), "noise": _num(fit.worker_sigma[w])}
        for w, uid in enumerate(user_ids)
    ]


def report(engine: Engine, data: ProjectLabels, method: str, level: float) -> dict[str, Any]:
    """The quality report's numeric fields (see dashboard.quality_report), plus `error_vs_truth`."""
    return {"agreement": dict(agreement(data)), "accuracy_vs_truth": truth_accuracy(data, data.infer(method)),
            "error_vs_truth": _error_vs_truth(data, method), "calibration": _calibration(data, method),
            "workers": workers(engine, data, method, level)}
