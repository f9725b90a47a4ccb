"""Numeric projects from the command line: a spec with range and tolerance, numbers in item and label files,
estimates with their standard error, each worker's bias and noise, exports."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest

from truthline.services import projects, results, users
from truthline.store.db import make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)

# ann counts every item right; ann2 counts 2 too many. Gold on c1 and c2 shows it.
TRUTH = {"c1": 10, "c2": 4, "c3": 7, "c4": 0, "c5": 25, "c6": 13}
GOLD = {"c1": 10, "c2": 4}


def _rows(stdout: str, columns: int) -> dict[str, list[str]]:
    """A Rich table's body rows by their first cell; a cell wrapped over lines is joined back."""
    cell = r"\s*([^│]*?)\s*│"
    rows: list[list[str]] = []
    for found in re.findall(r"^│" + cell * columns + "$", stdout, re.M):
        if found[0] or not rows:
            rows.append(list(found))
        else:  # a continuation line (80 columns wrap a long cell)
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], found, strict=True)]
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def birds(cli: Cli, seeded: dict) -> dict:
    """A numeric project "Birds" (counts, at least 0, overlap 2) with six items from CSV (truth, gold on two)."""
    db, tmp = seeded["db"], seeded["tmp"]
    config = tmp / "birds.yaml"
    config.write_text("name: Birds\ntask_type: numeric\nrange: {min: 0}\noverlap: 2\n")
    result = cli("project", "create", "--config", config, db=db)
    assert result.exit_code == 0, result.output
    items = tmp / "birds.csv"
    items.write_text("external_id,text,truth,gold\n" + "".join(
        f"{k},photo {k},{v},{GOLD.get(k, '')}\n" for k, v in TRUTH.items()))
    result = cli("import", "Birds", items, db=db)
    assert result.exit_code == 0 and "6 created" in result.stdout, result.output
    return seeded


@pytest.fixture
def counted(cli: Cli, birds: dict) -> dict:
    """Birds with every item counted twice, imported as label files: ann's as CSV cells (numeric strings),
    ann2's (2 too many) as JSON numbers."""
    tmp = birds["tmp"]
    exact = tmp / "ann.csv"
    exact.write_text("external_id,worker,answer,active_ms\n" + "".join(f"{k},ann,{v},900\n" for k, v in TRUTH.items()))
    high = tmp / "ann2.jsonl"
    high.write_text("".join(json.dumps({"external_id": k, "worker": "ann2", "answer": v + 2, "active_ms": 700}) + "\n"
                            for k, v in TRUTH.items()))
    for labels in (exact, high):
        result = cli("import", "Birds", labels, "--labels", "--create-workers", db=birds["db"])
        assert result.exit_code == 0, result.output
        assert "6 labels created, 0 unchanged, 1 workers created" in result.stdout
    return birds


def test_project_list_says_what_numbers_a_project_takes(cli: Cli, seeded: dict) -> None:
    db, tmp = seeded["db"], seeded["tmp"]
    specs = {"a.yaml": "name: Percent\ntask_type: numeric\nrange: {min: 0, max: 100}\n",
             "b.json": '{"name": "Depth", "task_type": "numeric", "range": {"max": 1.5}, "tolerance": 0.25}',
             "c.yaml": "name: Any\ntask_type: numeric\n",
             "d.yaml": "name: Count\ntask_type: numeric\nrange: {min: 0}\ntolerance: 1\n"}
    for name, text in specs.items():
        (tmp / name).write_text(text)
        result = cli("project", "create", "--config", tmp / name, db=db)
        assert result.exit_code == 0, result.output
    listed = _rows(cli("project", "list", db=db).stdout, 6)
    said = {row[0]: row[2] for row in listed.values()}  # name -> what its answers are
    assert said == {"Pets": "cat, dog, bird", "Percent": "numbers 0 to 100", "Depth": "numbers ≤ 1.5, tolerance 0.25",
                    "Any": "any number", "Count": "numbers ≥ 0, tolerance 1"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("range: {min: 5, max: 1}\n", "range.max"),
        ("range: {min: 0, mx: 9}\n", "range.mx"),
        ("range: 5\n", "range"),
        ("range: {min: lots}\n", "range.min"),
        ("tolerance: -1\n", "tolerance"),
        ("tolerance: .inf\n", "tolerance"),
        ("labels: [few, many]\n", "labels"),
        ("scale: {min: 1, max: 5}\n", "scale"),
    ],
)
def test_a_bad_numeric_spec_names_its_field(cli: Cli, seeded: dict, text: str, field: str) -> None:
    config = seeded["tmp"] / "bad.yaml"
    config.write_text("name: X\ntask_type: numeric\n" + text)
    result = cli("project", "create", "--config", config, db=seeded["db"])
    assert result.exit_code == 2, result.output
    assert re.match(rf"Error: {re.escape(field)}[: ]", result.stderr), result.stderr
    assert "Traceback" not in result.output
    assert "X" not in cli("project", "list", db=seeded["db"]).stdout  # nothing created


def test_item_and_label_files_take_numbers(cli: Cli, birds: dict) -> None:
    db, tmp = birds["db"], birds["tmp"]
    again = tmp / "again.jsonl"  # the same truth as JSON numbers: nothing changes
    again.write_text("".join(json.dumps({"external_id": k, "data": {"text": f"photo {k}"}, "truth": v,
                                         **({"gold": GOLD[k]} if k in GOLD else {})}) + "\n" for k, v in TRUTH.items()))
    result = cli("import", "Birds", again, db=db)
    assert result.exit_code == 0 and "0 created, 0 updated, 6 unchanged" in result.stdout, result.output
    bad = tmp / "bad.csv"
    bad.write_text("external_id,text,truth,gold\nc7,x,3,\nc8,y,-3,\nc9,z,,many\n")
    result = cli("import", "Birds", bad, db=db)
    assert result.exit_code == 2 and "nothing was imported" in result.stderr
    assert "line 3, truth: must be at least 0" in result.stderr and "line 4, gold: must be a number" in result.stderr
    labels = tmp / "labels.csv"
    labels.write_text("external_id,worker,answer\nc1,ann,10\nc2,ann,4.5\n")
    result = cli("import", "Birds", labels, "--labels", "--create-workers", db=db)
    assert result.exit_code == 0 and "2 labels created" in result.stdout, result.output
    same = tmp / "same.jsonl"  # 10.0 is the 10 stored: unchanged, and no note that it differs
    same.write_text('{"external_id": "c1", "worker": "ann", "answer": 10.0}\n'
                    '{"external_id": "c2", "worker": "ann", "answer": "4.5"}\n')
    result = cli("import", "Birds", same, "--labels", db=db)
    assert result.exit_code == 0 and "0 labels created, 2 unchanged" in result.stdout and "differ" not in result.stdout
    bad_labels = tmp / "bad-labels.jsonl"
    bad_labels.write_text('{"external_id": "c3", "worker": "ann", "answer": -1}\n'
                          '{"external_id": "c4", "worker": "ann", "answer": "lots"}\n'
                          '{"external_id": "c5", "worker": "ann", "answer": 3}\n')
    result = cli("import", "Birds", bad_labels, "--labels", db=db)
    assert result.exit_code == 2, result.output
    assert "line 1, answer: must be at least 0" in result.stderr and "line 2, answer: must be a number" in result.stderr
    engine = make_engine(db)
    rows = {r["external_id"]: r for r in results.item_results(engine, users.first_admin(engine),
                                                               _pid(engine, "Birds"), method="mv")}
    engine.dispose()
    assert rows["c5"]["n_labels"] == 0  # all or nothing: line 3 was fine, and not written either
    assert rows["c1"]["n_labels"] == rows["c2"]["n_labels"] == 1 and rows["c2"]["answer"] == 4  # gold stays gold


def _pid(engine: Any, name: str) -> int:
    return next(p.id for p in projects.list_projects(engine, users.first_admin(engine)) if p.name == name)


def test_aggregate_shows_estimates_their_stderr_and_the_methods_in_numeric_words(cli: Cli, counted: dict) -> None:
    db = counted["db"]
    result = cli("aggregate", "Birds", db=db)
    assert result.exit_code == 0, result.output
    assert re.search(r"answer\s*┃\s*confidence\s*┃\s*estimate\s*┃\s*stderr", result.stdout), result.stdout
    rows = _rows(result.stdout, 5)
    assert rows["c1"] == ["10", "1.000", "10", "0"]  # gold: known exactly
    for key, truth in TRUTH.items():  # the worker model sees ann2 counts 2 too many
        answer, _, estimate, stderr = rows[key]
        assert answer == str(truth) and float(estimate) == pytest.approx(truth, abs=0.5) and float(stderr) >= 0
    said = " ".join(result.stdout.split())
    assert "6 items, 6 with an answer" in said and "answers from 0 to 25, median 8.5" in said
    assert "Answers equal to truth (4 items): worker model (auto, ds) 1.000, plain mean (mv) 0.000" in said
    assert "The plain mean and the worker model agree on 33.3% of labeled items." in said  # the gold items
    assert "Dawid-Skene" not in said and "majority vote" not in said
    mv = cli("aggregate", "Birds", "--method", "mv", db=db)
    c3 = _rows(mv.stdout, 5)["c3"]
    assert mv.exit_code == 0 and c3[0] == c3[2] == "8" and float(c3[3]) > 0  # the plain mean of 7 and 9
    glad = cli("aggregate", "Birds", "--method", "glad", db=db)
    assert glad.exit_code == 2 and "Traceback" not in glad.output
    assert "method: numeric projects infer with auto" in glad.stderr


def test_aggregate_scores_within_the_tolerance(cli: Cli, counted: dict) -> None:
    engine = make_engine(counted["db"])
    projects.update_project(engine, users.first_admin(engine), _pid(engine, "Birds"), {"tolerance": 1})
    engine.dispose()
    result = cli("aggregate", "Birds", "--method", "mv", db=counted["db"])
    said = " ".join(result.stdout.split())
    # the plain mean is 1 too high everywhere: within a tolerance of 1, right
    assert "Answers within ±1 of truth (4 items): worker model (auto, ds) 1.000, plain mean (mv) 1.000" in said
    assert "agree (within ±1) on 100.0% of labeled items" in said
    assert "numbers ≥ 0, tolerance 1" in cli("project", "list", db=counted["db"]).stdout


def test_workers_show_bias_and_noise_instead_of_a_spammer_score(cli: Cli, counted: dict) -> None:
    db, tmp = counted["db"], counted["tmp"]
    out = tmp / "workers.csv"
    result = cli("workers", "Birds", "--out", out, db=db)
    assert result.exit_code == 0, result.output
    assert "bias" in result.stdout and "noise" in result.stdout and "spammer" not in result.stdout
    rows = _rows(result.stdout, 7)
    assert set(rows) == {"ann", "ann2"}, result.stdout
    bias = {w: float(row[2]) for w, row in rows.items()}
    assert rows["ann2"][2].startswith("+") and bias["ann2"] - bias["ann"] == pytest.approx(2, abs=0.3)
    assert all(float(row[3]) >= 0 for row in rows.values())
    assert rows["ann"][4] == "2 / 2" and rows["ann2"][4] == "0 / 2" and rows["ann"][5] == "900"
    said = " ".join(result.stdout.split())
    assert "Habitual slips" not in said and "Fleiss" not in said
    assert re.search(r"Agreement between workers on the values: Krippendorff's alpha interval 0\.9\d+, ordinal "
                     r"[\d.]+, nominal \(exact values\) [\d.]+\.", said), said
    assert "Against hidden truth: 100.0% of the auto answers are equal to it" in said
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(table[0])[-2:] == ["bias", "noise"] and {r["worker"] for r in table} == {"ann", "ann2"}
    assert all(r["spammer_score"] == "" for r in table)
    by_name = {r["worker"]: r for r in table}
    assert float(by_name["ann2"]["bias"]) == pytest.approx(bias["ann2"], abs=0.01)  # in full, not rounded


def test_workers_sort_by_noise_or_bias_and_refuse_a_spammer_sort(cli: Cli, counted: dict) -> None:
    db = counted["db"]
    by_bias = cli("workers", "Birds", "--sort", "bias", "--limit", "1", db=db)
    assert by_bias.exit_code == 0 and list(_rows(by_bias.stdout, 7)) == ["ann2"], by_bias.output  # 2 off, first
    assert cli("workers", "Birds", "--sort", "noise", db=db).exit_code == 0
    spam = cli("workers", "Birds", "--sort", "spammer", db=db)
    assert spam.exit_code == 2 and "no spammer score; sort by noise or bias" in spam.stderr
    pets = cli("workers", "Pets", "--sort", "bias", db=db)
    assert pets.exit_code == 2 and "only applies to numeric projects" in pets.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_carries_estimate_and_stderr(cli: Cli, counted: dict, fmt: str) -> None:
    out = counted["tmp"] / f"birds.{fmt}"
    result = cli("export", "Birds", "--out", out, db=counted["db"])
    assert result.exit_code == 0, result.output
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
    else:
        rows = pq.read_table(out).to_pylist()
    by_id = {row["external_id"]: row for row in rows}
    assert set(by_id) == set(TRUTH)
    assert float(by_id["c5"]["estimate"]) == pytest.approx(25, abs=0.5) and float(by_id["c1"]["stderr"]) == 0.0
    assert json.loads(str(by_id["c3"]["answer"])) == 7 and "truth" not in by_id["c3"]
    refused = cli("export", "Birds", "--out", out, "--method", "glad", db=counted["db"])
    assert refused.exit_code == 2 and "numeric projects infer with auto" in refused.stderr
