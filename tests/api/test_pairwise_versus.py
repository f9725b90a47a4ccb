"""A pairwise project's head-to-head table through the API: the best sides' predicted win probabilities against
each other, consistent with the ranking's scores, significant where the data separate two sides, and each
pair's direct record; its refusals (top, method, access, task type)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.api.test_pairwise_projects import _judge, _pairs


@pytest.fixture
def judged(manager: Any, ann: Any, ann2: Any) -> int:
    """The ranking tests' arena: sage beats owl and parrot on every item, owl beats parrot (or ties, for ann2);
    18 items, each answered by both annotators by what the candidates say (whichever side shows them)."""
    r = manager.post("/projects", json={"name": "Arena", "task_type": "pairwise", "ties": True, "overlap": 2})
    pid = int(r.json()["id"])
    for name in ("ann", "ann2"):
        assert manager.post(f"/projects/{pid}/members", json={"username": name}).status_code == 201
    assert manager.post(f"/projects/{pid}/items", json=_pairs()).status_code == 200
    for client, close_is_tie in ((ann, False), (ann2, True)):
        while (r := client.post(f"/projects/{pid}/next")).status_code == 200:
            task = r.json()
            assert client.post(f"/leases/{task['lease_id']}/submit",
                               json={"answer": _judge(task, close_is_tie)}).status_code == 201
    return pid


def _cells(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(side["id"], cell["id"]): cell for side in body["sides"] for cell in side["versus"]}


def test_head_to_head_agrees_with_the_ranking(manager: Any, judged: int) -> None:
    ranking = manager.get(f"/projects/{judged}/ranking").json()
    r = manager.get(f"/projects/{judged}/ranking/head-to-head")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["project_id"], body["method"], body["level"], body["ranked"], body["items"]) == (judged, "auto",
                                                                                                  0.95, 3, 18)
    assert body["exact_covariance"] is True and body["converged"] is True
    ids = [side["id"] for side in body["sides"]]
    assert ids == [row["id"] for row in ranking["ranking"]] == ["sage", "owl", "parrot"]
    score = {row["id"]: row["score"] for row in ranking["ranking"]}
    for side in body["sides"]:
        assert side["score"] == score[side["id"]]
        assert [cell["id"] for cell in side["versus"]] == [i for i in ids if i != side["id"]]  # same order, no self
    cells = _cells(body)
    assert len(cells) == 6
    for (row, col), cell in cells.items():
        assert cell["win_probability"] == pytest.approx(1 / (1 + math.exp(score[col] - score[row])), abs=1e-5)
        assert cell["lower"] < cell["win_probability"] < cell["upper"]
        back = cells[(col, row)]
        assert cell["win_probability"] == pytest.approx(1 - back["win_probability"], abs=2e-6)
        assert cell["lower"] == pytest.approx(1 - back["upper"], abs=2e-6)
        assert cell["better"] == (None if back["better"] is None else not back["better"])
        assert (cell["items"], cell["wins"], cell["losses"], cell["ties"]) == (back["items"], back["losses"],
                                                                              back["wins"], back["ties"])
        assert cell["items"] == 6 and cell["wins"] + cell["losses"] + cell["ties"] == 6
    # sage won all 12 of its items, parrot lost all 12: six items between them and the strengths the other
    # items show set them clearly apart; sage against owl (6 items) is likely but not yet certain
    best, worst = cells[("sage", "parrot")], cells[("parrot", "sage")]
    assert best["better"] is True and best["lower"] > 0.5 and worst["better"] is False and worst["upper"] < 0.5
    assert (best["items"], best["wins"], best["losses"], best["ties"]) == (6, 6, 0, 0)
    assert cells[("sage", "owl")]["win_probability"] > 0.5 and cells[("owl", "parrot")]["win_probability"] > 0.5
    assert [cell["better"] for cell in (cells[("sage", "owl")], cells[("owl", "parrot")])] == [None, None]
    # the best two only; mv's own fit
    two = manager.get(f"/projects/{judged}/ranking/head-to-head", params={"top": 2, "method": "mv"}).json()
    assert [side["id"] for side in two["sides"]] == ["sage", "owl"] and two["method"] == "mv" and two["ranked"] == 3
    assert [cell["id"] for cell in two["sides"][0]["versus"]] == ["owl"]
    assert manager.get(f"/projects/{judged}/ranking/head-to-head", params={"top": 50}).json()["sides"] == body["sides"]


def test_an_even_record_is_undecided(manager: Any, ann: Any) -> None:
    r = manager.post("/projects", json={"name": "Even", "task_type": "pairwise"})
    pid = int(r.json()["id"])
    assert manager.post(f"/projects/{pid}/members", json={"username": "ann"}).status_code == 201
    items = [{"external_id": f"e{k}", "data": {"text": f"prompt {k}", "a": f"x{k}", "b": f"y{k}", "a_id": "x",
                                               "b_id": "y"}} for k in range(4)]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:
        task = r.json()
        data = task["item"]["data"]
        prompt = int(data["text"].split()[1])
        want = f"x{prompt}" if prompt % 2 else f"y{prompt}"  # x wins prompts 1 and 3, y 0 and 2
        choice = "a" if data["a"] == want else "b"  # whichever side shows it
        assert ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": choice}).status_code == 201
    body = manager.get(f"/projects/{pid}/ranking/head-to-head").json()
    x_vs_y = _cells(body)
    cell = next(iter(x_vs_y.values()))
    assert cell["better"] is None and cell["lower"] < 0.5 < cell["upper"]
    assert (cell["items"], cell["wins"], cell["losses"], cell["ties"]) == (4, 2, 2, 0)


def test_head_to_head_before_any_answer_and_without_ids(manager: Any) -> None:
    pid = int(manager.post("/projects", json={"name": "Fresh", "task_type": "pairwise"}).json()["id"])
    empty = manager.get(f"/projects/{pid}/ranking/head-to-head").json()
    assert empty["sides"] == [] and empty["ranked"] == 0 and empty["items"] == 0
    items = [{"external_id": "n", "data": {"a": "1", "b": "2", "a_id": "m", "b_id": "n"}}]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    waiting = manager.get(f"/projects/{pid}/ranking/head-to-head").json()  # named, not answered: the prior's
    assert waiting["items"] == 0 and [cell["better"] for side in waiting["sides"] for cell in side["versus"]] == [
        None, None]
    assert all(cell["win_probability"] == 0.5 for side in waiting["sides"] for cell in side["versus"])


@pytest.mark.parametrize("top", ["0", "51", "-3", "ten", "2.5"])
def test_a_bad_top_is_refused_naming_it(manager: Any, judged: int, assert_error: Any, top: str) -> None:
    err = assert_error(manager.get(f"/projects/{judged}/ranking/head-to-head", params={"top": top}), 422,
                       field="top")
    assert "top" in err["message"]


def test_head_to_head_refuses_like_the_ranking(manager: Any, ann: Any, outsider: Any, judged: int,
                                               assert_error: Any) -> None:
    url = f"/projects/{judged}/ranking/head-to-head"
    assert_error(manager.get(url, params={"method": "nope"}), 422, field="method")
    assert_error(outsider.get(url), 404)
    assert_error(outsider.get(url, params={"top": 0}), 404)  # access first: a stranger learns nothing from `top`
    assert_error(ann.get(url), 403)
    assert_error(ann.get(url, params={"top": 99}), 403)
    assert_error(manager.get("/projects/99999/ranking/head-to-head"), 404)
    other = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"]}).json()["id"]
    says = assert_error(manager.get(f"/projects/{other}/ranking/head-to-head"), 422, field="project_id")["message"]
    assert "pairwise" in says
