"""Results, worker stats, summary and export: managers and admins only; annotators never see others' labels."""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

import pyarrow.parquet as pq
import pytest

from truthline import offload
from truthline.quality import METHODS
from truthline.services import dashboard, results, users

ITEMS = [{"external_id": f"i{n}", "data": {"text": f"t{n}"}, "gold": "pos" if n == 0 else None} for n in range(4)]


@pytest.fixture
def labeled(manager: Any, ann: Any, ann2: Any, world: Any) -> int:
    """Every item labeled by both annotators (ann says pos, ann2 says pos except on i3)."""
    pid = world.project_id
    assert manager.post(f"/projects/{pid}/items", json=ITEMS).status_code == 200
    for client, name in ((ann, "ann"), (ann2, "ann2")):
        while (r := client.post(f"/projects/{pid}/next")).status_code == 200:
            task = r.json()
            answer = "neg" if (name == "ann2" and task["item"]["external_id"] == "i3") else "pos"
            assert client.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer, "active_ms": 900}).status_code == 201
    return pid


@pytest.mark.parametrize("method", ["mv", "ds", None])
def test_results(manager: Any, labeled: int, method: str | None) -> None:
    r = manager.get(f"/projects/{labeled}/results", params={"method": method} if method else {})
    assert r.status_code == 200
    body = r.json()
    assert body["method"] == (method or "auto")
    rows = {row["external_id"]: row for row in body["results"]}
    assert set(rows) == {"i0", "i1", "i2", "i3"}
    assert rows["i1"]["answer"] == "pos" and 0.5 <= rows["i1"]["confidence"] <= 1.0


def test_results_probabilities(manager: Any, labeled: int, assert_error: Any) -> None:
    r = manager.get(f"/projects/{labeled}/results", params={"method": "mv", "probabilities": "true"})
    assert r.status_code == 200
    rows = {row["external_id"]: row for row in r.json()["results"]}
    assert rows["i3"]["probabilities"] == {"pos": 0.5, "neg": 0.5}
    assert rows["i1"]["probabilities"] == {"pos": 1.0, "neg": 0.0}
    plain = manager.get(f"/projects/{labeled}/results", params={"method": "mv"}).json()["results"]
    assert all("probabilities" not in row for row in plain)  # only on request
    assert_error(manager.get(f"/projects/{labeled}/results", params={"probabilities": "2"}), 422, field="probabilities")


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_advertised_method_answers(manager: Any, labeled: int, method: str) -> None:
    for path in ("results", "workers"):
        r = manager.get(f"/projects/{labeled}/{path}", params={"method": method})
        assert r.status_code == 200, r.text
    r = manager.get(f"/projects/{labeled}/export", params={"method": method})
    assert r.status_code == 200 and len(r.text.splitlines()) == 4


def test_workers_and_summary(manager: Any, root: Any, labeled: int) -> None:
    r = manager.get(f"/projects/{labeled}/workers", params={"method": "ds"})
    assert r.status_code == 200 and r.json()["method"] == "ds" and len(r.json()["workers"]) == 2
    r = root.get(f"/projects/{labeled}/summary")
    assert r.status_code == 200 and isinstance(r.json(), dict)


def test_workers_as_a_csv_file(manager: Any, labeled: int, assert_error: Any) -> None:
    r = manager.get(f"/projects/{labeled}/workers", params={"method": "ds", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="project-{labeled}-workers.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    want = manager.get(f"/projects/{labeled}/workers", params={"method": "ds"}).json()["workers"]
    assert [(row["worker"], int(row["n_labels"]), float(row["lower"])) for row in rows] == [
        (w["username"], w["n_labels"], w["lower"]) for w in want]  # the JSON table, as a file
    assert_error(manager.get(f"/projects/{labeled}/workers", params={"format": "xml"}), 422, field="format")


def test_quality_report(manager: Any, labeled: int) -> None:
    r = manager.get(f"/projects/{labeled}/quality")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "auto" and body["level"] == 0.95
    assert set(body["agreement"]) == {"krippendorff_alpha", "fleiss_kappa"}
    assert body["models"] and abs(sum(body["models"].values()) - 1) < 1e-3
    assert 0.1 <= body["temperature"] <= 1.0  # auto says how it tempered its posteriors
    assert body["temperature_gold_items"] == 0  # and that no gold checked it (too few gold items)
    workers = {w["username"]: w for w in body["workers"]}
    assert set(workers) == {"ann", "ann2"}
    assert all(w["lower"] <= w["accuracy"] <= w["upper"] and w["n_labels"] == 4 for w in workers.values())
    ds = manager.get(f"/projects/{labeled}/quality", params={"method": "ds"}).json()
    assert ds["method"] == "ds" and ds["models"] == {} and ds["temperature"] is None


def test_typed_reports_keep_every_field(manager: Any, labeled: int, engine: Any, world: Any) -> None:
    """The OpenAPI response models filter what they do not declare: the API must give all the service gives."""
    actor = users.user_for_token(engine, world.manager_token)
    expected = {
        "workers": {"project_id": labeled, "method": "ds", "workers": dashboard.workers_table(engine, actor, labeled, "ds")},
        "quality": {"project_id": labeled, "method": "ds", **dashboard.quality_report(engine, actor, labeled, "ds")},
        "summary": results.project_summary(engine, actor, labeled),
    }
    for path, want in expected.items():
        got = manager.get(f"/projects/{labeled}/{path}", params={} if path == "summary" else {"method": "ds"}).json()
        want = json.loads(json.dumps(want))
        if path == "summary":
            got["progress"].pop("leased"), want["progress"].pop("leased")  # live leases can lapse in between
        assert got == want, path
    assert expected["summary"]["project"]["created_at"] and expected["quality"]["workers"][0]["lower"] is not None


@pytest.mark.parametrize("path", ["results", "workers", "summary", "export", "quality"])
def test_annotators_and_outsiders_cannot_read_results(ann: Any, outsider: Any, labeled: int, path: str, assert_error: Any) -> None:
    assert_error(ann.get(f"/projects/{labeled}/{path}"), 403)
    assert_error(outsider.get(f"/projects/{labeled}/{path}"), 404, field="project_id")
    # the method is checked once the caller may see the project: no 422 tells an outsider it exists
    assert_error(ann.get(f"/projects/{labeled}/{path}", params={"method": "bogus"}), 403)
    assert_error(outsider.get(f"/projects/{labeled}/{path}", params={"method": "bogus"}), 404, field="project_id")
    assert_error(outsider.get(f"/projects/999999/{path}", params={"method": "bogus"}), 404, field="project_id")


def test_unknown_method_is_422(manager: Any, labeled: int, assert_error: Any) -> None:
    for path in ("results", "workers", "export", "quality"):
        err = assert_error(manager.get(f"/projects/{labeled}/{path}", params={"method": "magic"}), 422, field="method")
        assert "mv" in err["message"] and "ds" in err["message"]


def test_export_jsonl(manager: Any, labeled: int) -> None:
    r = manager.get(f"/projects/{labeled}/export", params={"format": "jsonl", "method": "mv"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["content-disposition"] == f'attachment; filename="project-{labeled}.jsonl"'
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert {row["external_id"] for row in rows} == {"i0", "i1", "i2", "i3"}
    i3 = next(row for row in rows if row["external_id"] == "i3")
    assert len(i3["annotations"]) == 2 and {"answer", "confidence", "data"} <= set(i3)


def test_export_probabilities(manager: Any, labeled: int, assert_error: Any) -> None:
    r = manager.get(f"/projects/{labeled}/export", params={"method": "mv", "probabilities": "true"})
    assert r.status_code == 200
    rows = {row["external_id"]: row["probabilities"] for row in map(json.loads, r.text.splitlines())}
    assert rows == {"i0": {"pos": 1.0, "neg": 0.0}, "i1": {"pos": 1.0, "neg": 0.0}, "i2": {"pos": 1.0, "neg": 0.0},
                    "i3": {"pos": 0.5, "neg": 0.5}}
    r = manager.get(f"/projects/{labeled}/export", params={"format": "csv", "probabilities": "true"})
    assert next(csv.reader(io.StringIO(r.text)))[4:6] == ["p:pos", "p:neg"]
    assert_error(manager.get(f"/projects/{labeled}/export", params={"probabilities": "maybe"}), 422,
                 field="probabilities")


def test_export_csv_and_parquet(manager: Any, labeled: int) -> None:
    r = manager.get(f"/projects/{labeled}/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 4 and "external_id" in rows[0]

    r = manager.get(f"/projects/{labeled}/export", params={"format": "parquet"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 4 and "external_id" in table.column_names


def test_quality_offloaded_to_the_child_matches_in_process(manager: Any, labeled: int, engine: Any,
                                                           world: Any) -> None:
    """The server's offloading (here from the first label on) changes where inference runs, not what it gives."""
    actor = users.user_for_token(engine, world.manager_token)
    offload.configure(None)
    here = {"results": results.item_results(engine, actor, labeled, "auto", probabilities=True),
            "quality": dashboard.quality_report(engine, actor, labeled, "auto")}
    results._LOADED.pop(engine, None)  # forget the loaded labels and every inference run on them
    offload.configure(1)
    try:
        there = {"results": manager.get(f"/projects/{labeled}/results", params={"probabilities": "true"}).json(),
                 "quality": manager.get(f"/projects/{labeled}/quality").json()}
        started = offload._pool is not None  # the requests started the child
        child = offload.call(os.getpid, size=1)
    finally:
        offload.configure(None)
        offload.shutdown()
    assert started and child != os.getpid()
    assert there["results"]["results"] == json.loads(json.dumps(here["results"]))
    assert {k: there["quality"][k] for k in here["quality"]} == json.loads(json.dumps(here["quality"]))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_unanimous_multilabel_project_answers_every_method(manager: Any, ann: Any, method: str) -> None:
    """Summing EBCC's subtypes left a posterior of 1 + 2e-16 here; 1 - p < 0 made the workers table a 500."""
    created = manager.post("/projects", json={"name": "Tags", "task_type": "multilabel", "labels": ["a", "b", "c"]})
    pid = created.json()["id"]
    assert manager.post(f"/projects/{pid}/members", json={"username": "ann"}).status_code == 201
    items = [{"external_id": "m1", "data": {"text": "x"}, "gold": ["a"]}, {"external_id": "m2", "data": {"text": "y"}}]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    while (r := ann.post(f"/projects/{pid}/next")).status_code == 200:
        assert ann.post(f"/leases/{r.json()['lease_id']}/submit", json={"answer": ["a"]}).status_code == 201
    for path in ("results", "workers", "quality"):
        r = manager.get(f"/projects/{pid}/{path}", params={"method": method})
        assert r.status_code == 200, (path, r.text)
    rows = manager.get(f"/projects/{pid}/results", params={"method": method}).json()["results"]
    assert {row["external_id"]: row["answer"] for row in rows} == {"m1": ["a"], "m2": ["a"]}
