"""Pairwise projects through the API: ties, two candidates per item, blind sides, answers a/b/tie, results,
and the ranking of the models that wrote the candidates."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

# three models; the stronger one's reply is preferred, except between close models where ann2 calls a tie
STRENGTH = {"sage": 3, "owl": 2, "parrot": 1}


def _pairs() -> list[dict[str, Any]]:
    items = []
    for k, (x, y) in enumerate(itertools.permutations(STRENGTH, 2)):  # each model on each side
        for prompt in range(3):
            items.append({"external_id": f"p{k}-{prompt}",
                          "data": {"text": f"prompt {prompt}", "a": f"{x} says {prompt}", "b": f"{y} says {prompt}",
                                   "a_id": x, "b_id": y}})
    return items


@pytest.fixture
def arena(manager: Any) -> int:
    r = manager.post("/projects", json={"name": "Arena", "task_type": "pairwise", "ties": True, "overlap": 2})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["labels"] == ["a", "b", "tie"] and body["ties"] is True and body["scale"] is None
    for name in ("ann", "ann2"):
        assert manager.post(f"/projects/{body['id']}/members", json={"username": name}).status_code == 201
    return int(body["id"])


def _judge(task: dict[str, Any], close_is_tie: bool) -> str:
    data = task["item"]["data"]
    x, y = data["a"].split()[0], data["b"].split()[0]  # the workspace shows the texts, never the ids
    if close_is_tie and abs(STRENGTH[x] - STRENGTH[y]) == 1 and x != "sage" and y != "sage":
        return "tie"
    return "a" if STRENGTH[x] > STRENGTH[y] else "B"  # any case


@pytest.fixture
def judged(manager: Any, ann: Any, ann2: Any, arena: int) -> int:
    assert manager.post(f"/projects/{arena}/items", json=_pairs()).status_code == 200
    for client, close_is_tie in ((ann, False), (ann2, True)):
        while (r := client.post(f"/projects/{arena}/next")).status_code == 200:
            task = r.json()
            assert task["task_type"] == "pairwise" and task["labels"] == ["a", "b", "tie"]
            assert "a_id" not in task["item"]["data"] and "b_id" not in task["item"]["data"]  # blind
            r = client.post(f"/leases/{task['lease_id']}/submit", json={"answer": _judge(task, close_is_tie)})
            assert r.status_code == 201, r.text
            assert r.json()["answer"] in ("a", "b", "tie")
    return arena


def test_ranking_orders_the_models(manager: Any, judged: int) -> None:
    r = manager.get(f"/projects/{judged}/ranking")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["items"] == 18 and body["unranked_items"] == 0 and body["converged"] and body["level"] == 0.95
    ranking = body["ranking"]
    assert [row["id"] for row in ranking] == ["sage", "owl", "parrot"]
    assert all(row["comparisons"] == 12 for row in ranking)
    sage, owl, parrot = ranking
    assert sage["wins"] == 12 and sage["losses"] == 0 and parrot["losses"] >= 6
    assert sage["lower"] > parrot["upper"]  # clearly apart
    assert all(row["lower"] < row["score"] < row["upper"] for row in ranking)
    assert manager.get(f"/projects/{judged}/ranking", params={"method": "mv"}).json()["method"] == "mv"
    results = manager.get(f"/projects/{judged}/results", params={"probabilities": True}).json()["results"]
    assert {row["answer"] for row in results} <= {"a", "b", "tie"}
    assert all(set(row["probabilities"]) == {"a", "b", "tie"} for row in results)


def test_ranking_refuses_what_it_cannot_rank(manager: Any, ann: Any, outsider: Any, judged: int,
                                             assert_error: Any) -> None:
    assert_error(manager.get(f"/projects/{judged}/ranking", params={"method": "nope"}), 422, field="method")
    assert_error(outsider.get(f"/projects/{judged}/ranking"), 404)
    assert_error(ann.get(f"/projects/{judged}/ranking"), 403)
    other = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"]}).json()["id"]
    says = assert_error(manager.get(f"/projects/{other}/ranking"), 422, field="project_id")["message"]
    assert "pairwise" in says


def test_items_without_ids_are_answered_but_not_ranked(manager: Any, ann: Any, arena: int) -> None:
    items = [{"external_id": "free", "data": {"a": "one", "b": "two"}},
             {"external_id": "named", "data": {"a": "one", "b": "two", "a_id": "x", "b_id": "y"}}]
    assert manager.post(f"/projects/{arena}/items", json=items).status_code == 200
    while (r := ann.post(f"/projects/{arena}/next")).status_code == 200:
        assert ann.post(f"/leases/{r.json()['lease_id']}/submit", json={"answer": "a"}).status_code == 201
    body = manager.get(f"/projects/{arena}/ranking").json()
    assert body["items"] == 1 and body["unranked_items"] == 1
    assert [row["id"] for row in body["ranking"]] == ["x", "y"]


def test_bad_pairs_and_answers_are_refused(manager: Any, ann: Any, arena: int, assert_error: Any) -> None:
    bad = [{"external_id": "ok", "data": {"a": "x", "b": "y"}},
           {"external_id": "half", "data": {"a": "x", "a_id": "m1"}}]
    err = assert_error(manager.post(f"/projects/{arena}/items", json=bad), 422, line=2)
    fields = {d["field"] for d in err["details"]} | {err["field"]}
    assert {"data.b", "data.b_id"} <= fields, err
    assert manager.get(f"/projects/{arena}/summary").json()["progress"]["items"] == 0  # nothing half-written
    assert manager.post(f"/projects/{arena}/items", json=bad[:1]).status_code == 200
    task = ann.post(f"/projects/{arena}/next").json()
    for answer in ("c", 1, ["a"]):
        assert_error(ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer}), 422, field="answer")
    assert ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": "tie"}).status_code == 201
    # ties cannot be switched off while an answer is a tie
    says = assert_error(manager.patch(f"/projects/{arena}", json={"ties": False}), 422, field="ties")["message"]
    assert "tie" in says


def test_ties_belong_to_pairwise_projects(manager: Any, assert_error: Any) -> None:
    r = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"], "ties": True})
    assert "pairwise" in assert_error(r, 422, field="ties")["message"]
    assert_error(manager.post("/projects", json={"name": "P", "task_type": "pairwise", "ties": "yes"}), 422,
                 field="ties")
    plain = manager.post("/projects", json={"name": "P", "task_type": "pairwise"}).json()
    assert plain["labels"] == ["a", "b"] and plain["ties"] is False
    turned = manager.patch(f"/projects/{plain['id']}", json={"ties": True}).json()
    assert turned["labels"] == ["a", "b", "tie"] and turned["ties"] is True
    cats = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"]}).json()
    assert cats["ties"] is None


def test_quality_workers_and_exports_work_as_for_labels(manager: Any, judged: int) -> None:
    quality = manager.get(f"/projects/{judged}/quality")
    assert quality.status_code == 200, quality.text
    assert quality.json()["agreement"]["krippendorff_alpha"] is not None
    workers = manager.get(f"/projects/{judged}/workers").json()["workers"]
    assert {w["username"] for w in workers} == {"ann", "ann2"}
    lines = manager.get(f"/projects/{judged}/export", params={"format": "jsonl"}).text.splitlines()
    assert len(lines) == 18 and '"a_id":"sage"' in "".join(lines).replace(" ", "")  # managers keep the ids
    csv_text = manager.get(f"/projects/{judged}/export", params={"format": "csv"}).text
    assert csv_text.splitlines()[0].startswith("external_id,data,answer")
