"""GET /projects/{id}/export?format=preferences: a pairwise project's RLHF/DPO pairs, streamed as JSON Lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import check_error
from tests.pairs import press

# external_id -> (data, ann's answer, ann2's answer)
PAIRS = {
    "q1": ({"text": "Capital of France?", "a": "Paris", "b": "Lyon", "a_id": "m-big", "b_id": "m-small"}, "a", "a"),
    "q2": ({"text": "2+2?", "a": "5", "b": "4", "a_id": "m-small", "b_id": "m-big"}, "b", "b"),
    "q3": ({"text": "Best colour?", "a": "red", "b": "blue", "a_id": "m-big", "b_id": "m-small"}, "tie", "tie"),
    "q4": ({"a": "one", "b": "two"}, "b", "b"),
}


@pytest.fixture
def duel(manager: Any, ann: Any, ann2: Any) -> int:
    r = manager.post("/projects", json={"name": "Duel", "task_type": "pairwise", "ties": True, "overlap": 2})
    assert r.status_code == 201, r.text
    pid = int(r.json()["id"])
    assert r.json()["labels"] == ["a", "b", "tie"] and r.json()["ties"] is True
    for name in ("ann", "ann2"):
        assert manager.post(f"/projects/{pid}/members", json={"username": name}).status_code == 201
    items = [{"external_id": k, "data": data} for k, (data, _, _) in PAIRS.items()]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client, which in ((ann, 1), (ann2, 2)):
        while (r := client.post(f"/projects/{pid}/next")).status_code == 200:
            task = r.json()
            assert "a_id" not in task["item"]["data"]  # blind: annotators never see what produced a side
            data, answer = PAIRS[task["item"]["external_id"]][0], PAIRS[task["item"]["external_id"]][which]
            answer = press(answer, data, task["item"]["data"])
            assert client.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer}).status_code == 201
    return pid


def test_preferences_export(manager: Any, duel: int) -> None:
    r = manager.get(f"/projects/{duel}/export", params={"format": "preferences", "method": "mv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert f'filename="project-{duel}.preferences.jsonl"' in r.headers["content-disposition"]
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert [row["external_id"] for row in rows] == ["q1", "q2", "q4"]  # q3 is a tie
    assert rows[0] == {"external_id": "q1", "prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon",
                       "chosen_id": "m-big", "rejected_id": "m-small", "confidence": 1.0, "prompt_image": None}
    assert (rows[1]["chosen"], rows[1]["rejected"], rows[1]["chosen_id"], rows[1]["rejected_id"]) == \
        ("4", "5", "m-big", "m-small")
    assert rows[2]["prompt"] is None and rows[2]["chosen"] == "two" and rows[2]["chosen_id"] is None


def test_preferences_default_method_and_plain_export(manager: Any, duel: int) -> None:
    r = manager.get(f"/projects/{duel}/export", params={"format": "preferences"})
    assert r.status_code == 200 and {json.loads(x)["external_id"] for x in r.text.splitlines()} <= {"q1", "q2", "q4"}
    plain = manager.get(f"/projects/{duel}/export")  # jsonl: every item, the tie too
    assert plain.status_code == 200 and len(plain.text.splitlines()) == len(PAIRS)
    assert f'filename="project-{duel}.jsonl"' in plain.headers["content-disposition"]


def test_preferences_refused_where_they_make_no_sense(manager: Any, ann: Any, world: Any, duel: int) -> None:
    refused = manager.get(f"/projects/{world.project_id}/export", params={"format": "preferences"})
    body = check_error(refused, 422, field="format")
    assert "pairwise" in json.dumps(body)
    probs = manager.get(f"/projects/{duel}/export", params={"format": "preferences", "probabilities": "true"})
    check_error(probs, 422, field="probabilities")
    assert manager.get(f"/projects/{duel}/export", params={"format": "dpo"}).status_code == 422
    assert ann.get(f"/projects/{duel}/export", params={"format": "preferences"}).status_code == 403
