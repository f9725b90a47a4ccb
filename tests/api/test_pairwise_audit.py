"""Regressions from an audit of pairwise projects: ids with control characters (a NUL made PostgreSQL's
`data ->> 'a_id'` fail every ranking and manager page; an escape sequence reached the terminal of
`truthline ranking`), the ranking's cost per round, and the preferences export naming sides as the ranking does."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest

from truthline.tasktypes import get_task_type
from truthline.tasktypes.pairwise import rank
from tests.pairs import press


@pytest.fixture
def arena(manager: Any) -> int:
    r = manager.post("/projects", json={"name": "Arena", "task_type": "pairwise", "ties": True})
    assert r.status_code == 201, r.text
    assert manager.post(f"/projects/{r.json()['id']}/members", json={"username": "ann"}).status_code == 201
    return int(r.json()["id"])


@pytest.mark.parametrize("bad", ["m\x00x", "gpt\n4", "evil\x1b[31mred", "tab\there", "del\x7f", "c1\x9b2J"])
def test_ids_with_control_characters_are_refused(bad: str) -> None:
    problems = get_task_type("pairwise").validate_item({"a": "x", "b": "y", "a_id": "fine", "b_id": bad})
    assert [p.field for p in problems] == ["data.b_id"] and "control characters" in problems[0].message
    assert get_task_type("pairwise").validate_item({"a": "x", "b": "y", "a_id": "gpt-4 (März) ✓", "b_id": "b"}) == []


def test_a_nul_in_an_id_is_refused_and_the_ranking_keeps_working(manager: Any, arena: int, assert_error: Any) -> None:
    items = [{"external_id": "ok", "data": {"a": "x", "b": "y", "a_id": "m", "b_id": "n"}},
             {"external_id": "nul", "data": {"a": "x", "b": "y", "a_id": "m\u0000x", "b_id": "n"}}]
    err = assert_error(manager.post(f"/projects/{arena}/items", json=items), 422, field="data.a_id", line=2)
    assert "control characters" in err["details"][0]["message"]
    assert manager.get(f"/projects/{arena}/summary").json()["progress"]["items"] == 0  # nothing half-written
    csv = "external_id,a,b,a_id,b_id\nq,x,y,\"two\nlines\",n\n"
    r = manager.post(f"/projects/{arena}/items", content=csv.encode(), headers={"content-type": "text/csv"})
    assert_error(r, 422, field="data.a_id", line=2)
    assert manager.post(f"/projects/{arena}/items", json=items[:1]).status_code == 200
    ranking = manager.get(f"/projects/{arena}/ranking")  # PostgreSQL: was a 500 with the NUL stored
    assert ranking.status_code == 200 and [row["id"] for row in ranking.json()["ranking"]] == ["m", "n"]


def test_preferences_name_sides_as_the_ranking_does(manager: Any, ann: Any, arena: int) -> None:
    items = [{"external_id": "p1", "data": {"a": "x", "b": "y", "a_id": " gpt ", "b_id": "llama"}},
             {"external_id": "p2", "data": {"a": "x", "b": "y", "a_id": "llama", "b_id": "gpt"}}]
    assert manager.post(f"/projects/{arena}/items", json=items).status_code == 200
    while (r := ann.post(f"/projects/{arena}/next")).status_code == 200:  # "x" wins, wherever it is shown
        answer = press("a", items[0]["data"], r.json()["item"]["data"])
        assert ann.post(f"/leases/{r.json()['lease_id']}/submit", json={"answer": answer}).status_code == 201
    names = {row["id"] for row in manager.get(f"/projects/{arena}/ranking").json()["ranking"]}
    assert names == {"gpt", "llama"}
    text = manager.get(f"/projects/{arena}/export", params={"format": "preferences"}).text
    pairs = [json.loads(line) for line in io.StringIO(text)]
    assert {(p["chosen_id"], p["rejected_id"]) for p in pairs} == {("gpt", "llama"), ("llama", "gpt")}


def test_a_sparse_ranking_converges() -> None:
    # 20,000 items over 2,000 sides: alternating posteriors and weighted fits (EM) took 20 s and stopped after 50
    # rounds short of the optimum (scores off by 0.7 standard errors); the marginal fit converges in about 1 s
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    items, sides = 5000, 500
    strength = rng.normal(0.0, 1.0, sides)
    a = rng.integers(0, sides, items)
    b = (a + rng.integers(1, sides, items)) % sides
    a_won = rng.random(items) < 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
    sure = rng.uniform(0.5, 1.0, items)
    p = np.where(a_won[:, None], np.c_[sure, 1 - sure], np.c_[1 - sure, sure])
    ids = [f"m{k}" for k in range(sides)]
    r = rank(a, b, ids, p)
    assert r.converged and r.items == items
    assert spearmanr([r.scores[r.ids.index(x)] for x in ids], strength)[0] > 0.6
