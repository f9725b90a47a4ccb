from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Forbidden, Invalid
from truthline.services import exporting
from truthline.services.exporting import export, iter_export


@pytest.fixture
def done(engine: Engine, make_project: Callable, make_annotator: Callable, add_items: Callable,
         label_all: Callable) -> Any:
    project = make_project(overlap=2)
    add_items(project, 5, gold="cat")
    add_items(project, 1, start=5)
    people = [make_annotator(project, username=f"w{k}") for k in range(2)]
    label_all(project, people[:1], lambda p, t: "dog")
    label_all(project, people[1:], lambda p, t: "dog")
    return project


def test_jsonl_export(engine: Engine, admin: Any, done: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporting, "BATCH", 2)  # several keyset batches
    out = io.BytesIO()
    assert export(engine, admin.user, done.id, "jsonl", out, method="mv") == len(out.getvalue())
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["external_id"] for r in rows] == [f"item-{i}" for i in range(6)]
    assert rows[5]["answer"] == "dog" and len(rows[5]["annotations"]) == 2
    assert {a["worker"] for a in rows[5]["annotations"]} == {"w0", "w1"}
    assert set(rows[0]["annotations"][0]) == {"worker", "answer", "active_ms", "created_at"}
    import datetime

    stamps = [datetime.datetime.fromisoformat(a["created_at"]) for a in rows[5]["annotations"]]
    assert stamps == sorted(stamps) and stamps[0].tzinfo is not None
    assert [a["worker"] for a in rows[5]["annotations"]] == ["w0", "w1"]  # in the order they were made
    assert rows[0]["answer"] == "cat"  # gold clamps the inferred answer
    assert "gold" not in out.getvalue().decode()


def test_csv_export(engine: Engine, admin: Any, done: Any) -> None:
    out = io.BytesIO()
    export(engine, admin.user, done.id, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert len(rows) == 6 and rows[0]["n_labels"] == "2"
    assert json.loads(rows[0]["data"]) == {"text": "text 0"}
    assert len(json.loads(rows[0]["annotations"])) == 2


def test_parquet_export(engine: Engine, admin: Any, done: Any) -> None:
    out = io.BytesIO()
    export(engine, admin.user, done.id, "parquet", out, method="mv")
    table = pq.read_table(io.BytesIO(out.getvalue())).to_pylist()
    assert len(table) == 6 and table[5]["answer"] == "dog"
    assert table[5]["annotations"][0]["worker"] in {"w0", "w1"}


def test_export_checks_before_streaming(engine: Engine, done: Any, admin: Any, make_annotator: Callable) -> None:
    with pytest.raises(Forbidden):
        iter_export(engine, make_annotator(done).user, done.id, "jsonl")
    with pytest.raises(Invalid) as err:
        iter_export(engine, admin.user, done.id, "xlsx")
    assert err.value.field == "format"


def test_multilabel_export(engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable,
                           add_items: Callable, label_all: Callable) -> None:
    project = make_project(task_type="multilabel", labels=["red", "green"])
    add_items(project, 2)
    label_all(project, [make_annotator(project)], lambda p, t: ["green", "red"])
    for fmt in ("jsonl", "csv", "parquet"):
        out = io.BytesIO()
        export(engine, admin.user, project.id, fmt, out, method="mv")
        assert out.getvalue()
    out = io.BytesIO()
    export(engine, admin.user, project.id, "jsonl", out, method="mv")
    assert json.loads(out.getvalue().splitlines()[0])["answer"] == ["red", "green"]
