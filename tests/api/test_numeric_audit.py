"""Numeric projects pushed to their edges through the API: answers that rounding or bias correction would push
outside the range or the ±1e15 bound, comparisons at large magnitudes, decimals of large values, value counts
that must not merge, numeric text only as JSON writes it, Parquet decimals, and JSON free of NaN/Infinity."""

from __future__ import annotations

import decimal
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def _project(manager: Any, name: str, **spec: Any) -> int:
    r = manager.post("/projects", json={"name": name, "task_type": "numeric", "overlap": 2, **spec})
    assert r.status_code == 201, r.text
    pid = int(r.json()["id"])
    for user in ("ann", "ann2"):
        assert manager.post(f"/projects/{pid}/members", json={"username": user}).status_code == 201
    return pid


def _label(client: Any, pid: int, answer_for: Any) -> int:
    """The client answers every item it is offered with answer_for(external_id) (None: skips it); returns how
    many it answered."""
    n = 0
    for _ in range(50):  # bounded: the projects here have a handful of items
        r = client.post(f"/projects/{pid}/next")
        if r.status_code != 200:
            break
        task = r.json()
        answer = answer_for(task["item"]["external_id"])
        if answer is None:
            assert client.post(f"/leases/{task['lease_id']}/skip").status_code == 200
            continue
        r = client.post(f"/leases/{task['lease_id']}/submit", json={"answer": answer})
        assert r.status_code == 201, r.text
        n += 1
    return n


def _results(manager: Any, pid: int, method: str = "auto") -> dict[str, dict[str, Any]]:
    r = manager.get(f"/projects/{pid}/results", params={"method": method})
    assert r.status_code == 200, r.text
    return {row["external_id"]: row for row in r.json()["results"]}


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in a JSON response: {text[:300]}")
    return json.loads(text, parse_constant=refuse)


def test_rounding_to_the_step_never_leaves_the_range(manager: Any, ann: Any, ann2: Any) -> None:
    """Both workers read 1.5 high on gold (2.5): the bias-corrected estimate of an item both call 3 is below 2.5.
    Clamped to 2.5 and then rounded to the workers' whole step, it was answered 2, outside the range."""
    pid = _project(manager, "Cups", range={"min": 2.5})
    items = [{"external_id": f"g{k}", "data": {"text": "t"}, "gold": 2.5} for k in range(4)]
    items += [{"external_id": f"i{k}", "data": {"text": "t"}} for k in range(3)]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client in (ann, ann2):
        assert _label(client, pid, lambda ext: 4 if ext.startswith("g") else 3) == 7
    for method in ("auto", "mv"):
        rows = _results(manager, pid, method)
        for k in range(3):
            row = rows[f"i{k}"]
            assert row["answer"] == 3 and isinstance(row["answer"], int), (method, row)  # whole, within the range
            assert 0 <= row["confidence"] <= 1 and row["stderr"] >= 0
        assert rows["g0"]["answer"] == 2.5  # gold as given


def test_answers_stay_within_the_bound_on_any_answer(manager: Any, ann: Any) -> None:
    """One worker reads 2e15 high on gold, so the item it calls -1e15 is estimated near -2e15 (and -1.4e15 with
    the bias prior): the answer must stay within ±1e15, as every answer, gold and range end must."""
    pid = _project(manager, "Stars", overlap=1)
    items = [{"external_id": "g", "data": {"text": "t"}, "gold": -1e15},
             {"external_id": "h", "data": {"text": "t"}, "gold": -1e15},
             {"external_id": "x", "data": {"text": "t"}}]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    assert _label(ann, pid, lambda ext: -1e15 if ext == "x" else 1e15) == 3
    row = _results(manager, pid)["x"]
    assert row["estimate"] < -1e15  # the model's own figure is beyond the bound ...
    assert row["answer"] == -10**15 and isinstance(row["answer"], int)  # ... its answer is not


def test_tolerance_zero_tells_large_counts_apart(manager: Any, ann: Any, ann2: Any) -> None:
    """1500000001 is not 1500000000 at tolerance 0: float noise is a few units in the last place, not 1e-9 of the
    value (which forgave 1.5 at this size, and 1e6 at 1e15)."""
    pid = _project(manager, "Census")
    truth = {"g": 1_500_000_000, "p": 1_234_567_890}
    items = [{"external_id": "g", "data": {"text": "t"}, "gold": truth["g"]},
             {"external_id": "p", "data": {"text": "t"}, "truth": truth["p"]}]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    assert _label(ann, pid, lambda ext: truth[ext] + 1) == 2
    assert _label(ann2, pid, lambda ext: truth[ext] + (ext == "p")) == 2
    workers = {w["username"]: w for w in manager.get(f"/projects/{pid}/workers").json()["workers"]}
    assert workers["ann"]["gold_correct"] == 0 and workers["ann2"]["gold_correct"] == 1
    summary = manager.get(f"/projects/{pid}/summary").json()
    assert summary["accuracy"]["against"] == "truth"
    assert summary["accuracy"]["mv"] == 0.0  # both said 1234567891: not the truth at tolerance 0
    assert manager.patch(f"/projects/{pid}", json={"tolerance": 1}).status_code == 200
    assert manager.get(f"/projects/{pid}/summary").json()["accuracy"]["mv"] == 1.0  # within 1 of it


def test_decimals_of_large_values_are_kept(manager: Any, ann: Any, ann2: Any) -> None:
    """Prices of about a billion written in cents: a test relative to 1e-9 of the value took them for whole
    numbers and answered 1234567890 for a unanimous 1234567890.25."""
    pid = _project(manager, "Deals")
    prices = {f"d{k}": 1_234_567_890.25 + 1000 * k for k in range(3)}
    items = [{"external_id": ext, "data": {"text": ext}} for ext in prices]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client in (ann, ann2):
        assert _label(client, pid, lambda ext: prices[ext]) == 3
    for method in ("auto", "mv"):
        rows = _results(manager, pid, method)
        assert {ext: row["answer"] for ext, row in rows.items()} == prices, method


def test_value_counts_never_merge(manager: Any, ann: Any, ann2: Any) -> None:
    """With 6 significant digits 1234567 and 1234568 were one key of the label distribution, and one count
    overwrote the other: 3 labels showed as 2."""
    pid = _project(manager, "Crowds")
    items = [{"external_id": f"c{k}", "data": {"text": "t"}} for k in range(2)]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    _label(ann, pid, lambda ext: 1_234_567)
    _label(ann2, pid, lambda ext: 1_234_568 if ext == "c0" else 4.5)
    distribution = manager.get(f"/projects/{pid}/summary").json()["label_distribution"]
    assert distribution == {"4.5": 1, "1234567": 2, "1234568": 1}
    assert sum(distribution.values()) == 4


@pytest.mark.parametrize("text", ["1_000", "١٢", "0x10", "1,000", "12 birds", ""])
def test_numeric_text_is_read_only_as_json_writes_numbers(manager: Any, ann: Any, text: str,
                                                          assert_error: Any) -> None:
    """float() reads "1_000" as 1000 and Arabic-Indic digits as 12: an answer, gold or range no spreadsheet or
    JSON parser reads as that number is refused by field (and by line in an import, nothing written)."""
    pid = _project(manager, "Bees", overlap=1)
    assert manager.post(f"/projects/{pid}/items", json=[{"external_id": "a", "data": {"text": "t"}}]).status_code == 200
    task = ann.post(f"/projects/{pid}/next").json()
    assert_error(ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": text}), 422, field="answer")
    r = manager.post(f"/projects/{pid}/items", json=[{"external_id": "b", "data": {"text": "t"}},
                                                     {"external_id": "c", "data": {"text": "t"}, "gold": text}])
    assert_error(r, 422, field="gold", line=2)
    assert manager.get(f"/projects/{pid}/summary").json()["progress"]["items"] == 1  # "b" was not written
    assert ann.post(f"/leases/{task['lease_id']}/submit", json={"answer": " 12 "}).json()["answer"] == 12


def test_a_parquet_decimal_column_is_read_as_numbers(manager: Any, ann: Any) -> None:
    """Prices from a database land in Parquet as decimal128: refused as "must be a number, got Decimal(...)"."""
    pid = _project(manager, "Prices", overlap=1, range={"min": 0})
    table = pa.table({"external_id": ["p1", "p2"], "text": ["a", "b"],
                      "gold": pa.array([decimal.Decimal("12.50"), None], pa.decimal128(6, 2)),
                      "truth": pa.array([decimal.Decimal("12.50"), decimal.Decimal("7.25")], pa.decimal128(6, 2))})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    upload = {"file": ("prices.parquet", buf.getvalue(), "application/octet-stream")}
    r = manager.post(f"/projects/{pid}/items", files=upload)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    _label(ann, pid, lambda ext: 12.5 if ext == "p1" else 7.25)
    rows = _results(manager, pid)
    assert rows["p1"]["answer"] == 12.5 and rows["p1"]["stderr"] == 0  # gold
    assert rows["p2"]["answer"] == 7.25
    quality = manager.get(f"/projects/{pid}/quality").json()
    assert quality["error_vs_truth"] == 0 and quality["accuracy_vs_truth"] == 1.0


def test_no_nan_or_infinity_reaches_json(manager: Any, ann: Any, ann2: Any) -> None:
    """Items without labels, with one label, values at ±1e15, a lone worker on some items: every report and
    export is strict JSON, answers lie within range, confidence in [0, 1] or null, stderr >= 0 or null."""
    pid = _project(manager, "Edges", range={"min": -1e15, "max": 1e15})
    items = [{"external_id": f"e{k}", "data": {"text": "t"}} for k in range(4)]
    items += [{"external_id": "none", "data": {"text": "t"}, "truth": 3}, {"external_id": "gold", "data": {"text": "t"},
                                                                           "gold": -0.0}]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    _label(ann, pid, lambda ext: None if ext == "none" else 1e15 if ext != "e3" else 7)
    for _ in range(2):  # ann2 answers two items, leaving the others with one label
        task = ann2.post(f"/projects/{pid}/next").json()
        assert ann2.post(f"/leases/{task['lease_id']}/submit", json={"answer": -1e15}).status_code == 201
    for method in ("auto", "ds", "mv"):
        for path in ("results", "workers", "quality"):
            r = manager.get(f"/projects/{pid}/{path}", params={"method": method})
            assert r.status_code == 200, r.text
            _strict_json(r.text)
        for row in _results(manager, pid, method).values():
            assert row["answer"] is None or -1e15 <= row["answer"] <= 1e15, row
            assert row["confidence"] is None or 0 <= row["confidence"] <= 1, row
            assert row["stderr"] is None or row["stderr"] >= 0, row
    _strict_json(manager.get(f"/projects/{pid}/summary").text)
    r = manager.get(f"/projects/{pid}/export", params={"format": "jsonl"})
    rows = [_strict_json(line) for line in r.text.splitlines()]
    assert {row["external_id"]: row["answer"] for row in rows}["gold"] == 0
    assert {row["external_id"]: row["answer"] for row in rows}["none"] is None


def test_gold_is_certain_even_when_no_label_can_hit_exactly(manager: Any, ann: Any, ann2: Any) -> None:
    """Labels written finer than 6 decimals and tolerance 0: confidence is undefined for the inferred items, but a
    gold item's answer is its gold value, confidence 1 (it was null)."""
    pid = _project(manager, "Lengths")
    items = [{"external_id": "g", "data": {"text": "t"}, "gold": 2.1234567},
             {"external_id": "x", "data": {"text": "t"}}]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    _label(ann, pid, lambda ext: 2.1234568 if ext == "g" else 3.1234567)
    _label(ann2, pid, lambda ext: 2.1234561 if ext == "g" else 3.1234562)
    for method in ("auto", "mv"):
        rows = _results(manager, pid, method)
        assert rows["g"]["answer"] == 2.1234567 and rows["g"]["stderr"] == 0 and rows["g"]["confidence"] == 1.0
        assert rows["x"]["confidence"] is None and rows["x"]["stderr"] is not None  # (rounded to 6 decimals: 0.0)


def test_calibration_scores_the_event_confidence_is_about(manager: Any, ann: Any, ann2: Any) -> None:
    """Whole-number labels, truth measured finer (k + 0.3), tolerance 0: confidence is the chance that the truth
    lies within half a step of the answer, and it does on every item. Scored on the tolerance alone, every
    answer was wrong and the calibration error was about 1."""
    pid = _project(manager, "Rulers")
    truth = {f"r{k}": k + 0.3 for k in range(22)}
    items = [{"external_id": ext, "data": {"text": ext}, "truth": t} for ext, t in truth.items()]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 200
    for client in (ann, ann2):
        assert _label(client, pid, lambda ext: round(truth[ext] - 0.3)) == 22
    calibration = manager.get(f"/projects/{pid}/quality").json()["calibration"]
    assert calibration is not None and calibration["items"] == 22
    assert all(b["accuracy"] == 1.0 for b in calibration["bins"] if b["items"]), calibration
    assert calibration["error"] < 0.2, calibration
