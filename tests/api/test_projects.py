"""Projects and members over HTTP; the services decide who may do what."""

from __future__ import annotations

from typing import Any


def test_create_list_get_update(ann: Any, manager: Any, outsider: Any, world: Any, assert_error: Any) -> None:
    r = outsider.post("/projects", json={"name": "Topics", "labels": ["a", "b", "c"], "guidelines": "# Be kind"})
    assert r.status_code == 201
    p = r.json()
    assert p["task_type"] == "classification" and p["labels"] == ["a", "b", "c"] and p["overlap"] == 1
    assert [x["name"] for x in outsider.get("/projects").json()["projects"]] == ["Topics"]

    assert manager.get(f"/projects/{world.project_id}").json()["name"] == "Sentiment"
    assert ann.get(f"/projects/{world.project_id}").status_code == 200
    assert_error(outsider.get(f"/projects/{world.project_id}"), 404, field="project_id")

    r = manager.patch(f"/projects/{world.project_id}", json={"overlap": 3, "guidelines": "Read twice."})
    assert r.status_code == 200 and r.json()["overlap"] == 3 and r.json()["guidelines"] == "Read twice."
    assert_error(ann.patch(f"/projects/{world.project_id}", json={"overlap": 1}), 403)
    r = manager.patch(f"/projects/{world.project_id}", json={"overlap": 3.0, "lease_seconds": 600.0})  # whole floats
    assert r.status_code == 200 and (r.json()["overlap"], r.json()["lease_seconds"]) == (3, 600), r.text
    assert_error(manager.patch(f"/projects/{world.project_id}", json={"name": None}), 422, field="name")
    assert_error(manager.patch(f"/projects/{world.project_id}", json={"overlap": 0}), 422, field="overlap")
    assert manager.get(f"/projects/{world.project_id}").json()["overlap"] == 3


def test_bad_project_specs(manager: Any, assert_error: Any) -> None:
    assert_error(manager.post("/projects", json={"name": "x", "labels": ["a"], "overlapp": 2}), 422, field="overlapp")
    assert_error(manager.post("/projects", json={"name": "x", "labels": []}), 422, field="labels")
    assert_error(manager.post("/projects", json={"name": "x", "labels": [1, 2]}), 422, field="labels[0]")
    assert_error(manager.post("/projects", json={"name": "x", "labels": ["a"], "task_type": "nope"}), 422, field="task_type")
    assert_error(manager.post("/projects", json={"name": "", "labels": ["a"]}), 422, field="name")
    assert manager.get("/projects").json()["projects"][0]["name"] == "Sentiment"  # nothing half-created
    assert len(manager.get("/projects").json()["projects"]) == 1


def test_members(manager: Any, ann: Any, world: Any, assert_error: Any) -> None:
    members = manager.get(f"/projects/{world.project_id}/members").json()["members"]
    assert {(m["username"], m["role"]) for m in members} == {("manager", "manager"), ("ann", "annotator"), ("ann2", "annotator")}
    r = manager.post(f"/projects/{world.project_id}/members", json={"username": "outsider", "role": "reviewer"})
    assert r.status_code == 201 and r.json()["role"] == "reviewer"
    assert_error(manager.post(f"/projects/{world.project_id}/members", json={"username": "ghost"}), 404, field="username")
    assert_error(manager.post(f"/projects/{world.project_id}/members", json={"username": "ann", "role": "boss"}), 422, field="role")
    assert_error(ann.post(f"/projects/{world.project_id}/members", json={"username": "outsider"}), 403)
    # removing one: managers only; the member loses the project, a second removal is a 404
    assert_error(ann.delete(f"/projects/{world.project_id}/members/outsider"), 403)
    r = manager.delete(f"/projects/{world.project_id}/members/outsider")
    assert r.status_code == 204 and not r.content
    members = manager.get(f"/projects/{world.project_id}/members").json()["members"]
    assert "outsider" not in {m["username"] for m in members}
    assert_error(manager.delete(f"/projects/{world.project_id}/members/outsider"), 404, field="username")
    assert_error(manager.delete(f"/projects/{world.project_id}/members/{'x' * 300}"), 422, field="username")
