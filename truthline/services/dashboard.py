"""Quality figures for the manager page that `results` does not give: agreement metrics (Krippendorff's
alpha, Fleiss' kappa) and each worker's accuracy with a credible interval and a spammer score.

The worker figures come from the same run of the chosen method that results and exports answer from, so
the page pays for truth inference once per change of the project's labels (plus the summary's MV and DS),
and its figures describe the answers a manager exports. Both task types are read as one categorical
problem: classification as is; multilabel as one yes/no question per (item, label), so a multilabel
worker's accuracy is "share of yes/no decisions that were right".
Managers and admins only (same rule as `results`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from truthline import offload
from truthline.quality import (CrowdLabels, QualityInputError, binned_error, class_confusion, label_decisions,
                               reliability, top_confusions, top_label_slips, top_slips)
from truthline.quality.agreement import fleiss_kappa, krippendorff_alpha
from truthline.quality.auto import choice as auto_choice
from truthline.quality.workers import WorkerStats, accuracy_interval, worker_stats
from truthline.services import numeric_quality
from truthline.services.results import (ProjectLabels, check_method, first_picks, gold_record, load_for,
                                        truth_accuracy, worker_info)
from truthline.store.records import User
from truthline.tasktypes.classification import Classification
from truthline.tasktypes.multilabel import selection_matrix

LEVEL = 0.95  # credible-interval mass shown on the page
# The crowd's class-by-label counts are given in full up to this many classes (a 300-class matrix is 90k
# numbers); the most frequent confusions are given at any size.
CONFUSION_MAX_CLASSES = 30
TOP_CONFUSIONS = 8
MIN_CONFUSIONS = 3  # labels a confusion needs to be listed (on 45 classes and 200 items, single slips filled the list)
# Fewer items with hidden truth than this make a reliability chart of noise (a bin of 2 items is 0, 50 or 100%).
MIN_CALIBRATION_ITEMS = 20


def _categorical(data: ProjectLabels) -> CrowdLabels:
    """The project's labels as (item, worker, class) indices."""
    labels, config = data.labels, data.project.config
    names = list(config["labels"])
    n_workers = max(labels.n_workers, 1)
    if data.project.task_type == "multilabel":
        k = len(names)
        chosen = selection_matrix(labels.answers, names).astype(np.int64)
        items = (labels.items[:, None] * k + np.arange(k)[None, :]).reshape(-1)
        workers = np.repeat(labels.workers, k)
        return CrowdLabels.from_arrays(items, workers, chosen.reshape(-1), n_items=max(labels.n_items * k, 1),
                                       n_workers=n_workers, n_classes=2)
    items, workers, classes = Classification().to_arrays(labels, config)
    return CrowdLabels.from_arrays(items, workers, classes,
                                   n_items=max(labels.n_items, 1), n_workers=n_workers, n_classes=len(names))


def _crowd(data: ProjectLabels) -> CrowdLabels:
    """`_categorical`, built once per loaded label set (worker figures and agreement both need it)."""
    return data.memo(("categorical",), lambda: _categorical(data))


def _confusions(data: ProjectLabels, fit: _Fit) -> dict[str, Any] | None:
    """How the crowd labelled the items of each class, by the answer the method gives them (gold: its gold
    answer), so a manager sees which classes the guidelines leave confusable:
    {"labels", "counts": [[labels]] row = the items' answer, column = label given (None beyond
    CONFUSION_MAX_CLASSES classes), "top": the TOP_CONFUSIONS largest off-diagonal cells (of MIN_CONFUSIONS+) as
    {"answer", "given", "labels", "share" (of the labels on that class's items)}}. None for multilabel."""
    if data.project.task_type == "multilabel":
        return None
    names = list(data.project.config["labels"])
    # by the answers, as exported: weighting by posteriors (mv's are vote shares) would split a 3-2 item over two rows
    counts = class_confusion(_crowd(data), fit.predicted)
    top = [{"answer": names[a], "given": names[g], "labels": n, "share": share}
           for a, g, n, share in top_confusions(counts, TOP_CONFUSIONS, MIN_CONFUSIONS)]
    full = counts.tolist() if len(names) <= CONFUSION_MAX_CLASSES else None
    return {"labels": names, "counts": full, "top": top}


def _label_misses(data: ProjectLabels, fit: _Fit) -> list[dict[str, Any]] | None:
    """Multilabel: per label, how often workers left it out of items the method says have it ("missed", of
    "of_yes" answers on those items) and ticked it on items without it ("added", of "of_no"): the
    multilabel counterpart of `_confusions` (a forgotten tag against one ticked too eagerly). None otherwise."""
    if data.project.task_type != "multilabel":
        return None
    names = data.project.config["labels"]
    table = label_decisions(_crowd(data), fit.predicted, len(names)).sum(axis=0)  # (label, answer, said)
    return [{"label": name, "missed": int(t[1, 0]), "of_yes": int(t[1].sum()), "added": int(t[0, 1]),
             "of_no": int(t[0].sum())} for name, t in zip(names, table)]


def _calibration(data: ProjectLabels, fit: _Fit) -> dict[str, Any] | None:
    """Confidence against hidden truth: reliability bins and the calibration error, over labeled items with
    truth that are not gold (gold is clamped to certainty); for multilabel, over each such item's yes/no
    decision per label (the categorical crowd's rows). None below MIN_CALIBRATION_ITEMS such decisions."""
    names = list(data.project.config["labels"])
    labelled = data.n_labels_per_item > 0
    items = [i for i in data.truth if labelled[i] and i not in data.gold]
    if data.project.task_type == "multilabel":
        k = len(names)
        rows = np.array([i * k + j for i in items for j in range(k)], dtype=np.int64)
        truth = np.array([int(name in (data.truth[i] or [])) for i in items for name in names], dtype=np.int64)
    else:
        rows = np.array(items, dtype=np.int64)
        index = {name: c for c, name in enumerate(names)}
        truth = np.array([index.get(data.truth[i], -1) for i in items], dtype=np.int64)
    if len(rows) < MIN_CALIBRATION_ITEMS:
        return None
    confidence, right = fit.posteriors[rows].max(axis=1), fit.predicted[rows] == truth
    parts = reliability(confidence, right)
    bins = [{"lower": b.lower, "upper": b.upper, "items": b.items, "confidence": round(b.confidence, 4),
             "accuracy": round(b.accuracy, 4)} for b in parts]
    return {"items": len(rows), "error": round(binned_error(parts), 4), "bins": bins}


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 4)


def _metric(compute: Callable[[], float]) -> float | None:
    """An agreement metric, or None where it is undefined (no item has two labels yet)."""
    try:
        return _num(compute())
    except QualityInputError:
        return None


@dataclass(frozen=True)
class _Fit:
    """A method's run, the one results and exports answer from, read on the categorical crowd (`_crowd`;
    multilabel: a yes/no row per item and label): posteriors and answers per row, worker figures, and the
    fit's parameters (multilabel: none pooled; `label_params` holds each label's own fit's)."""

    posteriors: np.ndarray
    predicted: np.ndarray
    stats: WorkerStats
    params: dict[str, Any]
    label_params: tuple[dict[str, Any], ...] = ()


def _inference(data: ProjectLabels, method: str) -> _Fit:
    """`method`'s run over the project (shared with results and exports), memoized on `data`."""
    def compute() -> _Fit:
        crowd = _crowd(data)
        fit = data.infer(method).fit
        if data.project.task_type == "multilabel":
            p_yes = fit.probabilities.reshape(-1)  # row item * k + label, as `_categorical` lays them out
            posteriors = np.column_stack([1.0 - p_yes, p_yes])
            # a tie is "selected", as the answers say (MultilabelAggregate.answers)
            predicted, confusion, params = (p_yes >= 0.5).astype(np.int64), fit.worker_confusion.mean(axis=1), {}
            label_params = fit.label_params
        else:
            posteriors, predicted, params, label_params = fit.posteriors, fit.answers, fit.worker_params, ()
            confusion = params.get("confusion")
        stats = worker_stats(crowd, posteriors, confusion=confusion, level=LEVEL)
        return _Fit(posteriors, predicted, stats, params, label_params)

    return data.memo(("worker_quality", method), compute)  # data.infer names a bad method itself


def _agreement_metrics(crowd: CrowdLabels, scale: bool = False) -> dict[str, float | None]:
    """Nominal alpha and Fleiss' kappa; on a scale (rating: classes are its values in order, evenly spaced)
    also ordinal and interval alpha, which count a 4 against a 5 as a smaller disagreement than a 1 against
    a 5 (interval alpha is unchanged by the scale's min and step, so class indices stand for the values)."""
    def alpha(level: str) -> float | None:
        return _metric(lambda: krippendorff_alpha(crowd.items, crowd.workers, crowd.labels, level=level))

    metrics = {"krippendorff_alpha": alpha("nominal"),
               "fleiss_kappa": _metric(lambda: fleiss_kappa(crowd.items, crowd.labels, crowd.n_classes))}
    if scale:
        metrics.update(krippendorff_alpha_ordinal=alpha("ordinal"), krippendorff_alpha_interval=alpha("interval"))
    return metrics


def _agreement(data: ProjectLabels) -> dict[str, float | None]:
    """Krippendorff's alpha and Fleiss' kappa (rating: also ordinal and interval alpha): the same for every
    method, so memoized apart."""
    def compute() -> dict[str, float | None]:
        crowd = _crowd(data)
        return offload.call(_agreement_metrics, crowd, data.project.scale is not None, size=crowd.n_labels)
    return data.memo(("agreement",), compute)


def _slips(data: ProjectLabels, fit: _Fit) -> list[dict[str, Any] | None]:
    """Per worker, their most frequent habitual slip against the answers (`top_slips`, `top_label_slips`), named:
    {"kind": "confused", "answer", "given"} for classification; {"kind": "missed", "answer": label} (left out
    of items that have it) or {"kind": "added", "given": label} (chosen for items without it) for multilabel;
    each with "labels" (times) and "of" (their labels on such items)."""
    n = len(data.user_ids)
    names = data.project.config["labels"]
    crowd = _crowd(data)
    if data.project.task_type != "multilabel":
        slips = top_slips(crowd, fit.predicted)
        return [None if slips.answer[w] < 0 else
                {"kind": "confused", "answer": names[slips.answer[w]], "given": names[slips.given[w]],
                 "labels": int(slips.count[w]), "of": int(slips.of[w])} for w in range(n)]
    slips = top_label_slips(crowd, fit.predicted, len(names))

    def label_slip(w: int) -> dict[str, Any]:
        label, added = names[slips.answer[w]], bool(slips.given[w])
        return {"kind": "added" if added else "missed", "answer": None if added else label,
                "given": label if added else None, "labels": int(slips.count[w]), "of": int(slips.of[w])}

    return [None if slips.answer[w] < 0 else label_slip(w) for w in range(n)]


def _workers(engine: Engine, data: ProjectLabels, fit: _Fit) -> list[dict[str, Any]]:
    user_ids = data.user_ids.tolist()
    names, active = worker_info(engine, data)
    n_labels = np.bincount(data.labels.workers, minlength=len(user_ids))
    gold_n, gold_ok = gold_record(data)
    stats, slips = fit.stats, _slips(data, fit)
    rows = [
        {"user_id": int(uid), "username": names.get(int(uid), str(uid)), "n_labels": int(n_labels[w]),
         "accuracy": _num(stats.accuracy[w]), "lower": _num(stats.lower[w]), "upper": _num(stats.upper[w]),
         "spammer_score": _num(stats.spammer_score[w]), "gold_labels": int(gold_n[w]),
         "gold_correct": int(gold_ok[w]), "mean_active_ms": _num(active.get(int(uid))), "top_slip": slips[w]}
        for w, uid in enumerate(user_ids)
    ]
    if data.project.task_type == "pairwise":
        _add_first_picks(engine, data, rows)
    return rows


def _add_first_picks(engine: Engine, data: ProjectLabels, rows: list[dict[str, Any]]) -> None:
    """Pairwise: each worker's A-or-B answers given on a lease, how many chose the candidate shown first, and
    whether that share is above even odds beyond the credible interval (`leans_first`; None before any). In
    random order an honest worker picks the first about half the time, whichever candidates are better."""
    picks = first_picks(engine, data)
    n, k = np.array([picks.get(row["user_id"], (0, 0)) for row in rows], dtype=np.int64).reshape(-1, 2).T
    lower = accuracy_interval(k, n, LEVEL)[1]  # every worker at once (a Beta quantile each)
    for row, total, first, low in zip(rows, n.tolist(), k.tolist(), lower.tolist(), strict=True):
        row.update(ordered_answers=total, first_picks=first, leans_first=low > 0.5 if total else None)


SLIP_KEYS = ("kind", "answer", "given", "labels", "of")
WORKER_COLUMNS = ("worker", "user_id", "n_labels", "accuracy", "lower", "upper", "spammer_score", "gold_labels",
                  "gold_correct", "mean_active_ms", *(f"slip_{key}" for key in SLIP_KEYS))


NUMERIC_COLUMNS = ("bias", "noise")  # numeric projects' workers files add these
PAIRWISE_COLUMNS = ("ordered_answers", "first_picks", "leans_first")  # and pairwise projects' these


def worker_file(workers: list[dict[str, Any]], task_type: str) -> tuple[tuple[str, ...], list[list[Any]]]:
    """`workers_table` rows as a file's columns and rows (CSV/JSONL; the slip spread over its columns, and a
    numeric project's bias and noise or a pairwise project's first picks at the end, in its header even before
    anyone has labelled)."""
    extra = {"numeric": NUMERIC_COLUMNS, "pairwise": PAIRWISE_COLUMNS}.get(task_type, ())
    return (*WORKER_COLUMNS, *extra), [
        [w["username"], *(w[c] for c in WORKER_COLUMNS[1:-len(SLIP_KEYS)]),
         *((w["top_slip"] or {}).get(key) for key in SLIP_KEYS), *(w[c] for c in extra)] for w in workers]


def workers_table(engine: Engine, actor: User, project_id: int, method: str = "auto") -> list[dict[str, Any]]:
    """Per worker: {user_id, username, n_labels, accuracy, lower, upper, spammer_score, gold_labels,
    gold_correct, mean_active_ms, top_slip: {answer, given, labels, of} or None (see `_slips`)}: the table
    `quality_report` gives, without the agreement metrics.
    (accuracy = Beta posterior mean of agreement with the item posteriors, so every surface shows one figure.)"""
    data = load_for(engine, actor, project_id)
    check_method(method)
    numeric_quality.check_method(data, method)
    if len(data.labels.answers) == 0:
        return []
    if data.project.task_type == "numeric":
        return numeric_quality.workers(engine, data, method, LEVEL)
    return _workers(engine, data, _inference(data, method))


def quality_report(engine: Engine, actor: User, project_id: int, method: str = "auto") -> dict[str, Any]:
    """Agreement metrics and the workers table, from ONE run of `method` (the page's slowest part):

    {"agreement": {"krippendorff_alpha", "fleiss_kappa"}, "level": 0.95,
     "accuracy_vs_truth": share of labeled items with hidden truth where `method` is right (None without truth),
     "models": {model: weight} that `auto` blended (empty for other methods),
     "temperature": what `auto` tempered its posteriors by (1 = not at all; None for other methods),
     "temperature_gold_items": how many gold items checked that temperature (0: held-out labels alone),
     "per_label": multilabel `auto` only (every label is fitted on its own, so the three fields above stay
                  empty): [{"label", "selected" (answers that chose it), "answers", "models", "temperature",
                  "temperature_gold_items"}] in the labels' order,
     "calibration": {"items", "error", "bins": [{"lower", "upper", "items", "confidence", "accuracy"}]}
                    against hidden truth (None without enough of it; see `_calibration`),
     "confusion": which classes the crowd confuses, by the inferred answers (see `_confusions`),
     "label_misses": multilabel: per label, how often workers missed it or added it (see `_label_misses`),
     "workers": workers_table's rows}.
    Numeric projects: see numeric_quality.report (no confusion or slips; workers add bias and noise)."""
    data = load_for(engine, actor, project_id)
    check_method(method)
    numeric_quality.check_method(data, method)
    agreement = dict.fromkeys(["krippendorff_alpha", "fleiss_kappa"] + (  # rating: its scale's alphas too
        ["krippendorff_alpha_ordinal", "krippendorff_alpha_interval"] if data.project.scale is not None else []))
    report: dict[str, Any] = {"agreement": agreement, "level": LEVEL,
                              "accuracy_vs_truth": None, "workers": [], "models": {},
                              "temperature": None, "temperature_gold_items": 0, "per_label": [],
                              "calibration": None, "confusion": None, "label_misses": None}
    if data.project.task_type == "numeric":  # its agreement has the ordinal and interval alphas too
        agreement.update(krippendorff_alpha_ordinal=None, krippendorff_alpha_interval=None)
        report["error_vs_truth"] = None
    if len(data.labels.answers) == 0:
        return report
    if data.project.task_type == "numeric":
        return {**report, **numeric_quality.report(engine, data, method, LEVEL)}
    fit = _inference(data, method)
    report["agreement"] = dict(_agreement(data))
    report["accuracy_vs_truth"] = truth_accuracy(data, data.infer(method))
    report["calibration"] = _calibration(data, fit)
    report["confusion"] = _confusions(data, fit)
    report["label_misses"] = _label_misses(data, fit)
    if method == "auto":  # which models auto kept, so a manager can see what "auto" meant here
        if fit.label_params:
            names = data.project.config["labels"]
            crowd = _crowd(data)  # a yes/no row per (item, label): item * len(names) + label
            selected = np.bincount(crowd.items % len(names), weights=crowd.labels, minlength=len(names))
            report["per_label"] = [{"label": name, "selected": int(n), "answers": len(data.labels.answers),
                                    **auto_choice(p)} for name, n, p in zip(names, selected, fit.label_params)]
        elif "model_weights" in fit.params:
            report.update(auto_choice(fit.params))
    report["workers"] = _workers(engine, data, fit)
    return report
