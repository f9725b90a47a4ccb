"""next / submit / skip over HTTP: status codes, idempotent replays, lease ownership and expiry, no gold leaks."""

from __future__ import annotations

import time
from typing import Any

ITEMS = [
    {"external_id": "a", "data": {"text": "great"}, "priority": 5, "gold": "pos"},
    {"external_id": "b", "data": {"text": "awful"}, "priority": 1},
]


def test_label_loop(manager: Any, ann: Any, world: Any) -> None:
    manager.post(f"/projects/{world.project_id}/items", json=ITEMS)
    r = ann.post(f"/projects/{world.project_id}/next")
    assert r.status_code == 200
    task = r.json()
    assert task["item"]["external_id"] == "a" and task["item"]["data"] == {"text": "great"}
    assert task["task_type"] == "classification" and task["labels"] == ["pos", "neg"]
    assert "gold" not in r.text and "truth" not in r.text

    r = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": "pos", "active_ms": 1500},
                 headers={"Idempotency-Key": "k1"})
    assert r.status_code == 201
    first = r.json()
    assert first["answer"] == "pos" and first["active_ms"] == 1500 and first["lease_id"] == task["lease_id"]
    assert "gold" not in r.text

    again = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": "pos", "active_ms": 1500, "idempotency_key": "k1"})
    assert again.status_code == 200 and again.json()["id"] == first["id"]

    r = ann.post(f"/projects/{world.project_id}/next")
    assert r.status_code == 200 and r.json()["item"]["external_id"] == "b"
    assert ann.post(f"/leases/{r.json()['lease_id']}/skip").json() == {"lease_id": r.json()["lease_id"], "state": "skipped"}
    assert ann.post(f"/projects/{world.project_id}/next").status_code == 204


def test_submit_without_key_is_replayed_per_lease(manager: Any, ann: Any, world: Any) -> None:
    manager.post(f"/projects/{world.project_id}/items", json=ITEMS)
    lease = ann.post(f"/projects/{world.project_id}/next").json()["lease_id"]
    assert ann.post(f"/leases/{lease}/submit", json={"answer": "neg"}).status_code == 201
    r = ann.post(f"/leases/{lease}/submit", json={"answer": "neg"})
    assert r.status_code == 200 and r.json()["answer"] == "neg"


def test_lease_errors(manager: Any, ann: Any, ann2: Any, world: Any, assert_error: Any) -> None:
    manager.post(f"/projects/{world.project_id}/items", json=ITEMS)
    lease = ann.post(f"/projects/{world.project_id}/next").json()["lease_id"]
    assert_error(ann2.post(f"/leases/{lease}/submit", json={"answer": "pos"}), 403, field="lease_id")
    assert_error(ann2.post(f"/leases/{lease}/skip"), 403, field="lease_id")
    assert_error(ann.post("/leases/999999/submit", json={"answer": "pos"}), 404, field="lease_id")
    assert_error(ann.post(f"/leases/{lease}/submit", json={"answer": "meh"}), 422, field="answer")
    assert_error(ann.post(f"/leases/{lease}/submit", json={"answer": "pos", "active_ms": -1}), 422, field="active_ms")
    assert_error(ann.post(f"/leases/{lease}/submit", json={"answer": "pos", "idempotency_key": "x"},
                          headers={"Idempotency-Key": "y"}), 422, field="idempotency_key")
    # none of the failures wrote anything: the lease still takes its first answer
    assert ann.post(f"/leases/{lease}/submit", json={"answer": "pos"}).status_code == 201


def test_expired_lease_is_409(manager: Any, ann: Any, world: Any, assert_error: Any) -> None:
    manager.patch(f"/projects/{world.project_id}", json={"lease_seconds": 1})
    manager.post(f"/projects/{world.project_id}/items", json=ITEMS)
    lease = ann.post(f"/projects/{world.project_id}/next").json()["lease_id"]
    time.sleep(1.1)
    assert_error(ann.post(f"/leases/{lease}/submit", json={"answer": "pos"}), 409, field="lease_id")


def test_who_may_label(manager: Any, outsider: Any, ann: Any, world: Any, assert_error: Any) -> None:
    assert_error(outsider.post(f"/projects/{world.project_id}/next"), 404, field="project_id")
    assert_error(ann.post("/projects/424242/next"), 404, field="project_id")
    manager.patch(f"/projects/{world.project_id}", json={"status": "paused"})
    assert_error(ann.post(f"/projects/{world.project_id}/next"), 409)


def test_prefetch_with_held_and_release(manager: Any, ann: Any, ann2: Any, world: Any, assert_error: Any) -> None:
    pid = world.project_id
    manager.post(f"/projects/{pid}/items", json=ITEMS)
    first = ann.post(f"/projects/{pid}/next").json()
    assert ann.post(f"/projects/{pid}/next").json()["lease_id"] == first["lease_id"]  # asking again resumes
    second = ann.post(f"/projects/{pid}/next", json={"held": [first["lease_id"]]}).json()
    assert second["item"]["external_id"] != first["item"]["external_id"]
    assert_error(ann.post(f"/projects/{pid}/next", json={"held": ["x"]}), 422, field="held[0]")
    assert_error(ann.post(f"/projects/{pid}/next", json={"hold": []}), 422, field="hold")

    assert_error(ann2.post(f"/leases/{second['lease_id']}/release"), 403, field="lease_id")
    r = ann.post(f"/leases/{second['lease_id']}/release")
    assert r.status_code == 200 and r.json() == {"lease_id": second["lease_id"], "state": "released"}
    again = ann.post(f"/projects/{pid}/next", json={"held": [first["lease_id"]]}).json()
    assert again["item"]["external_id"] == second["item"]["external_id"]  # released, not skipped: offered again
