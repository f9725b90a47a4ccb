"""store.fastpath.execute answers exactly what conn.execute answers (rows, types, rowcount, new ids), on both databases."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from truthline.services import tasks
from truthline.store import annotations as A
from truthline.store import leases as L
from truthline.store import projects as P
from truthline.store.db import write_tx
from truthline.store.fastpath import execute as run


def _same(a: Any, b: Any) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert tuple(a) == tuple(b) and [type(x) for x in a] == [type(x) for x in b]
        assert a._fields == tuple(b._fields)


def test_rows_match_sqlalchemy(engine: Any, make_project: Any, add_items: Any, make_annotator: Any) -> None:
    project = make_project(labels=["cat", "dog"])
    add_items(project, 5)
    person = make_annotator(project)
    task = tasks.next_task(engine, person.user, project.id)
    assert task is not None and isinstance(task.data, dict)
    now = time.time()
    selects = [
        (L._GET, {"lease_id": task.lease_id}),
        (L._GET, {"lease_id": 10**12}),
        (L._LIVE, {"user_id": person.user.id, "project_id": project.id, "now": now, "limit": 2}),
        (L._CURSOR, {"user_id": person.user.id, "project_id": project.id}),
        (P._WITH_ROLE, {"project_id": project.id, "user_id": person.user.id}),
        *((plain, {"project_id": project.id, "user_id": person.user.id, "c_priority": 0, "c_id": 0})
          for plain, _ in L._PICKS.values()),
    ]
    with write_tx(engine) as conn:
        for stmt, params in selects:
            fast, slow = list(run(conn, stmt, params)), list(conn.execute(stmt, params))
            assert len(fast) == len(slow)
            for a, b in zip(fast, slow):
                _same(a, b)
        assert run(conn, L._TAKE, {"item_id": task.item_id}).rowcount == conn.execute(L._TAKE, {"item_id": task.item_id}).rowcount
        values = {"project_id": project.id, "item_id": task.item_id, "user_id": person.user.id + 10**9,
                  "state": "skipped", "created_at": now, "expires_at": now}
        conn.execute(L.users.insert(), {"id": person.user.id + 10**9, "username": "ghost", "role": "member",
                                        "active": True, "created_at": now})
        new_id = run(conn, L._INSERT, values).inserted_primary_key[0]
        assert isinstance(new_id, int)
        _same(run(conn, L._GET, {"lease_id": new_id}).first(), conn.execute(L._GET, {"lease_id": new_id}).first())


def test_database_errors_are_sqlalchemy_errors(engine: Any, make_project: Any, add_items: Any, make_annotator: Any) -> None:
    project = make_project()
    add_items(project, 1)
    person = make_annotator(project)
    task = tasks.next_task(engine, person.user, project.id)
    assert task is not None
    with pytest.raises(IntegrityError), write_tx(engine) as conn:  # one lease per (item, user)
        run(conn, L._INSERT, {"project_id": project.id, "item_id": task.item_id, "user_id": person.user.id,
                              "state": "active", "created_at": 0.0, "expires_at": 1.0})


def test_annotation_rows_match(engine: Any, make_project: Any, add_items: Any, make_annotator: Any) -> None:
    project = make_project(labels=["cat", "dog"])
    add_items(project, 1)
    person = make_annotator(project)
    task = tasks.next_task(engine, person.user, project.id)
    assert task is not None
    made = tasks.submit(engine, person.user, task.lease_id, "dog", 5, "k-1")
    with write_tx(engine) as conn:
        for stmt, params in ((A._BY_KEY, {"user_id": person.user.id, "key": "k-1"}), (A._BY_LEASE, {"lease_id": task.lease_id})):
            _same(run(conn, stmt, params).first(), conn.execute(stmt, params).first())
    assert made.answer == "dog" and not made.replayed
