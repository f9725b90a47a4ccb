"""A pairwise project's answers weigh the crowd with the ranking's strengths (ProjectLabels.infer): an item the
crowd splits goes to the side whose model wins elsewhere; items without ids and gold items keep the crowd's
answer; the ranking itself is still fitted on the crowd's answers alone, once per label set."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from truthline.services.dashboard import quality_report, workers_table
from truthline.services.exporting import export
from truthline.services.importing import import_items
from truthline.services.ranking import project_ranking
from truthline.services.results import item_results, load_for, project_summary, truth_accuracy
from truthline.services.tasks import next_task, submit
from truthline.tasktypes.pairwise import rank
from tests.pairs import press

METHODS = ("mv", "ds", "auto")


def _duel(a_id: str | None, b_id: str | None, k: int) -> dict[str, Any]:
    ids = {} if a_id is None else {"a_id": a_id, "b_id": b_id}
    return {"text": f"prompt {k}", "a": f"{a_id or 'x'} reply {k}", "b": f"{b_id or 'y'} reply {k}", **ids}


def _items() -> dict[str, tuple[dict[str, Any], str, str, dict[str, Any]]]:
    """external_id -> (data, w0's answer, w1's answer, extra fields): "ace" beats every model, "dud" loses to
    every one, both workers agreeing; they split on "split" (dud as A, ace as B) and on "blind" (no ids); gold
    says dud wins "golden", as the workers do, against the strengths."""
    items: dict[str, tuple[dict[str, Any], str, str, dict[str, Any]]] = {}
    for k, (x, y) in enumerate([("ace", "mid"), ("mid", "ace"), ("ace", "dud"), ("dud", "ace"), ("mid", "dud"),
                                ("dud", "mid")] * 2):
        winner = "a" if x == "ace" or y == "dud" else "b"
        items[f"p{k}"] = (_duel(x, y, k), winner, winner, {"truth": winner})
    items["split"] = (_duel("dud", "ace", 99), "a", "b", {"truth": "b"})
    items["blind"] = (_duel(None, None, 98), "a", "b", {})
    items["golden"] = (_duel("ace", "dud", 97), "b", "b", {"gold": "b"})
    return items


ITEMS = _items()


@pytest.fixture
def arena(engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable) -> Any:
    project = make_project(name="Arena", task_type="pairwise", labels=None, overlap=2)
    import_items(engine, admin.user, project.id, [(i + 1, {"external_id": k, "data": data, **extra})
                                                  for i, (k, (data, _, _, extra)) in enumerate(ITEMS.items())])
    for which, name in ((1, "w0"), (2, "w1")):
        person = make_annotator(project, username=name)
        while (task := next_task(engine, person.user, project.id)) is not None:
            item = ITEMS[task.external_id]
            submit(engine, person.user, task.lease_id, press(item[which], item[0], task.data), 1000)
    return project


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["external_id"]: row for row in rows}


@pytest.mark.parametrize("method", METHODS)
def test_a_split_item_goes_to_the_model_that_wins_elsewhere(engine: Engine, admin: Any, arena: Any,
                                                            method: str) -> None:
    data = load_for(engine, admin.user, arena.id)
    index = data.external_ids.index("split")
    crowd = data.crowd_infer(method).probabilities[index]
    assert abs(crowd[0] - crowd[1]) < 0.2  # the crowd alone cannot tell
    row = _by_id(item_results(engine, admin.user, arena.id, method, probabilities=True))["split"]
    assert row["answer"] == "b" and row["confidence"] > 0.5  # b is ace's reply
    assert row["confidence"] == max(row["probabilities"].values()) and row["probabilities"]["b"] > crowd[1]


@pytest.mark.parametrize("method", METHODS)
def test_gold_stays_clamped_and_items_without_ids_keep_the_crowds_answer(engine: Engine, admin: Any, arena: Any,
                                                                         method: str) -> None:
    data = load_for(engine, admin.user, arena.id)
    crowd, inf = data.crowd_infer(method), data.infer(method)
    rows = _by_id(item_results(engine, admin.user, arena.id, method, probabilities=True))
    assert rows["golden"]["answer"] == "b" and rows["golden"]["confidence"] == 1.0
    assert rows["golden"]["probabilities"] == {"a": 0.0, "b": 1.0}
    blind = data.external_ids.index("blind")
    assert inf.answers[blind] == crowd.answers[blind]
    assert np.array_equal(inf.probabilities[blind], crowd.probabilities[blind])
    assert rows["blind"]["confidence"] == round(float(crowd.confidence[blind]), 6)
    # the invariants every Inference keeps
    assert inf.answers == [data.project.config["labels"][k] for k in inf.probabilities.argmax(axis=1)]
    assert np.allclose(inf.confidence, inf.probabilities.max(axis=1))
    assert np.allclose(inf.fit.posteriors, inf.probabilities) and np.array_equal(inf.fit.answers,
                                                                                  inf.probabilities.argmax(axis=1))
    assert inf.method == crowd.method and np.array_equal(inf.worker_accuracy, crowd.worker_accuracy)
    assert inf.fit.worker_params.keys() == crowd.fit.worker_params.keys()  # auto's temperature and weights kept


@pytest.mark.parametrize("method", METHODS)
def test_the_ranking_is_fitted_on_the_crowds_answers_once(engine: Engine, admin: Any, arena: Any,
                                                          method: str) -> None:
    item_results(engine, admin.user, arena.id, method)  # refines with the ranking's fit...
    data = load_for(engine, admin.user, arena.id)
    fit = data.ranking(method)
    served = project_ranking(engine, admin.user, arena.id, method)
    assert data.ranking(method) is fit  # ...which the ranking endpoint reuses: one fit per label set
    sides = data.sides
    assert sides is not None and sides.ids == ["ace", "dud", "mid"]
    alone = rank(sides.a, sides.b, sides.ids, data.crowd_infer(method).probabilities)
    assert alone.ids == fit.ids == ["ace", "mid", "dud"] and np.array_equal(alone.scores, fit.scores)
    assert [row["score"] for row in served["ranking"]] == [round(float(s), 6) for s in alone.scores]
    assert served["items"] == 14 and served["unranked_items"] == 1  # "blind" names no ids
    # wins count the answers results give: ace won "split" (its B side), not dud
    ace, _, dud = served["ranking"]
    assert (ace["wins"], ace["losses"]) == (9, 1) and (dud["wins"], dud["losses"]) == (1, 9)  # "golden" is gold


def test_exports_and_results_agree(engine: Engine, admin: Any, arena: Any) -> None:
    rows = _by_id(item_results(engine, admin.user, arena.id, "ds"))
    out = io.BytesIO()
    export(engine, admin.user, arena.id, "preferences", out, method="ds")
    pairs = {p["external_id"]: p for p in map(json.loads, out.getvalue().decode().splitlines())}
    assert pairs["split"]["chosen_id"] == "ace" and pairs["split"]["rejected_id"] == "dud"
    assert 0.5 < pairs["split"]["confidence"] == rows["split"]["confidence"]
    assert pairs["golden"]["chosen_id"] == "dud" and pairs["golden"]["confidence"] == 1.0
    assert all(pairs[k]["confidence"] == rows[k]["confidence"] for k in pairs)
    assert set(pairs) == {k for k, row in rows.items() if row["answer"] in ("a", "b")}
    out = io.BytesIO()
    export(engine, admin.user, arena.id, "jsonl", out, method="ds", probabilities=True)
    lines = _by_id([json.loads(line) for line in out.getvalue().decode().splitlines()])
    assert all((lines[k]["answer"], lines[k]["confidence"]) == (row["answer"], row["confidence"])
               for k, row in rows.items())


def test_quality_figures_read_the_refined_answers(engine: Engine, admin: Any, arena: Any) -> None:
    data = load_for(engine, admin.user, arena.id)
    assert truth_accuracy(data, data.crowd_infer("mv")) < 1.0  # the crowd alone gets "split" wrong
    report = quality_report(engine, admin.user, arena.id, "mv")
    assert report["accuracy_vs_truth"] == 1.0  # 13 items with truth, gold left out
    summary = project_summary(engine, admin.user, arena.id)
    assert summary["accuracy"]["against"] == "truth" and summary["accuracy"]["mv"] == 1.0
    # on "split" w1 chose ace's reply, w0 dud's: with the strengths, w1 was the one who was right
    accuracy = {row["username"]: row["accuracy"] for row in workers_table(engine, admin.user, arena.id, "mv")}
    assert accuracy["w1"] > accuracy["w0"]


def test_a_project_without_ids_answers_as_the_crowd(engine: Engine, admin: Any, make_project: Callable,
                                                   make_annotator: Callable) -> None:
    project = make_project(name="Blind", task_type="pairwise", labels=None, overlap=1)
    import_items(engine, admin.user, project.id, [(1, {"external_id": "q", "data": _duel(None, None, 1)})])
    person = make_annotator(project)
    task = next_task(engine, person.user, project.id)
    assert task is not None
    submit(engine, person.user, task.lease_id, press("b", ITEMS["blind"][0], task.data), 10)
    data = load_for(engine, admin.user, project.id)
    assert data.sides is not None and not data.sides.named
    assert data.infer("ds") is data.crowd_infer("ds")
    classification = load_for(engine, admin.user, make_project(name="Pets").id)
    assert classification.sides is None and classification.infer("mv") is classification.crowd_infer("mv")
