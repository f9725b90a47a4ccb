"""Numeric projects through the API: range and tolerance, number answers, estimates with a standard error,
each worker's bias and noise, agreement on the values, exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest

# ann counts every item right; ann2 counts 2 too many (a biased worker). Gold on c1 and c2 measures the bias.
TRUTH = {"c1": 10, "c2": 4, "c3": 7, "c4": 0, "c5": 25, "c6": 13}
GOLD = {"c1": 10, "c2": 4}


@pytest.fixture
def numeric_project(manager: Any) -> int:
    r = manager.post("/projects", json={"name": "Birds", "task_type": "numeric", "range": {"min": 0},
                                        "overlap": 2})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["labels"] == [] and body["range"] == {"min": 0, "max": None} and body["tolerance"] == 0
    assert body["scale"] is None
    for name in ("ann", "ann2"):
        assert manager.post(f"/projects/{body['id']}/members", json={"username": name}).status_code == 201
    return int(body["id"])


@pytest.fixture
def counted(manager: Any, ann: Any, ann2: Any, numeric_project: int) -> int:
    pid = numeric_project
    items = [{"external_id": k, "data": {"text": f"photo {k}"}, "truth": v, **({"gold": GOLD[k]} if k in GOLD else {})}
             for k, v in TRUTH.items()]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client, shift in ((ann, 0), (ann2, 2)):
        while (r := client.post(f"/projects/{pid}/next")).status_code == 200:
            task = r.json()
            assert task["task_type"] == "numeric" and task["labels"] == []
            value = TRUTH[task["item"]["external_id"]] + shift
            answer = value if shift else str(value)  # a number, or a numeric string (as a CSV cell holds it)
            r = client.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer})
            assert r.status_code == 201, r.text
            assert r.json()["answer"] == value  # stored as a number
    return pid


def test_answers_are_numbers_within_the_range(manager: Any, ann: Any, numeric_project: int,
                                              assert_error: Any) -> None:
    pid = numeric_project
    assert manager.post(f"/projects/{pid}/items", json=[{"external_id": "x", "data": {"text": "x"}}]).status_code == 200
    task = ann.post(f"/projects/{pid}/next").json()
    for bad, says in ((-1, "at least 0"), ("many", "must be a number"), (True, "must be a number"),
                      ([3], "must be a number"), (1e300, "1e+15")):
        r = ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": bad})
        assert says in assert_error(r, 422, field="answer")["message"]
    # gold outside the range is refused by line, nothing written
    r = manager.post(f"/projects/{pid}/items", json=[{"external_id": "y", "data": {"text": "y"}, "gold": -3}])
    assert r.status_code == 422 and "gold" in r.text
    assert ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": 2.5}).status_code == 201


def test_results_correct_the_biased_worker(manager: Any, counted: int) -> None:
    rows = {r["external_id"]: r for r in manager.get(f"/projects/{counted}/results").json()["results"]}
    for key, truth in TRUTH.items():
        row = rows[key]
        assert row["answer"] == truth, row  # gold on c1, c2 shows ann2 counts 2 too many
        assert isinstance(row["answer"], int) and row["n_labels"] == 2
        assert row["estimate"] == pytest.approx(truth, abs=0.5)
        assert row["stderr"] >= 0 and 0 <= row["confidence"] <= 1
    assert rows["c1"]["stderr"] == 0 and rows["c1"]["confidence"] == 1  # gold
    mv = {r["external_id"]: r for r in manager.get(f"/projects/{counted}/results",
                                                   params={"method": "mv"}).json()["results"]}
    assert mv["c3"]["estimate"] == pytest.approx(8.0)  # the plain mean of 7 and 9
    assert mv["c1"]["answer"] == 10  # gold stays gold


def test_categorical_methods_are_refused_by_name(manager: Any, counted: int, assert_error: Any) -> None:
    for path in ("results", "workers", "quality"):
        r = manager.get(f"/projects/{counted}/{path}", params={"method": "glad"})
        assert "numeric projects infer with auto" in assert_error(r, 422, field="method")["message"]
    r = manager.get(f"/projects/{counted}/results", params={"method": "ds"})  # the worker model, as auto
    assert r.status_code == 200
    r = manager.get(f"/projects/{counted}/results", params={"probabilities": "true"})
    assert_error(r, 422, field="probabilities")


def test_quality_gives_each_workers_bias_and_noise(manager: Any, counted: int) -> None:
    report = manager.get(f"/projects/{counted}/quality").json()
    workers = {w["username"]: w for w in report["workers"]}
    # 2 apart; with two gold items the bias prior (1 pseudo-label at 0) still holds ann2's own figure back
    assert workers["ann2"]["bias"] - workers["ann"]["bias"] == pytest.approx(2, abs=0.3)
    assert workers["ann2"]["bias"] > 1 > abs(workers["ann"]["bias"])
    assert workers["ann"]["noise"] >= 0
    assert workers["ann"]["accuracy"] > workers["ann2"]["accuracy"]  # within the tolerance of the answers
    assert workers["ann"]["gold_correct"] == 2 and workers["ann2"]["gold_correct"] == 0
    assert workers["ann"]["top_slip"] is None and workers["ann"]["spammer_score"] is None
    agreement = report["agreement"]
    # always 2 apart: nominally they never agree, by distance they nearly do
    assert agreement["krippendorff_alpha_interval"] > 0.9 and agreement["krippendorff_alpha"] < 0.2
    assert agreement["fleiss_kappa"] is None
    assert report["accuracy_vs_truth"] == 1.0 and report["error_vs_truth"] < 0.5
    assert report["confusion"] is None
    csv_text = manager.get(f"/projects/{counted}/workers", params={"format": "csv"}).text
    header = next(csv.reader(io.StringIO(csv_text)))
    assert header[-2:] == ["bias", "noise"]


def test_summary_and_classification_reports_stay_as_they_were(manager: Any, world: Any, counted: int) -> None:
    summary = manager.get(f"/projects/{counted}/summary").json()
    assert summary["label_distribution"]["10"] == 1 and summary["label_distribution"]["12"] == 1
    assert summary["project"]["range"] == {"min": 0, "max": None}
    assert summary["accuracy"]["against"] == "truth" and summary["accuracy"]["ds"] == 1.0
    assert summary["accuracy"]["mv"] < 1.0  # the plain mean splits the 2 point difference
    other = manager.get(f"/projects/{world.project_id}/quality").json()
    assert "error_vs_truth" not in other and set(other["agreement"]) == {"krippendorff_alpha", "fleiss_kappa"}
    assert all("bias" not in w for w in manager.get(f"/projects/{world.project_id}/workers").json()["workers"])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_exports_carry_estimate_and_stderr(manager: Any, counted: int, fmt: str) -> None:
    r = manager.get(f"/projects/{counted}/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    if fmt == "jsonl":
        rows = [json.loads(line) for line in r.text.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.text)))
    else:
        rows = pq.read_table(io.BytesIO(r.content)).to_pylist()
    by_id = {row["external_id"]: row for row in rows}
    assert float(by_id["c5"]["estimate"]) == pytest.approx(25, abs=0.5)
    assert float(by_id["c1"]["stderr"]) == 0.0
    assert json.loads(str(by_id["c3"]["answer"])) == 7
    if fmt == "parquet":  # a number column, not JSON text
        assert by_id["c3"]["answer"] == 7.0 and isinstance(by_id["c3"]["answer"], float)


def test_project_settings(manager: Any, numeric_project: int, assert_error: Any) -> None:
    pid = numeric_project
    r = manager.patch(f"/projects/{pid}", json={"tolerance": 0.5})
    assert r.status_code == 200 and r.json()["tolerance"] == 0.5 and r.json()["range"] == {"min": 0, "max": None}
    r = manager.patch(f"/projects/{pid}", json={"name": "Birds counted"})  # other changes keep range and tolerance
    assert r.json()["tolerance"] == 0.5 and r.json()["range"]["min"] == 0
    r = manager.patch(f"/projects/{pid}", json={"range": {}})  # taken off again
    assert r.status_code == 200 and r.json()["range"] == {"min": None, "max": None}
    assert manager.patch(f"/projects/{pid}", json={"range": {"min": 0}}).json()["range"]["min"] == 0
    r = manager.post("/projects", json={"name": "Weights", "task_type": "numeric", "labels": []})  # none, as said
    assert r.status_code == 201 and r.json()["labels"] == []
    assert_error(manager.patch(f"/projects/{pid}", json={"range": {"min": 5, "max": 1}}), 422, field="range.max")
    assert_error(manager.patch(f"/projects/{pid}", json={"labels": ["a", "b"]}), 422, field="labels")
    assert_error(manager.patch(f"/projects/{pid}", json={"tolerance": -1}), 422, field="tolerance")
    assert_error(manager.patch(f"/projects/{pid}", json={"scale": {"min": 1, "max": 5}}), 422, field="scale")
    r = manager.post("/projects", json={"name": "Cats", "labels": ["cat", "dog"], "tolerance": 1})
    assert_error(r, 422, field="tolerance")
    # a project without items changes type: its range and tolerance go, labels come
    r = manager.patch(f"/projects/{pid}", json={"task_type": "classification", "labels": ["few", "many"]})
    assert r.status_code == 200, r.text
    assert r.json()["range"] is None and r.json()["tolerance"] is None and r.json()["labels"] == ["few", "many"]
    r = manager.patch(f"/projects/{pid}", json={"task_type": "numeric"})  # and back: the labels go
    assert r.status_code == 200, r.text
    assert r.json()["labels"] == [] and r.json()["tolerance"] == 0


def test_rating_labels_may_be_numbers(manager: Any, assert_error: Any) -> None:
    r = manager.post("/projects", json={"name": "Stars", "task_type": "rating", "labels": [1, 2, 3]})
    assert r.status_code == 201 and r.json()["labels"] == ["1", "2", "3"]
    r = manager.post("/projects", json={"name": "Pets", "labels": ["cat", 2]})
    assert_error(r, 422, field="labels[1]")


def test_typed_reports_keep_every_field(manager: Any, counted: int, engine: Any, world: Any) -> None:
    """The response models drop what they do not declare: numeric's bias, noise and error must come through."""
    from truthline.services import dashboard, results, users

    actor = users.user_for_token(engine, world.manager_token)
    expected = {
        "workers": {"project_id": counted, "method": "auto", "workers": dashboard.workers_table(engine, actor, counted)},
        "quality": {"project_id": counted, "method": "auto", **dashboard.quality_report(engine, actor, counted)},
        "summary": results.project_summary(engine, actor, counted),
        "results": {"project_id": counted, "method": "auto", "results": results.item_results(engine, actor, counted)},
    }
    for path, want in expected.items():
        got = manager.get(f"/projects/{counted}/{path}").json()
        want = json.loads(json.dumps(want))
        if path == "summary":
            got["progress"].pop("leased"), want["progress"].pop("leased")
        assert got == want, path
    assert "bias" in expected["workers"]["workers"][0] and "error_vs_truth" in expected["quality"]


def test_a_range_is_not_narrowed_past_stored_answers(manager: Any, counted: int, assert_error: Any) -> None:
    """c5's truth and labels are 25 and 27: a range that leaves them out would strand them (and clamp results)."""
    r = manager.patch(f"/projects/{counted}", json={"range": {"min": 0, "max": 20}})
    message = assert_error(r, 422, field="range")["message"]
    assert "2 labels" in message and "1 truth answers" in message and "widen it" in message
    assert manager.get(f"/projects/{counted}").json()["range"] == {"min": 0, "max": None}  # unchanged
    r = manager.patch(f"/projects/{counted}", json={"range": {"min": 0, "max": 100}})  # all still inside
    assert r.status_code == 200 and r.json()["range"] == {"min": 0, "max": 100}


def test_reports_refuse_categorical_methods_before_any_label(manager: Any, numeric_project: int,
                                                            assert_error: Any) -> None:
    for path in ("results", "workers", "quality"):
        assert_error(manager.get(f"/projects/{numeric_project}/{path}", params={"method": "mace"}), 422,
                     field="method")
