"""The fast paths of imports and exports (orjson, raw SQL, the export reader thread) give exactly what
the plain paths gave. See /work/notes/perf-io.md."""

from __future__ import annotations

import gc
import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Invalid, Problem
from truthline.services import exporting, importing
from truthline.services.bulk import gc_paused
from truthline.services.readers import read_records
from truthline.store import annotations as annotation_store
from truthline.store.db import raw_rows, read_tx

_plain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def jsonl(*lines: bytes) -> list[tuple[int, Any]]:
    return list(read_records(io.BytesIO(b"\n".join(lines) + b"\n"), "jsonl"))


def test_jsonl_values_match_json_module() -> None:
    lines = [
        b'{"external_id": "a", "data": {"n": 123456789012345678901234567890, "m": -9223372036854775809}}',
        b'{"external_id": "b", "data": {"f": 1.5e-7, "big": 1e20, "l": [1, 2.5, true, null, {"x": "y"}]}}',
        b'{"external_id": "c", "data": {"text": "\\u00e9\\n\\t\\u2028 \xc3\xa9"}}',
    ]
    got = jsonl(*lines)
    assert got == [(i, json.loads(line)) for i, line in enumerate(lines, 1)]
    assert type(got[0][1]["data"]["n"]) is int  # not rounded through a float


def test_jsonl_lines_orjson_rejects_keep_their_reports() -> None:
    got = jsonl(b'{"external_id": "a", "data": {"text": NaN}}', b'{"external_id": "b", "data": {"t": 1e400}}',
                b'{"external_id": "c", "data": {"text": "\\ud800"}}', b"   ", b"\xff")
    assert isinstance(got[0][1], Problem) and "NaN" in got[0][1].message
    assert got[1][1]["data"]["t"] == float("inf")  # json's reading; the importer then names the field
    assert got[2][1]["data"]["text"] == "\ud800"
    assert [line for line, _ in got] == [1, 2, 3, 5] and isinstance(got[3][1], Problem)


@pytest.mark.parametrize("data", [{"text": "plain"}, {"text": "a\x00b\x1f\"\\ \u2028 é 😀"}, {"1": "x", "text": ""},
                                  {"n": 1.5e-7, "text": "x"}, {"nested": {"a": ["b"]}}])
def test_stored_item_json_is_the_json_module_text(data: dict[str, Any]) -> None:
    found: list[Problem] = []
    assert importing._json_text(data, "data", found) == _plain(data) and not found


def test_unstorable_item_data_is_still_reported(engine: Engine, admin: Any, project: Any) -> None:
    with pytest.raises(Invalid) as err:
        importing.import_items(engine, admin.user, project.id, [(1, {"external_id": "a", "data": {"text": "\ud800"}}),
                                                               (2, {"external_id": "b", "data": {"x": float("nan")}})])
    assert [(d.line, d.field) for d in err.value.details] == [(1, "data"), (2, "data")]


def test_label_rows_columns_line_up(engine: Engine, admin: Any, make_project: Callable, add_items: Callable,
                                    make_annotator: Callable, label_all: Callable) -> None:
    project = make_project(overlap=2)
    add_items(project, 7)
    people = [make_annotator(project, username=f"w{k}") for k in range(2)]
    label_all(project, people, lambda p, t: "dog" if p is people[0] else "cat")
    with read_tx(engine) as conn:
        items, users, answers = annotation_store.label_rows(conn, project.id)
        plain = raw_rows(conn, "SELECT item_id, user_id, CAST(answer AS TEXT) FROM annotations WHERE project_id = ?",
                         (project.id,))
    got = sorted(zip([int(i) for i in items], [int(u) for u in users], [json.loads(a) for a in answers]))
    assert got == sorted((i, u, json.loads(a)) for i, u, a in plain) and len(got) == 14


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "truthline-export-reader"]


def _no_readers_left() -> bool:
    deadline = time.monotonic() + 5
    while _readers() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _readers()


def test_export_reader_stops_when_the_consumer_does(engine: Engine, admin: Any, project: Any, add_items: Callable,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporting, "BATCH", 2)
    add_items(project, 40)
    chunks = exporting.iter_export(engine, admin.user, project.id, "jsonl", method="mv")
    first = next(chunks)
    assert first.count(b"\n") == 2
    chunks.close()  # a client that went away
    assert _no_readers_left()
    unused = exporting.iter_export(engine, admin.user, project.id, "csv", method="mv")
    del unused  # never iterated
    gc.collect()
    assert _no_readers_left()
    with pytest.raises(Invalid):
        exporting.iter_export(engine, admin.user, project.id, "jsonl", method="no-such-method")
    assert _no_readers_left()
    out = io.BytesIO()
    exporting.export(engine, admin.user, project.id, "jsonl", out, method="mv")
    assert len(out.getvalue().splitlines()) == 40


def test_gc_pauses_nest_and_restore() -> None:
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # never turns on a collector someone else turned off
    finally:
        gc.enable()


@pytest.mark.parametrize("text", ["", "plain", "a,b", 'say "hi"', "two\nlines", "cr\rlf", " spaced ", '","', "é😀",
                                  '[{"worker":"w","answer":"a,b"}]', "\t", "'"])
def test_csv_cells_match_csv_writer(text: str) -> None:
    import csv

    buf = io.StringIO()
    csv.writer(buf).writerow([text, "x", 0.5, 3])
    assert ",".join(exporting._csv_cell(v) for v in (text, "x", 0.5, 3)) + "\r\n" == buf.getvalue()
