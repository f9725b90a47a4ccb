"""Truth inference over a project's labels: per-item answers, per-worker accuracy, the manager summary.

Labels are read with one query and turned into index arrays; the numerics live in truthline.quality
(through the project's task type). Gold answers clamp inference; hidden `truth` is only compared against.
A pairwise project's items that name both sides' ids are answered with the strengths of the project's ranking
(`ProjectLabels.infer`), which is fitted on the crowd's answers alone (`crowd_infer`).
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import numpy as np
from sqlalchemy.engine import Connection, Engine

from truthline import offload
from truthline.errors import Invalid, shown
from truthline.services.access import project_for
from truthline.services.tasks import IMPORT_KEY_PREFIX
from truthline.store import annotations as annotation_store
from truthline.store import items as item_store
from truthline.store.db import read_tx
from truthline.store.records import Project, User
from truthline.tasktypes import Inference, Labels, TaskType, get_task_type
from truthline.tasktypes.pairwise import HIDDEN, Ranking, Sides, rank, side_indices, strength_informed


T = TypeVar("T")


@dataclass
class ProjectLabels:
    """Everything inference needs, loaded in one read transaction. Item index = position in item_ids."""

    project: Project
    task_type: TaskType
    item_ids: np.ndarray
    external_ids: list[str]
    gold: dict[int, Any]
    truth: dict[int, Any]
    labels: Labels
    user_ids: np.ndarray  # worker index -> user id
    n_labels_per_item: np.ndarray
    sides: Sides | None = None  # pairwise projects: what produced each item's candidates, from the same snapshot
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """compute(), once per loaded label set and key (callers must not modify what it returns)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def crowd_infer(self, method: str, use_gold: bool = True) -> Inference:
        """The task type's truth inference from the labels (and gold) alone."""
        check_method(method)
        gold = self.gold if use_gold else {}
        return self.memo(("crowd_infer", method, use_gold),
                         lambda: self.task_type.infer(self.labels, self.project.config, method, gold))

    def infer(self, method: str, use_gold: bool = True) -> Inference:
        """The answers results, exports and the quality figures give: `crowd_infer`, and in a pairwise project
        whose items name side ids, those items' posteriors given the ranking's strengths too (gold stays
        clamped; see tasktypes.pairwise.strength_informed)."""
        crowd = self.crowd_infer(method, use_gold)
        if self.sides is None or not self.sides.named:
            return crowd
        clamped = self.gold if use_gold else {}
        return self.memo(("infer", method, use_gold), lambda: strength_informed(
            crowd, self.ranking(method, use_gold), self.project.config["labels"], clamped))

    def ranking(self, method: str, use_gold: bool = True) -> Ranking:
        """Pairwise: Bradley-Terry over the side ids, once per label set and method. Fitted on the crowd's
        posteriors, never on `infer`'s, which already hold the strengths (the evidence would count twice).
        use_gold False (scoring against gold) fits without it, so gold does not reach the answers it scores."""
        if self.sides is None:
            raise Invalid(f"only pairwise projects have a ranking; this one is {self.project.task_type}",
                          field="project_id")
        sides = self.sides

        def fit() -> Ranking:
            probabilities = self.crowd_infer(method, use_gold).probabilities
            return offload.call(rank, sides.a, sides.b, sides.ids, probabilities, size=len(self.labels.items))

        return self.memo(("ranking", method, use_gold), fit)


def check_method(method: str) -> None:
    """Refuse an unknown truth-inference method name (Invalid naming `method`)."""
    from truthline.quality import METHODS  # here: importing this module must not load SciPy

    if method not in METHODS:
        raise Invalid(f"unknown method {shown(method)}; choose one of: {', '.join(sorted(METHODS))}", field="method")


class JsonMemo(dict):  # type: ignore[type-arg]
    """Decodes JSON texts, each distinct text once (a project has few distinct answers)."""

    def __missing__(self, text: str) -> Any:
        value = self[text] = json.loads(text)
        return value


def load_labels(conn: Connection, project: Project) -> ProjectLabels:
    rows = item_store.index_rows(conn, project.id)
    item_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    memo = JsonMemo()
    gold = {i: memo[r[2]] for i, r in enumerate(rows) if r[2] is not None}
    truth = {i: memo[r[3]] for i, r in enumerate(rows) if r[3] is not None}
    a_items, a_users, texts = annotation_store.label_rows(conn, project.id)
    answers = [memo[t] for t in texts]
    items = np.searchsorted(item_ids, np.asarray(a_items, dtype=np.int64))  # ids are sorted
    user_ids, workers = np.unique(np.asarray(a_users, dtype=np.int64), return_inverse=True)
    labels = Labels(items=items.astype(np.int64), workers=workers.astype(np.int64).reshape(-1), answers=answers,
                    n_items=len(rows), n_workers=len(user_ids))
    return ProjectLabels(project, get_task_type(project.task_type), item_ids, [r[1] for r in rows],
                         gold, truth, labels, user_ids, np.bincount(items, minlength=len(rows)),
                         _sides(conn, project, item_ids))


def _sides(conn: Connection, project: Project, item_ids: np.ndarray) -> Sides | None:
    """A pairwise project's side ids, read with the labels (one snapshot: an item imported in between would
    otherwise be ranked without its labels); None for other task types."""
    if project.task_type != "pairwise":
        return None
    return side_indices(item_store.fields_present(conn, project.id, HIDDEN), item_ids)


def fingerprint(conn: Connection, project: Project) -> tuple[tuple[Any, ...], dict[str, int]]:
    """What changes whenever a project's labels, items, gold/truth or settings do (labels are never edited,
    only added, and imports that rewrite existing items bump items_version), plus its progress counts."""
    progress = item_store.progress(conn, project.id, time.time())
    key = (progress["items"], progress["labels"], progress["gold"], project.items_version,
           json.dumps(project.as_dict()), json.dumps(project.config, sort_keys=True))
    return key, progress


# engine -> OrderedDict[project id -> (fingerprint, labels)]: results, workers, exports and the manager page
# of an unchanged project reuse the loaded labels and every inference already run on them (a 100k-item
# project's `auto` takes seconds). A few projects per process; each entry is O(labels).
_LOADED: WeakKeyDictionary[Engine, OrderedDict[int, tuple[tuple[Any, ...], ProjectLabels]]] = WeakKeyDictionary()
_LOADED_MAX = 4
_loaded_lock = threading.Lock()


def load_for(engine: Engine, actor: User, project_id: int) -> ProjectLabels:
    """Authorize (managers, admins) and load a project's labels (from memory while they are unchanged)."""
    with read_tx(engine) as conn:
        return load_in(engine, conn, actor, project_id)


def load_in(engine: Engine, conn: Connection, actor: User, project_id: int) -> ProjectLabels:
    """`load_for` in the caller's transaction (an export reads its rows in the same snapshot)."""
    project, _ = project_for(conn, actor, project_id, manage=True)
    key, _ = fingerprint(conn, project)
    return _labels(engine, conn, project, key)


def _labels(engine: Engine, conn: Connection, project: Project, key: tuple[Any, ...]) -> ProjectLabels:
    """The project's labels for fingerprint `key`, read in `conn`'s snapshot unless already in memory."""
    with _loaded_lock:
        hit = _LOADED.get(engine, {}).get(project.id)
    if hit is not None and hit[0] == key:
        return hit[1]
    data = load_labels(conn, project)
    with _loaded_lock:
        cache = _LOADED.setdefault(engine, OrderedDict())
        cache[project.id] = (key, data)
        cache.move_to_end(project.id)
        while len(cache) > _LOADED_MAX:
            cache.popitem(last=False)
    return data


def worker_info(engine: Engine, data: ProjectLabels) -> tuple[dict[int, str], dict[int, float]]:
    """user_id -> username and user_id -> mean active ms per label, for the workers tables."""
    with read_tx(engine) as conn:
        return (annotation_store.usernames(conn, data.user_ids.tolist()),
                annotation_store.mean_active_ms(conn, data.project.id))


def first_picks(engine: Engine, data: ProjectLabels) -> dict[int, tuple[int, int]]:
    """Pairwise: user_id -> (A-or-B answers given on a lease, how many chose the candidate shown first), once
    per loaded label set (a scan of every label: half a second at 500k on SQLite)."""
    def read() -> dict[int, tuple[int, int]]:
        with read_tx(engine) as conn:
            return annotation_store.first_picks(conn, data.project.id, IMPORT_KEY_PREFIX)

    return data.memo("first_picks", read)


def rounded(x: float) -> float | None:
    """A probability or score as the API gives it: 6 decimals, None for NaN."""
    return None if x is None or math.isnan(x) else round(float(x), 6)


def significant(x: float) -> float | None:
    """An estimate or standard error to 12 significant digits (None for NaN): in the answers' own units, so
    decimals would cut a count of grains of 1e-7 g to 0 and keep float noise on a price of 1e9."""
    return None if x is None or math.isnan(x) else float(f"{x:.12g}")


def probability_rows(inf: Inference) -> list[list[float] | None]:
    """Per item: each label's probability (project label order), rounded like confidence; None where the
    item has no answer."""
    if inf.probabilities is None:
        raise Invalid(f"this project's task type gives no label probabilities (method {inf.method})",
                      field="probabilities")
    probs = inf.probabilities.round(6)
    return [None if answer is None else row for answer, row in zip(inf.answers, probs.tolist(), strict=True)]


def item_results(engine: Engine, actor: User, project_id: int, method: str = "auto",
                 probabilities: bool = False) -> list[dict[str, Any]]:
    """Per item: {item_id, external_id, answer, confidence, n_labels}; answer None where nothing is known.
    rating adds `estimate` (the posterior mean over the scale); numeric `estimate` (unrounded) and `stderr`.
    probabilities: add {label: probability} per item (None where nothing is known)."""
    data = load_for(engine, actor, project_id)
    inf = data.infer(method)
    rows = [
        {"item_id": int(item_id), "external_id": ext, "answer": answer, "confidence": rounded(conf), "n_labels": int(n)}
        for item_id, ext, answer, conf, n in zip(
            data.item_ids.tolist(), data.external_ids, inf.answers, inf.confidence.tolist(),
            data.n_labels_per_item.tolist(), strict=True)
    ]
    for name, column in inf.columns().items():  # rating: estimate; numeric: estimate and stderr
        for row, value in zip(rows, column.tolist(), strict=True):
            row[name] = significant(value)
    if probabilities:
        names = data.project.config["labels"]
        for row, probs in zip(rows, probability_rows(inf), strict=True):
            row["probabilities"] = None if probs is None else dict(zip(names, probs, strict=True))
    return rows


def gold_record(data: ProjectLabels) -> tuple[np.ndarray, np.ndarray]:
    """Per worker index: labels given to gold items, and how many of them match the gold answer."""
    gold_n = np.zeros(len(data.user_ids), dtype=np.int64)
    gold_ok = np.zeros(len(data.user_ids), dtype=np.int64)
    if not data.gold:
        return gold_n, gold_ok
    is_gold = np.zeros(data.labels.n_items, dtype=bool)
    is_gold[list(data.gold)] = True
    same, config = data.task_type.same_answer, data.project.config
    for j in np.flatnonzero(is_gold[data.labels.items]).tolist():  # only labels on gold items, not every label
        worker = int(data.labels.workers[j])
        gold_n[worker] += 1
        gold_ok[worker] += same(data.labels.answers[j], data.gold[int(data.labels.items[j])], config)
    return gold_n, gold_ok


def method_accuracy(engine: Engine, actor: User, project_id: int, method: str) -> float | None:
    """How often `method`'s answers match what the summary scores against (hidden truth, or without it
    gold, inferred with gold left unclamped); None where no labelled item has either."""
    data = load_for(engine, actor, project_id)
    reference, against = _reference(data)
    acc = _accuracy(data, data.infer(method, use_gold=against == "truth"), reference,
                    scored_items(data, reference, against))
    return None if acc is None else round(acc, 4)


def _reference(data: ProjectLabels) -> tuple[dict[int, Any], str]:
    """What answers are scored against: hidden truth, or where there is none, gold (inferred unclamped)."""
    return (data.truth, "truth") if data.truth else (data.gold, "gold")


def scored_items(data: ProjectLabels, reference: dict[int, Any], against: str) -> list[int]:
    """The items an accuracy is taken over: labeled items with a reference answer, gold items left out when
    the reference is hidden truth (clamped to their gold answer, they would count as right whatever the
    workers said)."""
    labelled = data.n_labels_per_item > 0
    skip = data.gold if against == "truth" else {}
    return [i for i in reference if labelled[i] and i not in skip]


def _accuracy(data: ProjectLabels, inf: Inference, reference: dict[int, Any], scored: list[int]) -> float | None:
    if not scored:
        return None
    same, config = data.task_type.same_answer, data.project.config
    return sum(bool(same(inf.answers[i], reference[i], config)) for i in scored) / len(scored)


def truth_accuracy(data: ProjectLabels, inf: Inference) -> float | None:
    """Share of `inf`'s answers equal to the hidden truth, over `scored_items` (None where none is)."""
    acc = _accuracy(data, inf, data.truth, scored_items(data, data.truth, "truth"))
    return None if acc is None else round(acc, 4)


# engine -> project id -> (fingerprint, figures): the manager page polls the summary, and two truth-inference
# runs over every label are only worth redoing when the fingerprint changed.
_summaries: WeakKeyDictionary[Engine, dict[int, tuple[tuple[Any, ...], dict[str, Any]]]] = WeakKeyDictionary()


def project_summary(engine: Engine, actor: User, project_id: int) -> dict[str, Any]:
    """The manager page: progress, label distribution, MV-vs-DS agreement, accuracy against hidden truth
    (or, without truth, against gold with gold left unclamped), worker count."""
    with read_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)
        key, progress = fingerprint(conn, project)
        cache = _summaries.setdefault(engine, {})
        cached = cache.get(project.id)
        figures = cached[1] if cached is not None and cached[0] == key else None
        if figures is None:  # the same labels (and MV/DS runs) the results and the quality report use
            figures = _figures(_labels(engine, conn, project, key))
            cache[project.id] = (key, figures)
    progress["percent"] = round(100.0 * progress["done"] / progress["items"], 1) if progress["items"] else 0.0
    # scale, range, tolerance, ties, random_order: null for other task types, as every other project response has
    # them (as_dict leaves them out)
    return {"project": {"scale": None, "range": None, "tolerance": None, "ties": None, "random_order": None,
                        **project.as_dict()},
            "progress": progress,
            **copy.deepcopy(figures)}


def _figures(data: ProjectLabels) -> dict[str, Any]:
    tt, project = data.task_type, data.project
    summary: dict[str, Any] = {
        "label_distribution": tt.label_counts(data.labels.answers, project.config),
        "workers": len(data.user_ids),
        "agreement": {"mv_vs_ds": None, "items": 0},
        "accuracy": {"against": None, "items": 0, "mv": None, "ds": None},
    }
    labelled = data.n_labels_per_item > 0
    if not labelled.any():
        return summary
    reference, against = _reference(data)
    use_gold = against == "truth"  # scoring against gold is only meaningful when gold does not clamp
    mv, ds = data.infer("mv", use_gold), data.infer("ds", use_gold)
    both = np.flatnonzero(labelled)
    agree = sum(bool(tt.same_answer(mv.answers[i], ds.answers[i], project.config)) for i in both.tolist())
    summary["agreement"] = {"mv_vs_ds": round(agree / len(both), 4), "items": int(len(both))}
    scored = scored_items(data, reference, against)
    if scored:
        mv_acc, ds_acc = _accuracy(data, mv, reference, scored), _accuracy(data, ds, reference, scored)
        summary["accuracy"] = {"against": against, "items": len(scored),
                               "mv": None if mv_acc is None else round(mv_acc, 4),
                               "ds": None if ds_acc is None else round(ds_acc, 4)}
    return summary
