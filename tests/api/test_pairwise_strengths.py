"""Through the API, a pairwise project's results and preferences export answer an item the crowd splits by the
strengths the ranking shows (the model that won everything else), and agree with each other."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.pairs import press

# "top" beats "low" on every prompt but the last, where ann and ann2 disagree; "q-nameless" names no models
ITEMS = [({"text": f"prompt {k}", "a": f"top {k}", "b": f"low {k}", "a_id": "top", "b_id": "low"}
          if k % 2 else {"text": f"prompt {k}", "a": f"low {k}", "b": f"top {k}", "a_id": "low", "b_id": "top"})
         for k in range(6)]
DATA = {f"q{k}": data for k, data in enumerate(ITEMS)}
DATA["q-split"] = {"text": "split", "a": "low split", "b": "top split", "a_id": "low", "b_id": "top"}
DATA["q-nameless"] = {"text": "no ids", "a": "left", "b": "right"}


def _answer(data: dict[str, Any], which: int) -> str:
    """ann (1) and ann2 (2) both pick top's reply, except on the split and nameless items: ann picks A there."""
    if data["text"] in ("split", "no ids"):
        return "a" if which == 1 else "b"
    return "a" if data["a"].startswith("top") else "b"


@pytest.fixture
def arena(manager: Any, ann: Any, ann2: Any) -> int:
    r = manager.post("/projects", json={"name": "Split", "task_type": "pairwise", "overlap": 2})
    assert r.status_code == 201, r.text
    pid = int(r.json()["id"])
    for name in ("ann", "ann2"):
        assert manager.post(f"/projects/{pid}/members", json={"username": name}).status_code == 201
    items = [{"external_id": k, "data": data} for k, data in DATA.items()]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client, which in ((ann, 1), (ann2, 2)):
        while (r := client.post(f"/projects/{pid}/next")).status_code == 200:
            task = r.json()
            data = DATA[task["item"]["external_id"]]
            answer = press(_answer(data, which), data, task["item"]["data"])
            assert client.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer}).status_code == 201
    return pid


@pytest.mark.parametrize("method", ["mv", "ds", "auto"])
def test_split_item_goes_to_the_winning_model_in_results_and_export(manager: Any, arena: int, method: str) -> None:
    r = manager.get(f"/projects/{arena}/results", params={"method": method, "probabilities": True})
    assert r.status_code == 200, r.text
    results = {row["external_id"]: row for row in r.json()["results"]}
    split = results["q-split"]
    assert split["answer"] == "b" and split["confidence"] > 0.5  # b: top's reply
    assert split["confidence"] == max(split["probabilities"].values())
    nameless = results["q-nameless"]["probabilities"]
    assert nameless["a"] == pytest.approx(nameless["b"], abs=0.2)  # no ids: the crowd's split stays a split
    r = manager.get(f"/projects/{arena}/export", params={"format": "preferences", "method": method})
    assert r.status_code == 200, r.text
    pairs = {row["external_id"]: row for row in map(json.loads, r.text.splitlines())}
    assert (pairs["q-split"]["chosen_id"], pairs["q-split"]["rejected_id"]) == ("top", "low")
    assert pairs["q-split"]["chosen"] == "top split" and pairs["q-split"]["confidence"] == split["confidence"]
    assert all(pairs[k]["confidence"] == results[k]["confidence"] for k in pairs)
    ranking = manager.get(f"/projects/{arena}/ranking", params={"method": method}).json()["ranking"]
    assert [(row["id"], row["wins"], row["losses"]) for row in ranking] == [("top", 7, 0), ("low", 0, 7)]


def test_a_bad_method_is_refused_before_any_fit(manager: Any, arena: int, assert_error: Any) -> None:
    assert_error(manager.get(f"/projects/{arena}/results", params={"method": "nope"}), 422, field="method")
    assert_error(manager.get(f"/projects/{arena}/export", params={"format": "preferences", "method": "nope"}),
                 422, field="method")
