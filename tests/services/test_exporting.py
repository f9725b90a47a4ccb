from __future__ import annotations

import csv
import io
import json
import threading
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


def test_csv_export_defuses_spreadsheet_formulas(engine: Engine, admin: Any, make_project: Callable,
                                                make_annotator: Callable, label_all: Callable) -> None:
    """External ids and answers a requester chose must not run as formulas where the CSV is opened;
    numbers and the JSON columns stay as they are, and JSONL keeps every value verbatim."""
    from truthline.services.importing import import_items

    project = make_project(labels=["=1+1", "dog"])
    ids = ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "+cmd", "-5", "\tx", "plain"]
    import_items(engine, admin.user, project.id, [(i + 1, {"external_id": e, "data": {"t": "=2"}})
                                                 for i, e in enumerate(ids)])
    label_all(project, [make_annotator(project)], lambda p, t: "=1+1")
    out = io.BytesIO()
    export(engine, admin.user, project.id, "csv", out, method="mv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert [r["external_id"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'+cmd", "-5", "'\tx", "plain"]
    assert {r["answer"] for r in rows} == {"'=1+1"}
    assert json.loads(rows[0]["data"]) == {"t": "=2"} and json.loads(rows[0]["annotations"])[0]["answer"] == "=1+1"
    out = io.BytesIO()
    export(engine, admin.user, project.id, "jsonl", out, method="mv")
    raw = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["external_id"] for r in raw] == ids and {r["answer"] for r in raw} == {"=1+1"}


def test_csv_export_imports_back_unchanged(engine: Engine, admin: Any, make_project: Callable) -> None:
    """The formula guard is undone on import: exported ids come back as they were, none duplicated, and a
    value that merely looks guarded ('=x, ''x) survives the trip too."""
    from truthline.services.importing import import_items, read_records
    from truthline.services.text import formula_safe, unguarded

    ids = ["=HYPERLINK(\"x\")", "'=already quoted", "''two", "'plain", "'", "-5", "@a", "plain"]
    assert [unguarded(formula_safe(e)) for e in ids] == ids
    source, copy = make_project(), make_project(name="Pets copy")
    import_items(engine, admin.user, source.id, [(i + 1, {"external_id": e, "data": {"t": e}})
                                                for i, e in enumerate(ids)])
    out = io.BytesIO()
    export(engine, admin.user, source.id, "csv", out, method="mv")
    report = import_items(engine, admin.user, copy.id, read_records(io.BytesIO(out.getvalue()), "csv"))
    assert report.created == len(ids)
    again = io.BytesIO()
    export(engine, admin.user, copy.id, "jsonl", again, method="mv")
    assert sorted(json.loads(line)["external_id"] for line in again.getvalue().splitlines()) == sorted(ids)
    report = import_items(engine, admin.user, source.id, read_records(io.BytesIO(out.getvalue()), "csv"))
    assert report.created == 0  # the same items, not guarded twins


@pytest.mark.parametrize("probabilities", [False, True])
def test_a_labelled_csv_export_imports_back_as_the_same_items(engine: Engine, admin: Any, done: Any,
                                                              probabilities: bool) -> None:
    # its answer, confidence, n_labels, annotations and p: columns were merged into every item's data: all
    # items "updated", and annotators were then shown the crowd's answers and labels
    from truthline.services.importing import import_items, read_records

    def items() -> dict[str, Any]:
        out = io.BytesIO()
        export(engine, admin.user, done.id, "jsonl", out, method="mv")
        return {r["external_id"]: r["data"] for r in map(json.loads, out.getvalue().splitlines())}

    before = items()
    out = io.BytesIO()
    export(engine, admin.user, done.id, "csv", out, method="mv", probabilities=probabilities)
    report = import_items(engine, admin.user, done.id, read_records(io.BytesIO(out.getvalue()), "csv"))
    assert (report.created, report.updated, report.unchanged) == (0, 0, len(before))
    assert items() == before


def test_csv_cells_left_empty_are_no_data_fields_and_only_ids_are_unguarded(engine: Engine, admin: Any,
                                                                            make_project: Callable) -> None:
    # text and image items in one file (an empty cell was the value "", which failed the image check), and
    # a data cell "'-' is a dash" lost its first quote to the formula guard meant for external ids
    from truthline.services.importing import import_items, read_records

    project = make_project()
    rows = b"external_id,text,image_url\n'=a,hello,\nb,,https://x/y.png\nc,'-' is a dash,\n"
    assert import_items(engine, admin.user, project.id, read_records(io.BytesIO(rows), "csv")).created == 3
    out = io.BytesIO()
    export(engine, admin.user, project.id, "jsonl", out, method="mv")
    got = {r["external_id"]: r["data"] for r in map(json.loads, out.getvalue().splitlines())}
    assert got == {"=a": {"text": "hello"}, "b": {"image_url": "https://x/y.png"}, "c": {"text": "'-' is a dash"}}


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


@pytest.fixture
def soft(engine: Engine, make_project: Callable, make_annotator: Callable, add_items: Callable,
         label_all: Callable) -> Any:
    """Labels cat/dog/bird, overlap 2: item-0 gold "bird"; item-1 dog+dog; item-2 cat+dog; item-3 never labelled."""
    project = make_project(overlap=2, labels=["cat", "dog", "a,b \"c\""])  # a label that needs CSV quoting
    add_items(project, 1, gold="a,b \"c\"")
    add_items(project, 2, start=1)
    people = [make_annotator(project, username=f"w{k}") for k in range(2)]
    answers = {"item-0": ["cat", "cat"], "item-1": ["dog", "dog"], "item-2": ["cat", "dog"]}
    label_all(project, people, lambda p, t: answers[t.external_id][int(p.user.username[1])])
    add_items(project, 1, start=3)  # after labelling: no labels, no gold
    return project


EXPECTED_SOFT = {  # majority vote's shares; gold clamps item-0
    "item-0": {"cat": 0.0, "dog": 0.0, 'a,b "c"': 1.0},
    "item-1": {"cat": 0.0, "dog": 1.0, 'a,b "c"': 0.0},
    "item-2": {"cat": 0.5, "dog": 0.5, 'a,b "c"': 0.0},
    "item-3": None,
}


def test_probabilities_in_every_format(engine: Engine, admin: Any, soft: Any) -> None:
    def run(fmt: str, **opts: Any) -> bytes:
        out = io.BytesIO()
        export(engine, admin.user, soft.id, fmt, out, method="mv", **opts)
        return out.getvalue()

    rows = {r["external_id"]: r for r in map(json.loads, run("jsonl", probabilities=True).splitlines())}
    assert {k: r["probabilities"] for k, r in rows.items()} == EXPECTED_SOFT
    assert list(rows["item-1"]) == ["external_id", "data", "answer", "confidence", "probabilities", "annotations"]
    assert rows["item-3"]["answer"] is None
    assert all("probabilities" not in json.loads(line) for line in run("jsonl").splitlines())  # only on request

    table = csv.reader(io.StringIO(run("csv", probabilities=True).decode()))
    header = next(table)
    assert header == ["external_id", "data", "answer", "confidence", "p:cat", "p:dog", 'p:a,b "c"', "n_labels",
                      "annotations"]
    by_id = {r[0]: dict(zip(header, r)) for r in table}
    for ext, probs in EXPECTED_SOFT.items():
        got = [by_id[ext][f"p:{label}"] for label in ("cat", "dog", 'a,b "c"')]
        assert got == (["", "", ""] if probs is None else [repr(p) for p in probs.values()])
    assert "p:cat" not in run("csv").decode().splitlines()[0]

    parquet = pq.read_table(io.BytesIO(run("parquet", probabilities=True)))
    assert parquet.column_names[4] == "probabilities"
    assert {r["external_id"]: r["probabilities"] for r in parquet.to_pylist()} == EXPECTED_SOFT
    assert "probabilities" not in pq.read_table(io.BytesIO(run("parquet"))).column_names


def test_probabilities_follow_the_method(engine: Engine, admin: Any, soft: Any) -> None:
    out = io.BytesIO()
    export(engine, admin.user, soft.id, "jsonl", out, probabilities=True)  # auto
    for row in map(json.loads, out.getvalue().splitlines()):
        probs = row["probabilities"]
        if row["answer"] is None:
            assert probs is None
            continue
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert max(probs, key=probs.get) == row["answer"] and max(probs.values()) == row["confidence"]


def test_multilabel_probabilities(engine: Engine, admin: Any, make_project: Callable, make_annotator: Callable,
                                  add_items: Callable, label_all: Callable) -> None:
    project = make_project(task_type="multilabel", labels=["red", "green"], overlap=2)
    add_items(project, 1)
    people = [make_annotator(project, username=f"w{k}") for k in range(2)]
    label_all(project, people, lambda p, t: ["green", "red"] if p.user.username == "w0" else ["green"])
    out = io.BytesIO()
    export(engine, admin.user, project.id, "jsonl", out, method="mv", probabilities=True)
    row = json.loads(out.getvalue())
    assert row["probabilities"] == {"red": 0.5, "green": 1.0}  # per label: the probability it applies


def test_answers_and_rows_come_from_one_snapshot(engine: Engine, admin: Any, make_project: Callable,
                                                 make_annotator: Callable, add_items: Callable,
                                                 label_all: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labels submitted while an export runs are in neither its answers nor its rows: a row never shows
    labels its answer did not count (on PostgreSQL that needs a REPEATABLE READ read transaction)."""
    from truthline.store import annotations as annotation_store

    project = make_project(overlap=2)
    add_items(project, 3)
    first, late = make_annotator(project, username="w0"), make_annotator(project, username="w1")
    label_all(project, [first], lambda p, t: "cat")
    read_labels, read_notes, written = annotation_store.label_rows, annotation_store.notes_json, threading.Event()

    def then_more_labels(conn: Any, project_id: int) -> Any:
        rows = read_labels(conn, project_id)
        monkeypatch.setattr(annotation_store, "label_rows", read_labels)  # once
        assert label_all(project, [late], lambda p, t: "dog") == 3  # committed while the export reads
        written.set()
        return rows

    def after_the_labels(*args: Any) -> Any:  # the rows' annotations are read after the late labels exist
        assert written.wait(10)
        return read_notes(*args)

    monkeypatch.setattr(annotation_store, "label_rows", then_more_labels)
    monkeypatch.setattr(annotation_store, "notes_json", after_the_labels)
    out = io.BytesIO()
    export(engine, admin.user, project.id, "jsonl", out, method="mv")
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["answer"], [a["worker"] for a in r["annotations"]]) for r in rows] == [("cat", ["w0"])] * 3
    again = io.BytesIO()
    export(engine, admin.user, project.id, "jsonl", again, method="mv")
    assert {len(json.loads(line)["annotations"]) for line in again.getvalue().splitlines()} == {2}


def test_an_export_whose_reader_cannot_connect_fails_instead_of_hanging(
        engine: Engine, admin: Any, done: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader thread loads the labels; if it gets no connection (a pool exhausted for 30 s, a database
    gone), the export must raise that error, not wait for labels that never come."""
    import sqlalchemy.exc

    real = exporting.read_tx

    def no_connection_for_the_reader(eng: Any) -> Any:
        if threading.current_thread().name == "truthline-export-reader":
            raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached")
        return real(eng)

    monkeypatch.setattr(exporting, "read_tx", no_connection_for_the_reader)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            export(engine, admin.user, done.id, "jsonl", io.BytesIO(), method="mv")
        except BaseException as exc:  # noqa: BLE001 - what the caller would see
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the export hung"
    assert len(outcome) == 1 and isinstance(outcome[0], sqlalchemy.exc.TimeoutError)
