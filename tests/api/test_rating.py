"""Rating projects through the API: the scale, numeric answers, estimates, agreement on the scale, exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest

from truthline.quality import METHODS

# Two annotators: ann rates every item as its truth; ann2 one point low (a harsh rater), floored at 1.
TRUTH = {"r1": 5, "r2": 4, "r3": 2, "r4": 1, "r5": 3}


@pytest.fixture
def rating_project(manager: Any) -> int:
    r = manager.post("/projects", json={"name": "Stars", "task_type": "rating", "scale": {"min": 1, "max": 5},
                                        "overlap": 2})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["labels"] == ["1", "2", "3", "4", "5"] and body["scale"] == {"min": 1, "max": 5, "step": 1}
    for name in ("ann", "ann2"):
        assert manager.post(f"/projects/{body['id']}/members", json={"username": name}).status_code == 201
    return int(body["id"])


@pytest.fixture
def rated(manager: Any, ann: Any, ann2: Any, rating_project: int) -> int:
    pid = rating_project
    items = [{"external_id": k, "data": {"text": f"review {k}"}, "truth": v} for k, v in TRUTH.items()]
    items[0]["gold"] = 5  # a number is an answer on the scale, like "5"
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client, shift in ((ann, 0), (ann2, -1)):
        while (r := client.post(f"/projects/{pid}/next")).status_code == 200:
            task = r.json()
            assert task["task_type"] == "rating" and task["labels"] == ["1", "2", "3", "4", "5"]
            value = max(1, TRUTH[task["item"]["external_id"]] + shift)
            answer = value if shift else str(value)  # numbers and their labels are both accepted
            assert client.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer}).status_code == 201
    return pid


def test_results_give_the_value_and_the_posterior_mean(manager: Any, rated: int) -> None:
    rows = {r["external_id"]: r for r in manager.get(f"/projects/{rated}/results", params={"method": "mv"}).json()["results"]}
    assert rows["r1"]["answer"] == "5" and rows["r1"]["estimate"] == 5.0  # gold
    # majority vote splits 4 against 3 evenly: the estimate is between them, whichever the answer is
    assert rows["r2"]["answer"] in ("3", "4") and rows["r2"]["estimate"] == pytest.approx(3.5)
    assert rows["r4"]["answer"] == "1" and rows["r4"]["estimate"] == 1.0  # both said 1
    probs = manager.get(f"/projects/{rated}/results", params={"method": "mv", "probabilities": "true"}).json()
    by_id = {r["external_id"]: r for r in probs["results"]}
    assert by_id["r3"]["probabilities"] == {"1": 0.5, "2": 0.5, "3": 0.0, "4": 0.0, "5": 0.0}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_rates(manager: Any, rated: int, method: str) -> None:
    for path in ("results", "workers", "quality", "summary"):
        r = manager.get(f"/projects/{rated}/{path}", params={"method": method} if path != "summary" else {})
        assert r.status_code == 200, (path, r.text)
    rows = manager.get(f"/projects/{rated}/results", params={"method": method}).json()["results"]
    for row in rows:
        assert 1.0 <= row["estimate"] <= 5.0 and row["answer"] in {"1", "2", "3", "4", "5"}


def test_agreement_on_the_scale(manager: Any, rated: int) -> None:
    agreement = manager.get(f"/projects/{rated}/quality", params={"method": "mv"}).json()["agreement"]
    # ann2 is always one point off (or both say 1): nominally they rarely agree, on the scale they nearly do
    assert agreement["krippendorff_alpha_interval"] > 0.7 > agreement["krippendorff_alpha"]
    assert agreement["krippendorff_alpha_ordinal"] is not None


def test_classification_agreement_has_no_scale_figures(manager: Any, world: Any, rating_project: int) -> None:
    """Not nulls in every project's report (tests/api/test_results.py wants the two figures there were)."""
    agreement = manager.get(f"/projects/{world.project_id}/quality").json()["agreement"]
    assert set(agreement) == {"krippendorff_alpha", "fleiss_kappa"}
    agreement = manager.get(f"/projects/{rating_project}/quality").json()["agreement"]  # no labels yet
    assert agreement["krippendorff_alpha_interval"] is None and agreement["krippendorff_alpha_ordinal"] is None


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_exports_carry_the_estimate(manager: Any, rated: int, fmt: str) -> None:
    r = manager.get(f"/projects/{rated}/export", params={"format": fmt, "method": "mv"})
    assert r.status_code == 200, r.text
    if fmt == "jsonl":
        rows = [json.loads(line) for line in r.text.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert list(rows[0])[:5] == ["external_id", "data", "answer", "confidence", "estimate"]
    else:
        rows = pq.read_table(io.BytesIO(r.content)).to_pylist()
    estimates = {row["external_id"]: float(row["estimate"]) for row in rows}
    assert estimates["r2"] == pytest.approx(3.5) and estimates["r1"] == 5.0


def test_classification_exports_have_no_estimate(manager: Any, world: Any) -> None:
    items = [{"external_id": "c1", "data": {"text": "x"}}]
    assert manager.post(f"/projects/{world.project_id}/items", json=items).status_code == 200
    r = manager.get(f"/projects/{world.project_id}/export", params={"format": "jsonl"})
    assert "estimate" not in json.loads(r.text.splitlines()[0])
    rows = manager.get(f"/projects/{world.project_id}/results").json()["results"]
    assert "estimate" not in rows[0]


def test_answers_off_the_scale_are_refused(ann: Any, rating_project: int, manager: Any, assert_error: Any) -> None:
    assert manager.post(f"/projects/{rating_project}/items", json=[{"external_id": "x", "data": {"text": "t"}}]).status_code == 200
    task = ann.post(f"/projects/{rating_project}/next").json()
    for bad in (6, 4.5, "five", True, None, [4]):
        err = assert_error(ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": bad}), 422, field="answer")
        assert "1, 2, 3, 4, 5" in err["message"]
    assert ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": 4.0}).status_code == 201


def test_gold_off_the_scale_names_the_line(manager: Any, rating_project: int, assert_error: Any) -> None:
    items = [{"external_id": "a", "data": {"text": "t"}, "gold": 3}, {"external_id": "b", "data": {"text": "t"}, "gold": 9}]
    assert_error(manager.post(f"/projects/{rating_project}/items", json=items), 422, field="gold")
    assert manager.get(f"/projects/{rating_project}/results").json()["results"] == []  # nothing half-written


@pytest.mark.parametrize("spec, field", [
    ({"scale": {"min": 1, "max": 5, "step": 0.3}}, "scale.step"),
    ({"scale": {"min": 5, "max": 1}}, "scale.max"),
    ({"scale": {"min": 0, "max": 1000000}}, "scale.step"),
    ({"scale": {"min": "1", "max": 5}}, "scale.min"),
    ({"scale": {"max": 5}}, "scale.min"),
    ({"labels": ["1", "2", "4"]}, "labels[2]"),
    ({"labels": ["low", "high"]}, "labels[0]"),
    ({}, "labels"),
])
def test_bad_scales_name_the_field(manager: Any, assert_error: Any, spec: dict[str, Any], field: str) -> None:
    assert_error(manager.post("/projects", json={"name": "S", "task_type": "rating", **spec}), 422, field=field)


def test_scale_applies_to_rating_only(manager: Any, world: Any, assert_error: Any) -> None:
    body = {"name": "C", "task_type": "classification", "labels": ["a", "b"], "scale": {"min": 1, "max": 5}}
    err = assert_error(manager.post("/projects", json=body), 422, field="scale")
    assert "rating" in err["message"]
    assert_error(manager.patch(f"/projects/{world.project_id}", json={"scale": {"min": 1, "max": 3}}), 422, field="scale")


def test_labels_as_values_and_a_decimal_scale(manager: Any) -> None:
    r = manager.post("/projects", json={"name": "Half", "task_type": "rating", "labels": ["0", "0.5", "1.0"]})
    assert r.status_code == 201 and r.json()["labels"] == ["0", "0.5", "1"]
    assert r.json()["scale"] == {"min": 0, "max": 1, "step": 0.5}
    classification = manager.post("/projects", json={"name": "Plain", "labels": ["a", "b"]}).json()
    assert classification["scale"] is None


def test_widening_the_scale_keeps_answers_and_narrowing_past_them_is_refused(
        manager: Any, rated: int, assert_error: Any) -> None:
    r = manager.patch(f"/projects/{rated}", json={"scale": {"min": 0, "max": 5}})
    assert r.status_code == 200 and r.json()["labels"] == ["0", "1", "2", "3", "4", "5"]
    err = assert_error(manager.patch(f"/projects/{rated}", json={"scale": {"min": 2, "max": 5}}), 422, field="scale")
    assert "'1'" in err["message"]


def test_a_csv_export_imports_back_unchanged(manager: Any, rated: int) -> None:
    """The estimate column is a result, like answer and confidence: not merged into the items' data."""
    exported = manager.get(f"/projects/{rated}/export", params={"format": "csv", "method": "mv"})
    r = manager.post(f"/projects/{rated}/items", params={"format": "csv"},
                     files={"file": ("export.csv", exported.content, "text/csv")})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, len(TRUTH))


def test_huge_numbers_are_refused_not_a_500(manager: Any, ann: Any, rating_project: int, assert_error: Any) -> None:
    """1e5000000 overflowed the decimal context: an answer, gold or label of it was a 500."""
    items = [{"external_id": "x", "data": {"text": "t"}, "gold": "1e5000000"}]
    assert_error(manager.post(f"/projects/{rating_project}/items", json=items), 422, field="gold")
    assert manager.post(f"/projects/{rating_project}/items", json=[{"external_id": "x", "data": {"text": "t"}}]).status_code == 200
    task = ann.post(f"/projects/{rating_project}/next").json()
    for answer in ("1e5000000", "-1e5000000", 1e300):
        assert_error(ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer}), 422, field="answer")
    for labels in (["1e5000", "2e5000"], ["1e5000000", "2e5000000"]):
        body = {"name": "Huge", "task_type": "rating", "labels": labels}
        assert_error(manager.post("/projects", json=body), 422, field="labels[0]")


def test_labels_given_with_a_scale_must_be_its_values(manager: Any, rating_project: int, assert_error: Any) -> None:
    body = {"name": "Both", "task_type": "rating", "scale": {"min": 1, "max": 5}, "labels": ["a", "b"]}
    err = assert_error(manager.post("/projects", json=body), 422, field="labels")  # was created, labels dropped
    assert "1, 2, 3, 4, 5" in err["message"]
    r = manager.post("/projects", json={**body, "labels": ["1", "2", "3", "4", "5.0"]})  # the same values: fine
    assert r.status_code == 201 and r.json()["labels"] == ["1", "2", "3", "4", "5"]
    change = {"scale": {"min": 1, "max": 7}, "labels": ["1", "2", "3"]}
    assert_error(manager.patch(f"/projects/{rating_project}", json=change), 422, field="labels")
    assert manager.get(f"/projects/{rating_project}").json()["labels"] == ["1", "2", "3", "4", "5"]


def test_a_project_that_stops_being_rating_drops_its_scale(manager: Any, rating_project: int) -> None:
    """The scale stayed in the config: a classification project showed a scale and interval alpha."""
    r = manager.patch(f"/projects/{rating_project}", json={"task_type": "classification"})
    assert r.status_code == 200 and r.json()["scale"] is None
    agreement = manager.get(f"/projects/{rating_project}/quality").json()["agreement"]
    assert set(agreement) == {"krippendorff_alpha", "fleiss_kappa"}
    r = manager.patch(f"/projects/{rating_project}", json={"task_type": "rating", "scale": {"min": 0, "max": 2}})
    assert r.status_code == 200 and r.json()["scale"] == {"min": 0, "max": 2, "step": 1}
