from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from truthline.errors import Conflict, Forbidden, Invalid
from truthline.services.label_import import import_annotations
from truthline.services.results import item_results
from truthline.services.tasks import next_task, skip, submit


def recs(*rows: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(rows, 1))


def test_import_labels_then_route_around_them(engine: Engine, admin: Any, make_project: Callable,
                                              add_items: Callable, make_person: Callable,
                                              count_rows: Callable) -> None:
    project = make_project(overlap=2)
    add_items(project, 2)
    bob = make_person("bob")
    labels = recs({"external_id": "item-0", "worker": "bob", "answer": "dog", "active_ms": 900},
                  {"external_id": "item-0", "worker": "sim-1", "answer": "dog"},
                  {"external_id": "item-1", "worker": "bob", "answer": "cat"})
    report = import_annotations(engine, admin.user, project.id, labels, create_workers=True)
    assert report.as_dict() == {"created": 3, "unchanged": 0, "workers_created": 1, "differing": 0}
    again = import_annotations(engine, admin.user, project.id, labels)
    assert again.as_dict() == {"created": 0, "unchanged": 3, "workers_created": 0, "differing": 0}
    # a file that disagrees with what is stored keeps the stored answer, and says how many disagree
    other = recs({"external_id": "item-0", "worker": "bob", "answer": "cat"},
                 {"external_id": "item-1", "worker": "bob", "answer": "cat"})
    assert import_annotations(engine, admin.user, project.id, other).as_dict() == {
        "created": 0, "unchanged": 2, "workers_created": 0, "differing": 1}
    assert count_rows("annotations") == {"annotations": 3}
    assert next_task(engine, bob.user, project.id) is None  # bob labeled both; item-0 is full
    task = next_task(engine, admin.user, project.id)
    assert task is not None and task.external_id == "item-1"
    answers = {r["external_id"]: r["answer"] for r in item_results(engine, admin.user, project.id, method="mv")}
    assert answers == {"item-0": "dog", "item-1": "cat"}


def test_imported_labels_take_over_skipped_and_live_leases(engine: Engine, admin: Any, make_project: Callable,
                                                          add_items: Callable, make_annotator: Callable) -> None:
    project = make_project(overlap=2)
    add_items(project, 3)
    bob = make_annotator(project, username="bob")
    skipped = next_task(engine, bob.user, project.id)
    assert skipped is not None
    skip(engine, bob.user, skipped.lease_id)
    live = next_task(engine, bob.user, project.id)
    assert live is not None and live.external_id != skipped.external_id
    labels = recs(*({"external_id": f"item-{i}", "worker": "bob", "answer": "dog"} for i in range(3)))
    report = import_annotations(engine, admin.user, project.id, labels)
    assert report.as_dict() == {"created": 3, "unchanged": 0, "workers_created": 0, "differing": 0}  # none dropped
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT i.external_id, i.n_labels, i.n_leases, l.state FROM items i "
                                    "JOIN leases l ON l.item_id = i.id ORDER BY i.external_id")).all()
    assert [tuple(r) for r in rows] == [(f"item-{i}", 1, 0, "submitted") for i in range(3)]
    answers = {r["external_id"]: r["answer"] for r in item_results(engine, admin.user, project.id, method="mv")}
    assert answers == {f"item-{i}": "dog" for i in range(3)}
    with pytest.raises(Conflict):  # bob's late submit on the lease the import took over is refused
        submit(engine, bob.user, live.lease_id, "cat", idempotency_key="late")
    assert import_annotations(engine, admin.user, project.id, labels).as_dict() == {
        "created": 0, "unchanged": 3, "workers_created": 0, "differing": 0}
    assert next_task(engine, bob.user, project.id) is None


def test_bad_label_records(engine: Engine, admin: Any, project: Any, add_items: Callable, make_person: Callable,
                           count_rows: Callable) -> None:
    add_items(project, 1)
    make_person("bob")
    with pytest.raises(Invalid) as err:
        import_annotations(engine, admin.user, project.id, recs(
            {"external_id": "item-0", "worker": "bob", "answer": "unicorn"},
            {"external_id": "item-0", "worker": "bob", "answer": "cat", "active_ms": -1},
            {"external_id": "item-0", "worker": "bob", "answer": "cat"},
            {"external_id": "item-0", "worker": "bob", "answer": "dog"},
            {"worker": "bob", "answer": "cat", "extra": 1},
            {"external_id": "item-0", "worker": "ann", "answer": "cat", "active_ms": 10**23},  # past SQLite's int64
            {"external_id": "item-0", "worker": " w9 ", "answer": "cat"},  # --create-workers would make it a user
        ), create_workers=True)
    assert {(p.line, p.field) for p in err.value.details} == {
        (1, "answer"), (2, "active_ms"), (4, "worker"), (5, "external_id"), (5, "extra"), (6, "active_ms"),
        (7, "worker")}
    with pytest.raises(Invalid) as missing:
        import_annotations(engine, admin.user, project.id, recs(
            {"external_id": "nope", "worker": "bob", "answer": "cat"},
            {"external_id": "item-0", "worker": "ghost", "answer": "cat"}))
    assert {(p.line, p.field) for p in missing.value.details} == {(1, "external_id"), (2, "worker")}
    assert count_rows("annotations", "leases") == {"annotations": 0, "leases": 0}


def test_only_admins_create_workers(engine: Engine, make_project: Callable, make_person: Callable) -> None:
    manager = make_person()
    project = make_project(actor=manager.user)
    with pytest.raises(Forbidden):
        import_annotations(engine, manager.user, project.id, [], create_workers=True)


def test_labels_past_the_overlap_are_kept_and_close_the_item(engine: Engine, admin: Any, make_project: Callable,
                                                             add_items: Callable, make_annotator: Callable) -> None:
    project = make_project(overlap=1)
    add_items(project, 2)
    labels = recs({"external_id": "item-0", "worker": "w1", "answer": "dog"},
                  {"external_id": "item-0", "worker": "w2", "answer": "cat"})
    assert import_annotations(engine, admin.user, project.id, labels, create_workers=True).created == 2
    rows = {r["external_id"]: r["n_labels"] for r in item_results(engine, admin.user, project.id, method="mv")}
    assert rows == {"item-0": 2, "item-1": 0}
    fresh = make_annotator(project)
    task = next_task(engine, fresh.user, project.id)
    assert task is not None and task.external_id == "item-1"


def test_an_empty_label_file_is_refused(engine: Engine, admin: Any, project: Any, add_items: Callable) -> None:
    add_items(project, 1)
    with pytest.raises(Invalid) as err:
        import_annotations(engine, admin.user, project.id, [])
    assert (err.value.field, "no label records" in err.value.message) == ("file", True)


def test_csv_labels_named_like_json_import(engine: Engine, admin: Any, make_project: Callable,
                                           add_items: Callable, make_person: Callable) -> None:
    import io

    from truthline.services.readers import read_label_records

    project = make_project(labels=["[draft]", "{final}", "ok"])
    add_items(project, 2)
    make_person("bob")
    data = b'external_id,worker,answer\nitem-0,bob,[draft]\nitem-1,bob,"{final}"\n'
    report = import_annotations(engine, admin.user, project.id, read_label_records(io.BytesIO(data), "csv"))
    assert report.created == 2
    answers = {r["external_id"]: r["answer"] for r in item_results(engine, admin.user, project.id, method="mv")}
    assert answers == {"item-0": "[draft]", "item-1": "{final}"}


def test_every_bad_label_line_is_reported_in_one_run(engine: Engine, admin: Any, project: Any,
                                                     add_items: Callable, make_person: Callable) -> None:
    """Unknown items and workers were only looked for once every record was valid: two runs to see all."""
    add_items(project, 1)
    make_person("bob")
    with pytest.raises(Invalid) as err:
        import_annotations(engine, admin.user, project.id, recs(
            {"external_id": "nope", "worker": "bob", "answer": "cat"},
            {"external_id": "item-0", "worker": "bob", "answer": "cat", "active_ms": -1},
            {"external_id": "item-0", "worker": "ghost", "answer": "dog"}))
    assert [(p.line, p.field) for p in err.value.details] == [(1, "external_id"), (2, "active_ms"), (3, "worker")]
    assert "--create-workers" in err.value.details[2].message


def test_a_label_csv_needs_worker_and_answer_columns() -> None:
    import io

    from truthline.services.readers import read_label_records

    with pytest.raises(Invalid) as err:
        list(read_label_records(io.BytesIO(b"external_id,worker,label\na,bob,cat\n"), "csv"))
    assert (err.value.field, err.value.line, "missing: answer" in err.value.message) == ("answer", 1, True)


def test_labels_imported_onto_pairwise_leases_are_not_first_picks(engine: Engine, admin: Any,
                                                                  make_project: Callable,
                                                                  make_annotator: Callable) -> None:
    """An imported label that takes over a lease (skipped, live) was not answered in that lease's order: the
    workers table leaves it out of the worker's first picks, as it does every imported label."""
    from truthline.services.dashboard import workers_table
    from truthline.services.importing import import_items

    project = make_project(name="Duels", task_type="pairwise", labels=None, overlap=1)
    import_items(engine, admin.user, project.id, recs(*({"external_id": f"p{i}", "data": {"a": f"x{i}", "b": f"y{i}"}}
                                                        for i in range(3))))
    bob = make_annotator(project, username="bob")
    for _ in range(2):
        skipped = next_task(engine, bob.user, project.id)
        assert skipped is not None
        skip(engine, bob.user, skipped.lease_id)
    assert next_task(engine, bob.user, project.id) is not None  # live
    labels = recs(*({"external_id": f"p{i}", "worker": "bob", "answer": "a"} for i in range(3)))
    assert import_annotations(engine, admin.user, project.id, labels).created == 3
    (row,) = workers_table(engine, admin.user, project.id, method="mv")
    assert (row["n_labels"], row["ordered_answers"], row["first_picks"], row["leans_first"]) == (3, 0, 0, None)
