from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from truthline.errors import Conflict, Forbidden, Invalid, NotFound
from truthline.services import importing
from truthline.services.importing import format_for, import_file, import_items, read_records
from truthline.services.tasks import next_task
from truthline.services.text import MAX_DEPTH


def recs(*records: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(records, 1))


def item(ext: str, **kw: Any) -> dict[str, Any]:
    return {"external_id": ext, "data": {"text": f"about {ext}"}, **kw}


def test_import_and_reimport_is_idempotent(engine: Engine, admin: Any, project: Any, count_rows: Callable) -> None:
    report = import_items(engine, admin.user, project.id, recs(item("a"), item("b", priority=3, gold="dog")))
    assert report.as_dict() == {"created": 2, "updated": 0, "unchanged": 0}
    again = import_items(engine, admin.user, project.id,
                         recs(item("a"), item("b", priority=5, gold="dog"), item("c", truth="cat")))
    assert again.as_dict() == {"created": 1, "updated": 1, "unchanged": 1}
    assert count_rows("items") == {"items": 3}
    task = next_task(engine, admin.user, project.id)
    assert task is not None and task.external_id == "b"  # its new priority 5 wins
    shown = task.as_dict()
    assert "gold" not in json.dumps(shown) and shown["item"] == {"id": task.item_id, "external_id": "b",
                                                                 "data": {"text": "about b"}}


def test_every_bad_line_is_reported_and_nothing_is_written(engine: Engine, admin: Any, project: Any,
                                                           count_rows: Callable) -> None:
    records = recs(
        item("ok"),
        item("x", gold="unicorn"),  # 2: unknown label
        {"data": {"text": "no id"}},  # 3
        item("y", priority="high"),  # 4
        {"external_id": "z", "data": "just text"},  # 5
        item("ok"),  # 6: duplicate of line 1
        item("w", colour="red"),  # 7: unknown field
        ["not", "an", "object"],  # 8
        item("v", data={"image": "http://x/y.png"}),  # 9: image must be a data: URL
        item("u", truth=7),  # 10
    )
    with pytest.raises(Invalid) as err:
        import_items(engine, admin.user, project.id, records)
    found = {(p.line, p.field) for p in err.value.details}
    assert found >= {(2, "gold"), (3, "external_id"), (4, "priority"), (5, "data"), (6, "external_id"),
                     (7, "colour"), (8, None), (9, "data.image"), (10, "truth")}
    assert "1" not in {str(p.line) for p in err.value.details}
    assert err.value.line == 2 and "nothing was imported" in err.value.message
    dup = next(p for p in err.value.details if p.line == 6)
    assert "line 1" in dup.message
    unknown = next(p for p in err.value.details if p.line == 2)
    assert "cat, dog, bird" in unknown.message
    assert count_rows("items") == {"items": 0}


def test_problem_list_is_capped_but_counted(engine: Engine, admin: Any, project: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(importing, "MAX_PROBLEMS", 3)
    with pytest.raises(Invalid) as err:
        import_items(engine, admin.user, project.id, recs(*[{"external_id": str(i)} for i in range(10)]))
    assert len(err.value.details) == 3 and err.value.message.startswith("10 bad record(s)")


def test_import_needs_a_manager(engine: Engine, project: Any, make_annotator: Callable, make_person: Callable) -> None:
    with pytest.raises(Forbidden):
        import_items(engine, make_annotator(project).user, project.id, recs(item("a")))
    with pytest.raises(NotFound):
        import_items(engine, make_person().user, project.id, recs(item("a")))


def test_multilabel_gold_is_normalized(engine: Engine, admin: Any, make_project: Callable) -> None:
    p = make_project(task_type="multilabel", labels=["red", "green", "blue"])
    import_items(engine, admin.user, p.id, recs(item("a", gold=["blue", "red", "red"])))
    with pytest.raises(Invalid) as err:
        import_items(engine, admin.user, p.id, recs(item("b", gold="red")))
    assert err.value.details[0].field == "gold"


# readers ---------------------------------------------------------------------------------------------

def read(data: bytes, fmt: str) -> list[tuple[int, Any]]:
    return list(read_records(io.BytesIO(data), fmt))


def test_jsonl_reader_numbers_lines_and_flags_bad_json() -> None:
    out = read(b'{"external_id": "a", "data": {"text": "x"}}\n\n{oops\n{"external_id": "b", "data": {}}\n', "jsonl")
    assert [line for line, _ in out] == [1, 3, 4]
    assert out[0][1]["external_id"] == "a"
    assert isinstance(out[1][1], importing.Problem) and "not valid JSON" in out[1][1].message


def test_bad_jsonl_line_fails_the_import_with_its_line(engine: Engine, admin: Any, project: Any) -> None:
    data = b'{"external_id": "a", "data": {"text": "x"}}\n{"external_id": "b", "data": {"text": \n'
    with pytest.raises(Invalid) as err:
        import_file(engine, admin.user, project.id, io.BytesIO(data), "jsonl")
    assert [(p.line, p.field) for p in err.value.details] == [(2, None)]


def test_json_array_reader() -> None:
    assert [line for line, _ in read(json.dumps([item("a"), item("b")]).encode(), "json")] == [1, 2]
    assert len(read(json.dumps({"items": [item("a")]}).encode(), "json")) == 1
    with pytest.raises(Invalid):
        read(b'{"external_id": "a"}', "json")
    with pytest.raises(Invalid):
        read(b"[{", "json")


def test_csv_reader_collects_other_columns_into_data() -> None:
    data = ("external_id,text,priority,gold,truth\n"
            "a,\"hello, world\",2,cat,\n"
            "b,bye,,,\"[\"\"x\"\"]\"\n").encode()
    out = read(data, "csv")
    assert out[0] == (2, {"external_id": "a", "data": {"text": "hello, world"}, "priority": 2, "gold": "cat",
                          "truth": None})
    assert out[1][1]["truth"] == ["x"] and "priority" not in out[1][1]


def test_csv_reader_data_column_and_bad_cells() -> None:
    data = ('external_id,data,priority\n'
            'a,"{""text"": ""t""}",1\n'
            'b,{bad,1\n'
            'c,"{}",one\n'
            'd,"{}",1,extra\n'
            'e,"{}"\n').encode()
    out = read(data, "csv")
    assert out[0][1] == {"external_id": "a", "data": {"text": "t"}, "priority": 1}
    assert [(line, p.field) for line, p in out[1:]] == [(3, "data"), (4, "priority"), (5, None), (6, None)]
    assert out[-1][1].message == "2 cells but the header has 3"  # a short row: DictReader pads it with None
    with pytest.raises(Invalid) as err:
        read(b"external_id,text,text\na,x,y\n", "csv")
    assert (err.value.line, "text" in err.value.message) == (1, True)
    with pytest.raises(Invalid) as err:  # an unclosed quote would otherwise swallow the rest of the file
        read(b'external_id,text\na,"two\n lines"\nb,"unclosed\nc,fine\n', "csv")
    assert err.value.line == 4 and "starting at line 4" in err.value.message


def test_csv_needs_an_external_id_column() -> None:
    with pytest.raises(Invalid) as err:
        read(b"id,text\n1,x\n", "csv")
    assert err.value.field == "external_id"


def test_a_reimport_keeps_the_fields_it_leaves_out(engine: Engine, admin: Any, project: Any) -> None:
    # an export carries no priority, gold or truth: re-importing it cleared them (5 gold items "updated")
    import_items(engine, admin.user, project.id, recs(item("a", priority=3, gold="dog", truth="cat")))
    kept = import_items(engine, admin.user, project.id, recs(item("a")))
    assert kept.as_dict() == {"created": 0, "updated": 0, "unchanged": 1}
    changed = import_items(engine, admin.user, project.id, recs({**item("a"), "gold": None, "priority": 1}))
    assert changed.as_dict() == {"created": 0, "updated": 1, "unchanged": 0}  # null clears, a value replaces
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT priority, gold, CAST(truth AS TEXT) FROM items").one()
    assert (row[0], row[1], json.loads(row[2])) == (1, None, "cat")


def test_parquet_reader(engine: Engine, admin: Any, project: Any) -> None:
    table = pa.table({"external_id": ["a", "b"], "text": ["one", "two"], "priority": [1, 2], "gold": ["cat", None]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    out = read(buf.getvalue(), "parquet")
    assert out[0] == (1, {"external_id": "a", "priority": 1, "gold": "cat", "data": {"text": "one"}})
    buf.seek(0)
    assert import_file(engine, admin.user, project.id, buf, "parquet").created == 2
    with pytest.raises(Invalid):
        read(b"not parquet", "parquet")


def test_format_names() -> None:
    assert [format_for(n) for n in ("a.jsonl", "b.NDJSON", "c.json", "d.csv", "e.parquet")] == [
        "jsonl", "jsonl", "json", "csv", "parquet"]
    with pytest.raises(Invalid):
        format_for("data.xlsx")
    with pytest.raises(Invalid) as err:
        read(b"", "xml")
    assert err.value.field == "format"


@pytest.mark.parametrize(("record", "field"), [
    ({"external_id": "a\x00b", "data": {"text": "x"}}, "external_id"),
    ({"external_id": "\ud800", "data": {"text": "x"}}, "external_id"),
    ({"external_id": "a", "data": {"text": "bad \udfff"}}, "data"),
])
def test_unstorable_text_is_a_bad_line(engine: Engine, admin: Any, project: Any, record: dict, field: str) -> None:
    with pytest.raises(Invalid) as err:
        import_items(engine, admin.user, project.id, recs(item("fine"), record))
    assert [(p.line, p.field) for p in err.value.details] == [(2, field)]


def test_nul_inside_data_is_stored_escaped(engine: Engine, admin: Any, project: Any) -> None:
    import_items(engine, admin.user, project.id, recs(item("a", data={"text": "nul \x00 here"})))
    task = next_task(engine, admin.user, project.id)
    assert task.data == {"text": "nul \x00 here"}


def test_hostile_inputs_are_bad_lines_not_crashes(engine: Engine, admin: Any, project: Any,
                                                  count_rows: Callable) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    data = (b'{"external_id": "a", "data": {"x": NaN}}\n'
            b'{"external_id": "b", "data": {"x": Infinity}}\n'
            + ('{"external_id": "c", "data": {"x": %s}}\n' % deep).encode()
            + b'{"external_id": "d", "data": {"text": "fine"}}\n')
    with pytest.raises(Invalid) as err:
        import_file(engine, admin.user, project.id, io.BytesIO(data), "jsonl")
    assert [p.line for p in err.value.details] == [1, 2, 3]
    with pytest.raises(Invalid) as nan:
        import_items(engine, admin.user, project.id, recs(item("e", data={"x": float("nan")})))
    assert nan.value.details[0].field == "data"
    assert count_rows("items") == {"items": 0}


def test_data_nested_too_deep_to_serve_is_a_bad_line(engine: Engine, admin: Any, project: Any,
                                                     count_rows: Callable) -> None:
    def nest(levels: int) -> Any:
        value: Any = "leaf"
        for i in range(levels):
            value = [value] if i % 2 else {"k": value}
        return value

    fine = item("ok", data={"text": "x", "tree": nest(MAX_DEPTH - 1)})  # data itself is one level
    deep = item("deep", data={"text": "x", "tree": nest(MAX_DEPTH)})
    with pytest.raises(Invalid) as err:
        import_items(engine, admin.user, project.id, recs(fine, deep))
    assert [(p.line, p.field) for p in err.value.details] == [(2, "data")]
    assert str(MAX_DEPTH) in err.value.details[0].message
    assert count_rows("items") == {"items": 0}
    import_items(engine, admin.user, project.id, recs(fine))
    assert next_task(engine, admin.user, project.id).data == fine["data"]  # served back whole


def test_concurrent_imports_of_the_same_new_items(engine: Engine, admin: Any, project: Any,
                                                  count_rows: Callable) -> None:
    """Racing imports of the same new external ids: each succeeds or gets a clear Conflict, never a
    driver error, and every item ends up stored once."""
    batch = recs(*[item(f"race-{i}") for i in range(2000)])
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(import_items(engine, admin.user, project.id, batch).as_dict())
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert any(isinstance(r, dict) and r["created"] == 2000 for r in results)
    assert all(isinstance(r, Conflict) or r["created"] + r["unchanged"] == 2000 for r in results)
    assert count_rows("items") == {"items": 2000}


def test_csv_cells_may_hold_inline_images(engine: Engine, admin: Any, project: Any) -> None:
    image = "data:image/png;base64," + "A" * 300_000
    data = f"external_id,image\nimg-1,\"{image}\"\n".encode()
    assert import_file(engine, admin.user, project.id, io.BytesIO(data), "csv").created == 1


def test_parquet_values_that_are_not_json(engine: Engine, admin: Any, project: Any) -> None:
    import datetime

    table = pa.table({"external_id": ["a"], "when": [datetime.datetime(2024, 1, 1)]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    buf.seek(0)
    with pytest.raises(Invalid) as err:
        import_file(engine, admin.user, project.id, buf, "parquet")
    assert (err.value.details[0].line, err.value.details[0].field) == (1, "data")


def test_absurd_project_ids_are_not_found(engine: Engine, admin: Any) -> None:
    for pid in (2**70, -1, 0, "abc", True):
        with pytest.raises(NotFound):
            import_items(engine, admin.user, pid, [])  # type: ignore[arg-type]


def test_an_empty_file_is_refused_not_reported_as_nothing_created(engine: Engine, admin: Any, project: Any) -> None:
    for data, fmt in ((b"", "jsonl"), (b"\n\n", "jsonl"), (b"external_id,text\n", "csv"), (b"[]", "json")):
        with pytest.raises(Invalid) as err:
            import_file(engine, admin.user, project.id, io.BytesIO(data), fmt)
        assert (err.value.field, "no item records" in err.value.message) == ("file", True), fmt


def test_reimport_compares_json_values_not_their_spelling(engine: Engine, admin: Any, project: Any) -> None:
    first = {"external_id": "a", "data": {"text": "t", "n": 1, "meta": {"x": 1, "y": [1, 2]}}}
    import_items(engine, admin.user, project.id, recs(first))
    reordered = {"external_id": "a", "data": {"meta": {"y": [1, 2], "x": 1}, "n": 1, "text": "t"}}
    assert import_items(engine, admin.user, project.id, recs(reordered)).as_dict() == {
        "created": 0, "updated": 0, "unchanged": 1}
    for changed in ({"n": True}, {"n": 1.0}, {"meta": {"x": 1, "y": [2, 1]}}):  # other values, not other spellings
        rec = {"external_id": "a", "data": {**first["data"], **changed}}
        assert import_items(engine, admin.user, project.id, recs(rec)).updated == 1, changed
        import_items(engine, admin.user, project.id, recs(first))


def test_csv_records_over_several_lines_are_named_by_their_first_line() -> None:
    data = ('external_id,text,priority\n'
            'a,"one\ntwo\nthree",1\n'
            '\n'
            'b,"x\ny",high\n'
            'c,z,1\n').encode()
    out = read(data, "csv")
    assert out[0] == (2, {"external_id": "a", "data": {"text": "one\ntwo\nthree"}, "priority": 1})
    assert (out[1][0], out[1][1].field) == (6, "priority")  # lines 6-7; line 5 is blank
    assert out[2][0] == 8


def test_csv_answer_cells_that_only_look_like_json_are_text() -> None:
    data = ('external_id,text,gold\n'
            'a,t,"[draft]"\n'
            'b,t,"[""x"", ""y""]"\n'
            'c,t,"""quoted"""\n'
            'd,t,{x}\n').encode()
    assert [rec["gold"] for _, rec in read(data, "csv")] == ["[draft]", ["x", "y"], "quoted", "{x}"]


def test_csv_that_is_not_utf8_is_named_by_line() -> None:
    rows = "".join(f"x{i},fine line {i}\n" for i in range(3000))  # past the decoder's first block
    data = ("external_id,text\n" + rows).encode() + b"z,caf\xe9\n"
    with pytest.raises(Invalid) as err:
        read(data, "csv")
    assert err.value.line == 3002 and "line 3002: not UTF-8 text" in err.value.message


def test_a_too_long_external_id_says_so(engine: Engine, admin: Any, project: Any) -> None:
    with pytest.raises(Invalid) as err:
        import_items(engine, admin.user, project.id, recs(item("x" * 1000)))
    assert err.value.details[0].message == "is 1,000 characters long; at most 300 are allowed"
